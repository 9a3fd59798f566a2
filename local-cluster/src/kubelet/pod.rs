//! One pod on one node, as a kubelet's pod worker runs it: pull (or fail to, on the wrong OS),
//! create and start each container, probe it, restart it with back-off, and stop it gracefully
//! once it has left the Service endpoints.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::Shared;
use super::images::{Image, ImageKind};
use super::probes::{self, ProbeKind};
use super::process::{self, ContainerProcess};
use super::status::{ContainerView, PodView, pod_status};
use crate::errors::report;
use crate::events::EventType;
use crate::registry::{DeleteOptions, Part, WriteOptions, now};
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
                let image = Image::resolve(spec["image"].as_str().unwrap_or_default());
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
                    instance: 0,
                    readiness: ProbeCount::default(),
                    liveness: ProbeCount::default(),
                    probes: Vec::new(),
                    started_at: String::new(),
                }
            })
            .collect();
        let (sender, receiver) = mpsc::unbounded_channel();
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
            self.write_status();
        }
        loop {
            if self.terminating() {
                self.terminate(&mut shutdown).await;
                return;
            }
            let wake = self.containers.iter().filter_map(|c| c.next_action).min();
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

    /// Performs every container action that is due.
    async fn act(&mut self) {
        let now_instant = Instant::now();
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

    async fn start_container(&mut self, index: usize) {
        let node_os = self.shared.node.os;
        let c = &self.containers[index];
        let image_name = c.spec["image"].as_str().unwrap_or_default().to_owned();
        let container_name = c.name.clone();
        // A manifest list without this node's platform fails the way containerd fails it.
        if !c.image.platforms.contains(&node_os) {
            let error = c.image.platform_error();
            let c = &mut self.containers[index];
            if c.in_pull_backoff || c.pull_failures == 0 {
                c.pull_failures += 1;
                c.in_pull_backoff = false;
                c.waiting("ErrImagePull", Some(error.clone()));
                c.next_action = Some(Instant::now() + Duration::from_secs(1));
                self.event(
                    EventType::Normal,
                    "Pulling",
                    &format!("Pulling image \"{image_name}\""),
                    Some(&container_name),
                );
                self.event(
                    EventType::Warning,
                    "Failed",
                    &format!("Failed to pull image \"{image_name}\": {error}"),
                    Some(&container_name),
                );
                self.event(
                    EventType::Warning,
                    "Failed",
                    "Error: ErrImagePull",
                    Some(&container_name),
                );
            } else {
                let backoff =
                    Duration::from_secs(10 * (1u64 << c.pull_failures.min(5))).min(MAX_BACKOFF);
                c.in_pull_backoff = true;
                c.waiting(
                    "ImagePullBackOff",
                    Some(format!("Back-off pulling image \"{image_name}\": {error}")),
                );
                c.next_action = Some(Instant::now() + backoff);
                self.event(
                    EventType::Normal,
                    "BackOff",
                    &format!("Back-off pulling image \"{image_name}\""),
                    Some(&container_name),
                );
                self.event(
                    EventType::Warning,
                    "Failed",
                    "Error: ImagePullBackOff",
                    Some(&container_name),
                );
            }
            return;
        }
        let Some(ip) = self.ip else { return };
        let first_pull = self
            .shared
            .pulled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(image_name.clone());
        if self.containers[index].restart_count == 0 && self.containers[index].instance == 0 {
            if first_pull {
                self.event(
                    EventType::Normal,
                    "Pulling",
                    &format!("Pulling image \"{image_name}\""),
                    Some(&container_name),
                );
                let took = self.shared.config.simulated_pull;
                tokio::time::sleep(took).await;
                let ms = took.as_millis();
                self.event(
                    EventType::Normal,
                    "Pulled",
                    &format!("Successfully pulled image \"{image_name}\" in {ms}ms ({ms}ms including waiting). Image size: 5242880 bytes."),
                    Some(&container_name),
                );
            } else {
                self.event(
                    EventType::Normal,
                    "Pulled",
                    &format!("Container image \"{image_name}\" already present on machine"),
                    Some(&container_name),
                );
            }
        }
        let c = &mut self.containers[index];
        c.instance += 1;
        c.container_id = format!("containerd://{}", random_id());
        if c.kind_is_process() {
            let env = self.environment(index, ip);
            let c = &self.containers[index];
            let role_args: Vec<String> = c.spec["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let spawned = process::spawn(
                &self.shared.config.launcher,
                &role_args,
                &env,
                &self.shared.logs,
                (&self.namespace, &self.name, &container_name),
            );
            match spawned {
                Ok((handle, mut child, copied)) => {
                    self.shared.processes.started(
                        &self.namespace,
                        &self.name,
                        &container_name,
                        handle.pid,
                    );
                    let instance = c.instance;
                    let sender = self.sender.clone();
                    tokio::spawn(async move {
                        let status = child.wait().await.ok();
                        // The last lines (a shutdown message) reach the log before its end;
                        // a grandchild holding the pipes open is not waited on for long.
                        for task in copied {
                            let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
                        }
                        #[cfg(unix)]
                        let signal =
                            status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
                        #[cfg(not(unix))]
                        let signal = None;
                        let _ = sender.send(Internal::Exited {
                            container: index,
                            instance,
                            code: status.and_then(|s| s.code()),
                            signal,
                        });
                    });
                    self.containers[index].process = Some(handle);
                }
                Err(e) => {
                    let message = format!(
                        "failed to create containerd task: failed to start {}: {e}",
                        self.shared.config.launcher.program.display()
                    );
                    self.containers[index].waiting("RunContainerError", Some(message.clone()));
                    self.event(
                        EventType::Warning,
                        "Failed",
                        &format!("Error: {message}"),
                        Some(&container_name),
                    );
                    self.schedule_restart(index);
                    return;
                }
            }
        } else {
            self.shared
                .logs
                .start_instance(&self.namespace, &self.name, &container_name);
        }
        let c = &mut self.containers[index];
        c.started_at = now();
        c.state = json!({"running": {"startedAt": c.started_at}});
        c.started = true;
        c.readiness = ProbeCount::default();
        c.liveness = ProbeCount::default();
        let probed = c.kind_is_process() && c.spec["readinessProbe"].is_object();
        c.ready = !probed;
        self.event(
            EventType::Normal,
            "Created",
            &format!("Created container: {container_name}"),
            Some(&container_name),
        );
        self.event(
            EventType::Normal,
            "Started",
            &format!("Started container {container_name}"),
            Some(&container_name),
        );
        if self.containers[index].kind_is_process() {
            self.start_probes(index, ip);
        }
        // A simulated container of a pod that runs to completion (a Job's) finishes after a
        // moment, with the exit code the pod's annotation names (0 unless told otherwise).
        let policy = self.pod["spec"]["restartPolicy"]
            .as_str()
            .unwrap_or("Always");
        if !self.containers[index].kind_is_process() && policy != "Always" {
            let code = self.pod["metadata"]["annotations"][super::SIMULATED_EXIT_CODE]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let sender = self.sender.clone();
            let instance = self.containers[index].instance;
            let run = self.shared.config.simulated_start;
            tokio::spawn(async move {
                tokio::time::sleep(run).await;
                let _ = sender.send(Internal::Exited {
                    container: index,
                    instance,
                    code: Some(code),
                    signal: None,
                });
            });
        }
    }

    fn environment(&self, index: usize, ip: Ipv4Addr) -> BTreeMap<String, String> {
        let c = &self.containers[index];
        let mut pod = self.pod.clone();
        pod["status"]["podIP"] = json!(ip.to_string());
        pod["status"]["podIPs"] = json!([{"ip": ip.to_string()}]);
        pod["status"]["hostIP"] = json!(self.shared.node.ip.to_string());
        let mut env = process::container_env(&self.shared.registry, &pod, &c.spec);
        // The calculator listens on HOST:PORT; in a pod it has its own network namespace, here
        // it has its own loopback address and the container port.
        env.entry("HOST".into()).or_insert_with(|| ip.to_string());
        if let Some(port) = c.spec["ports"][0]["containerPort"].as_u64() {
            env.entry("PORT".into()).or_insert_with(|| port.to_string());
        }
        env
    }

    fn start_probes(&mut self, index: usize, ip: Ipv4Addr) {
        let env = self.environment(index, ip);
        let c = &mut self.containers[index];
        for kind in [ProbeKind::Readiness, ProbeKind::Liveness] {
            let probe = c.spec[kind.field()].clone();
            if !probe.is_object() {
                continue;
            }
            let container = c.spec.clone();
            let sender = self.sender.clone();
            let instance = c.instance;
            let env = env.clone();
            c.probes.push(tokio::spawn(async move {
                let initial =
                    Duration::from_secs(probe["initialDelaySeconds"].as_u64().unwrap_or(0));
                let period =
                    Duration::from_secs(probe["periodSeconds"].as_u64().unwrap_or(10).max(1));
                // The first readiness check comes quickly, as a kubelet's does after start.
                tokio::time::sleep(initial.max(Duration::from_millis(200))).await;
                loop {
                    let result = probes::run(&probe, &container, ip, &env).await;
                    if sender
                        .send(Internal::Probe {
                            container: index,
                            instance,
                            kind,
                            result,
                        })
                        .is_err()
                    {
                        return;
                    }
                    tokio::time::sleep(period).await;
                }
            }));
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

    fn grace(&self) -> Duration {
        let seconds = self.pod["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .or_else(|| self.pod["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30)
            .max(0);
        Duration::from_secs(seconds as u64)
    }

    /// Graceful stop: not ready, out of the endpoints, preStop, SIGTERM, the grace period, SIGKILL;
    /// then the pod object is removed.
    async fn terminate(&mut self, shutdown: &mut watch::Receiver<bool>) {
        let deadline = Instant::now() + self.grace();
        for c in &mut self.containers {
            c.ready = false;
            c.stop_probes();
            c.next_action = None;
        }
        self.write_status();
        self.wait_out_of_endpoints().await;
        let running: Vec<usize> = (0..self.containers.len())
            .filter(|i| self.containers[*i].process.is_some())
            .collect();
        for &index in &running {
            let name = self.containers[index].name.clone();
            self.event(
                EventType::Normal,
                "Killing",
                &format!("Stopping container {name}"),
                Some(&name),
            );
        }
        for &index in &running {
            let hook = self.containers[index].spec["lifecycle"]["preStop"].clone();
            if let Some(seconds) = hook["sleep"]["seconds"].as_u64() {
                tokio::select! {
                    _ = tokio::time::sleep_until((Instant::now() + Duration::from_secs(seconds)).min(deadline)) => {}
                    _ = shutdown.changed() => {}
                }
            } else if hook["httpGet"].is_object()
                && let Some(ip) = self.ip
            {
                let _ = tokio::time::timeout_at(
                    deadline,
                    probes::run(&hook, &self.containers[index].spec, ip, &BTreeMap::new()),
                )
                .await;
            }
            if let Some(p) = &self.containers[index].process {
                process::signal(p.pid, true);
            }
        }
        self.wait_for_exits(deadline).await;
        for c in &self.containers {
            if let Some(p) = &c.process {
                process::signal(p.pid, false);
            }
        }
        self.wait_for_exits(Instant::now() + Duration::from_secs(2))
            .await;
        for c in &mut self.containers {
            if c.state.get("terminated").is_none() {
                c.state = json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": c.started_at, "finishedAt": now()}});
            }
        }
        self.write_status();
        let force = DeleteOptions {
            grace_period_seconds: Some(0),
            ..DeleteOptions::default()
        };
        report(
            "delete",
            self.shared
                .registry
                .delete(resources::pods(), &self.namespace, &self.name, &force),
        );
        self.release();
    }

    async fn wait_for_exits(&mut self, deadline: Instant) {
        while self.containers.iter().any(|c| c.process.is_some()) {
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Some(message)) => self.handle(message),
                _ => return,
            }
        }
    }

    /// A terminating pod's address leaves every Endpoints before its processes get SIGTERM, so
    /// a Service never routes a new request to a stopping pod.
    async fn wait_out_of_endpoints(&self) {
        let Some(ip) = self.ip.map(|ip| ip.to_string()) else {
            return;
        };
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            let listed = self
                .shared
                .registry
                .store
                .list(
                    resources::endpoints(),
                    Some(&self.namespace),
                    |_| true,
                    0,
                    None,
                )
                .items
                .iter()
                .any(|e| {
                    e.value()["subsets"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|s| {
                            s["addresses"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|a| a["ip"] == ip.as_str())
                        })
                });
            if !listed {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn kill_all(&mut self, grace: Duration) {
        for c in &mut self.containers {
            c.stop_probes();
            if let Some(p) = &c.process {
                process::signal(p.pid, true);
            }
        }
        self.wait_for_exits(Instant::now() + grace).await;
        for c in &self.containers {
            if let Some(p) = &c.process {
                process::signal(p.pid, false);
            }
        }
        self.wait_for_exits(Instant::now() + Duration::from_secs(2))
            .await;
    }

    fn release(&mut self) {
        if let Some(ip) = self.ip.take() {
            self.shared.addresses.release(ip);
        }
        self.shared.logs.remove_pod(&self.namespace, &self.name);
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

    /// Writes the pod status a kubelet would report for the containers' current state.
    fn write_status(&self) {
        let view = self.view();
        report(
            "update",
            self.shared.registry.update_with(
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
            ),
        );
    }
}

impl Container {
    fn kind_is_process(&self) -> bool {
        self.image.kind == ImageKind::Calculator
    }
}
