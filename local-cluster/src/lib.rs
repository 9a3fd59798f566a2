//! An embedded Kubernetes-API-compatible hybrid cluster: Windows and Linux nodes shaped like EKS
//! nodes behind an API server that kubectl, kube-rs and the official Python client use unchanged.
//!
//! ```no_run
//! # async fn demo() -> Result<(), local_cluster::StartError> {
//! let cluster = local_cluster::LocalCluster::start(local_cluster::ClusterConfig::default()).await?;
//! println!("{}", cluster.kubeconfig());
//! cluster.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What users of the crate reach: the cluster ([`LocalCluster`], [`ClusterConfig`],
//! [`StartError`]); the launcher that runs calculator containers as processes
//! ([`kubelet::Launcher`], [`calculator::serve_if_requested`]); EKS stand-in pieces the console's
//! tests check tokens with ([`eks_auth`], [`eks_follow`]); and, for benchmarks that load objects
//! in bulk, the [`registry`] with its [`resources`] and [`errors`]; the [`faults`] to inject. Everything else is the
//! cluster's own business and stays `pub(crate)`.

pub(crate) mod addresses;
pub(crate) mod admission;
pub(crate) mod api;
pub(crate) mod audit;
pub(crate) mod authorization;
#[cfg(test)]
mod bad_input;
pub mod calculator;
pub mod clock;
pub mod conditions;
pub(crate) mod controllers;
pub(crate) mod custom_resources;
pub(crate) mod defaults;
pub mod eks_auth;
pub mod eks_follow;
pub mod errors;
pub(crate) mod events;
pub(crate) mod eviction;
pub mod faults;
pub mod gateway;
pub(crate) mod kubeconfig;
pub mod kubelet;
pub(crate) mod load;
pub(crate) mod managed_fields;
pub(crate) mod network;
pub(crate) mod node_pool;
pub mod nodes;
pub mod quotas;
pub mod registry;
pub mod resources;
pub(crate) mod schedule;
pub(crate) mod scheduler;
pub(crate) mod selectors;
pub(crate) mod server;
pub mod static_web;
mod stdin_watch;
pub(crate) mod store;
pub(crate) mod strategic;
pub(crate) mod tls;
pub(crate) mod validation;
pub(crate) mod version_order;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::registry::{Registry, WriteOptions};
use crate::store::Store;

/// How to start a cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Windows nodes (node group `windows`).
    pub windows_nodes: usize,
    /// The Windows Server releases the Windows nodes take in turn (2022 when empty).
    pub windows_servers: Vec<nodes::WindowsServer>,
    /// Linux nodes (node group `linux`).
    pub linux_nodes: usize,
    /// API server port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Where to write the kubeconfig, if anywhere.
    pub kubeconfig_path: Option<PathBuf>,
    /// Changes kept per resource for watches to resume from.
    pub watch_history: usize,
    /// How often nodes renew their Lease.
    pub lease_every: Duration,
    /// Deploy the calculator's starting point (the Windows monolith) and wait for it.
    pub with_calculator: bool,
    /// How calculator containers are started; `None`: this executable's hidden service mode.
    pub launcher: Option<kubelet::Launcher>,
    /// How long a simulated container takes to become Running.
    pub simulated_start: Duration,
    /// The first crash-loop back-off.
    pub crash_backoff: Duration,
    /// Stand in for this EKS cluster: accept its bearer tokens, asking STS whose they are.
    pub eks: Option<eks_auth::EksIdentity>,
    /// Follow this EKS cluster's managed node groups: their nodes replace the Windows and
    /// Linux node counts above.
    pub follow_eks: Option<eks_follow::FollowConfig>,
    /// Simulated pods (bound, Running, Ready, no process) to add at start, spread over
    /// namespaces `sim-NN` and over every node of both OSes.
    pub simulated_pods: usize,
    /// Simulated pod status changes per second (each flips a pod's readiness).
    pub churn_per_second: usize,
    /// Faults the API server shows on purpose (none by default).
    pub faults: faults::Faults,
    /// Where to append the audit log (a line per request, `audit.k8s.io/v1` Events), if anywhere.
    pub audit_log: Option<PathBuf>,
    /// How long an Event is kept after it was last seen (a real API server's `--event-ttl`).
    pub event_ttl: Duration,
    /// How often each HorizontalPodAutoscaler is looked at (the real controller's
    /// `--horizontal-pod-autoscaler-sync-period`, 15 s).
    pub hpa_sync: Duration,
    /// How often the kubelets bring mounted ConfigMaps, Secrets and downward-API files up to
    /// date (a real kubelet: about a minute; here a second, so a step of a progressive move —
    /// a routing ConfigMap's change — is in force within 2 s).
    pub volume_sync: Duration,
    /// The port each Ingress is served on at its own loopback address (80, as a load balancer
    /// listens; ports below 1024 need root or a lower `net.ipv4.ip_unprivileged_port_start`).
    pub ingress_port: u16,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            windows_nodes: 2,
            windows_servers: Vec::new(),
            linux_nodes: 2,
            port: 0,
            kubeconfig_path: None,
            watch_history: 50_000,
            lease_every: Duration::from_secs(10),
            with_calculator: false,
            launcher: None,
            simulated_start: Duration::from_millis(500),
            crash_backoff: Duration::from_secs(10),
            eks: None,
            follow_eks: None,
            simulated_pods: 0,
            churn_per_second: 0,
            faults: faults::Faults::default(),
            audit_log: None,
            event_ttl: events::EVENT_TTL,
            ingress_port: 80,
            volume_sync: Duration::from_secs(1),
            hpa_sync: Duration::from_secs(15),
        }
    }
}

