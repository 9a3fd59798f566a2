//! Kubernetes Events, recorded the way client-go's recorder does it: the same event about the
//! same object is counted (count, lastTimestamp) instead of repeated.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::registry::{Part, Registry, WriteOptions, now};
use crate::resources::{self, ResourceKind};

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Informational.
    Normal,
    /// Something went wrong.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// (object uid, type, reason, message): what makes two events "the same" for counting.
type EventKey = (String, &'static str, String, String);

/// Writes Events on behalf of one component (`deployment-controller`, `kubelet`, …).
#[derive(Clone)]
pub struct EventRecorder {
    registry: Arc<Registry>,
    component: &'static str,
    host: Option<String>,
    /// (object uid, type, reason, message) → event name, for counting repeats.
    seen: Arc<Mutex<HashMap<EventKey, String>>>,
}

impl EventRecorder {
    /// A recorder for `component`, optionally on `host` (a node name, for kubelets).
    pub fn new(
        registry: Arc<Registry>,
        component: &'static str,
        host: Option<String>,
    ) -> EventRecorder {
        EventRecorder {
            registry,
            component,
            host,
            seen: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Records an event about `object` (a `kind`); `field_path` names a container when relevant.
    pub fn record(
        &self,
        kind: &ResourceKind,
        object: &Value,
        kind_of: EventType,
        reason: &str,
        message: &str,
        field_path: Option<&str>,
    ) {
        let meta = &object["metadata"];
        let uid = meta["uid"].as_str().unwrap_or_default().to_owned();
        let name = meta["name"].as_str().unwrap_or_default();
        let namespace = meta["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
            .to_owned();
        let key = (
            uid.clone(),
            kind_of.as_str(),
            reason.to_owned(),
            message.to_owned(),
        );
        let existing = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let t = now();
        if let Some(event_name) = existing {
            let counted = self.registry.update_with(
                resources::events(),
                &namespace,
                &event_name,
                Part::Main,
                &WriteOptions::default(),
                |old| {
                    let mut next = old.clone();
                    next["count"] = json!(old["count"].as_i64().unwrap_or(1) + 1);
                    next["lastTimestamp"] = json!(t);
                    Ok(next)
                },
            );
            if counted.is_ok() {
                return;
            }
        }
        let nanos = jiff::Timestamp::now().as_nanosecond();
        let event_name = format!("{name}.{nanos:x}");
        let mut involved = json!({
            "kind": kind.kind,
            "apiVersion": kind.api_version(),
            "name": name,
            "uid": uid,
            "resourceVersion": meta["resourceVersion"],
        });
        if kind.namespaced {
            involved["namespace"] = json!(namespace);
        }
        if let Some(path) = field_path {
            involved["fieldPath"] = json!(path);
        }
        let mut source = json!({"component": self.component});
        if let Some(host) = &self.host {
            source["host"] = json!(host);
        }
        let event = json!({
            "metadata": {"name": event_name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": t,
            "lastTimestamp": t,
            "count": 1,
            "type": kind_of.as_str(),
            "reportingComponent": self.component,
            "reportingInstance": self.host.clone().unwrap_or_else(|| self.component.to_owned()),
        });
        match self.registry.create(
            resources::events(),
            &namespace,
            event,
            &WriteOptions::default(),
        ) {
            Ok(_) => {
                let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                // Bounded memory: forget everything now and then; a repeat then starts a new Event.
                if seen.len() > 10_000 {
                    seen.clear();
                }
                seen.insert(key, event_name);
            }
            Err(e) => tracing::debug!(error = %e, reason, "could not record an event"),
        }
    }
}
