//! One pod on one node, as a kubelet's pod worker runs it: pull (or fail to, on the wrong OS),
//! create and start each container, probe it, restart it with back-off, and stop it gracefully
//! once it has left the Service endpoints.
//!
//! The worker's loop and its reactions live here; [`start`] makes containers run (pull,
//! environment, process or simulation, probes) and [`stop`] ends them gracefully. The status
//! the worker reports is [`super::status::pod_status`] of what it knows.

mod start;
mod stop;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::images::{Image, ImageKind};
use super::node::Shared;
use super::probes::ProbeKind;
use super::process::{self, ContainerProcess};
use super::status::{ContainerView, PodView, pod_status};
use super::volumes::PodVolumes;
use crate::clock::now;
use crate::controllers::runtime::backoff;
use crate::events::EventType;
use crate::registry::{Part, WriteOptions};
use crate::resources;

/// Longest crash-loop back-off, as on a real kubelet.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

enum Internal {
    Exited {
        container: usize,
        instance: u64,
        code: Option<i32>,
        signal: Option<i32>,
    },
    Probe {
        container: usize,
        instance: u64,
        kind: ProbeKind,
        result: Result<(), String>,
    },
}

#[derive(Default)]
struct ProbeCount {
    successes: u32,
    failures: u32,
}

struct Container {
    spec: Value,
    name: String,
    image: Image,
    restart_count: i64,
    state: Value,
    last_state: Value,
    ready: bool,
    started: bool,
    process: Option<ContainerProcess>,
    container_id: String,
    next_action: Option<Instant>,
    pull_failures: u32,
    in_pull_backoff: bool,
    /// Whether its image's platforms were read from its (local) registry.
    registry_read: bool,
    instance: u64,
    readiness: ProbeCount,
    liveness: ProbeCount,
    probes: Vec<tokio::task::JoinHandle<()>>,
    started_at: String,
}

impl Container {
    fn waiting(&mut self, reason: &str, message: Option<String>) {
        let mut waiting = json!({"reason": reason});
        if let Some(m) = message {
            waiting["message"] = json!(m);
        }
        self.state = json!({"waiting": waiting});
        self.ready = false;
    }

    fn stop_probes(&mut self) {
        for probe in self.probes.drain(..) {
            probe.abort();
        }
    }
}

/// A pod worker; lives from the pod's binding to its deletion.
pub(super) struct PodWorker {
    shared: Arc<Shared>,
    namespace: String,
    name: String,
    uid: String,
    pod: Value,
    containers: Vec<Container>,
    ip: Option<Ipv4Addr>,
    start_time: String,
    sender: mpsc::UnboundedSender<Internal>,
    receiver: mpsc::UnboundedReceiver<Internal>,
    /// Status writes failed in a row; the next try is due at `status_retry`.
    status_failures: u32,
    status_retry: Option<Instant>,
    /// The pod's volumes; its containers start once they are all set up.
    volumes: PodVolumes,
    volumes_ready: bool,
    /// When the volumes are next brought up to date (or set up again after a failure).
    volume_sync: Option<Instant>,
    /// The last failure to set them up, said once as an event until it changes.
    mount_failure: Option<String>,
    /// Service-account tokens issued for its projected volumes, by audience.
    issued_tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

fn random_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl PodWorker {
    pub(super) fn new(shared: Arc<Shared>, pod: Value) -> PodWorker {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let containers = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|spec| {
                let image = Image::in_pod(spec["image"].as_str().unwrap_or_default(), &pod);
                Container {
                    name: text(&spec["name"]),
                    spec,
                    image,
                    restart_count: 0,
                    state: json!({"waiting": {"reason": "ContainerCreating"}}),
                    last_state: json!({}),
                    ready: false,
                    started: false,
                    process: None,
                    container_id: String::new(),
                    next_action: Some(Instant::now()),
                    pull_failures: 0,
                    in_pull_backoff: false,
                    registry_read: false,
                    instance: 0,
                    readiness: ProbeCount::default(),
                    liveness: ProbeCount::default(),
                    probes: Vec::new(),
                    started_at: String::new(),
                }
            })
            .collect();
        let (sender, receiver) = mpsc::unbounded_channel();
        let volumes = PodVolumes::new(
            &shared.config.root_dir,
            pod["metadata"]["uid"].as_str().unwrap_or_default(),
        );
        PodWorker {
            namespace: text(&pod["metadata"]["namespace"]),
            name: text(&pod["metadata"]["name"]),
            uid: text(&pod["metadata"]["uid"]),
            shared,
            pod,
            containers,
            ip: None,
            start_time: now(),
            sender,
            receiver,
            status_failures: 0,
            status_retry: None,
            volumes,
            volumes_ready: false,
            volume_sync: None,
            mount_failure: None,
            issued_tokens: std::sync::Mutex::default(),
        }
    }

