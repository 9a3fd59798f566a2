//! The command line as the operator types it (clap): the global flags, every subcommand and
//! its flags, and what they mean once parsed (where to connect, which AWS identity, the node
//! group a flag set describes). What each subcommand does is in its own room.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cluster::connection::ConnectionTarget;
use crate::model::eks::{GroupTaint, NodeGroupProposal};
use crate::model::readiness::{ExpectedTaint, ReadinessOptions, UpgradeQuestion};

/// The version and the commit it was built from (`0.1.0 (commit 4234085c1a2b)`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("HYBRID_CONSOLE_COMMIT"),
    ")"
);

/// A native console for hybrid (Windows + Linux) Kubernetes clusters. Without a subcommand it
/// opens the window; without a cluster configured it runs an embedded local hybrid cluster.
#[derive(Debug, Parser)]
#[command(name = "hybrid-console", version = VERSION, about)]
pub struct Cli {
    /// Use the embedded local hybrid cluster, even if a kubeconfig exists.
    #[arg(long, global = true)]
    pub local: bool,
    /// The kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Connect to this EKS cluster directly (its endpoint and CA from the EKS API, tokens signed
    /// by the console), instead of through a kubeconfig.
    #[arg(long, global = true)]
    pub eks_cluster: Option<String>,
    /// The AWS region (default: AWS_REGION, or the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The named AWS profile (default: AWS_PROFILE, or `default`).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// How subcommands print their result.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// The migration plan (default: the built-in calculator plan,
    /// manifests/calculator-migration.yaml).
    #[arg(long, global = true)]
    pub plan: Option<PathBuf>,
    /// The price file the cost estimate uses (default: the built-in copy of
    /// manifests/prices.yaml).
    #[arg(long, global = true, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Ask AWS Cost Explorer what this EKS cluster's node groups cost (default: the cluster of
    /// --eks-cluster; without either, costs are estimated from the price file).
    #[arg(long, global = true, value_name = "EKS_CLUSTER")]
    pub cost_explorer: Option<String>,
    /// What to do; none opens the window.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned text for people.
    Table,
    /// JSON for scripts.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Nodes by OS and node group, with their pods, and the calculator's state.
    Status,
    /// Calls the calculator with two numbers: each operation's result and who answered.
    Calc {
        /// First number.
        #[arg(allow_hyphen_values = true)]
        a: String,
        /// Second number.
        #[arg(allow_hyphen_values = true)]
        b: String,
        /// Call this base URL instead of the front Service through the API server.
        #[arg(long)]
        url: Option<String>,
    },
    /// Moves a service out of the monolith (--to linux) or back (--to monolith): plan,
    /// deploy, verify, re-route, verify end to end; rolls back by itself on failure.
    Migrate(MigrateArgs),
    /// Retires the monolith once it serves nothing: scale it to zero, then delete it.
    Retire(RetireArgs),
    /// Amazon EKS: clusters and node groups, tokens, kubeconfig contexts, readiness.
    Eks(EksArgs),
    /// Checks the cluster for hybrid readiness (Linux nodes, Windows IPAM, taints, OS
    /// selectors, Windows pod features and capacity, Windows DaemonSets); exit code 1 if a
    /// check fails. The EKS-only checks need --eks-cluster (or `eks check`).
    Check(ReadinessArgs),
    /// Migration plans: check one against the cluster before moving anything.
    Plan(PlanArgs),
    /// Prints the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Prints the manual page (roff), as the package installs it.
    #[command(hide = true)]
    Man,
}

/// `plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PlanCommand,
}

/// `plan` subcommands.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Checks a plan against the cluster: it parses, the objects it names exist, the front
    /// Service picks the monolith on the port named, the routing names agree (each URL names
    /// the Service its manifest creates; the monolith sets no URL variable the plan does not
    /// route). Each problem with the plan's file, line and field; exit code 1 if there is one.
    Check {
        /// The plan file (default: --plan, else the built-in calculator plan).
        path: Option<PathBuf>,
    },
    /// Writes a plan skeleton from the live objects: the monolith's Deployment, container and
    /// Services, the Service in front, and the services that can leave it (from the routing
    /// variables it sets, and the path rules of --edge); what the cluster cannot say is marked
    /// FILL. Prints it, or writes --out.
    Init {
        /// The monolith, as NAMESPACE/DEPLOYMENT.
        #[arg(long)]
        monolith: String,
        /// An HTTPRoute in front of it ([NAMESPACE/]NAME) whose path rules name services.
        #[arg(long)]
        edge: Option<String>,
        /// Write the skeleton to this file (which must not exist) instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

impl Cli {
    /// Where to connect, by the documented order.
    pub fn target(&self) -> ConnectionTarget {
        match &self.eks_cluster {
            Some(cluster) if !self.local => ConnectionTarget::Eks {
                aws: self.aws(),
                cluster: cluster.clone(),
            },
            _ => {
                ConnectionTarget::resolve(self.local, self.kubeconfig.clone(), self.context.clone())
            }
        }
    }

    /// The price list: --prices, else the built-in copy.
    pub fn price_list(&self) -> anyhow::Result<crate::model::cost::PriceList> {
        match &self.prices {
            None => Ok(crate::model::cost::PriceList::built_in()),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the price file {}", path.display()))?;
                Ok(crate::model::cost::PriceList::parse(
                    &text,
                    &path.display().to_string(),
                )?)
            }
        }
    }

    /// The EKS cluster whose costs Cost Explorer is asked for, if any.
    pub fn cost_explorer_cluster(&self) -> Option<String> {
        self.cost_explorer
            .clone()
            .or_else(|| self.eks_cluster.clone().filter(|_| !self.local))
    }

    /// The AWS region and profile the flags give.
    pub fn aws(&self) -> crate::model::eks::AwsTarget {
        crate::model::eks::AwsTarget {
            region: self.region.clone(),
            profile: self.profile.clone(),
            emulator: None,
        }
    }
}

