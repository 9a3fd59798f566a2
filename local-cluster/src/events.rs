//! Kubernetes Events, recorded the way client-go's recorder does it: the same event about the
//! same object is counted (count, lastTimestamp) instead of repeated.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::clock::now;
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
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

/// How long a real API server keeps an Event after its last write (`--event-ttl`, one hour).
pub const EVENT_TTL: Duration = Duration::from_secs(60 * 60);

/// When an Event was last seen: the latest of its timestamps (`lastTimestamp`, `eventTime`,
/// the series' `lastObservedTime`, `metadata.creationTimestamp`).
fn last_seen(event: &Value) -> Option<jiff::Timestamp> {
    [
        &event["lastTimestamp"],
        &event["eventTime"],
        &event["series"]["lastObservedTime"],
        &event["metadata"]["creationTimestamp"],
    ]
    .into_iter()
    .filter_map(|t| t.as_str()?.parse::<jiff::Timestamp>().ok())
    .max()
}

/// Deletes every Event last seen more than `ttl` ago; returns how many. An Event whose time
/// cannot be read is kept.
pub fn expire(registry: &Registry, ttl: Duration) -> usize {
    let Ok(ttl) = jiff::SignedDuration::try_from(ttl) else {
        return 0;
    };
    let cutoff = jiff::Timestamp::now() - ttl;
    let expired: Vec<(String, String)> = registry
        .store
        .list(resources::events(), None, |_| true, 0, None)
        .items
        .iter()
        .filter_map(|stored| {
            let event = stored.value();
            (last_seen(&event)? < cutoff)
                .then(|| (stored.index.namespace.clone(), stored.index.name.clone()))
        })
        .collect();
    expired
        .iter()
        .filter(|(namespace, name)| {
            registry
                .delete(
                    resources::events(),
                    namespace,
                    name,
                    &DeleteOptions::default(),
                )
                .is_ok()
        })
        .count()
}

/// Expires Events every tenth of `ttl` (at least every minute), as the real server's storage
/// lets them lapse.
pub async fn expire_every(registry: Arc<Registry>, ttl: Duration) {
    let period = (ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        tokio::time::sleep(period).await;
        let expired = expire(&registry, ttl);
        if expired > 0 {
            tracing::debug!(expired, "Events past their time to live deleted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_last_seen_longer_ago_than_their_time_to_live_are_deleted() {
        let registry = Registry::for_tests(100);
        let event = |name: &str, last: &str| {
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": "default"},
                "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
                "reason": "Started",
                "message": "Started container web",
                "type": "Normal",
                "firstTimestamp": "2026-01-01T00:00:00Z",
                "lastTimestamp": last,
            })
        };
        let recent = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        for (name, last) in [("old", "2026-01-01T00:00:00Z"), ("new", recent.as_str())] {
            registry
                .create(
                    resources::events(),
                    "default",
                    event(name, last),
                    &WriteOptions::default(),
                )
                .map(drop)
                .unwrap_or_else(|e| panic!("{e:?}"));
        }
        // Created (written) now, so kept for an hour whatever its own timestamps say, as the
        // real server's TTL runs from the last write: backdate the first one's creation too.
        let backdated = registry
            .store
            .mutate(resources::events(), "default", "old", |current| {
                let mut value = current.map(|s| s.value()).unwrap_or_default();
                value["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
                Ok::<_, ()>((crate::store::Write::Put(value), ()))
            });
        assert!(backdated.is_ok());
        assert_eq!(expire(&registry, EVENT_TTL), 1);
        let left: Vec<String> = registry
            .store
            .list(resources::events(), None, |_| true, 0, None)
            .items
            .iter()
            .map(|s| s.index.name.clone())
            .collect();
        assert_eq!(left, ["new"]);
        // The recent one stays.
        assert_eq!(expire(&registry, EVENT_TTL), 0);
    }
}
