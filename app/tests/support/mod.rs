//! An embedded local cluster for the console's tests: the real API server, controllers and
//! kubelets, reached over HTTPS through a kubeconfig file, with calculator containers run as
//! real processes of the `hybrid-console` binary. It can be stopped and started again on the
//! same port and kubeconfig path, as an operator's cluster might go away and come back.

#![allow(dead_code)]

pub mod moto;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hybrid_console::backend::Backend;
use hybrid_console::model::ClusterSnapshot;
use hybrid_console::protocol::{ConnectionStatus, Event};
use local_cluster::kubelet::Launcher;
use local_cluster::{ClusterConfig, LocalCluster};
use test_harness::Kubectl;

/// A running local cluster on its own runtime.
pub struct TestCluster {
    runtime: tokio::runtime::Runtime,
    cluster: Option<LocalCluster>,
    /// Its API server port on 127.0.0.1.
    pub port: u16,
    /// The kubeconfig it writes (rewritten on every start: a new CA and token each time).
    pub kubeconfig: PathBuf,
    with_calculator: bool,
    eks: Option<local_cluster::eks_auth::EksIdentity>,
    follow: Option<local_cluster::eks_follow::FollowConfig>,
    faults: local_cluster::faults::Faults,
    windows_servers: Vec<local_cluster::nodes::WindowsServer>,
    dir: tempfile::TempDir,
}

/// How calculator containers run: this package's binary in its hidden service mode.
fn launcher() -> Launcher {
    Launcher {
        program: PathBuf::from(env!("CARGO_BIN_EXE_hybrid-console")),
        args: vec![local_cluster::calculator::SERVICE_MODE_ARG.to_owned()],
    }
}

pub use test_harness::free_port;

/// How a window's embedded cluster starts in a test: pods run as this package's binary, its
/// kubeconfig also written to `kubeconfig` (for kubectl beside the window), moto run by `python`
/// (`None`: no emulator).
pub fn embedded_options(
    kubeconfig: &Path,
    python: Option<&str>,
) -> hybrid_console::live::embedded::EmbeddedOptions {
    hybrid_console::live::embedded::EmbeddedOptions {
        python: python.map(PathBuf::from),
        launcher: Some(launcher()),
        kubeconfig_path: Some(kubeconfig.to_path_buf()),
    }
}

impl TestCluster {
    /// 2 Windows + 2 Linux nodes; with the calculator monolith deployed and Ready if asked.
    pub fn start(with_calculator: bool) -> TestCluster {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cluster = TestCluster {
            runtime,
            cluster: None,
            port: free_port(),
            kubeconfig: dir.path().join("kubeconfig"),
            with_calculator,
            eks: None,
            follow: None,
            faults: Default::default(),
            windows_servers: Vec::new(),
            dir,
        };
        cluster.up();
        cluster
    }

    /// 2 Windows + 2 Linux nodes, standing in for the EKS cluster `identity` names.
    pub fn start_eks(identity: local_cluster::eks_auth::EksIdentity) -> TestCluster {
        let mut cluster = TestCluster::start(false);
        cluster.down();
        cluster.eks = Some(identity);
        cluster.up();
        cluster
    }

    /// No nodes of its own: it follows the managed node groups of EKS cluster `cluster` at
    /// `endpoint` (region and credentials from this process's AWS environment), with the
    /// calculator monolith if asked.
    pub fn start_following(cluster: &str, endpoint: &str, with_calculator: bool) -> TestCluster {
        let mut test = TestCluster::start(false);
        test.down();
        test.with_calculator = with_calculator;
        test.follow = Some(local_cluster::eks_follow::FollowConfig::new(
            cluster,
            Some(endpoint.to_owned()),
        ));
        test.up();
        test
    }

    /// 2 Windows + 2 Linux nodes, the Windows ones of these Windows Server releases in turn
    /// (one node group, as mid-upgrade).
    pub fn start_with_windows_servers(
        servers: &[local_cluster::nodes::WindowsServer],
    ) -> TestCluster {
        let mut cluster = TestCluster::start(false);
        cluster.down();
        cluster.windows_servers = servers.to_vec();
        cluster.up();
        cluster
    }

    /// 2 Windows + 2 Linux nodes whose API server shows `faults` (`local-cluster up --inject`).
    pub fn start_with_faults(faults: &str) -> TestCluster {
        let mut cluster = TestCluster::start(false);
        cluster.down();
        cluster.faults = faults.parse().expect("faults");
        cluster.up();
        cluster
    }

