//! The console's subcommands, for scripts and CI: every GUI action as a command of the same
//! binary. The command line itself is [`args`]; `status` and `calc` print through [`status`],
//! `--output json` giving the same JSON the model and the calculator use.

use std::process::ExitCode;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::Api;
use kube::api::ListParams;
use local_cluster::LocalCluster;

use crate::calculator;
use crate::cluster::connection::{self, Connection, ConnectionTarget};
use crate::model::ClusterSnapshot;
use crate::model::calculation::CalcTarget;

mod args;
mod eks;
mod migrate;
mod plan;
pub mod readiness;
mod status;

pub use args::{Cli, Command, Output, PlanCommand};
use status::{calc_table, status_table};

/// Runs a subcommand; errors go to stderr with a non-zero exit.
pub fn run(cli: &Cli, command: &Command) -> ExitCode {
    // What describes the command line itself needs no runtime and no cluster.
    match command {
        Command::Completions { shell } => {
            // Made in memory first: the generator panics on a write error (a closed pipe).
            let mut definition = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut definition, "hybrid-console", &mut script);
            return print_bytes(&script, "the completion script");
        }
        Command::Man => {
            let definition = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            if let Err(e) = clap_mangen::Man::new(definition).render(&mut page) {
                eprintln!("error: cannot make the manual page: {e}");
                return ExitCode::FAILURE;
            }
            return print_bytes(&page, "the manual page");
        }
        _ => {}
    }
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

/// Writes `bytes` to stdout; a reader that went away (`| head`) is not an error.
fn print_bytes(bytes: &[u8], what: &str) -> ExitCode {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write {what}: {e}");
            ExitCode::FAILURE
        }
    }
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
    Ok(crate::live::connect::open(target, kubeconfig.as_deref()).await?)
}

async fn execute(
    cli: &Cli,
    command: &Command,
    target: &ConnectionTarget,
    local: &mut Option<LocalCluster>,
) -> anyhow::Result<(String, bool)> {
    let everything = ListParams::default();
    match command {
        Command::Completions { .. } | Command::Man => Ok((String::new(), true)),
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
            let report = crate::readiness::check(
                &connection.api,
                &name,
                eks.as_ref(),
                &cli.aws(),
                &args.options(),
            )
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
        Command::Plan(args) => match &args.command {
            PlanCommand::Check { path } => {
                let path = path.as_deref().or(cli.plan.as_deref());
                // The plan is read first: a broken plan needs no cluster to be reported.
                let (plan, text) = plan::read(path)?;
                let connection = connect(target, local).await?;
                plan::check(cli, &plan, &text, &connection).await
            }
            PlanCommand::Init {
                monolith,
                edge,
                out,
            } => {
                let connection = connect(target, local).await?;
                plan::init(monolith, edge.as_deref(), out.as_deref(), &connection).await
            }
        },
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
            // Pods are read page by page and kept as placements, as the window keeps them: at
            // 150,000 pods whole objects would cost gigabytes (BENCHMARKS.md).
            let pods = crate::live::pods::list_placements(&Api::<Pod>::all(client.clone()))
                .await
                .map_err(failed("pods"))?;
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
            let snapshot = ClusterSnapshot::from_placements(
                &nodes,
                &pods,
                &deployments,
                &services,
                Some(&plan),
                None,
            );
            let costs = costs(cli, &snapshot).await?;
            let text = match cli.output {
                Output::Json => {
                    #[derive(serde::Serialize)]
                    struct Status<'a> {
                        #[serde(flatten)]
                        snapshot: &'a ClusterSnapshot,
                        costs: &'a crate::model::cost::CostReport,
                    }
                    serde_json::to_string_pretty(&Status {
                        snapshot: &snapshot,
                        costs: &costs,
                    })? + "\n"
                }
                Output::Table => {
                    status_table(&snapshot, &costs, &target.describe(), &server, &version)
                }
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

/// What the board's node groups cost: Cost Explorer's figures when an EKS cluster is named for
/// it, else (or where it cannot answer) the price file's estimate.
async fn costs(
    cli: &Cli,
    snapshot: &ClusterSnapshot,
) -> anyhow::Result<crate::model::cost::CostReport> {
    let prices = cli.price_list()?;
    let estimate = crate::model::cost::estimate(snapshot, &prices, None);
    let Some(cluster) = cli.cost_explorer_cluster() else {
        return Ok(estimate);
    };
    Ok(match crate::eks::Aws::load(&cli.aws()).await {
        Ok(aws) => aws.costs(&cluster, estimate, &prices).await,
        Err(why) => crate::model::cost::CostReport {
            cost_explorer: Some(format!("Cost Explorer could not be asked: {why}")),
            ..estimate
        },
    })
}