    fn event(&self, kind: EventType, reason: &str, message: &str, container: Option<&str>) {
        let path = container.map(|c| format!("spec.containers{{{c}}}"));
        self.shared.recorder.record(
            resources::pods(),
            &self.pod,
            kind,
            reason,
            message,
            path.as_deref(),
        );
    }

    fn terminating(&self) -> bool {
        self.pod["metadata"]["deletionTimestamp"].is_string()
    }

    /// Runs the pod until it is deleted or the cluster stops.
    pub(super) async fn run(
        mut self,
        mut updates: watch::Receiver<Option<Value>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        if !self.terminating() {
            // The sandbox: the pod's own loopback address.
            self.ip = self.shared.addresses.allocate();
            if self.ip.is_none() {
                self.event(
                    EventType::Warning,
                    "FailedCreatePodSandBox",
                    "Failed to create pod sandbox: no free pod IP left on this cluster",
                    None,
                );
            }
            let delay = self.shared.config.simulated_start;
            for c in &mut self.containers {
                if c.image.kind == ImageKind::Simulated {
                    c.next_action = Some(Instant::now() + delay);
                }
            }
            self.sync_volumes();
            self.write_status();
        }
        loop {
            if self.terminating() {
                self.terminate(&mut shutdown).await;
                return;
            }
            // Containers wait for the volumes they may mount.
            let containers_due = self
                .containers
                .iter()
                .filter_map(|c| c.next_action)
                .filter(|_| self.volumes_ready);
            let wake = containers_due
                .chain(self.status_retry)
                .chain(self.volume_sync)
                .min();
            tokio::select! {
                changed = updates.changed() => {
                    let latest = updates.borrow().clone();
                    match (changed, latest) {
                        (Ok(()), Some(pod)) => self.pod = pod,
                        // Deleted outright (grace period 0) or the kubelet is going away.
                        _ => {
                            self.kill_all(Duration::from_secs(2)).await;
                            self.release();
                            return;
                        }
                    }
                }
                Some(message) = self.receiver.recv() => self.handle(message),
                _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => self.act().await,
                _ = shutdown.changed() => {
                    self.kill_all(Duration::from_secs(2)).await;
                    self.release();
                    return;
                }
            }
            self.write_status();
        }
    }

