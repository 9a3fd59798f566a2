//! Starting a pod's containers: the image pulled (or refused on the wrong OS), the environment
//! the kubelet builds, the container run as a process or simulated, and its probes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::clock::now;
use crate::events::EventType;
use crate::kubelet::images::{Image, ImageKind};
use crate::kubelet::probes::{self, ProbeKind};
use crate::kubelet::process::{self, Program};
use crate::nodes::NodeOs;

use super::{Internal, MAX_BACKOFF, PodWorker, ProbeCount, random_id};

impl PodWorker {
    /// Reads container `index`'s image's platforms from its registry when that registry is on
    /// this machine (once per container); the pull error when it cannot be read.
    async fn read_registry(&mut self, index: usize) -> Option<String> {
        let c = &mut self.containers[index];
        if c.registry_read {
            return None;
        }
        let registry = c.image.local_registry()?;
        let reference = c.image.reference.clone();
        let auth = image_platforms::RegistryAuth::Anonymous;
        match image_platforms::read(&reference, &auth, Duration::from_secs(5)).await {
            Ok(platforms) => {
                let c = &mut self.containers[index];
                c.image.learn(&platforms);
                c.registry_read = true;
                None
            }
            Err(why) => {
                tracing::debug!(%registry, image = %reference, %why, "image not read");
                Some(format!(
                    "failed to pull and unpack image \"{}\": failed to resolve reference \"{reference}\": {why}",
                    self.containers[index].image.full_name()
                ))
            }
        }
    }

    /// The container's task could not be created (`message`, containerd's words): waiting in
    /// `RunContainerError` with the kubelet's event, and started again after the back-off.
    fn refuse_task(&mut self, index: usize, container_name: &str, message: String) {
        self.containers[index].waiting("RunContainerError", Some(message.clone()));
        self.event(
            EventType::Warning,
            "Failed",
            &format!("Error: {message}"),
            Some(container_name),
        );
        self.schedule_restart(index);
    }

    pub(super) async fn start_container(&mut self, index: usize) {
        let node_os = self.shared.node.os;
        let node_build = self.shared.node.windows_server.windows_build();
        // An image in a registry on this machine is pulled as a node pulls it: its index (or
        // manifest) says which platforms and Windows builds it has.
        let unread = self.read_registry(index).await;
        let c = &self.containers[index];
        let image_name = c.spec["image"].as_str().unwrap_or_default().to_owned();
        let container_name = c.name.clone();
        // A manifest list without this node's platform (for Windows: no entry of a build the
        // node runs) fails the way containerd fails it; so does a registry that cannot be read.
        let no_entry = !c.image.platforms.contains(&node_os)
            || (node_os == NodeOs::Windows
                && c.image.from_index
                && !c.image.runs_on_windows(node_build));
        if unread.is_some() || no_entry {
            let error = unread.unwrap_or_else(|| c.image.platform_error());
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
        let id = random_id();
        c.container_id = format!("containerd://{id}");
        // A process-isolated Windows container shares the node's kernel: an image of a build the
        // node cannot run is refused when its task is created, and retried with back-off.
        if node_os == NodeOs::Windows && !c.image.runs_on_windows(node_build) {
            self.refuse_task(index, &container_name, Image::build_error(&id));
            return;
        }
        if c.kind_is_process() {
            if let Err(e) = self.volumes.mount(&c.spec) {
                tracing::warn!(pod = %self.name, container = %c.name, error = %e, "volume mounts not made");
            }
            let env = self.environment(index, ip);
            let c = &self.containers[index];
            let program = match c.image.kind {
                ImageKind::Host(image) => {
                    Program::host(image, &c.spec, &self.shared.config.launcher, &env)
                }
                _ => {
                    let role_args: Vec<String> = c.spec["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(str::to_owned))
                        .collect();
                    Program::calculator(&self.shared.config.launcher, &role_args)
                }
            };
            let spawned = process::spawn(
                &program,
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
                    self.refuse_task(index, &container_name, message);
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
            let code = self.pod["metadata"]["annotations"]
                [crate::kubelet::images::SIMULATED_EXIT_CODE]
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

    pub(super) fn environment(&self, index: usize, ip: Ipv4Addr) -> BTreeMap<String, String> {
        let c = &self.containers[index];
        let mut pod = self.pod.clone();
        pod["status"]["podIP"] = json!(ip.to_string());
        pod["status"]["podIPs"] = json!([{"ip": ip.to_string()}]);
        pod["status"]["hostIP"] = json!(self.shared.node.ip.to_string());
        let mut env = process::container_env(&self.shared.registry, &pod, &c.spec);
        // The image's own ENV, which the container's env overrides.
        for (name, value) in c.image.baked_env() {
            env.entry(name).or_insert(value);
        }
        // The calculator listens on HOST:PORT; in a pod it has its own network namespace, here
        // it has its own loopback address and the container port.
        env.entry("HOST".into()).or_insert_with(|| ip.to_string());
        if let Some(port) = c.spec["ports"][0]["containerPort"].as_u64() {
            env.entry("PORT".into()).or_insert_with(|| port.to_string());
        }
        env
    }

    pub(super) fn start_probes(&mut self, index: usize, ip: Ipv4Addr) {
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
}