    /// As [`TestCluster::start_with_faults`], with the calculator monolith deployed and Ready.
    pub fn start_with_faults_and_calculator(faults: &str) -> TestCluster {
        let mut cluster = TestCluster::start(false);
        cluster.down();
        cluster.faults = faults.parse().expect("faults");
        cluster.with_calculator = true;
        cluster.up();
        cluster
    }

    /// Stops the API server as a control plane outage does; the nodes and pods keep running.
    pub fn stop_api_server(&self) {
        self.running().stop_api_server();
    }

    /// Listens again on the same port after [`TestCluster::stop_api_server`].
    pub fn restart_api_server(&self) {
        self.running().restart_api_server();
    }

    /// The running cluster's objects, reached without its API server.
    pub fn registry(&self) -> &std::sync::Arc<local_cluster::registry::Registry> {
        self.running().registry()
    }

    fn running(&self) -> &LocalCluster {
        self.cluster.as_ref().expect("the cluster is running")
    }

    /// Every request the API server answered so far, as `audit.k8s.io/v1` Events.
    pub fn audit_events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path("audit.log"))
            .expect("read the audit log")
            .lines()
            .map(|line| serde_json::from_str(line).expect("an audit event"))
            .collect()
    }

    /// The API server's URL and its CA (base64 PEM), as `DescribeCluster` gives them.
    pub fn endpoint_and_ca(&self) -> (String, String) {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("read kubeconfig");
        let config: serde_yaml::Value = serde_yaml::from_str(&text).expect("parse kubeconfig");
        let cluster = &config["clusters"][0]["cluster"];
        (
            cluster["server"].as_str().expect("server").to_owned(),
            cluster["certificate-authority-data"]
                .as_str()
                .expect("CA")
                .to_owned(),
        )
    }

    /// Starts the cluster (again) on the same port and kubeconfig path.
    pub fn up(&mut self) {
        assert!(self.cluster.is_none(), "the cluster is already running");
        let config = ClusterConfig {
            port: self.port,
            kubeconfig_path: Some(self.kubeconfig.clone()),
            with_calculator: self.with_calculator,
            eks: self.eks.clone(),
            follow_eks: self.follow.clone(),
            faults: self.faults.clone(),
            audit_log: Some(self.path("audit.log")),
            launcher: Some(launcher()),
            windows_servers: self.windows_servers.clone(),
            ..ClusterConfig::default()
        };
        let cluster = self
            .runtime
            .block_on(LocalCluster::start(config))
            .expect("the local cluster starts");
        self.cluster = Some(cluster);
    }

    /// A kubeconfig for a new user `name` in `groups`, allowed what bindings to those groups
    /// allow.
    pub fn user_in_groups(&self, name: &str, groups: &[&str]) -> PathBuf {
        let path = self.path(&format!("{name}-kubeconfig"));
        std::fs::write(&path, self.running().add_user(name, groups)).expect("write kubeconfig");
        path
    }

    /// A kubeconfig for a new user `name` who may only read namespace `namespace` (the `view`
    /// ClusterRole bound there), as a developer on a shared EKS cluster often is.
    pub fn viewer(&self, name: &str, namespace: &str) -> PathBuf {
        let cluster = self.cluster.as_ref().expect("the cluster is running");
        let path = self.path(&format!("{name}-kubeconfig"));
        std::fs::write(&path, cluster.add_user(name, &[])).expect("write kubeconfig");
        self.apply(&format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {name}-view
  namespace: {namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: {name}
"
        ));
        path
    }

    /// A kubeconfig for a new user `name` bound in `namespace` to a Role with `rules` (YAML
    /// list), plus read access to nodes and pods everywhere (what the board needs).
    pub fn user_with_role(&self, name: &str, namespace: &str, rules: &str) -> PathBuf {
        let cluster = self.cluster.as_ref().expect("the cluster is running");
        let path = self.path(&format!("{name}-kubeconfig"));
        std::fs::write(&path, cluster.add_user(name, &[])).expect("write kubeconfig");
        self.apply(&format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {name}
  namespace: {namespace}
rules:
{rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {name}
  namespace: {namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {name}
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: {name}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {name}-read-cluster
rules:
- apiGroups: [\"\"]
  resources: [nodes, pods]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {name}-read-cluster
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {name}-read-cluster
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: {name}
"
        ));
        path
    }

    /// Stops the cluster: the API server stops answering and its containers end.
    pub fn down(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            self.runtime.block_on(cluster.shutdown());
        }
    }

    /// A path in the test's temporary directory (also used as `HOME` for the console).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The real kubectl against the cluster, from the workspace's shared test harness.
    pub fn kubectl(&self) -> Kubectl {
        Kubectl::new(&self.kubeconfig, self.path("kube-cache"))
    }

    /// `kubectl apply -f -` with `manifest`.
    pub fn apply(&self, manifest: &str) {
        let path = self.path(&format!("manifest-{}.yaml", free_port()));
        std::fs::write(&path, manifest).expect("write manifest");
        self.kubectl().ok(&["apply", "-f", &path.to_string_lossy()]);
    }

    /// Node names by OS label, sorted.
    pub fn nodes_of(&self, os: &str) -> Vec<String> {
        let out = self.kubectl().ok(&[
            "get",
            "nodes",
            "-l",
            &format!("kubernetes.io/os={os}"),
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        let mut names: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
        names.sort();
        names
    }

    /// Starts `hybrid-console --kubeconfig … migrate <args>` in the background (output piped) and
    /// returns once the move is recorded on the monolith, half-way through.
    pub fn move_in_background(&self, args: &[&str]) -> std::process::Child {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("migrate")
            .args(args)
            .env("HOME", self.dir())
            .env_remove("KUBECONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start hybrid-console");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let record = monolith_field(self, ".metadata.annotations.hybrid-console\\.io/move");
            if record.contains("\"step\"") {
                return child;
            }
            assert!(Instant::now() < deadline, "the move was never recorded");
            assert!(
                child.try_wait().expect("poll the console").is_none(),
                "the move ended before it was seen half-way"
            );
        }
    }

    /// Runs the `hybrid-console` binary with `args`, with a `HOME` of its own so no kubeconfig
    /// of the machine's user is read.
    pub fn console(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
            .args(args)
            .env("HOME", self.dir())
            .env_remove("KUBECONFIG")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run hybrid-console")
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.down();
    }
}

/// A window's backend (the built-in plan) told to connect with `kubeconfig`'s current context.
pub fn backend_connected_to(kubeconfig: &Path) -> Backend {
    let plan = hybrid_console::migration::plan_file::load(None).expect("the built-in plan");
    let backend = Backend::start(
        || {},
        std::sync::Arc::new(plan),
        hybrid_console::live::embedded::EmbeddedOptions::default(),
    );
    backend.send(hybrid_console::protocol::Command::Connect(
        hybrid_console::cluster::connection::ConnectionTarget::Kubeconfig {
            path: Some(kubeconfig.to_path_buf()),
            context: None,
        },
    ));
    backend
}

/// Waits for backend events until `done` says so; panics with what was seen after `timeout`.
pub fn wait_for(
    backend: &Backend,
    seen: &mut Seen,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&Seen) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !done(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out waiting for {what}; last status {:?}, snapshots seen {}",
            seen.status,
            seen.snapshots
        );
        if let Some(event) = backend.next_event(left.min(Duration::from_millis(200))) {
            seen.record(event);
        }
    }
}

