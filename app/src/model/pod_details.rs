//! The selected pod, as its side panel shows it: containers, images, environment, its Events and
//! the tail of its log. Built from the objects without I/O; the backend keeps it live.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use serde::Serialize;

use super::events::LogEntry;

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

impl PodDetails {
    /// What the panel shows until the first details arrive.
    pub fn loading(namespace: &str, name: &str) -> PodDetails {
        PodDetails {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            node: None,
            phase: "loading…".into(),
            ip: None,
            containers: Vec::new(),
            events: Vec::new(),
            log_tail: String::new(),
            problem: None,
        }
    }

    /// The panel's view of `pod` with its Events and the log followed so far.
    pub fn of(
        namespace: &str,
        name: &str,
        pod: Option<&Pod>,
        events: &[Arc<KubeEvent>],
        log_lines: impl IntoIterator<Item = impl AsRef<str>>,
        log_problem: Option<String>,
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
                                Some(from) if from.secret_key_ref.is_some() => {
                                    "(from a Secret)".into()
                                }
                                _ => String::new(),
                            });
                            (e.name, value)
                        })
                        .collect(),
                }
            })
            .collect();
        let entries = LogEntry::newest_first(events.iter().map(|e| e.as_ref()), usize::MAX);
        PodDetails {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            node: spec.node_name,
            phase: status.phase.unwrap_or_default(),
            ip: status.pod_ip,
            containers,
            events: entries,
            log_tail: log_lines
                .into_iter()
                .map(|l| format!("{}\n", l.as_ref()))
                .collect(),
            problem: log_problem,
        }
    }
}
