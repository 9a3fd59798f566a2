//! Watching a connected cluster into board snapshots: nodes, pods, Deployments, the plan's
//! Services and the namespace's Events through kube-runtime watchers, node usage from
//! `metrics.k8s.io`, and the server's liveness; returns when the server is lost.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Node, Pod, Service};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{Mutex, Notify, watch};
use tokio::task::JoinSet;

use super::pods::WatchedPods;
use crate::cluster::connection::{ConnectError, Connection};
use crate::cluster::liveness::{self, Liveness};
use crate::model::events::LogEntry;
use crate::model::migration_plan::MigrationPlan;
use crate::model::moves::MOVE_ANNOTATION;
use crate::model::{ClusterSnapshot, NodeUsage, node_usage_from_metrics};
use crate::protocol::{ConnectionStatus, Event, EventSink};

/// Follows every pod into `placements`, signalling every change to the board and every error.
async fn follow_pods(
    api: Api<Pod>,
    placements: Arc<std::sync::Mutex<WatchedPods>>,
    changed: Arc<Notify>,
    failing: watch::Sender<Option<WatchError>>,
    progress: Arc<AtomicU64>,
) {
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
}

/// Streams one kind into a reflector store, signalling every change and every error.
async fn reflect<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    prune: fn(&mut K),
    changed: Arc<Notify>,
    failing: watch::Sender<Option<WatchError>>,
    progress: Arc<AtomicU64>,
) where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
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
pub async fn watch_cluster(
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
    let placements: Arc<std::sync::Mutex<WatchedPods>> = Arc::default();
    // Watch events received on any watch, of any kind (list pages, node heartbeats included):
    // the server's sign of life.
    let progress: Arc<AtomicU64> = Arc::default();
    let (deployments, deployments_writer) = reflector::store::<Deployment>();
    let (services, services_writer) = reflector::store::<Service>();
    // Every watch runs in this set: one that ends (a panic, say) ends the connection, which is
    // opened again, instead of leaving the board silently behind.
    let mut watches = JoinSet::new();
    for watch in [
        Box::pin(reflect(
            Api::<Node>::all(client.clone()),
            nodes_writer,
            prune_node,
            changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        )) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
        Box::pin(follow_pods(
            Api::<Pod>::all(client.clone()),
            placements.clone(),
            changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        )),
        Box::pin(reflect(
            Api::<Deployment>::all(client.clone()),
            deployments_writer,
            prune_deployment,
            changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        )),
        // The plan's Services: the front's selector says who serves the page.
        Box::pin(reflect(
            Api::<Service>::namespaced(client.clone(), &plan.monolith.namespace),
            services_writer,
            prune_service,
            changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        )),
    ] {
        watches.spawn(watch);
    }
    let usage: NodeUsageShared = Arc::default();
    watches.spawn(follow_node_usage(
        client.clone(),
        usage.clone(),
        changed.clone(),
    ));
    let events_changed = Arc::new(Notify::new());
    let start_events = |ns: &str, watches: &mut JoinSet<()>| {
        let (store, writer) = reflector::store::<KubeEvent>();
        let task = watches.spawn(reflect(
            Api::<KubeEvent>::namespaced(client.clone(), ns),
            writer,
            prune_event,
            events_changed.clone(),
            failing_tx.clone(),
            progress.clone(),
        ));
        (store, task)
    };
    let (mut events, mut events_task) = start_events(&namespace.borrow().clone(), &mut watches);
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
                (events, events_task) = start_events(&namespace.borrow().clone(), &mut watches);
                sink.send(Event::ClusterEvents(Vec::new()));
            }
            Some(ended) = watches.join_next() => match ended {
                // The namespace's Events watch, replaced when the namespace changed.
                Err(e) if e.is_cancelled() => {}
                Err(e) => {
                    tracing::error!(error = %e, "a watch of the board panicked");
                    break format!("a watch of the board stopped unexpectedly ({e}); connecting again");
                }
                Ok(()) => break "a watch of the board ended; connecting again".to_owned(),
            },
            _ = health.tick() => {
                let alive = liveness::ask(&client, Duration::from_secs(3)).await;
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
                    alive if alive.present() && watch_failure.is_some() => {
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
                    alive if alive.present() => {
                        // The board is known current as of now, even if nothing changed.
                        *last_update = Some(SystemTime::now());
                        misses = 0;
                        if was_failing {
                            was_failing = false;
                            sink.send(Event::Connection(ConnectionStatus::Live { target: label.to_owned(), server: server.to_owned(), version: version.to_owned() }));
                        }
                    }
                    // Timed out while the watches deliver: busy, not gone.
                    Liveness::Silent if streaming => {
                        misses = 0;
                    }
                    outcome => {
                        misses += 1;
                        let why = match outcome {
                            Liveness::Refused(status) => ConnectError::classify(&kube::Error::Api(status), server, "get", "/readyz").to_string(),
                            Liveness::Unreachable(e) => ConnectError::classify(&e, server, "get", "/readyz").to_string(),
                            Liveness::Answered | Liveness::Silent => format!("the API server at {server} did not answer within 3 s"),
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
    watches.abort_all();
    lost
}
