//! `hybrid-console eks …`: the region's clusters and node groups, the bearer token as a kubeconfig
//! exec plugin prints it, and a kubeconfig context that uses it — no `aws` CLI involved.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_yaml::Value;

use super::{Cli, Output};
use crate::eks::retirement;
use crate::eks::{Aws, token};
use crate::model::eks::Retirement;
use crate::model::eks::{EksCluster, GroupTaint, NodeGroupProposal};

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
        readiness: super::readiness::ReadinessArgs,
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
    fn proposal(&self) -> anyhow::Result<NodeGroupProposal> {
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

/// Asks the operator to type `answer` to go ahead, unless `yes`. Without a terminal to ask on,
/// refuses: a script must say --yes.
fn confirm(question: &str, answer: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question}: this needs confirmation; run it in a terminal, or pass --yes");
    }
    eprint!("{question}\nType {answer:?} to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != answer {
        anyhow::bail!("not confirmed; nothing was changed");
    }
    Ok(())
}

/// The Kubernetes side of an EKS command: the kubeconfig context given with --kubeconfig or
/// --context (for clusters reached through a tunnel or a proxy, or a local stand-in), else the
/// cluster's endpoint with the console's own tokens.
async fn kube_side(
    cli: &Cli,
    aws: &Aws,
    cluster: &str,
    access: &crate::eks::ClusterAccess,
) -> anyhow::Result<crate::cluster::connection::Connection> {
    if cli.kubeconfig.is_some() || cli.context.is_some() {
        let target = crate::cluster::connection::ConnectionTarget::Kubeconfig {
            path: cli.kubeconfig.clone(),
            context: cli.context.clone(),
        };
        return Ok(crate::cluster::connection::open(&target, None).await?);
    }
    Ok(crate::eks::connect::open(std::sync::Arc::new(aws.clone()), cluster, access).await?)
}

/// The clusters as text.
pub fn clusters_table(clusters: &[EksCluster], region: &str) -> String {
    if clusters.is_empty() {
        return format!("No EKS clusters in {region}.\n");
    }
    let mut out = String::new();
    for c in clusters {
        let _ = writeln!(
            out,
            "{}  {}  Kubernetes {}  {}  {}",
            c.name, c.status, c.version, c.platform_version, c.endpoint
        );
        if c.node_groups.is_empty() {
            let _ = writeln!(out, "  no managed node groups");
        }
        for g in &c.node_groups {
            let _ = writeln!(
                out,
                "  node group {}  {}  {}  {}  min {} / desired {} / max {}  {}",
                g.name,
                g.os.title(),
                g.ami_type,
                g.instance_types.join(","),
                g.min,
                g.desired,
                g.max,
                g.status
            );
            for issue in &g.health_issues {
                let _ = writeln!(out, "    health: {issue}");
            }
        }
    }
    out
}

