//! Waiting by watching, never polling: a Deployment's rollout (judged by
//! [`crate::model::rollout`] on every change of the Deployment or its pods), the front Service's
//! endpoints after a selector switch, and the Kubernetes Events that explain a wait.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::time::Instant;

use super::StepFailure;
use crate::model::rollout::{self, Rollout};

/// Reports progress (fraction, words) and explanations while a wait goes on.
pub trait WaitReport: Send + Sync {
    /// How far along, and what it waits for.
    fn progress(&self, fraction: f32, message: String);
    /// A Kubernetes Event about the objects waited for.
    fn explain(&self, text: String);
}

fn label_selector(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Events in `namespace` about objects whose names start with `prefix`, from now on, as lines.
fn explanations(
    client: &kube::Client,
    namespace: &str,
    prefix: String,
) -> impl Stream<Item = String> + Send + 'static {
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2);
    watcher(
        Api::<Event>::namespaced(client.clone(), namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .applied_objects()
    .filter_map(move |event| {
        let line = event.ok().and_then(|e| {
            let name = e.involved_object.name.clone().unwrap_or_default();
            let when = e
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or_else(|| e.event_time.as_ref().map(|t| t.0))?;
            (name.starts_with(&prefix) && when >= since).then(|| {
                format!(
                    "{} {}/{}: {}: {}",
                    e.type_.unwrap_or_default(),
                    e.involved_object.kind.unwrap_or_default().to_lowercase(),
                    name,
                    e.reason.unwrap_or_default(),
                    e.message.unwrap_or_default()
                )
            })
        });
        async move { line }
    })
}

/// Waits until `name` has rolled out, failing fast on what its pods say.
pub async fn rollout(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
    report: &dyn WaitReport,
) -> Result<(), StepFailure> {
    let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
    let first = deployments.get(name).await.map_err(|e| {
        StepFailure::plain(format!("cannot read Deployment {namespace}/{name}: {e}"))
    })?;
    let selector = label_selector(
        first
            .spec
            .selector
            .match_labels
            .as_ref()
            .unwrap_or(&BTreeMap::new()),
    );
    let (deployment_store, deployment_writer) = reflector::store::<Deployment>();
    let (pod_store, pod_writer) = reflector::store::<Pod>();
    let mut deployment_events = std::pin::pin!(
        reflector::reflector(
            deployment_writer,
            watcher(
                deployments,
                watcher::Config::default().fields(&format!("metadata.name={name}")),
            ),
        )
        .default_backoff()
    );
    let mut pod_events = std::pin::pin!(
        reflector::reflector(
            pod_writer,
            watcher(
                Api::<Pod>::namespaced(client.clone(), namespace),
                watcher::Config::default().labels(&selector),
            ),
        )
        .default_backoff()
    );
    let mut explained = std::pin::pin!(explanations(client, namespace, format!("{name}-")));
    let deadline = Instant::now() + timeout;
    let key = ObjectRef::<Deployment>::new(name).within(namespace);
    let mut last = String::from("waiting for the rollout to start");
    let (mut deployments_listed, mut pods_listed) = (false, false);
    loop {
        tokio::select! {
            event = deployment_events.next() => match event {
                Some(Ok(watcher::Event::InitDone)) => deployments_listed = true,
                Some(Err(e)) => tracing::debug!(error = %e, "deployment watch retrying"),
                Some(_) => {}
                None => return Err(StepFailure::plain("the Deployment watch ended".into())),
            },
            event = pod_events.next() => match event {
                Some(Ok(watcher::Event::InitDone)) => pods_listed = true,
                Some(Err(e)) => tracing::debug!(error = %e, "pod watch retrying"),
                Some(_) => {}
                None => return Err(StepFailure::plain("the pod watch ended".into())),
            },
            Some(line) = explained.next() => report.explain(line),
            _ = tokio::time::sleep_until(deadline) => {
                return Err(StepFailure::plain(format!(
                    "the rollout of {namespace}/{name} did not finish within {} s: {last}",
                    timeout.as_secs()
                )));
            }
        }
        if !(deployments_listed && pods_listed) {
            continue;
        }
        let Some(deployment) = deployment_store.get(&key) else {
            return Err(StepFailure::plain(format!(
                "Deployment {namespace}/{name} was deleted during the move"
            )));
        };
        let pods: Vec<Pod> = pod_store.state().iter().map(|p| (**p).clone()).collect();
        match rollout::rollout(&deployment, &pods) {
            Rollout::Complete => {
                report.progress(1.0, "rolled out".into());
                return Ok(());
            }
            Rollout::Waiting { message, fraction } => {
                if message != last {
                    report.progress(fraction, message.clone());
                    last = message;
                }
            }
            Rollout::Failed(problem) => {
                return Err(StepFailure {
                    reason: format!(
                        "{}{}: {}",
                        problem.reason,
                        problem
                            .pod
                            .as_deref()
                            .map(|p| format!(" (pod {p})"))
                            .unwrap_or_default(),
                        problem.message
                    ),
                    problem: Some(problem),
                });
            }
        }
    }
}

/// Waits until every ready endpoint of the front Service is a pod that `selector` picks.
pub async fn front_serves(
    client: &kube::Client,
    namespace: &str,
    front: &str,
    selector: &BTreeMap<String, String>,
    timeout: Duration,
    report: &dyn WaitReport,
) -> Result<(), StepFailure> {
    let (slice_store, slice_writer) = reflector::store::<EndpointSlice>();
    let (pod_store, pod_writer) = reflector::store::<Pod>();
    let mut slices = std::pin::pin!(
        reflector::reflector(
            slice_writer,
            watcher(
                Api::<EndpointSlice>::namespaced(client.clone(), namespace),
                watcher::Config::default().labels(&format!("kubernetes.io/service-name={front}")),
            ),
        )
        .default_backoff()
    );
    let mut pods = std::pin::pin!(
        reflector::reflector(
            pod_writer,
            watcher(
                Api::<Pod>::namespaced(client.clone(), namespace),
                watcher::Config::default().labels(&label_selector(selector)),
            ),
        )
        .default_backoff()
    );
    let deadline = Instant::now() + timeout;
    let (mut slices_listed, mut pods_listed) = (false, false);
    let mut last = String::new();
    loop {
        tokio::select! {
            event = slices.next() => match event {
                Some(Ok(watcher::Event::InitDone)) => slices_listed = true,
                Some(Err(e)) => tracing::debug!(error = %e, "endpointslice watch retrying"),
                Some(_) => {}
                None => return Err(StepFailure::plain("the EndpointSlice watch ended".into())),
            },
            event = pods.next() => match event {
                Some(Ok(watcher::Event::InitDone)) => pods_listed = true,
                Some(Err(e)) => tracing::debug!(error = %e, "pod watch retrying"),
                Some(_) => {}
                None => return Err(StepFailure::plain("the pod watch ended".into())),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Err(StepFailure::plain(format!(
                    "the front Service {namespace}/{front} did not switch within {} s: {last}",
                    timeout.as_secs()
                )));
            }
        }
        if !(slices_listed && pods_listed) {
            continue;
        }
        let wanted: BTreeSet<String> = pod_store
            .state()
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        let ready: Vec<String> = slice_store
            .state()
            .iter()
            .flat_map(|s| s.endpoints.clone().into_iter().flatten())
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
            .filter_map(|e| e.target_ref.and_then(|t| t.name))
            .collect();
        let serving = ready.iter().filter(|p| wanted.contains(*p)).count();
        let others = ready.len() - serving;
        let message = format!("{serving} new and {others} old pods behind Service {front}");
        if message != last {
            let fraction = if ready.is_empty() {
                0.0
            } else {
                serving as f32 / ready.len() as f32
            };
            report.progress(fraction, message.clone());
            last = message;
        }
        if serving > 0 && others == 0 {
            return Ok(());
        }
    }
}

/// Waits until no pod matches `selector` any more (a Deployment scaled to zero has let its
/// pods finish).
pub async fn pods_gone(
    client: &kube::Client,
    namespace: &str,
    selector: &BTreeMap<String, String>,
    timeout: Duration,
    report: &dyn WaitReport,
) -> Result<(), StepFailure> {
    let (store, writer) = reflector::store::<Pod>();
    let mut pods = std::pin::pin!(
        reflector::reflector(
            writer,
            watcher(
                Api::<Pod>::namespaced(client.clone(), namespace),
                watcher::Config::default().labels(&label_selector(selector)),
            ),
        )
        .default_backoff()
    );
    let deadline = Instant::now() + timeout;
    let mut listed = false;
    let mut left = usize::MAX;
    loop {
        tokio::select! {
            event = pods.next() => match event {
                Some(Ok(watcher::Event::InitDone)) => listed = true,
                Some(Err(e)) => tracing::debug!(error = %e, "pod watch retrying"),
                Some(_) => {}
                None => return Err(StepFailure::plain("the pod watch ended".into())),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Err(StepFailure::plain(format!(
                    "{left} pods were still there after {} s",
                    timeout.as_secs()
                )));
            }
        }
        if !listed {
            continue;
        }
        let now = store.state().len();
        if now != left {
            left = now;
            report.progress(0.0, format!("{left} pods left"));
        }
        if left == 0 {
            return Ok(());
        }
    }
}
