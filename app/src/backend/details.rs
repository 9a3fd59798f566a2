//! The selected pod, in full: containers, images, environment, its events and the tail of its log,
//! refreshed while it stays selected.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::Api;
use kube::api::{ListParams, LogParams};
use serde::Serialize;
use tokio::sync::watch;

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

async fn fetch(client: &kube::Client, namespace: &str, name: &str) -> Result<PodDetails, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = pods.get(name).await.map_err(|e| e.to_string())?;
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
    let events: Api<KubeEvent> = Api::namespaced(client.clone(), namespace);
    let mut entries: Vec<LogEntry> = events
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .map(|e| LogEntry {
            at: e
                .last_timestamp
                .map(|t| SystemTime::from(t.0))
                .unwrap_or(SystemTime::UNIX_EPOCH),
            kind: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            object: String::new(),
            message: e.message.unwrap_or_default(),
            count: e.count.unwrap_or(1),
        })
        .collect();
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.at));
    let (log_tail, problem) = match spec.containers.first() {
        Some(c) => match pods
            .logs(
                name,
                &LogParams {
                    container: Some(c.name.clone()),
                    tail_lines: Some(40),
                    ..LogParams::default()
                },
            )
            .await
        {
            Ok(text) => (text, None),
            Err(kube::Error::Api(s)) => (String::new(), Some(s.message.clone())),
            Err(e) => (String::new(), Some(e.to_string())),
        },
        None => (String::new(), None),
    };
    Ok(PodDetails {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        node: spec.node_name,
        phase: status.phase.unwrap_or_default(),
        ip: status.pod_ip,
        containers,
        events: entries,
        log_tail,
        problem,
    })
}

/// Sends the pod's details now and every 2 s, until aborted.
pub async fn follow(
    namespace: String,
    name: String,
    client: watch::Receiver<Option<kube::Client>>,
    sink: EventSink,
) {
    loop {
        let current = client.borrow().clone();
        if let Some(c) = current {
            match fetch(&c, &namespace, &name).await {
                Ok(details) => sink.send(Event::PodDetails(Box::new(details))),
                Err(e) => sink.send(Event::PodDetails(Box::new(PodDetails {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    node: None,
                    phase: String::new(),
                    ip: None,
                    containers: Vec::new(),
                    events: Vec::new(),
                    log_tail: String::new(),
                    problem: Some(e),
                }))),
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