/// Runs `eks`.
pub async fn eks(cli: &Cli, args: &EksArgs) -> anyhow::Result<(String, bool)> {
    let aws = Aws::load(&cli.aws()).await?;
    match &args.command {
        EksCommand::Clusters => {
            let clusters = aws.clusters().await?;
            Ok(match cli.output {
                Output::Json => (serde_json::to_string_pretty(&clusters)? + "\n", true),
                Output::Table => (clusters_table(&clusters, &aws.region), true),
            })
        }
        EksCommand::AddNodegroup(args) => add_nodegroup(cli, &aws, args).await,
        EksCommand::ScaleNodegroup {
            cluster,
            nodegroup,
            size,
            yes,
            timeout,
        } => {
            let (described, access) = aws.cluster(cluster).await?;
            let group = described
                .group(nodegroup)
                .map_err(anyhow::Error::msg)?
                .clone();
            if *size > 0 {
                // Above zero EKS drains the nodes it removes itself, as managed node groups do.
                confirm(
                    &format!(
                        "Scale node group {nodegroup} of cluster {cluster} from {} to {size} node(s)?",
                        group.desired
                    ),
                    nodegroup,
                    *yes,
                )?;
                aws.scale_node_group(cluster, &group, *size).await?;
                return Ok((
                    format!(
                        "EKS is scaling node group {nodegroup} of cluster {cluster} to {size} node(s).\n"
                    ),
                    true,
                ));
            }
            let connection = kube_side(cli, &aws, cluster, &access).await?;
            retire_group(
                &aws,
                &connection,
                cluster,
                nodegroup,
                Retirement::ScaleToZero,
                *yes,
                *timeout,
            )
            .await
        }
        EksCommand::DeleteNodegroup {
            cluster,
            nodegroup,
            yes,
            timeout,
        } => {
            let (_, access) = aws.cluster(cluster).await?;
            let connection = kube_side(cli, &aws, cluster, &access).await?;
            retire_group(
                &aws,
                &connection,
                cluster,
                nodegroup,
                Retirement::Delete,
                *yes,
                *timeout,
            )
            .await
        }
        EksCommand::Check { cluster, readiness } => {
            let (described, access) = aws.cluster(cluster).await?;
            let connection = kube_side(cli, &aws, cluster, &access).await?;
            let report = crate::readiness::check(
                &connection.api,
                &described.name,
                Some(&described),
                &readiness.options(),
            )
            .await?;
            let passed = report.worst() < crate::model::readiness::Severity::Failed;
            Ok(match cli.output {
                Output::Json => (serde_json::to_string_pretty(&report)? + "\n", passed),
                Output::Table => (
                    super::readiness::table(&report, &format!("EKS {}", aws.region)),
                    passed,
                ),
            })
        }
        EksCommand::Token { cluster } => {
            let token = aws.token(cluster).await?;
            Ok((
                serde_json::to_string(&token::exec_credential(&token))? + "\n",
                true,
            ))
        }
        EksCommand::Kubeconfig { cluster } => {
            let (described, access) = aws.cluster(cluster).await?;
            let path = cli
                .kubeconfig
                .clone()
                .or_else(|| {
                    std::env::var_os("KUBECONFIG").and_then(|k| std::env::split_paths(&k).next())
                })
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")))
                .context("no kubeconfig path: pass --kubeconfig PATH")?;
            let program = std::env::current_exe()
                .context("cannot tell where this program is, to name it in the kubeconfig")?;
            let context = write_context(&path, &described, &access, &aws.profile, &program)?;
            Ok((
                format!(
                    "wrote context {context:?} to {} (credentials: {} eks token)\n",
                    path.display(),
                    program.display()
                ),
                true,
            ))
        }
    }
}

