//! `hybrid-console status` and `hybrid-console calc A B`: the board and the calculator panel for
//! scripts, with `--output json` giving the same JSON the model and the calculator use.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::Api;
use kube::api::ListParams;
use local_cluster::LocalCluster;

use crate::calculator;
use crate::cluster::connection::{self, Connection, ConnectionTarget};
use crate::model::calculation::{CalcOutcome, CalcTarget};
use crate::model::move_plan::Location;
use crate::model::{ClusterSnapshot, PodPlacement, PodState};

mod eks;
mod migrate;
pub mod readiness;

/// A native console for hybrid (Windows + Linux) Kubernetes clusters. Without a subcommand it
/// opens the window; without a cluster configured it runs an embedded local hybrid cluster.
#[derive(Debug, Parser)]
#[command(name = "hybrid-console", version, about)]
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
    Migrate(migrate::MigrateArgs),
    /// Retires the monolith once it serves nothing: scale it to zero, then delete it.
    Retire(migrate::RetireArgs),
    /// Amazon EKS: clusters and node groups, tokens, kubeconfig contexts, readiness.
    Eks(eks::EksArgs),
    /// Checks the cluster for hybrid readiness (Linux nodes, Windows IPAM, taints, OS
    /// selectors, Windows pod features and capacity, Windows DaemonSets); exit code 1 if a
    /// check fails. The EKS-only checks need --eks-cluster (or `eks check`).
    Check(readiness::ReadinessArgs),
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

    /// The AWS region and profile the flags give.
    pub fn aws(&self) -> crate::model::eks::AwsTarget {
        crate::model::eks::AwsTarget {
            region: self.region.clone(),
            profile: self.profile.clone(),
        }
    }
}

