//! One connection at a time: connect, watch, publish snapshots; when the server goes away, keep
//! the last state, say so, and reconnect by itself (re-reading the kubeconfig, whose credentials
//! or address may have changed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Node, Pod, Service};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use local_cluster::LocalCluster;
use tokio::sync::{Mutex, Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::connection::{self, ConnectError, Connection, ConnectionTarget};
use super::moves::MoveDesk;
use super::placements::Placements;
use super::{ConnectionStatus, Event, EventSink, LogEntry, calculator, details};
use crate::model::moves::MOVE_ANNOTATION;
use crate::model::plan::MigrationPlan;
use crate::model::{ClusterSnapshot, NodeUsage, node_usage_from_metrics};

/// The embedded cluster, started on first use and kept until the console exits.
type LocalSlot = Arc<Mutex<Option<LocalCluster>>>;

/// Runs until the command channel closes.
pub(super) async fn supervise(
    mut commands: mpsc::UnboundedReceiver<super::Command>,
    sink: EventSink,
    plan: Arc<MigrationPlan>,
) {
    let mut desk = MoveDesk::default();
    let local: LocalSlot = Arc::default();
    let (client_tx, client_rx) = watch::channel::<Option<Connection>>(None);
    let (namespace_tx, namespace_rx) = watch::channel("calculator".to_owned());
    let http = calculator::http_client();
    let mut session: Option<JoinHandle<()>> = None;
    let mut probe: Option<JoinHandle<()>> = None;
    let mut selected: Option<JoinHandle<()>> = None;
    while let Some(command) = commands.recv().await {
        match command {
            super::Command::Connect(target) => {
                if let Some(s) = session.take() {
                    s.abort();
                }
                let _ = client_tx.send(None);
                sink.send(Event::Contexts(connection::list_contexts(match &target {
                    ConnectionTarget::Kubeconfig { path, .. } => path.as_ref(),
                    ConnectionTarget::Local | ConnectionTarget::Eks { .. } => None,
                })));
                session = Some(tokio::spawn(run(
                    target,
                    sink.clone(),
                    local.clone(),
                    client_tx.clone(),
                    namespace_rx.clone(),
                    plan.clone(),
                )));
            }
            super::Command::Calculate {
                request,
                a,
                b,
                target,
            } => {
                let (sink, client, http) = (
                    sink.clone(),
                    client_rx.borrow().as_ref().map(|c| c.proxy.clone()),
                    http.clone(),
                );
                tokio::spawn(async move {
                    let outcome =
                        calculator::calculate(request, client.as_ref(), &http, &target, &a, &b)
                            .await;
                    sink.send(Event::Calculated(outcome));
                });
            }
            super::Command::Probe {
                per_second,
                a,
                b,
                target,
            } => {
                if let Some(p) = probe.take() {
                    p.abort();
                }
                if let Some(rate) = per_second {
                    sink.log(
                        "Probe",
                        format!("probing the calculator {rate} times a second"),
                    );
                    probe = Some(tokio::spawn(calculator::probe(
                        rate,
                        a,
                        b,
                        target,
                        client_rx.clone(),
                        http.clone(),
                        sink.clone(),
                    )));
                } else {
                    sink.log("Probe", "probing stopped");
                }
            }
            super::Command::SelectPod(pod) => {
                if let Some(s) = selected.take() {
                    s.abort();
                }
                if let Some((namespace, name)) = pod {
                    selected = Some(tokio::spawn(details::follow(
                        namespace,
                        name,
                        client_rx.clone(),
                        sink.clone(),
                    )));
                }
            }
            super::Command::EventsNamespace(namespace) => {
                let _ = namespace_tx.send(namespace);
            }
            super::Command::PlanMove { service, direction } => {
                desk.plan(&plan, &client_rx, &sink, service, direction);
            }
            super::Command::StartMove(confirmed) => {
                desk.start(&plan, &client_rx, &sink, *confirmed);
            }
            super::Command::AbortMove => desk.abort(&sink),
            super::Command::ResumeMove => desk.recorded(&plan, &client_rx, &sink, true),
            super::Command::RollBackMove => desk.recorded(&plan, &client_rx, &sink, false),
            super::Command::Retire(stage) => desk.retire(&plan, &client_rx, &sink, stage),
            super::Command::CheckReadiness { options, eks } => {
                tokio::spawn(super::eks_actions::check(
                    options,
                    eks,
                    client_rx.clone(),
                    sink.clone(),
                ));
            }
            super::Command::SurveyNodeGroup {
                aws,
                cluster,
                group,
                retirement,
            } => {
                tokio::spawn(super::eks_actions::survey(
                    aws,
                    cluster,
                    group,
                    retirement,
                    client_rx.clone(),
                    sink.clone(),
                ));
            }
            super::Command::RetireNodeGroup {
                aws,
                survey,
                retirement,
            } => {
                tokio::spawn(super::eks_actions::retire(
                    aws,
                    *survey,
                    retirement,
                    client_rx.clone(),
                    sink.clone(),
                ));
            }
            super::Command::ReviewNodeGroup {
                aws,
                cluster,
                source,
            } => {
                tokio::spawn(super::eks_actions::review(
                    aws,
                    cluster,
                    source,
                    client_rx.clone(),
                    sink.clone(),
                ));
            }
            super::Command::AddNodeGroup {
                aws,
                cluster,
                proposal,
            } => {
                tokio::spawn(super::eks_actions::add(
                    aws,
                    cluster,
                    *proposal,
                    sink.clone(),
                ));
            }
            super::Command::ListEks(target) => {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let (region, clusters) = match super::eks::Aws::load(&target).await {
                        Ok(aws) => {
                            let clusters = aws.clusters().await.map_err(|e| e.to_string());
                            (aws.region.clone(), clusters)
                        }
                        Err(e) => (
                            target.region.clone().unwrap_or_default(),
                            Err(e.to_string()),
                        ),
                    };
                    sink.send(Event::EksClusters { region, clusters });
                });
            }
        }
    }
    desk.stop();
    for task in [session, probe, selected].into_iter().flatten() {
        task.abort();
    }
    if let Some(cluster) = local.lock().await.take() {
        cluster.shutdown().await;
    }
}