/// Surveys, refuses or confirms, drains, then scales to zero or deletes.
async fn retire_group(
    aws: &Aws,
    connection: &crate::cluster::connection::Connection,
    cluster: &str,
    nodegroup: &str,
    retirement: Retirement,
    yes: bool,
    timeout: u64,
) -> anyhow::Result<(String, bool)> {
    let (_, survey) = retirement::survey(aws, &connection.api, cluster, nodegroup).await?;
    if let Some(refusal) = survey.refusal(retirement) {
        anyhow::bail!(refusal);
    }
    for warning in survey.warnings() {
        eprintln!("warning: {warning}");
    }
    let question = format!(
        "{} (cordon and drain {} node(s): {})?",
        capitalized(&retirement.describe(cluster, nodegroup)),
        survey.nodes.len(),
        if survey.nodes.is_empty() {
            "none".to_owned()
        } else {
            survey.nodes.join(", ")
        }
    );
    confirm(&question, nodegroup, yes)?;
    let progress = |line: String| eprintln!("{line}");
    let done = retirement::retire(
        aws,
        connection,
        &survey,
        retirement,
        std::time::Duration::from_secs(timeout),
        &progress,
    )
    .await?;
    Ok((done + "\n", true))
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// Shows the findings for the proposed group, refuses on a failed one, confirms, creates it.
async fn add_nodegroup(
    cli: &Cli,
    aws: &Aws,
    args: &AddNodegroupArgs,
) -> anyhow::Result<(String, bool)> {
    let proposal = args.proposal()?;
    let windows_taint: crate::model::readiness::ExpectedTaint =
        args.windows_taint.parse().map_err(anyhow::Error::msg)?;
    let (described, access) = aws.cluster(&args.cluster).await?;
    // The VPC CNI's settings come from the cluster, when it can be reached.
    let vpc_cni = match kube_side(cli, aws, &args.cluster, &access).await {
        Ok(connection) => Some(crate::readiness::vpc_cni(&connection.api).await?),
        Err(e) => {
            eprintln!(
                "warning: the cluster's API is not reachable, so Windows IPAM is not checked: {e:#}"
            );
            None
        }
    };
    let findings = crate::model::readiness::for_new_node_group(
        &proposal,
        &described,
        vpc_cni.as_ref().map(|c| c.as_ref()),
        &windows_taint,
    );
    let report = crate::model::readiness::ReadinessReport {
        cluster: described.name.clone(),
        findings,
    };
    let text = super::readiness::table(
        &report,
        &format!("node group {} as proposed", proposal.name),
    );
    if cli.output == Output::Table {
        eprint!("{text}");
    }
    if report.worst() == crate::model::readiness::Severity::Failed {
        anyhow::bail!(
            "not adding node group {} to cluster {}: a check above failed; fix it and try again",
            proposal.name,
            described.name
        );
    }
    confirm(
        &format!(
            "Add node group {} ({}, {}, min {} / desired {} / max {}) to cluster {}?",
            proposal.name,
            proposal.ami_type,
            proposal.instance_types.join(","),
            proposal.min,
            proposal.desired,
            proposal.max,
            described.name
        ),
        &proposal.name,
        args.yes,
    )?;
    aws.create_node_group(&described, &proposal).await?;
    Ok(match cli.output {
        Output::Json => (serde_json::to_string_pretty(&proposal)? + "\n", true),
        Output::Table => (
            format!(
                "EKS is creating node group {} in cluster {}.\n",
                proposal.name, described.name
            ),
            true,
        ),
    })
}

fn named(list: &mut Vec<Value>, name: &str, entry: Value) {
    match list
        .iter_mut()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
    {
        Some(existing) => *existing = entry,
        None => list.push(entry),
    }
}

/// Adds (or replaces) the cluster, user and context `arn` in the kubeconfig at `path`, keeping
/// everything else in it, and makes it the current context. Returns the context's name.
fn write_context(
    path: &Path,
    cluster: &EksCluster,
    access: &crate::eks::ClusterAccess,
    profile: &Option<String>,
    program: &Path,
) -> anyhow::Result<String> {
    let mut config: Value = match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => serde_yaml::from_str(&text)
            .with_context(|| format!("{} is not a kubeconfig file", path.display()))?,
        Ok(_) => Value::Null,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if !config.is_mapping() {
        config = serde_yaml::from_str("apiVersion: v1\nkind: Config\npreferences: {}\n")?;
    }
    // The context is named like `aws eks update-kubeconfig` names it: the cluster's ARN.
    let name = access.arn.clone();
    let mut args = vec![
        "eks".to_owned(),
        "token".into(),
        "--cluster".into(),
        cluster.name.clone(),
        "--region".into(),
        cluster.region.clone(),
    ];
    if let Some(p) = profile {
        args.extend(["--profile".into(), p.clone()]);
    }
    let entries: [(&str, Value); 3] = [
        (
            "clusters",
            serde_yaml::to_value(serde_json::json!({
                "name": name,
                "cluster": {"server": access.endpoint, "certificate-authority-data": access.certificate_authority},
            }))?,
        ),
        (
            "users",
            serde_yaml::to_value(serde_json::json!({
                "name": name,
                "user": {"exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": program.to_string_lossy(),
                    "args": args,
                    "interactiveMode": "Never",
                }},
            }))?,
        ),
        (
            "contexts",
            serde_yaml::to_value(serde_json::json!({
                "name": name,
                "context": {"cluster": name, "user": name},
            }))?,
        ),
    ];
    let map = config
        .as_mapping_mut()
        .context("the kubeconfig is not a YAML mapping")?;
    for (key, entry) in entries {
        let list = map
            .entry(Value::from(key))
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if !list.is_sequence() {
            *list = Value::Sequence(Vec::new());
        }
        if let Some(seq) = list.as_sequence_mut() {
            named(seq, &name, entry);
        }
    }
    map.insert(Value::from("current-context"), Value::from(name.clone()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_private(path, &serde_yaml::to_string(&config)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(name)
}

/// Writes `text` readable by the user only (a kubeconfig names credentials).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::fs::PermissionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        // An existing file keeps its mode on open: tighten it too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, text)
    }
}