/// Runs a subcommand; errors go to stderr with a non-zero exit.
pub fn run(cli: &Cli, command: &Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let target = cli.target();
        let mut local = None;
        let outcome = execute(cli, command, &target, &mut local).await;
        if let Some(cluster) = local {
            cluster.shutdown().await;
        }
        match outcome {
            Ok((text, success)) => {
                print!("{text}");
                if success {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Connects to `target`, starting the embedded cluster (kept in `local`) if that is the target.
async fn connect(
    target: &ConnectionTarget,
    local: &mut Option<LocalCluster>,
) -> anyhow::Result<Connection> {
    let kubeconfig = match target {
        ConnectionTarget::Local => {
            let cluster = connection::start_local_cluster().await?;
            let text = cluster.kubeconfig().to_owned();
            *local = Some(cluster);
            Some(text)
        }
        ConnectionTarget::Kubeconfig { .. } | ConnectionTarget::Eks { .. } => None,
    };
    Ok(connection::open(target, kubeconfig.as_deref()).await?)
}

async fn execute(
    cli: &Cli,
    command: &Command,
    target: &ConnectionTarget,
    local: &mut Option<LocalCluster>,
) -> anyhow::Result<(String, bool)> {
    let everything = ListParams::default();
    match command {
        Command::Migrate(args) => {
            // The plan is read first: a broken plan needs no cluster to be reported.
            let plan = crate::migration::plan_file::load(cli.plan.as_deref())?;
            let connection = connect(target, local).await?;
            migrate::migrate(cli, args, plan, &connection).await
        }
        Command::Eks(args) => eks::eks(cli, args).await,
        Command::Check(args) => {
            let connection = connect(target, local).await?;
            // Reached through EKS: that cluster's node groups are checked too.
            let eks = match target {
                ConnectionTarget::Eks { aws, cluster } => {
                    Some(crate::eks::Aws::load(aws).await?.cluster(cluster).await?.0)
                }
                ConnectionTarget::Local | ConnectionTarget::Kubeconfig { .. } => None,
            };
            let name = match (&eks, target) {
                (Some(c), _) => c.name.clone(),
                (None, ConnectionTarget::Local) => "the embedded local cluster".to_owned(),
                (None, other) => other.describe(),
            };
            let report =
                crate::readiness::check(&connection.api, &name, eks.as_ref(), &args.options())
                    .await?;
            let passed = report.worst() < crate::model::readiness::Severity::Failed;
            let source = match &eks {
                Some(c) => format!("EKS {}", c.region),
                None => connection.server.clone(),
            };
            Ok(match cli.output {
                Output::Json => (serde_json::to_string_pretty(&report)? + "\n", passed),
                Output::Table => (readiness::table(&report, &source), passed),
            })
        }
        Command::Retire(args) => {
            let plan = crate::migration::plan_file::load(cli.plan.as_deref())?;
            let connection = connect(target, local).await?;
            migrate::retire(cli, args, plan, &connection).await
        }
        Command::Status => {
            let Connection {
                api: client,
                server,
                version,
                ..
            } = connect(target, local).await?;
            // A refusal or a server error says what was being read, not kube-rs's debug dump.
            let failed = |what: &'static str| {
                let server = server.clone();
                move |e: kube::Error| connection::ConnectError::classify(&e, &server, "list", what)
            };
            let nodes = Api::<Node>::all(client.clone())
                .list(&everything)
                .await
                .map_err(failed("nodes"))?
                .items;
            let pods = Api::<Pod>::all(client.clone())
                .list(&everything)
                .await
                .map_err(failed("pods"))?
                .items;
            let deployments = Api::<Deployment>::all(client.clone())
                .list(&everything)
                .await
                .map_err(failed("deployments"))?
                .items;
            let services = Api::<Service>::all(client.clone())
                .list(&everything)
                .await
                .map_err(failed("services"))?
                .items;
            let plan = crate::migration::plan_file::load(cli.plan.as_deref())?;
            let snapshot =
                ClusterSnapshot::build(&nodes, &pods, &deployments, &services, Some(&plan));
            let text = match cli.output {
                Output::Json => serde_json::to_string_pretty(&snapshot)? + "\n",
                Output::Table => status_table(&snapshot, &target.describe(), &server, &version),
            };
            Ok((text, true))
        }
        Command::Calc { a, b, url } => {
            let calc_target = url.clone().map(CalcTarget::Url).unwrap_or_default();
            // A URL is called directly: the cluster only names the OS of the nodes that
            // answered, so it is optional, and the embedded one is not started for it.
            let connection = match (&calc_target, target) {
                (CalcTarget::Url(_), ConnectionTarget::Local) => None,
                (CalcTarget::Url(_), _) => match connect(target, local).await {
                    Ok(connection) => Some(connection),
                    Err(e) => {
                        eprintln!("warning: {e:#}\nwarning: node OS is not shown");
                        None
                    }
                },
                (CalcTarget::ServiceProxy { .. }, _) => Some(connect(target, local).await?),
            };
            let nodes = match &connection {
                Some(connection) => {
                    Api::<Node>::all(connection.api.clone())
                        .list(&everything)
                        .await?
                        .items
                }
                None => Vec::new(),
            };
            let outcome = calculator::calculate(
                0,
                connection.as_ref().map(|c| &c.proxy),
                &calculator::http_client(),
                &calc_target,
                a,
                b,
            )
            .await;
            let snapshot = ClusterSnapshot::build(&nodes, [], [], [], None);
            let ok = outcome.all_ok();
            let text = match (&outcome.result, cli.output) {
                (Err(e), _) => anyhow::bail!(
                    "the calculator at {} could not answer: {e}",
                    calc_target.describe()
                ),
                (Ok(answer), Output::Json) => serde_json::to_string_pretty(answer)? + "\n",
                (Ok(_), Output::Table) => calc_table(&outcome, &snapshot),
            };
            Ok((text, ok))
        }
    }
}

fn gib(bytes: i64) -> String {
    format!("{:.1}Gi", bytes as f64 / 1024.0 / 1024.0 / 1024.0)
}

fn pod_line(pod: &PodPlacement) -> String {
    let mut line = format!(
        "{}/{}  {}",
        pod.namespace,
        pod.name,
        pod.reason.clone().unwrap_or_else(|| pod.phase.clone())
    );
    if pod.state == PodState::Ready {
        line.push_str("  ready");
    }
    if pod.restarts > 0 {
        let _ = write!(line, "  restarts {}", pod.restarts);
    }
    if let Some(ip) = &pod.ip {
        let _ = write!(line, "  {ip}");
    }
    if !pod.holds.is_empty() {
        let _ = write!(line, "  [in-process: {}]", pod.holds.join(", "));
    }
    if let Some(service) = &pod.serves {
        let _ = write!(line, "  [serves {service}]");
    }
    if pod.os_mismatch {
        line.push_str("  (image not built for this node's OS)");
    }
    line
}

/// The board as text.
pub fn status_table(
    snapshot: &ClusterSnapshot,
    target: &str,
    server: &str,
    version: &str,
) -> String {
    let mut out = format!("Cluster: {target} ({server}), Kubernetes {version}\n");
    for lane in &snapshot.lanes {
        let _ = writeln!(
            out,
            "\n{} ({} nodes)",
            lane.os.title().to_uppercase(),
            lane.node_count()
        );
        for group in &lane.groups {
            let _ = writeln!(
                out,
                "  node group {} ({} nodes)",
                group.name,
                group.nodes.len()
            );
            for node in &group.nodes {
                let taints = if node.taints.is_empty() {
                    "-".to_owned()
                } else {
                    node.taints.join(",")
                };
                let _ = writeln!(
                    out,
                    "    {}  {}  {}  taints {}  pods {}/{}  cpu {}m/{}m  memory {}/{}",
                    node.name,
                    node.instance_type.as_deref().unwrap_or("-"),
                    if node.ready { "Ready" } else { "NotReady" },
                    taints,
                    node.pods_placed(),
                    node.pod_capacity,
                    node.cpu_requested_millis,
                    node.cpu_allocatable_millis,
                    gib(node.memory_requested_bytes),
                    gib(node.memory_allocatable_bytes),
                );
                for pod in node.pods.iter() {
                    let _ = writeln!(out, "      {}", pod_line(pod));
                }
            }
        }
    }
    if !snapshot.unscheduled.is_empty() {
        let _ = writeln!(out, "\nUNSCHEDULED ({})", snapshot.unscheduled.len());
        for pod in &snapshot.unscheduled {
            let _ = writeln!(out, "  {}", pod_line(pod));
            if let Some(message) = &pod.message {
                let _ = writeln!(out, "    {message}");
            }
        }
    }
    if let Some(t) = &snapshot.topology
        && (t.monolith.is_some() || t.services.iter().any(|s| s.ready.is_some()))
    {
        let _ = writeln!(
            out,
            "\nMIGRATION (plan {}, namespace {})",
            t.plan, t.namespace
        );
        match &t.monolith {
            Some(m) => {
                let _ = writeln!(
                    out,
                    "  monolith {}/{} ({}/{} ready) serves: {}",
                    m.namespace,
                    m.deployment,
                    m.ready.0,
                    m.ready.1,
                    if m.in_process.is_empty() {
                        "nothing".into()
                    } else {
                        m.in_process.join(", ")
                    }
                );
                for (service, url) in &m.forwarded {
                    let _ = writeln!(out, "    forwards {service} to {url}");
                }
            }
            None => {
                let _ = writeln!(out, "  the monolith is retired");
            }
        }
        for s in t
            .services
            .iter()
            .filter(|s| s.location == Location::Extracted)
        {
            let ready = s
                .ready
                .map(|(r, d)| format!("{r}/{d} ready"))
                .unwrap_or_else(|| "no Deployment".into());
            let _ = writeln!(
                out,
                "  {} served by its own Deployment {}/{} ({ready})",
                s.name, t.namespace, s.deployment
            );
        }
        if let Some(record) = &t.moving {
            let _ = writeln!(out, "  MOVE IN PROGRESS: {}", record.summary());
        }
        if let Some(problem) = &t.record_problem {
            let _ = writeln!(out, "  {problem}");
        }
        if t.retirable {
            let _ = writeln!(
                out,
                "  the monolith serves nothing any more: retire it with `hybrid-console retire --stage scale-to-zero`, then `--stage delete`"
            );
        }
    }
    out
}

/// The calculator panel's table as text.
pub fn calc_table(outcome: &CalcOutcome, snapshot: &ClusterSnapshot) -> String {
    let Ok(answer) = &outcome.result else {
        return String::new();
    };
    let os = |node: &Option<String>| {
        node.as_deref()
            .and_then(|n| snapshot.os_of_node(n))
            .map(|o| o.label())
            .unwrap_or_else(|| "-".into())
    };
    let mut rows = vec![[
        "OPERATION".to_owned(),
        "RESULT".into(),
        "POD".into(),
        "NODE".into(),
        "NODE OS".into(),
        "LATENCY".into(),
    ]];
    for r in &answer.results {
        let result = match (&r.total, &r.error) {
            (Some(t), _) => t.to_string(),
            (None, Some(e)) => format!("error {}: {}", e.code, e.message),
            (None, None) => "-".into(),
        };
        let by = r.served_by.as_ref();
        rows.push([
            r.operation.to_string(),
            result,
            by.and_then(|s| s.pod.clone())
                .unwrap_or_else(|| by.map(|s| s.service.clone()).unwrap_or_else(|| "-".into())),
            by.and_then(|s| s.node.clone())
                .unwrap_or_else(|| "-".into()),
            by.map(|s| os(&s.node)).unwrap_or_else(|| "-".into()),
            format!("{:.1} ms", r.latency_ms),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let f = &answer.frontend;
    let _ = writeln!(
        out,
        "\nFrontend: {} on {} ({}); round trip {:.1} ms",
        f.pod.clone().unwrap_or_else(|| f.service.clone()),
        f.node.clone().unwrap_or_else(|| "-".into()),
        os(&f.node),
        outcome.latency_ms
    );
    out
}