async fn local_kubeconfig(
    local: &LocalSlot,
    sink: &EventSink,
    label: &str,
) -> Result<String, ConnectError> {
    let mut slot = local.lock().await;
    if let Some(cluster) = slot.as_ref() {
        return Ok(cluster.kubeconfig().to_owned());
    }
    sink.send(Event::Connection(ConnectionStatus::Connecting {
        target: label.to_owned(),
        stage: "Starting the local hybrid cluster (2 Windows + 2 Linux nodes) and the calculator monolith…".into(),
    }));
    let started = Instant::now();
    let cluster = connection::start_local_cluster().await?;
    sink.log(
        "LocalCluster",
        format!(
            "local hybrid cluster up at {} with the calculator monolith ready, in {:.1} s",
            cluster.url(),
            started.elapsed().as_secs_f64()
        ),
    );
    let kubeconfig = cluster.kubeconfig().to_owned();
    *slot = Some(cluster);
    Ok(kubeconfig)
}

async fn connect_once(
    target: &ConnectionTarget,
    local: &LocalSlot,
    sink: &EventSink,
) -> Result<Connection, ConnectError> {
    let label = target.describe();
    let kubeconfig = match target {
        ConnectionTarget::Local => Some(local_kubeconfig(local, sink, &label).await?),
        ConnectionTarget::Kubeconfig { .. } | ConnectionTarget::Eks { .. } => None,
    };
    sink.send(Event::Connection(ConnectionStatus::Connecting {
        target: label,
        stage: "Contacting the API server…".into(),
    }));
    connection::open(target, kubeconfig.as_deref()).await
}