/// Why the cluster did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The port is taken or not allowed.
    #[error(
        "cannot listen on {address}: {source}. Pick another port with --port, or 0 for a free one."
    )]
    Bind {
        /// What was asked for.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Certificates could not be made.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The kubeconfig could not be written.
    #[error("cannot write the kubeconfig to {path}: {source}")]
    Kubeconfig {
        /// Where.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Setting up the initial objects failed.
    #[error("cannot create the initial cluster objects: {0}")]
    Bootstrap(#[from] errors::ApiError),
    /// The simulated pods asked for could not be added.
    #[error("cannot add the simulated pods: {0}")]
    Load(String),
    /// Every loopback address block is taken by other local clusters.
    #[error(
        "cannot claim loopback addresses for the cluster (are 64 local clusters running?): {0}"
    )]
    Addresses(std::io::Error),
    /// This executable's path is unknown, so calculator containers cannot be started.
    #[error("cannot find this executable to run calculator containers: {0}")]
    Launcher(std::io::Error),
    /// No directory for pods' files (volumes) could be made in the temporary directory.
    #[error("cannot make a directory for pods' volumes in the temporary directory (TMPDIR): {0}")]
    PodFiles(std::io::Error),
    /// The calculator did not come up.
    #[error("{0}")]
    Calculator(errors::ApiError),
    /// The audit log could not be opened.
    #[error("cannot open the audit log {path}: {source}")]
    AuditLog {
        /// Where.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The EKS node groups to follow could not be read.
    #[error("{0}. Check the endpoint, AWS_REGION and the AWS credentials.")]
    Follow(#[from] eks_follow::FollowError),
}

/// A running local cluster. Dropping it without [`LocalCluster::shutdown`] leaves its tasks
/// running until the runtime ends.
pub struct LocalCluster {
    url: String,
    kubeconfig: String,
    token: String,
    ca_data: String,
    users: Arc<authorization::Users>,
    registry: Arc<Registry>,
    power: watch::Sender<server::Power>,
    tasks: Vec<JoinHandle<()>>,
    pool: Arc<node_pool::NodePool>,
    kubelets: Arc<kubelet::Kubelets>,
    network: Arc<network::ServiceNetwork>,
    gateways: Arc<gateway::DataPlane>,
    /// Held for the cluster's life: its addresses are its own.
    _addresses: addresses::AddressBlock,
    /// Pods' files, removed with the cluster.
    _pod_files: tempfile::TempDir,
}

impl LocalCluster {
    /// Starts the API server and the nodes.
    pub async fn start(config: ClusterConfig) -> Result<LocalCluster, StartError> {
        let address = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), config.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartError::Bind { address, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { address, source })?;
        let url = format!("https://{local}");
        let tls = tls::ClusterTls::generate(&[])?;
        let token = tls::random_token();
        let kubeconfig = kubeconfig::render(&url, &tls.ca_data(), &token);
        if let Some(path) = &config.kubeconfig_path {
            kubeconfig::write(path, &kubeconfig).map_err(|source| StartError::Kubeconfig {
                path: path.clone(),
                source,
            })?;
        }

        let block = addresses::AddressBlock::claim().map_err(StartError::Addresses)?;
        let store = Arc::new(Store::new(config.watch_history));
        let registry = Arc::new(Registry::new(store, block.services()));
        // Following EKS, the node groups decide which nodes there are.
        let plan = if config.follow_eks.is_some() {
            Vec::new()
        } else {
            nodes::plan(
                config.windows_nodes,
                config.linux_nodes,
                block.nodes(),
                &config.windows_servers,
            )
        };
        let followed = match &config.follow_eks {
            Some(follow) => {
                let client = eks_follow::client(follow).await;
                let groups = match &follow.expected {
                    Some(expected) => expected.groups.clone(),
                    None => eks_follow::groups(&client, follow).await?,
                };
                Some((client, groups))
            }
            None => None,
        };
        bootstrap(&registry, &plan)?;

        let users = Arc::new(authorization::Users::default());
        // Pods' files (volumes, container roots) live as long as the cluster.
        let pod_files = tempfile::Builder::new()
            .prefix("local-cluster-pods-")
            .tempdir()
            .map_err(StartError::PodFiles)?;
        let _ = registry.pod_files.set(pod_files.path().to_owned());
        let launcher = match config.launcher.clone() {
            Some(l) => l,
            None => kubelet::Launcher::current_exe().map_err(StartError::Launcher)?,
        };
        let mut tasks = Vec::new();
        tasks.extend(controllers::replicaset::start(registry.clone()));
        tasks.extend(controllers::deployment::start(registry.clone()));
        tasks.extend(controllers::daemonset::start(registry.clone()));
        tasks.extend(controllers::job::start(registry.clone()));
        tasks.extend(controllers::cronjob::start(registry.clone()));
        tasks.extend(controllers::statefulset::start(registry.clone()));
        tasks.extend(controllers::disruption::start(registry.clone()));
        tasks.extend(controllers::garbage_collector::start(registry.clone()));
        tasks.extend(controllers::namespace::start(registry.clone()));
        tasks.extend(controllers::definitions::start(registry.clone()));
        tasks.extend(controllers::endpoints::start(registry.clone()));
        tasks.extend(controllers::resource_quota::start(registry.clone()));
        tasks.extend(scheduler::start(registry.clone()));
        let kubelets = Arc::new(kubelet::Kubelets::start(
            registry.clone(),
            &plan,
            kubelet::KubeletConfig {
                launcher,
                simulated_start: config.simulated_start,
                simulated_pull: Duration::from_millis(200),
                crash_backoff: config.crash_backoff,
                root_dir: pod_files.path().to_owned(),
                volume_sync: config.volume_sync,
                tokens: users.clone(),
            },
            block.pods(),
        ));
        let processes = kubelets.processes.clone();
        tasks.extend(controllers::autoscaler::start(
            registry.clone(),
            Arc::new(move |namespace, pod, container| processes.usage(namespace, pod, container)),
            config.hpa_sync,
        ));
        let (network, network_task) =
            network::ServiceNetwork::start(registry.clone(), plan.iter().map(|n| n.ip).collect());
        tasks.push(network_task);
        let (gateways, gateway_tasks) =
            gateway::start(registry.clone(), block.nodes(), config.ingress_port);
        tasks.extend(gateway_tasks);
        let runtime: Arc<dyn api::Runtime> = Arc::new(network::ClusterRuntime::new(
            registry.clone(),
            kubelets.logs.clone(),
            kubelets.processes.clone(),
        ));
        users.add(
            token.clone(),
            authorization::UserInfo::new("kubernetes-admin", &[authorization::MASTERS]),
        );
        let audit = match &config.audit_log {
            Some(path) => {
                Some(
                    audit::AuditLog::open(path).map_err(|source| StartError::AuditLog {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let state = api::ApiState::new(
            registry.clone(),
            users.clone(),
            local.to_string(),
            Some(runtime),
            config.eks.clone(),
            audit,
        );
        let (power, powered) = watch::channel(server::Power::On);
        let mut router = api::router(state);
        if config.faults.touches_requests() {
            tracing::warn!(faults = ?config.faults, "injecting faults into the API server's answers");
            router = router.layer(axum::middleware::from_fn_with_state(
                Arc::new(config.faults.clone()),
                faults::inject,
            ));
        }
        tasks.push(tokio::spawn(server::serve(
            listener,
            tls.server.clone(),
            router,
            powered,
        )));
        if let (Some(every), Some(down)) = (config.faults.outage_every, config.faults.outage_for) {
            tasks.push(tokio::spawn(outages(power.clone(), every, down)));
        }
        let pool = Arc::new(node_pool::NodePool::new(
            registry.clone(),
            kubelets.clone(),
            network.clone(),
            &plan,
            block.nodes(),
        ));
        tasks.push(tokio::spawn(events::expire_every(
            registry.clone(),
            config.event_ttl,
        )));
        // etcd's periodic compaction: resources that stopped changing give their old versions back.
        let compacted = registry.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                compacted.compact();
            }
        }));
        tasks.push(tokio::spawn(nodes::heartbeats(
            registry.clone(),
            pool.beating.clone(),
            config.lease_every,
        )));
        if let (Some((client, groups)), Some(follow)) = (followed, config.follow_eks.clone()) {
            // The first round joins the nodes at once, so the calculator can be placed.
            let leaving = Arc::default();
            drop(eks_follow::reconcile(
                &pool,
                &groups,
                &leaving,
                follow.drain_retry,
            ));
            tasks.push(tokio::spawn(eks_follow::follow(
                pool.clone(),
                client,
                follow,
            )));
        }
        let mut cluster = LocalCluster {
            url,
            kubeconfig,
            token,
            ca_data: tls.ca_data(),
            users,
            registry,
            power,
            tasks,
            pool,
            kubelets,
            network,
            gateways,
            _addresses: block,
            _pod_files: pod_files,
        };
        if config.with_calculator
            && let Err(e) = calculator::deploy(&cluster.registry, Duration::from_secs(60)).await
        {
            cluster.shutdown().await;
            return Err(StartError::Calculator(e));
        }
        if config.simulated_pods > 0 {
            let added = load::add_simulated_pods(&cluster.registry, config.simulated_pods)
                .map_err(|e| StartError::Load(e.message))?;
            tracing::info!(
                pods = added.stored,
                pending = added.pending,
                "simulated pods added"
            );
            cluster.tasks.push(tokio::spawn(load::churn(
                cluster.registry.clone(),
                config.simulated_pods,
                config.churn_per_second,
            )));
        }
        tracing::info!(url = %cluster.url, windows = config.windows_nodes, linux = config.linux_nodes, "local cluster up");
        Ok(cluster)
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kubeconfig YAML (context `local-hybrid`).
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Adds a user with a token of its own and returns a kubeconfig for it (context
    /// `local-hybrid`). The user may do what RBAC bindings grant it (none yet: bind it to a Role
    /// or ClusterRole such as `view` or `edit`); in group `system:masters`, anything.
    pub fn add_user(&self, name: &str, groups: &[&str]) -> String {
        let token = tls::random_token();
        self.users
            .add(token.clone(), authorization::UserInfo::new(name, groups));
        kubeconfig::render_for(&self.url, &self.ca_data, &token, name)
    }

    /// Direct access to the objects, for bulk set-up of large simulated clusters.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The node names, in the order they joined (the initial ones Windows first).
    pub fn node_names(&self) -> Vec<String> {
        self.pool.names()
    }

    /// The nodes, to add and remove while the cluster runs.
    pub fn node_pool(&self) -> &Arc<node_pool::NodePool> {
        &self.pool
    }

    /// Stops the API server as a control plane outage does: the listener closes and every
    /// connection (watches included) drops, while the controllers, nodes and pods keep running.
    pub fn stop_api_server(&self) {
        tracing::warn!(url = %self.url, "API server stopped");
        self.power.send_replace(server::Power::Off);
    }

    /// Listens again on the same address after [`LocalCluster::stop_api_server`].
    pub fn restart_api_server(&self) {
        tracing::info!(url = %self.url, "API server restarting");
        self.power.send_replace(server::Power::On);
    }

    /// Stops every container process, stops serving, closes every connection and ends every
    /// background task.
    pub async fn shutdown(self) {
        self.kubelets.shutdown().await;
        self.network.shutdown();
        self.gateways.shutdown();
        let _ = self.power.send(server::Power::ShutDown);
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
        tracing::info!(url = %self.url, "local cluster stopped");
    }
}

/// `--inject outage-every=…,outage-for=…`: the API server goes away `down` out of every `every`.
async fn outages(power: watch::Sender<server::Power>, every: Duration, down: Duration) {
    loop {
        tokio::time::sleep(every - down).await;
        if *power.borrow() == server::Power::ShutDown {
            return;
        }
        tracing::warn!(
            seconds = down.as_secs_f64(),
            "injected outage: API server stopped"
        );
        power.send_replace(server::Power::Off);
        tokio::time::sleep(down).await;
        if *power.borrow() == server::Power::ShutDown {
            return;
        }
        tracing::info!("injected outage over: API server listening again");
        power.send_replace(server::Power::On);
    }
}

/// What a new cluster has before anyone touches it, as a fresh EKS cluster does.
fn bootstrap(registry: &Registry, plan: &[nodes::NodeSpec]) -> Result<(), errors::ApiError> {
    let internal = WriteOptions::default();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        registry.create(
            resources::namespaces(),
            "",
            json!({"metadata": {"name": ns}}),
            &internal,
        )?;
        registry.create(
            resources::serviceaccounts(),
            ns,
            json!({"metadata": {"name": "default", "namespace": ns}}),
            &internal,
        )?;
    }
    // Windows IPAM, as a cluster prepared for Windows nodes has it (EKS leaves it to the operator).
    registry.create(
        resources::configmaps(),
        "kube-system",
        json!({"metadata": {"name": "amazon-vpc-cni", "namespace": "kube-system"}, "data": {"enable-windows-ipam": "true"}}),
        &internal,
    )?;
    registry.create(
        resources::services(),
        "default",
        json!({
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": registry.first_cluster_ip().to_string(), "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}]},
        }),
        &internal,
    )?;
    for node in plan {
        registry.create(resources::nodes(), "", nodes::node_object(node), &internal)?;
        registry.create(
            resources::leases(),
            "kube-node-lease",
            nodes::lease_object(&node.name),
            &internal,
        )?;
    }
    // The class of the Ingresses the local cluster serves itself (the gateway's data plane),
    // the default one, as a cluster with one ingress controller usually has it.
    registry.create(
        resources::ingressclasses(),
        "",
        json!({
            "metadata": {"name": gateway::CLASS_NAME,
                         "annotations": {admission::DEFAULT_INGRESS_CLASS: "true"}},
            "spec": {"controller": gateway::INGRESS_CONTROLLER},
        }),
        &internal,
    )?;
    // Every group-version the server serves is an APIService of its own, served locally (as on
    // a real server; metrics.k8s.io's included, the local cluster answers it itself).
    for (group, version) in resources::group_versions() {
        registry.create(
            resources::apiservices(),
            "",
            local_api_service(group, version),
            &internal,
        )?;
    }
    authorization::bootstrap(registry)?;
    Ok(())
}

/// The APIService of a group-version this server serves itself: `Local`, `Available`.
fn local_api_service(group: &str, version: &str) -> serde_json::Value {
    // The real server's priorities: the core group first, then the built-in groups.
    let (group_priority, version_priority) = if group.is_empty() {
        (18000, 1)
    } else {
        (17000, 15)
    };
    json!({
        "metadata": {
            "name": format!("{version}.{group}"),
            "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"},
        },
        "spec": {
            "group": group,
            "version": version,
            "groupPriorityMinimum": group_priority,
            "versionPriority": version_priority,
        },
        "status": {
            "conditions": [{
                "type": "Available",
                "status": "True",
                "reason": "Local",
                "message": "Local APIServices are always available",
                "lastTransitionTime": clock::now(),
            }],
        },
    })
}