/// What the backend has said so far.
#[derive(Default)]
pub struct Seen {
    /// The latest connection status.
    pub status: Option<ConnectionStatus>,
    /// Every status, in order.
    pub statuses: Vec<ConnectionStatus>,
    /// The latest board.
    pub snapshot: Option<std::sync::Arc<ClusterSnapshot>>,
    /// How many boards arrived.
    pub snapshots: usize,
    /// Boards that arrived while the status was Reconnecting.
    pub snapshots_while_reconnecting: usize,
}

impl Seen {
    fn record(&mut self, event: Event) {
        match event {
            Event::Connection(status) => {
                self.statuses.push(status.clone());
                self.status = Some(status);
            }
            Event::Snapshot(snapshot) => {
                self.snapshots += 1;
                if self.is_reconnecting() {
                    self.snapshots_while_reconnecting += 1;
                }
                self.snapshot = Some(snapshot);
            }
            _ => {}
        }
    }

    /// Whether the connection is live.
    pub fn is_live(&self) -> bool {
        matches!(self.status, Some(ConnectionStatus::Live { .. }))
    }

    /// Whether the console says it is reconnecting.
    pub fn is_reconnecting(&self) -> bool {
        matches!(self.status, Some(ConnectionStatus::Reconnecting { .. }))
    }

    /// The node a pod is drawn on, if the board has it on a node.
    pub fn node_of(&self, namespace: &str, pod: &str) -> Option<String> {
        let snapshot = self.snapshot.as_ref()?;
        snapshot
            .nodes()
            .find(|n| {
                n.pods
                    .iter()
                    .any(|p| p.namespace == namespace && p.name == pod)
            })
            .map(|n| n.name.clone())
    }
}

/// stdout and stderr of a console run, together.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The shipped manifests.
pub const MANIFESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests");

