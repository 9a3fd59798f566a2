//! The selected pod, in full: containers, images, environment, its events and the tail of its log,
//! kept live from watches and a followed log stream while it stays selected.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::Api;
use kube::api::LogParams;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde::Serialize;
use tokio::sync::{Mutex, Notify, watch};

use super::connection::Connection;
use super::{Event, EventSink, LogEntry};

/// One container of the selected pod.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContainerDetails {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Ready.
    pub ready: bool,
    /// Restarts.
    pub restarts: i32,
    /// `running`, `waiting: CrashLoopBackOff — …`, `terminated: Error (exit 1)`.
    pub state: String,
    /// Environment (values; `valueFrom` shown as its source).
    pub env: Vec<(String, String)>,
}

/// The selected pod, as the side panel shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodDetails {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Node, if placed.
    pub node: Option<String>,
    /// Phase.
    pub phase: String,
    /// Pod IP.
    pub ip: Option<String>,
    /// Containers.
    pub containers: Vec<ContainerDetails>,
    /// Its Events, newest first.
    pub events: Vec<LogEntry>,
    /// The last lines of the first container's log.
    pub log_tail: String,
    /// Why there is no log, when there is none.
    pub problem: Option<String>,
}

fn describe_state(state: Option<&k8s_openapi::api::core::v1::ContainerState>) -> String {
    let Some(state) = state else {
        return "unknown".into();
    };
    if state.running.is_some() {
        "running".into()
    } else if let Some(w) = &state.waiting {
        match (&w.reason, &w.message) {
            (Some(r), Some(m)) => format!("waiting: {r} — {m}"),
            (Some(r), None) => format!("waiting: {r}"),
            _ => "waiting".into(),
        }
    } else if let Some(t) = &state.terminated {
        format!(
            "terminated: {} (exit {})",
            t.reason.clone().unwrap_or_default(),
            t.exit_code
        )
    } else {
        "unknown".into()
    }
}

/// The panel's view of `pod` with its Events and log, computed without I/O.
fn render(
    namespace: &str,
    name: &str,
    pod: Option<&Pod>,
    events: &[Arc<KubeEvent>],
    log: &LogTail,
) -> PodDetails {
    let Some(pod) = pod else {
        return PodDetails {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            node: None,
            phase: String::new(),
            ip: None,
            containers: Vec::new(),
            events: Vec::new(),
            log_tail: String::new(),
            problem: Some(format!("pod {namespace}/{name} is gone")),
        };
    };
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let statuses = status.container_statuses.clone().unwrap_or_default();
    let containers = spec
        .containers
        .iter()
        .map(|c| {
            let s = statuses.iter().find(|s| s.name == c.name);
            ContainerDetails {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                ready: s.is_some_and(|s| s.ready),
                restarts: s.map_or(0, |s| s.restart_count),
                state: describe_state(s.and_then(|s| s.state.as_ref())),
                env: c
                    .env
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| {
                        let value = e.value.clone().unwrap_or_else(|| match &e.value_from {
                            Some(from) if from.field_ref.is_some() => format!(
                                "(field {})",
                                from.field_ref
                                    .as_ref()
                                    .map(|f| f.field_path.clone())
                                    .unwrap_or_default()
                            ),
                            Some(from) if from.config_map_key_ref.is_some() => {
                                "(from a ConfigMap)".into()
                            }
                            Some(from) if from.secret_key_ref.is_some() => "(from a Secret)".into(),
                            _ => String::new(),
                        });
                        (e.name, value)
                    })
                    .collect(),
            }
        })
        .collect();
    let mut entries: Vec<LogEntry> = events
        .iter()
        .map(|e| LogEntry {
            at: e
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or_else(|| e.event_time.as_ref().map(|t| t.0))
                .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
                .map_or(SystemTime::UNIX_EPOCH, SystemTime::from),
            kind: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            object: String::new(),
            message: e.message.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1),
        })
        .collect();
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.at));
    PodDetails {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        node: spec.node_name,
        phase: status.phase.unwrap_or_default(),
        ip: status.pod_ip,
        containers,
        events: entries,
        log_tail: log.lines.iter().map(|l| format!("{l}\n")).collect(),
        problem: log.problem.clone(),
    }
}

