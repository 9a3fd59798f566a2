//! Container output: the current and previous instance of each container, kept in memory with a
//! cap, and a feed for `kubectl logs -f`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

use crate::errors::ApiError;

/// `pods/log` parameters.
#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    /// Which container (resolved: always set).
    pub container: String,
    /// Keep streaming new lines.
    pub follow: bool,
    /// Only the last N lines.
    pub tail_lines: Option<usize>,
    /// Prefix each line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// The previous (terminated) instance's output.
    pub previous: bool,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<u64>,
    /// Stop after this many bytes.
    pub limit_bytes: Option<usize>,
}

/// Output of a log request: what exists now, and (when following) the lines that come later.
pub struct LogOutput {
    /// Lines already written, each ending in a newline.
    pub existing: Vec<Bytes>,
    /// New lines as they come, when following.
    pub follow: Option<mpsc::Receiver<Bytes>>,
}

/// Lines kept per container instance.
const MAX_LINES: usize = 20_000;

/// One line and when it was written.
#[derive(Clone, Debug)]
pub struct LogLine {
    /// RFC 3339 with nanoseconds, as `--timestamps` prints it.
    pub at: jiff::Timestamp,
    /// The text, ending in a newline.
    pub text: Bytes,
}

#[derive(Default)]
struct ContainerLog {
    current: VecDeque<LogLine>,
    previous: Option<VecDeque<LogLine>>,
    /// `None` once the current instance has exited.
    feed: Option<broadcast::Sender<LogLine>>,
}

/// (namespace, pod, container).
type ContainerKey = (String, String, String);

/// All container logs of the cluster, by (namespace, pod, container).
#[derive(Default, Clone)]
pub struct LogStore {
    inner: Arc<Mutex<HashMap<ContainerKey, ContainerLog>>>,
}

impl LogStore {
    /// A new instance of a container starts: its predecessor's output becomes `previous`.
    pub fn start_instance(&self, namespace: &str, pod: &str, container: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let log = inner
            .entry((namespace.into(), pod.into(), container.into()))
            .or_default();
        if !log.current.is_empty() {
            log.previous = Some(std::mem::take(&mut log.current));
        }
        log.feed = Some(broadcast::channel(1024).0);
    }

    /// Appends a line of the current instance.
    pub fn append(&self, namespace: &str, pod: &str, container: &str, text: Bytes) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let log = inner
            .entry((namespace.into(), pod.into(), container.into()))
            .or_default();
        let line = LogLine {
            at: jiff::Timestamp::now(),
            text,
        };
        if let Some(feed) = &log.feed {
            let _ = feed.send(line.clone());
        }
        log.current.push_back(line);
        if log.current.len() > MAX_LINES {
            log.current.pop_front();
        }
    }

    /// The current instance exited: followers reach the end of the stream.
    pub fn end_instance(&self, namespace: &str, pod: &str, container: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = inner.get_mut(&(namespace.into(), pod.into(), container.into())) {
            log.feed = None;
        }
    }

    /// Forgets a deleted pod's logs.
    pub fn remove_pod(&self, namespace: &str, pod: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(ns, p, _), _| !(ns == namespace && p == pod));
    }

    /// What `GET pods/{pod}/log` returns, with tail, since, timestamps and follow applied.
    pub fn read(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
        waiting_reason: Option<&str>,
    ) -> Result<LogOutput, ApiError> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let key = (
            namespace.to_owned(),
            pod.to_owned(),
            options.container.clone(),
        );
        let log = inner.get(&key);
        let lines: Vec<LogLine> = match (log, options.previous) {
            (Some(log), true) => match &log.previous {
                Some(previous) => previous.iter().cloned().collect(),
                None => {
                    return Err(ApiError::bad_request(format!(
                        "previous terminated container \"{}\" in pod \"{pod}\" not found",
                        options.container
                    )));
                }
            },
            (Some(log), false) => log.current.iter().cloned().collect(),
            (None, true) => {
                return Err(ApiError::bad_request(format!(
                    "previous terminated container \"{}\" in pod \"{pod}\" not found",
                    options.container
                )));
            }
            (None, false) => {
                return Err(ApiError::bad_request(format!(
                    "container \"{}\" in pod \"{pod}\" is waiting to start: {}",
                    options.container,
                    waiting_reason.unwrap_or("ContainerCreating")
                )));
            }
        };
        let cutoff = options
            .since_seconds
            .map(|s| jiff::Timestamp::now() - jiff::SignedDuration::from_secs(s as i64));
        let mut selected: Vec<&LogLine> = lines
            .iter()
            .filter(|l| cutoff.is_none_or(|c| l.at >= c))
            .collect();
        if let Some(tail) = options.tail_lines {
            let skip = selected.len().saturating_sub(tail);
            selected.drain(..skip);
        }
        let render = {
            let timestamps = options.timestamps;
            move |line: &LogLine| -> Bytes {
                if timestamps {
                    let mut out = line
                        .at
                        .strftime("%Y-%m-%dT%H:%M:%S.%fZ ")
                        .to_string()
                        .into_bytes();
                    out.extend_from_slice(&line.text);
                    Bytes::from(out)
                } else {
                    line.text.clone()
                }
            }
        };
        let existing = selected.into_iter().map(&render).collect();
        let follow = match (
            options.follow && !options.previous,
            log.and_then(|l| l.feed.as_ref()),
        ) {
            (true, Some(feed)) => {
                let mut subscription = feed.subscribe();
                let (sender, receiver) = tokio::sync::mpsc::channel(256);
                tokio::spawn(async move {
                    loop {
                        match subscription.recv().await {
                            Ok(line) => {
                                if sender.send(render(&line)).await.is_err() {
                                    return;
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => return,
                        }
                    }
                });
                Some(receiver)
            }
            _ => None,
        };
        Ok(LogOutput { existing, follow })
    }
}