/// `eks` arguments.
#[derive(Debug, Args)]
pub struct EksArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: EksCommand,
}

/// `eks` subcommands.
#[derive(Debug, Subcommand)]
pub enum EksCommand {
    /// The region's clusters with their node groups (OS from the AMI type, scaling, status).
    Clusters,
    /// Prints an ExecCredential with a fresh bearer token for the cluster (for kubectl).
    Token {
        /// The cluster.
        #[arg(long)]
        cluster: String,
    },
    /// Writes a kubeconfig context for the cluster whose credentials come from `eks token`.
    Kubeconfig {
        /// The cluster.
        #[arg(long)]
        cluster: String,
    },
    /// Checks the cluster for hybrid readiness, from the EKS API and the cluster itself; exit
    /// code 1 if a check fails.
    Check {
        /// The cluster.
        #[arg(long)]
        cluster: String,
        /// What the check may be told.
        #[command(flatten)]
        readiness: ReadinessArgs,
    },
    /// Adds a managed node group, from an eksctl ClusterConfig or from flags, after showing the
    /// readiness findings that would apply to it.
    AddNodegroup(AddNodegroupArgs),
    /// Scales a node group. To zero, it first refuses while workload pods run on its nodes,
    /// then cordons and drains them (PodDisruptionBudgets respected).
    ScaleNodegroup {
        /// The cluster.
        #[arg(long)]
        cluster: String,
        /// The node group.
        #[arg(long)]
        nodegroup: String,
        /// The new desired size.
        #[arg(long)]
        size: i32,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// How long the drain may take, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Deletes a node group: refuses while workload pods run on its nodes, then cordons and
    /// drains them (PodDisruptionBudgets respected) before asking EKS to delete it.
    DeleteNodegroup {
        /// The cluster.
        #[arg(long)]
        cluster: String,
        /// The node group.
        #[arg(long)]
        nodegroup: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// How long the drain may take, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
}

/// `eks add-nodegroup` arguments.
#[derive(Debug, Args)]
pub struct AddNodegroupArgs {
    /// The cluster.
    #[arg(long)]
    pub cluster: String,
    /// An eksctl ClusterConfig to take the node group from (with --nodegroup).
    #[arg(long, requires = "nodegroup", conflicts_with_all = ["name", "ami_type"])]
    pub config: Option<PathBuf>,
    /// The managed node group in --config.
    #[arg(long)]
    pub nodegroup: Option<String>,
    /// The new node group's name (without --config).
    #[arg(long, required_unless_present = "config")]
    pub name: Option<String>,
    /// Its EKS AMI type (without --config), e.g. WINDOWS_CORE_2022_x86_64 or AL2023_x86_64_STANDARD.
    #[arg(long, required_unless_present = "config")]
    pub ami_type: Option<String>,
    /// EC2 instance type (repeatable; default m5.large).
    #[arg(long = "instance-type")]
    pub instance_types: Vec<String>,
    /// Minimum nodes.
    #[arg(long)]
    pub min: Option<i32>,
    /// Desired nodes.
    #[arg(long)]
    pub desired: Option<i32>,
    /// Maximum nodes.
    #[arg(long)]
    pub max: Option<i32>,
    /// Subnet ID (repeatable; default the cluster's subnets).
    #[arg(long = "subnet")]
    pub subnets: Vec<String>,
    /// The IAM role ARN the nodes run as.
    #[arg(long)]
    pub node_role: Option<String>,
    /// A node label key=value (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// A node taint key=value:Effect (repeatable).
    #[arg(long = "taint")]
    pub taints: Vec<String>,
    /// The taint Windows nodes should carry, for the findings.
    #[arg(long, default_value = "os=windows:NoSchedule")]
    pub windows_taint: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

impl AddNodegroupArgs {
    /// The proposal the flags (or the eksctl file) describe; flags override the file.
    pub fn proposal(&self) -> anyhow::Result<NodeGroupProposal> {
        let mut proposal = match (&self.config, &self.nodegroup) {
            (Some(path), Some(group)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                NodeGroupProposal::from_eksctl(&text, group)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            }
            _ => NodeGroupProposal {
                name: self.name.clone().unwrap_or_default(),
                ami_type: self.ami_type.clone().unwrap_or_default(),
                instance_types: vec!["m5.large".into()],
                min: 2,
                desired: 2,
                max: 2,
                labels: Default::default(),
                taints: Vec::new(),
                subnets: Vec::new(),
                node_role: None,
            },
        };
        if !self.instance_types.is_empty() {
            proposal.instance_types = self.instance_types.clone();
        }
        if let Some(n) = self.desired {
            proposal.desired = n;
            proposal.min = proposal.min.min(n);
            proposal.max = proposal.max.max(n);
        }
        if let Some(n) = self.min {
            proposal.min = n;
        }
        if let Some(n) = self.max {
            proposal.max = n;
        }
        if !self.subnets.is_empty() {
            proposal.subnets = self.subnets.clone();
        }
        if self.node_role.is_some() {
            proposal.node_role = self.node_role.clone();
        }
        for label in &self.labels {
            let (k, v) = label
                .split_once('=')
                .with_context(|| format!("--label {label:?}: write it as key=value"))?;
            proposal.labels.insert(k.to_owned(), v.to_owned());
        }
        for taint in &self.taints {
            let parsed: crate::model::readiness::ExpectedTaint = taint
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--taint: {e}"))?;
            proposal.taints.push(GroupTaint {
                key: parsed.key,
                value: parsed.value,
                effect: parsed.effect,
            });
        }
        Ok(proposal)
    }
}

/// Where a service goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Destination {
    /// Its own Deployment on Linux nodes.
    Linux,
    /// Back into the monolith.
    Monolith,
}

/// `migrate` arguments.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["service", "status", "resume", "rollback", "pause", "continue_", "promote", "abort"]))]
pub struct MigrateArgs {
    /// The service to move (`sum`, `subtraction`, `multiplication`, `division`, `ui`).
    pub service: Option<String>,
    /// Where it goes.
    #[arg(long, value_enum, required_unless_present_any = ["status", "resume", "rollback", "pause", "continue_", "promote", "abort"])]
    pub to: Option<Destination>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Deploy this image instead of the plan's.
    #[arg(long)]
    pub image: Option<String>,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show the move in progress, if any.
    #[arg(long, conflicts_with_all = ["service", "resume", "rollback"])]
    pub status: bool,
    /// Finish the move in progress (a console stopped in the middle of it).
    #[arg(long, conflicts_with_all = ["service", "rollback"])]
    pub resume: bool,
    /// Roll back the move in progress.
    #[arg(long, conflicts_with = "service")]
    pub rollback: bool,
    /// Move in proven steps: shadow (compare answers), then each share of `--weights`, then
    /// 100 %, each judged by the pods' metrics and rolled back by itself on a breach.
    #[arg(long, requires = "service")]
    pub progressive: bool,
    /// Where the traffic is shared: inside the monolith (its routing file) or at the edge (the
    /// weights of the service's HTTPRoute rule, as the plan's `edge` names it).
    #[arg(long, value_enum, default_value = "inside", requires = "progressive")]
    pub at: SharedAtArg,
    /// The service's shares before 100 %, in percent (default: the plan's, else 10,50).
    #[arg(long, value_delimiter = ',', requires = "progressive")]
    pub weights: Option<Vec<u8>>,
    /// How long each share is held and judged (`30s`, `2m`; default: the plan's, else 30s).
    #[arg(long, value_parser = seconds, requires = "progressive")]
    pub hold: Option<u64>,
    /// Answers compared in the shadow step before it passes (default: the plan's, else 200).
    #[arg(long, requires = "progressive")]
    pub shadow: Option<u64>,
    /// The longest the shadow step waits for them (default: the plan's, else 120s).
    #[arg(long, value_parser = seconds, requires = "progressive")]
    pub shadow_time: Option<u64>,
    /// How long 100 % is watched before the move goes on (default: the plan's, else 10s).
    #[arg(long, value_parser = seconds, requires = "progressive")]
    pub settle: Option<u64>,
    /// Read a progressive move's figures from this Prometheus (`http://host:9090`) instead of
    /// each pod's /metrics through the API server; its series must carry `pod` and `namespace`
    /// labels, as the usual kubernetes-pods scrape job sets them.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Hold the progressive move in progress at its step (a breach still rolls it back).
    #[arg(long, conflicts_with_all = ["service", "resume", "rollback"])]
    pub pause: bool,
    /// Let a paused progressive move go on.
    #[arg(long = "continue", id = "continue_", conflicts_with_all = ["service", "resume", "rollback"])]
    pub continue_: bool,
    /// Pass the progressive move's step in progress now.
    #[arg(long, conflicts_with_all = ["service", "resume", "rollback"])]
    pub promote: bool,
    /// Stop the progressive move in progress: traffic back to the monolith, then the rollback.
    #[arg(long, conflicts_with_all = ["service", "resume", "rollback"])]
    pub abort: bool,
}

/// A duration as people write it (`30s`, `2m`, `1m30s`, or plain seconds), in whole seconds.
fn seconds(text: &str) -> Result<u64, String> {
    if let Ok(plain) = text.parse::<u64>() {
        return Ok(plain);
    }
    let duration: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("{text:?} is not a duration such as 30s or 2m: {e}"))?;
    u64::try_from(duration.as_secs())
        .map_err(|_| format!("{text:?} is negative; give a duration such as 30s"))
}

/// Where a progressive move shares the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SharedAtArg {
    /// Inside the monolith, by its routing file.
    Inside,
    /// At the edge, by the service's HTTPRoute rule.
    Edge,
}

