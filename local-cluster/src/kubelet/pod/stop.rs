//! Stopping a pod gracefully: not ready, out of the endpoints, preStop, SIGTERM, the grace
//! period, SIGKILL; then the pod object goes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::clock::now;
use crate::controllers::runtime::backoff;
use crate::events::EventType;
use crate::kubelet::probes;
use crate::kubelet::process;
use crate::registry::DeleteOptions;
use crate::resources;

use super::PodWorker;

impl PodWorker {
    /// How long the containers get between SIGTERM and SIGKILL: the deletion's grace period,
    /// else the pod's, else 30 s.
    pub(super) fn grace(&self) -> Duration {
        let seconds = self.pod["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .or_else(|| self.pod["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30)
            .max(0);
        Duration::from_secs(seconds as u64)
    }

    /// Graceful stop: not ready, out of the endpoints, preStop, SIGTERM, the grace period, SIGKILL;
    /// then the pod object is removed.
    pub(super) async fn terminate(&mut self, shutdown: &mut watch::Receiver<bool>) {
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
        // The pod object must go, or it stays Terminating for ever: a failed delete is tried
        // again after a back-off until it succeeds, someone else deleted it, or the cluster stops.
        let mut failures = 0u32;
        loop {
            match self.shared.registry.delete(
                resources::pods(),
                &self.namespace,
                &self.name,
                &force,
            ) {
                Ok(_) => break,
                Err(e) if e.code == 404 => break,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let delay = backoff(failures);
                    tracing::warn!(namespace = %self.namespace, pod = %self.name, error = %e.message, retry_in = ?delay, "terminated pod not removed");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => break,
                    }
                }
            }
        }
        self.release();
    }

    pub(super) async fn wait_for_exits(&mut self, deadline: Instant) {
        while self.containers.iter().any(|c| c.process.is_some()) {
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Some(message)) => self.handle(message),
                _ => return,
            }
        }
    }

    /// A terminating pod's address leaves every Endpoints before its processes get SIGTERM, so
    /// a Service never routes a new request to a stopping pod.
    pub(super) async fn wait_out_of_endpoints(&self) {
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

    pub(super) async fn kill_all(&mut self, grace: Duration) {
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

    pub(super) fn release(&mut self) {
        if let Some(ip) = self.ip.take() {
            self.shared.addresses.release(ip);
        }
        self.shared.logs.remove_pod(&self.namespace, &self.name);
        self.volumes.remove();
    }
}
