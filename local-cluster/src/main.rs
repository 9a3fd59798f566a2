//! `local-cluster up`: the embedded hybrid cluster as a standalone process.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use local_cluster::{ClusterConfig, LocalCluster};

/// An embedded Kubernetes-API-compatible hybrid (Windows + Linux) cluster.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the cluster on 127.0.0.1 until Ctrl-C or SIGTERM.
    Up {
        /// Where to write the kubeconfig (context `local-hybrid`).
        #[arg(long, default_value = "./local-cluster.kubeconfig")]
        kubeconfig: PathBuf,
        /// Number of Windows nodes.
        #[arg(long, default_value_t = 2)]
        windows_nodes: usize,
        /// Number of Linux nodes.
        #[arg(long, default_value_t = 2)]
        linux_nodes: usize,
        /// The Windows Server releases of the Windows nodes, taken in turn (`2019,2022`: one of
        /// each), as AMIs of several releases give them: 2019, 2022 or 2025.
        #[arg(long, value_delimiter = ',', value_parser = windows_server, default_value = "2022")]
        windows_server: Vec<local_cluster::nodes::WindowsServer>,
        /// API server port; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Changes kept per resource for watches to resume from (older ones get 410 Gone).
        #[arg(long, default_value_t = 50_000)]
        watch_history: usize,
        /// Keep Events this many seconds after they were last seen, as a real API server's
        /// `--event-ttl` (one hour).
        #[arg(long, default_value_t = 3600)]
        event_ttl: u64,
        /// Deploy the calculator's starting point (the Windows monolith) and wait until it is ready.
        #[arg(long)]
        with_calculator: bool,
        /// Stand in for this EKS cluster: accept its bearer tokens (`k8s-aws-v1.…`), asking STS
        /// whose they are.
        #[arg(long)]
        eks_cluster: Option<String>,
        /// The STS endpoint to ask instead of the token's own (an AWS API emulator such as moto
        /// server, offline); default AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL.
        #[arg(long)]
        eks_sts_endpoint: Option<String>,
        /// An IAM ARN given cluster-admin (`system:masters`), like an EKS access entry; repeatable.
        #[arg(long)]
        eks_admin: Vec<String>,
        /// Follow the managed node groups of --eks-cluster at this EKS API endpoint (an AWS API
        /// emulator such as moto server): nodes join and leave as each group's desired size
        /// changes, drained first. The node groups replace --windows-nodes/--linux-nodes.
        #[arg(long, requires = "eks_cluster")]
        eks_endpoint: Option<String>,
        /// Add this many simulated pods (bound, Running, Ready, no process behind them), spread
        /// over namespaces sim-NN of at most 5,000 pods and over every node of both OSes.
        #[arg(long, default_value_t = 0)]
        simulated_pods: usize,
        /// Change this many simulated pods' status per second (each flips its readiness).
        #[arg(long, default_value_t = 0, requires = "simulated_pods")]
        churn: usize,
        /// Faults to inject, comma-separated: latency=MS (every answer slowed),
        /// error-rate=FRACTION (requests refused with 429/500/503 and Retry-After, before they
        /// change anything), drop-watch-every=SECONDS (each watch stream cut that long after it
        /// opened), outage-every=SECONDS,outage-for=SECONDS (the API server stopped for a while,
        /// the pods kept running).
        #[arg(long, value_name = "FAULTS")]
        inject: Option<local_cluster::faults::Faults>,
        /// Append an audit log here: a line per request (`audit.k8s.io/v1` Event, level
        /// Metadata) naming the user, verb, object and response code.
        #[arg(long, value_name = "PATH")]
        audit_log: Option<PathBuf>,
        /// Serve each Ingress on this port at its own loopback address (ports below 1024 need
        /// root or a lower net.ipv4.ip_unprivileged_port_start).
        #[arg(long, default_value_t = 80)]
        ingress_port: u16,
        /// Bring mounted ConfigMaps, Secrets and downward-API files up to date this often
        /// (seconds; 1 puts a routing ConfigMap's change in force in the monolith within 2 s).
        #[arg(long, default_value_t = 1)]
        volume_sync_period: u64,
        /// Look at each HorizontalPodAutoscaler this often (seconds; a real controller: 15).
        #[arg(long, default_value_t = 15)]
        hpa_sync_period: u64,
    },
}

/// A Windows Server release named by its year.
fn windows_server(year: &str) -> Result<local_cluster::nodes::WindowsServer, String> {
    local_cluster::nodes::WindowsServer::from_year(year).ok_or_else(|| {
        format!("{year:?} is not a Windows Server release EKS has AMIs of: use 2019, 2022 or 2025")
    })
}

fn main() -> anyhow::Result<()> {
    // A calculator container started by this cluster's kubelet runs this same executable.
    local_cluster::calculator::serve_if_requested();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Up {
                kubeconfig,
                windows_nodes,
                linux_nodes,
                windows_server,
                port,
                watch_history,
                event_ttl,
                with_calculator,
                eks_cluster,
                eks_sts_endpoint,
                eks_admin,
                eks_endpoint,
                simulated_pods,
                churn,
                inject,
                audit_log,
                ingress_port,
                volume_sync_period,
                hpa_sync_period,
            } => {
                let follow_eks = eks_endpoint.map(|endpoint| {
                    local_cluster::eks_follow::FollowConfig::new(
                        eks_cluster.clone().unwrap_or_default(),
                        Some(endpoint),
                    )
                });
                let eks = eks_cluster.map(|cluster| local_cluster::eks_auth::EksIdentity {
                    cluster,
                    sts_endpoint: eks_sts_endpoint
                        .or_else(|| std::env::var("AWS_ENDPOINT_URL_STS").ok())
                        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok()),
                    admins: eks_admin,
                });
                let config = ClusterConfig {
                    windows_nodes,
                    windows_servers: windows_server,
                    linux_nodes,
                    port,
                    kubeconfig_path: Some(kubeconfig.clone()),
                    watch_history,
                    with_calculator,
                    eks,
                    follow_eks,
                    simulated_pods,
                    churn_per_second: churn,
                    faults: inject.unwrap_or_default(),
                    audit_log,
                    event_ttl: std::time::Duration::from_secs(event_ttl),
                    ingress_port,
                    volume_sync: std::time::Duration::from_secs(volume_sync_period.max(1)),
                    hpa_sync: std::time::Duration::from_secs(hpa_sync_period.max(1)),
                    ..ClusterConfig::default()
                };
                let cluster = LocalCluster::start(config).await?;
                println!("local cluster up at {}", cluster.url());
                println!(
                    "kubeconfig: {} (context local-hybrid)",
                    kubeconfig.display()
                );
                println!(
                    "try: kubectl --kubeconfig {} get nodes -o wide",
                    kubeconfig.display()
                );
                calc_services::termination_signal().await;
                cluster.shutdown().await;
                Ok(())
            }
        }
    })
}