impl From<SharedAtArg> for crate::model::move_plan::ProgressiveWay {
    fn from(at: SharedAtArg) -> Self {
        match at {
            SharedAtArg::Inside => Self::Inside,
            SharedAtArg::Edge => Self::Edge,
        }
    }
}

/// `retire` arguments.
#[derive(Debug, Args)]
pub struct RetireArgs {
    /// Which stage: scale the monolith to zero first, then delete it (or scale it back up).
    #[arg(long, value_enum)]
    pub stage: RetireChoice,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// The stages of retiring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RetireChoice {
    /// Scale the monolith to zero replicas, then check the application still answers.
    ScaleToZero,
    /// Undo scale-to-zero: back to the replicas it had, ready.
    ScaleBack,
    /// Delete the monolith's Deployment and Service.
    Delete,
}

/// What the readiness check may be told.
#[derive(Clone, Debug, Args)]
pub struct ReadinessArgs {
    /// The taint Windows nodes should carry (key=value:Effect).
    #[arg(long, default_value = "os=windows:NoSchedule")]
    pub windows_taint: ExpectedTaint,
    /// A DaemonSet every Windows node must run (namespace/name); repeat for more.
    #[arg(long = "require-daemonset", value_name = "NAMESPACE/NAME", value_parser = parse_qualified)]
    pub required_daemonsets: Vec<String>,
    /// Also judge moving the Windows nodes to this AMI type: which workloads need images built
    /// on its Windows build first (WINDOWS_CORE_2025_x86_64, …).
    #[arg(long, value_name = "AMI_TYPE", value_parser = parse_windows_ami_type)]
    pub upgrade_to: Option<String>,
    /// With --upgrade-to: only this node group's nodes (default: every Windows node group).
    #[arg(long = "nodegroup", value_name = "NAME", requires = "upgrade_to")]
    pub upgrade_nodegroup: Option<String>,
    /// Judge Windows images by their tags alone, without asking their registries for the
    /// Windows builds they carry.
    #[arg(long)]
    pub no_registry: bool,
}