/// Copies the calculator's service manifests and kustomization into `dir` (as a plan's
/// relative paths name them) and writes the built-in plan there, changed by `edit`; returns
/// the plan's path.
pub fn plan_copy(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    std::fs::create_dir_all(dir.join("calculator/services")).expect("plan directory");
    for file in [
        "kustomization.yaml",
        "calculator/services/sum-service.yaml",
        "calculator/services/subtraction-service.yaml",
        "calculator/services/multiplication-service.yaml",
        "calculator/services/division-service.yaml",
        "calculator/services/ui-service.yaml",
    ] {
        std::fs::copy(format!("{MANIFESTS}/{file}"), dir.join(file)).expect("manifest copied");
    }
    let plan = std::fs::read_to_string(format!("{MANIFESTS}/calculator-migration.yaml"))
        .expect("the shipped plan");
    let path = dir.join("plan.yaml");
    std::fs::write(&path, edit(plan)).expect("plan written");
    path
}

/// Installs the Gateway API's definitions, then the calculator's Gateway (of `class`) and its
/// route (`manifests/gateway-api/calculator-edge.yaml`).
pub fn install_edge(cluster: &TestCluster, class: &str) {
    let kubectl = cluster.kubectl();
    kubectl.ok(&[
        "apply",
        "-f",
        &format!("{MANIFESTS}/gateway-api/standard-crds.yaml"),
    ]);
    kubectl.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/httproutes.gateway.networking.k8s.io",
        "--timeout=20s",
    ]);
    let edge = std::fs::read_to_string(format!("{MANIFESTS}/gateway-api/calculator-edge.yaml"))
        .expect("the calculator's edge manifest");
    cluster.apply(&edge.replace(
        "gatewayClassName: local-cluster",
        &format!("gatewayClassName: {class}"),
    ));
}

/// Puts the calculator's Gateway under a GatewayClass `alb` of another implementation, whose
/// status (written here as its controller would) lists its features without
/// `HTTPRouteRequestMirror`, as an ALB cannot copy requests.
pub fn gateway_class_without_mirror(cluster: &TestCluster) {
    cluster.apply(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: alb}\nspec: {controllerName: example.com/alb}\n",
    );
    let kubectl = cluster.kubectl();
    kubectl.ok(&[
        "patch",
        "gatewayclass",
        "alb",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"supportedFeatures":[{"name":"Gateway"},{"name":"HTTPRoute"}]}}"#,
    ]);
    kubectl.ok(&[
        "patch",
        "gateway",
        "calculator",
        "-n",
        "calculator",
        "--type=merge",
        "-p",
        r#"{"spec":{"gatewayClassName":"alb"}}"#,
    ]);
}

/// `hybrid-console --kubeconfig … migrate <args>` against `cluster`.
pub fn migrate(cluster: &TestCluster, args: &[&str]) -> Output {
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let mut all = vec!["--kubeconfig", &kubeconfig, "migrate"];
    all.extend_from_slice(args);
    cluster.console(&all)
}

/// `kubectl get deployment monolith -n calculator -o jsonpath={path}`.
pub fn monolith_field(cluster: &TestCluster, path: &str) -> String {
    cluster.kubectl().ok(&[
        "get",
        "deployment",
        "monolith",
        "-n",
        "calculator",
        "-o",
        &format!("jsonpath={{{path}}}"),
    ])
}

/// The names of the monolith container's environment variables.
pub fn monolith_env(cluster: &TestCluster) -> String {
    monolith_field(cluster, ".spec.template.spec.containers[0].env[*].name")
}

/// The names of `kind` objects in namespace `calculator`.
pub fn names(cluster: &TestCluster, kind: &str) -> String {
    cluster.kubectl().ok(&[
        "get",
        kind,
        "-n",
        "calculator",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ])
}

/// The monolith's move record (`hybrid-console.io/move`), read from the store.
pub fn move_record(cluster: &TestCluster) -> Option<serde_json::Value> {
    let stored = cluster
        .registry()
        .get(
            local_cluster::resources::deployments(),
            "calculator",
            "monolith",
        )
        .ok()?;
    let monolith: serde_json::Value = serde_json::from_slice(&stored.json).ok()?;
    let text = monolith["metadata"]["annotations"]["hybrid-console.io/move"].as_str()?;
    serde_json::from_str(text).ok()
}

/// Which pod answered the sum through the front Service.
pub fn sum_served_by(cluster: &TestCluster) -> String {
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let output = cluster.console(&["--kubeconfig", &kubeconfig, "calc", "6", "3", "-o", "json"]);
    assert!(output.status.success(), "calc failed:\n{}", text(&output));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let sum = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operation"] == "sum")
        .unwrap();
    assert_eq!(sum["total"], 9, "{answer}");
    sum["served-by"]["pod"].as_str().unwrap().to_owned()
}