/// The last lines of the first container's log, as followed so far.
#[derive(Default)]
struct LogTail {
    lines: VecDeque<String>,
    problem: Option<String>,
}

const LOG_LINES: usize = 40;

/// Follows the pod while it stays selected, live: its object and its Events through watches,
/// its log as a followed stream. Every change sends fresh details. A new client (after a
/// reconnect) starts the watches again.
pub async fn follow(
    namespace: String,
    name: String,
    mut client: watch::Receiver<Option<Connection>>,
    sink: EventSink,
) {
    loop {
        let current = client.borrow_and_update().as_ref().map(|c| c.api.clone());
        match current {
            Some(c) => {
                tokio::select! {
                    () = follow_with(&c, &namespace, &name, &sink) => return,
                    changed = client.changed() => if changed.is_err() { return },
                }
            }
            None => {
                if client.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn follow_with(client: &kube::Client, namespace: &str, name: &str, sink: &EventSink) {
    let changed = Arc::new(Notify::new());
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let (pod_store, pod_writer) = reflector::store::<Pod>();
    let (event_store, event_writer) = reflector::store::<KubeEvent>();
    let log = Arc::new(Mutex::new(LogTail::default()));
    let watch_pod = {
        let changed = changed.clone();
        let stream = reflector::reflector(
            pod_writer,
            watcher(
                pods.clone(),
                watcher::Config::default().fields(&format!("metadata.name={name}")),
            ),
        )
        .default_backoff();
        async move {
            let mut stream = std::pin::pin!(stream);
            while stream.next().await.is_some() {
                changed.notify_one();
            }
        }
    };
    let watch_events = {
        let changed = changed.clone();
        let stream = reflector::reflector(
            event_writer,
            watcher(
                Api::<KubeEvent>::namespaced(client.clone(), namespace),
                watcher::Config::default().fields(&format!("involvedObject.name={name}")),
            ),
        )
        .default_backoff();
        async move {
            let mut stream = std::pin::pin!(stream);
            while stream.next().await.is_some() {
                changed.notify_one();
            }
        }
    };
    let follow_log = follow_log(
        pods,
        name.to_owned(),
        pod_store.clone(),
        log.clone(),
        changed.clone(),
    );
    let publish = async {
        // Until the pod's first list arrives, "not found" would be a lie: say nothing yet.
        if pod_store.wait_until_ready().await.is_err() {
            return;
        }
        loop {
            changed.notified().await;
            // Coalesce a burst (a restart changes the pod, adds events and logs at once).
            tokio::time::sleep(Duration::from_millis(50)).await;
            let pod = pod_store.state().into_iter().next();
            let details = {
                let log = log.lock().await;
                render(namespace, name, pod.as_deref(), &event_store.state(), &log)
            };
            sink.send(Event::PodDetails(Box::new(details)));
        }
    };
    tokio::join!(watch_pod, watch_events, follow_log, publish);
}

/// Streams the first container's log (`follow=true`, starting from its last lines); when the
/// stream ends (the container restarted, or has not started yet), starts again.
async fn follow_log(
    pods: Api<Pod>,
    name: String,
    pod: reflector::Store<Pod>,
    log: Arc<Mutex<LogTail>>,
    changed: Arc<Notify>,
) {
    loop {
        let container = pod
            .state()
            .first()
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.containers.first())
            .map(|c| c.name.clone());
        let Some(container) = container else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let params = LogParams {
            container: Some(container),
            follow: true,
            tail_lines: Some(LOG_LINES as i64),
            ..LogParams::default()
        };
        match pods.log_stream(&name, &params).await {
            Ok(stream) => {
                {
                    let mut log = log.lock().await;
                    log.lines.clear();
                    log.problem = None;
                }
                let mut lines = stream.lines();
                while let Some(Ok(line)) = lines.next().await {
                    let mut log = log.lock().await;
                    log.lines.push_back(line);
                    while log.lines.len() > LOG_LINES {
                        log.lines.pop_front();
                    }
                    drop(log);
                    changed.notify_one();
                }
            }
            Err(e) => {
                let problem = match e {
                    kube::Error::Api(s) => s.message,
                    other => other.to_string(),
                };
                let mut log = log.lock().await;
                if log.problem.as_deref() != Some(problem.as_str()) {
                    log.problem = Some(problem);
                    drop(log);
                    changed.notify_one();
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
