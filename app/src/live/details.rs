//! The selected pod, in full: containers, images, environment, its events and the tail of its log,
//! kept live from watches and a followed log stream while it stays selected.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::Api;
use kube::api::LogParams;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tokio::sync::{Mutex, Notify, watch};

use crate::cluster::connection::Connection;
use crate::model::pod_details::PodDetails;
use crate::protocol::{Event, EventSink};

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
                PodDetails::of(
                    namespace,
                    name,
                    pod.as_deref(),
                    &event_store.state(),
                    &log.lines,
                    log.problem.clone(),
                )
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
