//! Lines of the events panel: Kubernetes Events and the console's own actions, and their ages
//! as kubectl prints them.

use std::time::SystemTime;

use k8s_openapi::api::core::v1::Event as KubeEvent;
use serde::Serialize;

/// A line in the log panel: a Kubernetes Event or one of the console's own actions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogEntry {
    /// When it happened.
    pub at: SystemTime,
    /// `Normal`, `Warning`, or `Console` for the console's own actions.
    pub kind: String,
    /// Event reason or action.
    pub reason: String,
    /// `pod/name` the event is about, if any.
    pub object: String,
    /// The message.
    pub message: String,
    /// How many times (Events aggregate repeats).
    pub count: i32,
}

impl LogEntry {
    /// One of the console's own actions (or what it noticed), as of now.
    pub fn console(reason: &str, message: String) -> LogEntry {
        LogEntry {
            at: std::time::SystemTime::now(),
            kind: "Console".into(),
            reason: reason.into(),
            object: String::new(),
            message,
            count: 1,
        }
    }

    /// The line of a Kubernetes Event.
    pub fn of_event(event: &KubeEvent) -> LogEntry {
        let when = event
            .last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| event.event_time.as_ref().map(|t| t.0))
            .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0));
        LogEntry {
            at: when.map_or(SystemTime::UNIX_EPOCH, SystemTime::from),
            kind: event.type_.clone().unwrap_or_else(|| "Normal".into()),
            reason: event.reason.clone().unwrap_or_default(),
            object: format!(
                "{}/{}",
                event
                    .involved_object
                    .kind
                    .clone()
                    .unwrap_or_default()
                    .to_lowercase(),
                event.involved_object.name.clone().unwrap_or_default()
            ),
            message: event.message.clone().unwrap_or_default(),
            count: event.count.unwrap_or(1),
        }
    }

    /// The lines of `events`, newest first, at most `limit` of them.
    pub fn newest_first<'a>(
        events: impl IntoIterator<Item = &'a KubeEvent>,
        limit: usize,
    ) -> Vec<LogEntry> {
        let mut entries: Vec<LogEntry> = events.into_iter().map(LogEntry::of_event).collect();
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.at));
        entries.truncate(limit);
        entries
    }
}

/// How long ago `at` was, as kubectl prints ages: `5s`, `3m`, `2h`.
pub fn age(at: SystemTime) -> String {
    let seconds = SystemTime::now()
        .duration_since(at)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    kube_units::durations::human_duration(seconds)
}