    /// Sets up the pod's volumes or brings them up to date, as the kubelet's volume manager
    /// does every sync period; a volume that cannot be set up keeps the containers waiting
    /// (`ContainerCreating`) with a `FailedMount` event, and is tried again.
    fn sync_volumes(&mut self) {
        let has_volumes = self.pod["spec"]["volumes"]
            .as_array()
            .is_some_and(|v| !v.is_empty());
        if !has_volumes {
            self.volumes_ready = true;
            self.volume_sync = None;
            return;
        }
        let registry = self.shared.registry.clone();
        let namespace = self.namespace.clone();
        let get = |kind: &'static crate::resources::ResourceKind, name: &str| {
            registry
                .store
                .get(kind, &namespace, name)
                .map(|o| o.value())
        };
        let config_map = |name: &str| get(resources::configmaps(), name);
        let secret = |name: &str| get(resources::secrets(), name);
        let account = self.pod["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        let tokens = self.shared.config.tokens.clone();
        let issued = &self.issued_tokens;
        let token = |audience: &str| {
            issued
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(audience.to_owned())
                .or_insert_with(|| {
                    let token = crate::tls::random_token();
                    tokens.add(
                        token.clone(),
                        crate::authorization::UserInfo::new(
                            format!("system:serviceaccount:{namespace}:{account}"),
                            &[
                                "system:serviceaccounts",
                                &format!("system:serviceaccounts:{namespace}"),
                            ],
                        ),
                    );
                    token
                })
                .clone()
        };
        let lookups = super::volumes::payload::Lookups {
            config_map: &config_map,
            secret: &secret,
            token: &token,
        };
        let period = self.shared.config.volume_sync;
        match self.volumes.sync(&self.pod, &lookups) {
            Ok(_) => {
                self.volumes_ready = true;
                self.mount_failure = None;
                self.volume_sync = Some(Instant::now() + period);
            }
            Err(message) => {
                if self.mount_failure.as_deref() != Some(message.as_str()) {
                    self.event(EventType::Warning, "FailedMount", &message, None);
                    self.mount_failure = Some(message);
                }
                // Until set up, tried again within a second; once running, at the next sync.
                let retry = if self.volumes_ready {
                    period
                } else {
                    Duration::from_secs(1).min(period)
                };
                self.volume_sync = Some(Instant::now() + retry);
            }
        }
    }

    /// Performs every container action that is due.
    async fn act(&mut self) {
        let now_instant = Instant::now();
        if self.volume_sync.is_some_and(|t| t <= now_instant) {
            self.sync_volumes();
        }
        if !self.volumes_ready {
            return;
        }
        for index in 0..self.containers.len() {
            if self.containers[index]
                .next_action
                .is_some_and(|t| t <= now_instant)
            {
                self.containers[index].next_action = None;
                self.start_container(index).await;
            }
        }
    }

    fn handle(&mut self, message: Internal) {
        match message {
            Internal::Exited {
                container,
                instance,
                code,
                signal,
            } => {
                let Some(c) = self.containers.get_mut(container) else {
                    return;
                };
                if c.instance != instance {
                    return;
                }
                c.process = None;
                let name = c.spec["name"].as_str().unwrap_or_default().to_owned();
                self.shared
                    .processes
                    .stopped(&self.namespace, &self.name, &name);
                c.stop_probes();
                c.ready = false;
                let code = code.unwrap_or(128 + signal.unwrap_or(9));
                let reason = if code == 0 { "Completed" } else { "Error" };
                c.state = json!({"terminated": {
                    "exitCode": code, "reason": reason, "startedAt": c.started_at, "finishedAt": now(), "containerID": c.container_id,
                }});
                self.shared
                    .logs
                    .end_instance(&self.namespace, &self.name, &c.name);
                if !self.terminating() {
                    let policy = self.pod["spec"]["restartPolicy"]
                        .as_str()
                        .unwrap_or("Always");
                    if policy == "Always" || (policy == "OnFailure" && code != 0) {
                        self.schedule_restart(container);
                    }
                }
            }
            Internal::Probe {
                container,
                instance,
                kind,
                result,
            } => {
                let Some(c) = self.containers.get_mut(container) else {
                    return;
                };
                if c.instance != instance || c.process.is_none() {
                    return;
                }
                let probe = c.spec[kind.field()].clone();
                let success_threshold = probe["successThreshold"].as_u64().unwrap_or(1) as u32;
                let failure_threshold = probe["failureThreshold"].as_u64().unwrap_or(3) as u32;
                let name = c.name.clone();
                let count = match kind {
                    ProbeKind::Readiness => &mut c.readiness,
                    ProbeKind::Liveness => &mut c.liveness,
                };
                match result {
                    Ok(()) => {
                        count.failures = 0;
                        count.successes += 1;
                        if kind == ProbeKind::Readiness && count.successes >= success_threshold {
                            c.ready = true;
                        }
                    }
                    Err(reason) => {
                        count.successes = 0;
                        count.failures += 1;
                        let failed_out = count.failures >= failure_threshold;
                        if kind == ProbeKind::Readiness && failed_out {
                            c.ready = false;
                        }
                        let pid = c.process.as_ref().map(|p| p.pid);
                        self.event(
                            EventType::Warning,
                            "Unhealthy",
                            &format!("{} probe failed: {reason}", kind.title()),
                            Some(&name),
                        );
                        if kind == ProbeKind::Liveness
                            && failed_out
                            && let Some(pid) = pid
                        {
                            self.event(
                                EventType::Normal,
                                "Killing",
                                &format!(
                                    "Container {name} failed liveness probe, will be restarted"
                                ),
                                Some(&name),
                            );
                            process::signal(pid, true);
                            let grace = self.grace();
                            tokio::spawn(async move {
                                tokio::time::sleep(grace).await;
                                process::signal(pid, false);
                            });
                        }
                    }
                }
            }
        }
    }

