//! The pod status a kubelet reports, as a pure function of what it knows about the pod's
//! containers and of the status stored before (so condition transition times stay put while a
//! condition holds). Tested like kwok tests its stages: input and expected output as files in
//! `golden/`, one case per file pair.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One container as the kubelet sees it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    /// Its name in the pod spec.
    pub name: String,
    /// The image as the runtime names it (`docker.io/library/nginx:1.27`).
    pub image: String,
    /// The image's digest (reported once an instance has started).
    pub image_id: String,
    /// An instance has started at some point.
    pub started_once: bool,
    /// The readiness probe's verdict (or running, with no probe).
    pub ready: bool,
    /// `{"waiting": …}`, `{"running": …}` or `{"terminated": …}`.
    pub state: Value,
    /// The previous instance's end, or `{}`.
    pub last_state: Value,
    /// Restarts so far.
    pub restart_count: i64,
    /// `containerd://…` once an instance was created.
    pub container_id: String,
    /// A restart (or first start) is still to come.
    pub restart_pending: bool,
}

impl ContainerView {
    fn running(&self) -> bool {
        self.state.get("running").is_some()
    }

    fn terminated(&self) -> bool {
        self.state.get("terminated").is_some()
    }
}

/// Everything the pod's status is made from.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    /// The containers, in spec order.
    pub containers: Vec<ContainerView>,
    /// `spec.restartPolicy` (`Always` when unset).
    pub restart_policy: Option<String>,
    /// The pod's address, once it has one.
    pub pod_ip: Option<String>,
    /// The node's address.
    pub host_ip: String,
    /// When the kubelet took the pod on.
    pub start_time: String,
    /// Being deleted: no longer Ready.
    pub terminating: bool,
}

/// The phase: Running while a container runs (or has run, awaiting a restart), Succeeded or
/// Failed once every container ended for good under a policy other than `Always`, else Pending.
pub fn phase(pod: &PodView) -> &'static str {
    let policy = pod.restart_policy.as_deref().unwrap_or("Always");
    let all_done = !pod.containers.is_empty()
        && pod
            .containers
            .iter()
            .all(|c| c.terminated() && !c.restart_pending);
    if pod.containers.iter().any(ContainerView::running) {
        "Running"
    } else if all_done && policy != "Always" {
        if pod
            .containers
            .iter()
            .all(|c| c.state["terminated"]["exitCode"] == 0)
        {
            "Succeeded"
        } else {
            "Failed"
        }
    } else if pod.containers.iter().any(|c| c.started_once) {
        "Running"
    } else {
        "Pending"
    }
}

/// The status to store: `previous` is the stored status (for transition times and the
/// scheduler's PodScheduled condition), `now` the time to stamp changed conditions with.
pub fn pod_status(pod: &PodView, previous: &Value, now: &str) -> Value {
    let statuses: Vec<Value> = pod
        .containers
        .iter()
        .map(|c| {
            let mut s = json!({
                "name": c.name,
                "image": c.image,
                                "imageID": if c.started_once { c.image_id.as_str() } else { "" },
                "ready": c.ready,
                "started": c.running(),
                "restartCount": c.restart_count,
                "state": c.state,
                "lastState": c.last_state,
            });
            if !c.container_id.is_empty() {
                s["containerID"] = json!(c.container_id);
            }
            s
        })
        .collect();
    let all_ready = !pod.containers.is_empty() && pod.containers.iter().all(|c| c.ready);
    let unready: Vec<&str> = pod
        .containers
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let prior_conditions: &[Value] = previous["conditions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let phase = phase(pod);
    let condition = |kind: &str, ok: bool, reason: Option<&str>| {
        let status = if ok { "True" } else { "False" };
        let transition = prior_conditions
            .iter()
            .find(|c| c["type"] == kind && c["status"] == status)
            .map(|p| p["lastTransitionTime"].clone())
            .unwrap_or_else(|| json!(now));
        let mut c = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": transition});
        match reason {
            Some("ContainersNotReady") => {
                c["reason"] = json!("ContainersNotReady");
                c["message"] = json!(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                ));
            }
            Some(other) => c["reason"] = json!(other),
            None => {}
        }
        c
    };
    // A pod that ran to completion says so instead of naming its (finished) containers, and
    // its sandbox is gone, as a kubelet reports it.
    let completed = phase == "Succeeded";
    let terminal = completed || phase == "Failed";
    let not_ready = if completed {
        Some("PodCompleted")
    } else {
        (!all_ready).then_some("ContainersNotReady")
    };
    let mut conditions = vec![
        condition(
            "PodReadyToStartContainers",
            pod.pod_ip.is_some() && !terminal,
            None,
        ),
        condition("Initialized", true, completed.then_some("PodCompleted")),
        condition("Ready", all_ready && !pod.terminating, not_ready),
        condition("ContainersReady", all_ready, not_ready),
    ];
    if let Some(scheduled) = prior_conditions
        .iter()
        .find(|c| c["type"] == "PodScheduled")
    {
        conditions.push(scheduled.clone());
    }
    let mut status = previous.clone();
    if !status.is_object() {
        status = json!({});
    }
    status["phase"] = json!(phase);
    status["conditions"] = json!(conditions);
    status["hostIP"] = json!(pod.host_ip);
    status["hostIPs"] = json!([{"ip": pod.host_ip}]);
    if let Some(ip) = &pod.pod_ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    status["startTime"] = json!(pod.start_time);
    status["containerStatuses"] = json!(statuses);
    status
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use std::path::Path;

    use super::*;

    /// What one golden case gives the function.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Case {
        pod: PodView,
        previous_status: Value,
        now: String,
    }

    /// Every `golden/*.input.json` gives the status in the matching `.output.json`. With
    /// `UPDATE_GOLDEN=1` the outputs are written instead (review the diff before committing).
    #[test]
    fn pod_status_matches_the_golden_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/kubelet/golden");
        let update = std::env::var_os("UPDATE_GOLDEN").is_some();
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".input.json"))
            .collect();
        inputs.sort();
        assert!(
            inputs.len() >= 5,
            "golden cases missing in {}",
            dir.display()
        );
        for input in inputs {
            let case: Case = serde_json::from_str(&std::fs::read_to_string(&input).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            let got = pod_status(&case.pod, &case.previous_status, &case.now);
            let output = input.with_file_name(
                input
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .replace(".input.json", ".output.json"),
            );
            if update {
                std::fs::write(&output, serde_json::to_string_pretty(&got).unwrap() + "\n")
                    .unwrap();
                continue;
            }
            let want: Value = serde_json::from_str(
                &std::fs::read_to_string(&output)
                    .unwrap_or_else(|e| panic!("{}: {e}", output.display())),
            )
            .unwrap();
            assert_eq!(
                got,
                want,
                "{}:\n{}",
                input.display(),
                serde_json::to_string_pretty(&got).unwrap()
            );
        }
    }
}