fn parse_windows_ami_type(text: &str) -> Result<String, String> {
    use crate::model::eks::CURRENT_WINDOWS_AMI_TYPES;
    if CURRENT_WINDOWS_AMI_TYPES.contains(&text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a Windows AMI type EKS offers: use one of {}",
            CURRENT_WINDOWS_AMI_TYPES.join(", ")
        ))
    }
}

fn parse_qualified(text: &str) -> Result<String, String> {
    match text.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(text.to_owned())
        }
        _ => Err(format!(
            "{text:?} is not namespace/name (e.g. amazon-cloudwatch/fluent-bit-windows)"
        )),
    }
}

impl ReadinessArgs {
    /// The backend's options.
    pub fn options(&self) -> ReadinessOptions {
        ReadinessOptions {
            windows_taint: self.windows_taint.clone(),
            required_daemonsets: self.required_daemonsets.clone(),
            upgrade: self.upgrade_to.clone().map(|ami_type| UpgradeQuestion {
                ami_type,
                node_group: self.upgrade_nodegroup.clone(),
            }),
            read_registries: !self.no_registry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemonset_names_must_be_qualified() {
        assert!(parse_qualified("kube-system/agent").is_ok());
        for bad in ["agent", "/agent", "ns/", "a/b/c"] {
            assert!(parse_qualified(bad).is_err(), "{bad}");
        }
    }
}