    /// Restarts now the first time, then after 10 s, 20 s, 40 s … up to 5 minutes (CrashLoopBackOff).
    fn schedule_restart(&mut self, index: usize) {
        let initial = self.shared.config.crash_backoff;
        let (namespace, name, uid) = (self.namespace.clone(), self.name.clone(), self.uid.clone());
        let c = &mut self.containers[index];
        c.last_state = c.state.clone();
        let delay = if c.restart_count == 0 {
            Duration::ZERO
        } else {
            (initial * (1u32 << (c.restart_count - 1).min(10) as u32)).min(MAX_BACKOFF)
        };
        c.restart_count += 1;
        c.next_action = Some(Instant::now() + delay);
        if delay > Duration::ZERO {
            let container = c.name.clone();
            c.waiting(
                "CrashLoopBackOff",
                Some(format!("back-off {}s restarting failed container={container} pod={name}_{namespace}({uid})", delay.as_secs())),
            );
            self.event(
                EventType::Warning,
                "BackOff",
                &format!("Back-off restarting failed container {container} in pod {name}_{namespace}({uid})"),
                Some(&container),
            );
        }
    }

    /// What [`status::pod_status`] makes the pod's status from.
    fn view(&self) -> PodView {
        PodView {
            containers: self
                .containers
                .iter()
                .map(|c| ContainerView {
                    name: c.name.clone(),
                    image: c.image.full_name(),
                    image_id: c.image.digest(),
                    started_once: c.started,
                    ready: c.ready,
                    state: c.state.clone(),
                    last_state: c.last_state.clone(),
                    restart_count: c.restart_count,
                    container_id: c.container_id.clone(),
                    restart_pending: c.next_action.is_some(),
                })
                .collect(),
            restart_policy: self.pod["spec"]["restartPolicy"]
                .as_str()
                .map(str::to_owned),
            pod_ip: self.ip.map(|i| i.to_string()),
            host_ip: self.shared.node.ip.to_string(),
            start_time: self.start_time.clone(),
            terminating: self.terminating(),
        }
    }

    /// Writes the pod status a kubelet would report for the containers' current state. A failed
    /// write (other than the pod being gone) is logged and tried again after a back-off, as the
    /// worker's loop wakes for `status_retry` even when no container has anything to do.
    pub(super) fn write_status(&mut self) {
        let view = self.view();
        let written = self.shared.registry.update_with(
            resources::pods(),
            &self.namespace,
            &self.name,
            Part::Status,
            &WriteOptions::default(),
            |old| {
                let mut next = old.clone();
                next["status"] = pod_status(&view, &old["status"], &now());
                Ok(next)
            },
        );
        match written {
            Err(e) if e.code != 404 => {
                self.status_failures = self.status_failures.saturating_add(1);
                let delay = backoff(self.status_failures);
                tracing::warn!(namespace = %self.namespace, pod = %self.name, error = %e.message, retry_in = ?delay, "pod status not written");
                self.status_retry = Some(Instant::now() + delay);
            }
            _ => {
                self.status_failures = 0;
                self.status_retry = None;
            }
        }
    }
}

impl Container {
    fn kind_is_process(&self) -> bool {
        matches!(self.image.kind, ImageKind::Calculator | ImageKind::Host(_))
    }
}