/// Errors a retry will not fix.
fn permanent(error: &ConnectError) -> bool {
    matches!(
        error,
        ConnectError::UnknownContext { .. }
            | ConnectError::Kubeconfig(_)
            | ConnectError::LocalCluster(_)
            | ConnectError::Forbidden { .. }
            | ConnectError::Aws(_)
    )
}

async fn run(
    target: ConnectionTarget,
    sink: EventSink,
    local: LocalSlot,
    client_tx: watch::Sender<Option<Connection>>,
    namespace: watch::Receiver<String>,
    plan: Arc<MigrationPlan>,
) {
    let label = target.describe();
    let mut last_update: Option<SystemTime> = None;
    loop {
        match connect_once(&target, &local, &sink).await {
            Ok(connected) => {
                let (server, version) = (connected.server.clone(), connected.version.clone());
                sink.log(
                    "Connected",
                    format!("{label}: {server} (Kubernetes {version})"),
                );
                sink.send(Event::Connection(ConnectionStatus::Live {
                    target: label.clone(),
                    server: server.clone(),
                    version: version.clone(),
                }));
                let _ = client_tx.send(Some(connected.clone()));
                let lost = watch_cluster(
                    &connected,
                    &label,
                    &plan,
                    &sink,
                    namespace.clone(),
                    &mut last_update,
                )
                .await;
                let _ = client_tx.send(None);
                sink.log("Disconnected", format!("{label}: {lost}"));
                sink.send(Event::Connection(ConnectionStatus::Reconnecting {
                    target: label.clone(),
                    last_update: last_update.unwrap_or_else(SystemTime::now),
                    error: lost,
                }));
            }
            Err(error) => match last_update {
                // Never connected: say why. Retry only what a retry can fix.
                None => {
                    sink.send(Event::Connection(ConnectionStatus::Failed {
                        target: label.clone(),
                        error: error.to_string(),
                    }));
                    if permanent(&error) {
                        return;
                    }
                }
                Some(at) => sink.send(Event::Connection(ConnectionStatus::Reconnecting {
                    target: label.clone(),
                    last_update: at,
                    error: error.to_string(),
                })),
            },
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Follows every pod into `placements`, signalling every change to the board and every error.
fn follow_pods(
    api: Api<Pod>,
    placements: Arc<std::sync::Mutex<Placements>>,
    changed: Arc<Notify>,
    failing: watch::Sender<Option<WatchError>>,
    progress: Arc<AtomicU64>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default()).backoff(board_backoff());
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    progress.fetch_add(1, Ordering::Relaxed);
                    let _ = failing.send(None);
                    let shown = placements
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .apply(event);
                    if shown {
                        changed.notify_one();
                    }
                }
                Err(e) => {
                    let _ = failing.send(Some(WatchError::now(&e)));
                }
            }
        }
    })
}

/// Streams one kind into a reflector store, signalling every change and every error.
fn reflect<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    prune: fn(&mut K),
    changed: Arc<Notify>,
    failing: watch::Sender<Option<WatchError>>,
    progress: Arc<AtomicU64>,
) -> JoinHandle<()>
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    tokio::spawn(async move {
        let stream = reflector::reflector(
            writer,
            watcher(api, watcher::Config::default()).modify(prune),
        )
        .backoff(board_backoff());
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => {
                    progress.fetch_add(1, Ordering::Relaxed);
                    let _ = failing.send(None);
                    changed.notify_one();
                }
                Err(e) => {
                    let _ = failing.send(Some(WatchError::now(&e)));
                }
            }
        }
    })
}

/// A watch's last failure, and when it came.
#[derive(Clone, Debug)]
struct WatchError {
    message: String,
    at: Instant,
}

impl WatchError {
    fn now(error: &watcher::Error) -> WatchError {
        // What the server said, not kube-rs's dump of its Status object.
        let said = |what: &str, status: &kube::core::Status| {
            format!(
                "{what}: the server answered {} {}: {}",
                status.code, status.reason, status.message
            )
        };
        let message = match error {
            watcher::Error::InitialListFailed(kube::Error::Api(s)) => said("listing failed", s),
            watcher::Error::WatchStartFailed(kube::Error::Api(s)) => said("watching failed", s),
            watcher::Error::WatchFailed(kube::Error::Api(s)) => said("the watch failed", s),
            watcher::Error::WatchError(s) => said("the watch failed", s),
            other => other.to_string(),
        };
        WatchError {
            message,
            at: Instant::now(),
        }
    }
}

/// The longest a board watcher waits before watching again after a failure. A live view wants
/// its watches back soon (kube-rs's default, made for controllers, grows to 30 s); and a watch
/// that keeps failing then fails again well within [`WATCH_FAILURE_SHOWN`].
const WATCH_RETRY_MAX: Duration = Duration::from_secs(4);

/// Whether the API server is there: its readiness endpoint (exempt from API Priority and
/// Fairness on a real server, as kubelets' probes are) answered at all. A refusal (429, 5xx)
/// still proves it is there — whether the board is current is the watches' to say; 401 and 403
/// do not, as fresh credentials may be what is missing.
async fn answers(client: &kube::Client) -> Result<(), kube::Error> {
    let request = http::Request::get("/readyz")
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    match client.request_text(request).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 429 || status.code >= 500 => Ok(()),
        Err(e) => Err(e),
    }
}

/// How long after a watch failed the board says it may be stale. A watch resumed from its last
/// resourceVersion misses nothing, but nothing tells the board it has resumed until the next
/// change arrives: the banner stays for this long after the last failure.
const WATCH_FAILURE_SHOWN: Duration = Duration::from_secs(10);

fn board_backoff() -> watcher::ExponentialBackoff {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(WATCH_RETRY_MAX)
        .with_jitter()
        .without_max_times()
        .into()
}

fn prune_node(node: &mut Node) {
    node.metadata.managed_fields = None;
    node.metadata.annotations = None;
    if let Some(status) = node.status.as_mut() {
        status.images = None;
    }
}

fn prune_deployment(deployment: &mut Deployment) {
    deployment.metadata.managed_fields = None;
    // Only the move's record is read from annotations (kubectl's last-applied copy is large).
    if let Some(annotations) = deployment.metadata.annotations.as_mut() {
        annotations.retain(|k, _| k == MOVE_ANNOTATION);
    }
}

fn prune_service(service: &mut Service) {
    service.metadata.managed_fields = None;
    service.metadata.annotations = None;
}

fn prune_event(event: &mut KubeEvent) {
    event.metadata.managed_fields = None;
}

/// The nodes' CPU and memory in use, by name, as last read from `metrics.k8s.io`.
type NodeUsageShared = Arc<Mutex<BTreeMap<String, NodeUsage>>>;

/// How often node usage is read: metrics-server's own resolution (15 s by default). The local
/// cluster measures its processes on each read.
const USAGE_EVERY: Duration = Duration::from_secs(15);
/// How long before asking again a server that does not serve `metrics.k8s.io` (metrics-server
/// may be installed meanwhile).
const NO_METRICS_RETRY: Duration = Duration::from_secs(300);

/// Reads node usage from `metrics.k8s.io` while the connection lasts and asks for a new
/// snapshot when it changed. A cluster without metrics-server answers 404 (or 503 while its
/// APIService is not available): the board then shows requests, and the question is asked again
/// every few minutes. Other failures are the watchers' to report; the next round tries again.
async fn follow_node_usage(client: kube::Client, usage: NodeUsageShared, changed: Arc<Notify>) {
    loop {
        let request = http::Request::get("/apis/metrics.k8s.io/v1beta1/nodes").body(Vec::new());
        let wait = match request {
            Ok(request) => match client.request::<serde_json::Value>(request).await {
                Ok(list) => {
                    let read = node_usage_from_metrics(&list);
                    let mut held = usage.lock().await;
                    if *held != read {
                        *held = read;
                        changed.notify_one();
                    }
                    USAGE_EVERY
                }
                Err(kube::Error::Api(status)) if matches!(status.code, 404 | 503) => {
                    tracing::debug!(
                        code = status.code,
                        "metrics.k8s.io not served; showing requests only"
                    );
                    usage.lock().await.clear();
                    NO_METRICS_RETRY
                }
                Err(e) => {
                    tracing::debug!(error = %e, "node metrics not read");
                    USAGE_EVERY
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "node metrics request not built");
                return;
            }
        };
        tokio::time::sleep(wait).await;
    }
}

fn log_entries(store: &Store<KubeEvent>) -> Vec<LogEntry> {
    let events = store.state();
    LogEntry::newest_first(events.iter().map(|e| e.as_ref()), 300)
}

/// Watches until the server is lost; returns why.
async fn watch_cluster(
    connection: &Connection,
    label: &str,
    plan: &MigrationPlan,
    sink: &EventSink,
    mut namespace: watch::Receiver<String>,
    last_update: &mut Option<SystemTime>,
) -> String {
    let client = connection.api.clone();
    let (server, version) = (connection.server.as_str(), connection.version.as_str());
    let changed = Arc::new(Notify::new());
    let (failing_tx, failing_rx) = watch::channel::<Option<WatchError>>(None);
    let (nodes, nodes_writer) = reflector::store::<Node>();
    let placements: Arc<std::sync::Mutex<Placements>> = Arc::default();
    // Watch events received on any watch, of any kind (list pages, node heartbeats included):
    // the server's sign of life.
    let progress: Arc<AtomicU64> = Arc::default();
    let (deployments, deployments_writer) = reflector::store::<Deployment>();
    let (services, services_writer) = reflector::store::<Service>();
    let mut tasks = vec![
        reflect(
            Api::<Node>::all(client.clone()),
            nodes_writer,
            prune_node,
            changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        ),
        follow_pods(
            Api::<Pod>::all(client.clone()),
            placements.clone(),
            changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        ),
        reflect(
            Api::<Deployment>::all(client.clone()),
            deployments_writer,
            prune_deployment,
            changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        ),
        // The plan's Services: the front's selector says who serves the page.
        reflect(
            Api::<Service>::namespaced(client.clone(), &plan.monolith.namespace),
            services_writer,
            prune_service,
            changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        ),
    ];
    let usage: NodeUsageShared = Arc::default();
    tasks.push(tokio::spawn(follow_node_usage(
        client.clone(),
        usage.clone(),
        changed.clone(),
    )));
    let events_changed = Arc::new(Notify::new());
    let start_events = |ns: &str| {
        let (store, writer) = reflector::store::<KubeEvent>();
        let task = reflect(
            Api::<KubeEvent>::namespaced(client.clone(), ns),
            writer,
            prune_event,
            events_changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        );
        (store, task)
    };
    let (mut events, mut events_task) = start_events(&namespace.borrow().clone());
    let mut health = tokio::time::interval(Duration::from_secs(2));
    let mut misses = 0;
    let mut seen_progress = progress.load(Ordering::Relaxed);
    let mut progress_at = Instant::now();
    let mut was_failing = false;
    // The last board sent, shared with the UI rather than copied.
    let mut published: Option<Arc<ClusterSnapshot>> = None;
    let lost = loop {
        tokio::select! {
            _ = changed.notified() => {
                // Coalesce bursts (a rollout changes many pods at once) into one snapshot.
                tokio::time::sleep(Duration::from_millis(80)).await;
                let pods = placements
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .by_node();
                let mut snapshot = ClusterSnapshot::from_placements(
                    nodes.state().iter().map(|n| n.as_ref()),
                    &pods,
                    deployments.state().iter().map(|d| d.as_ref()),
                    services.state().iter().map(|s| s.as_ref()),
                    Some(plan),
                    published.as_deref(),
                );
                snapshot.apply_usage(&*usage.lock().await);
                *last_update = Some(SystemTime::now());
                // A re-list after a dropped watch (or a change to a field the board does not
                // show) yields the same board: do not make the UI redraw it.
                if published.as_deref() != Some(&snapshot) {
                    let snapshot = Arc::new(snapshot);
                    published = Some(snapshot.clone());
                    sink.send(Event::Snapshot(snapshot));
                }
            }
            _ = events_changed.notified() => {
                sink.send(Event::ClusterEvents(log_entries(&events)));
            }
            changed = namespace.changed() => {
                if changed.is_err() {
                    break "the console is closing".to_owned();
                }
                events_task.abort();
                (events, events_task) = start_events(&namespace.borrow().clone());
                sink.send(Event::ClusterEvents(Vec::new()));
            }
            _ = health.tick() => {
                let alive = tokio::time::timeout(Duration::from_secs(3), answers(&client)).await;
                // A server busy sending a big list (150,000 pods) may answer /version late: what
                // arrives on the watches proves it is there, so that is no miss (counting it one
                // would drop the connection and start the list again, for ever).
                let received = progress.load(Ordering::Relaxed);
                if received != seen_progress {
                    seen_progress = received;
                    progress_at = Instant::now();
                }
                // On a saturated machine events can pause for seconds; a server that sent
                // something within the last 10 s is taken for alive.
                let streaming = progress_at.elapsed() < Duration::from_secs(10);
                // A watch that failed lately may have missed changes until it is back.
                let watch_failure = failing_rx
                    .borrow()
                    .clone()
                    .filter(|failure| failure.at.elapsed() < WATCH_FAILURE_SHOWN);
                match alive {
                    Ok(Ok(_)) if watch_failure.is_some() => {
                        misses = 0;
                        if !was_failing {
                            was_failing = true;
                            let message = watch_failure.map(|f| f.message).unwrap_or_default();
                            sink.send(Event::Connection(ConnectionStatus::Resuming {
                                target: label.to_owned(),
                                error: format!("a watch failed and is being resumed: {message}"),
                            }));
                        }
                    }
                    Ok(Ok(_)) => {
                        // The board is known current as of now, even if nothing changed.
                        *last_update = Some(SystemTime::now());
                        misses = 0;
                        if was_failing {
                            was_failing = false;
                            sink.send(Event::Connection(ConnectionStatus::Live { target: label.to_owned(), server: server.to_owned(), version: version.to_owned() }));
                        }
                    }
                    // Timed out while the watches deliver: busy, not gone.
                    Err(_) if streaming => {
                        misses = 0;
                    }
                    outcome => {
                        misses += 1;
                        let why = match outcome {
                            Ok(Err(e)) => ConnectError::classify(&e, server, "get", "/readyz").to_string(),
                            _ => format!("the API server at {server} did not answer within 3 s"),
                        };
                        if misses == 1 {
                            was_failing = true;
                            sink.send(Event::Connection(ConnectionStatus::Reconnecting {
                                target: label.to_owned(),
                                last_update: last_update.unwrap_or_else(SystemTime::now),
                                error: failing_rx.borrow().clone().map(|f| f.message).unwrap_or_else(|| why.clone()),
                            }));
                        }
                        // Watchers retry on their own; after a few misses, rebuild the client
                        // from the (possibly updated) kubeconfig.
                        if misses >= 3 {
                            break why;
                        }
                    }
                }
            }
        }
    };
    events_task.abort();
    for task in tasks.drain(..) {
        task.abort();
    }
    lost
}
