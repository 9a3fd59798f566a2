//! Whether a Deployment's rollout is done, still going, or has failed — decided the way
//! `kubectl rollout status` decides it, and, unlike kubectl, failing fast on what the pods
//! already say (an image that cannot be pulled, a crash loop, a pod no node can take).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

/// Where a rollout stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Rollout {
    /// Every replica is updated and available, and no old one is left.
    Complete,
    /// Still going: kubectl's words, and how far along (0 to 1).
    Waiting {
        /// What it waits for.
        message: String,
        /// Updated and available replicas over desired.
        fraction: f32,
    },
    /// It will not finish by itself.
    Failed(PodProblem),
}

/// Why a rollout failed: a pod's reason and message, or the Deployment's own condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PodProblem {
    /// The pod, when a pod says it.
    pub pod: Option<String>,
    /// `ErrImagePull`, `CrashLoopBackOff`, `Unschedulable`, `ProgressDeadlineExceeded`, …
    pub reason: String,
    /// The kubelet's, scheduler's or controller's words.
    pub message: String,
}

/// Waiting reasons that do not get better by themselves.
const HOPELESS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Whether `labels` satisfy the Deployment's `matchLabels`.
pub fn selects(deployment: &Deployment, labels: &BTreeMap<String, String>) -> bool {
    let selector = deployment.spec.selector.match_labels.as_ref();
    selector.is_some_and(|wanted| {
        !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
    })
}

/// What is wrong with `pod`, if it says something a wait will not fix.
pub fn pod_problem(pod: &Pod) -> Option<PodProblem> {
    let name = pod.metadata.name.clone();
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    for c in status.container_statuses.iter().flatten() {
        if let Some(waiting) = c.state.as_ref().and_then(|s| s.waiting.as_ref())
            && let Some(reason) = waiting.reason.as_deref()
            && HOPELESS.contains(&reason)
        {
            return Some(PodProblem {
                pod: name,
                reason: reason.to_owned(),
                message: waiting.message.clone().unwrap_or_default(),
            });
        }
    }
    if status.phase.as_deref() == Some("Failed") {
        return Some(PodProblem {
            pod: name,
            reason: status.reason.clone().unwrap_or_else(|| "Failed".into()),
            message: status.message.clone().unwrap_or_default(),
        });
    }
    // A pod no node can ever take fails now; one waiting for room (held, often, by pods still
    // terminating after the previous rollout) waits, as the scheduler does.
    unschedulable(pod)
        .filter(|message| !waits_for_room(message))
        .map(|message| PodProblem {
            pod: name,
            reason: "Unschedulable".into(),
            message,
        })
}

/// The scheduler's message, while `pod` is Unschedulable.
fn unschedulable(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
        .map(|c| c.message.clone().unwrap_or_default())
}

/// Whether the scheduler's message says some node lacks only room (CPU, memory, pod slots),
/// which pods ending or nodes joining can give.
fn waits_for_room(message: &str) -> bool {
    message.contains("Insufficient") || message.contains("Too many pods")
}

/// The rollout of `deployment`, given the pods it selects (others are ignored).
pub fn rollout(deployment: &Deployment, pods: &[Pod]) -> Rollout {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let spec_replicas = deployment.spec.replicas.unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    if let Some(problem) = pods
        .iter()
        .filter(|p| {
            selects(
                deployment,
                p.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()),
            )
        })
        .find_map(pod_problem)
    {
        return Rollout::Failed(problem);
    }
    if let Some(progressing) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some("Progressing"))
        && progressing.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Rollout::Failed(PodProblem {
            pod: None,
            reason: "ProgressDeadlineExceeded".into(),
            message: format!(
                "deployment {name:?} exceeded its progress deadline: {}",
                progressing.message.clone().unwrap_or_default()
            ),
        });
    }
    let generation = deployment.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let fraction = if spec_replicas > 0 {
        ((updated.min(available)) as f32 / spec_replicas as f32).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let waiting_for_room = pods
        .iter()
        .filter(|p| {
            selects(
                deployment,
                p.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()),
            )
        })
        .find_map(|p| unschedulable(p).map(|m| (p.metadata.name.clone().unwrap_or_default(), m)));
    let waiting = |message: String| Rollout::Waiting {
        message: match &waiting_for_room {
            Some((pod, why)) => format!("{message} (pod {pod} waits for room: {why})"),
            None => message,
        },
        fraction,
    };
    if observed < generation {
        return waiting("Waiting for deployment spec update to be observed...".into());
    }
    if updated < spec_replicas {
        return waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {updated} out of {spec_replicas} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        ));
    }
    if available < updated {
        return waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    Rollout::Complete
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(generation: i64, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "sum-service", "generation": generation},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "sum"}},
                "template": {"metadata": {"labels": {"app": "sum"}}, "spec": {"containers": [{"name": "c"}]}},
            },
            "status": status,
        }))
        .unwrap()
    }

    fn pod(labels: serde_json::Value, status: serde_json::Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "sum-service-abc", "labels": labels}, "status": status}),
        )
        .unwrap()
    }

    #[test]
    fn completion_follows_kubectl_rollout_status() {
        let waiting = |d: &Deployment| match rollout(d, &[]) {
            Rollout::Waiting { message, .. } => message,
            other => panic!("{other:?}"),
        };
        let d = deployment(2, json!({"observedGeneration": 1}));
        assert_eq!(
            waiting(&d),
            "Waiting for deployment spec update to be observed..."
        );
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2}),
        );
        assert_eq!(
            waiting(&d),
            "Waiting for deployment \"sum-service\" rollout to finish: 1 out of 2 new replicas have been updated..."
        );
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert!(waiting(&d).ends_with("1 old replicas are pending termination..."));
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
        );
        assert!(waiting(&d).ends_with("1 of 2 updated replicas are available..."));
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(rollout(&d, &[]), Rollout::Complete);
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"x\" has timed out progressing."}]}),
        );
        assert!(
            matches!(rollout(&d, &[]), Rollout::Failed(p) if p.reason == "ProgressDeadlineExceeded")
        );
    }

    #[test]
    fn pods_that_will_not_recover_fail_the_rollout_at_once() {
        let d = deployment(1, json!({"observedGeneration": 1}));
        let pulling = pod(
            json!({"app": "sum"}),
            json!({"phase": "Pending", "containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImagePull", "message": "no match for platform in manifest"}}}]}),
        );
        let Rollout::Failed(problem) = rollout(&d, std::slice::from_ref(&pulling)) else {
            panic!("not failed");
        };
        assert_eq!(
            (
                problem.pod.as_deref(),
                problem.reason.as_str(),
                problem.message.as_str()
            ),
            (
                Some("sum-service-abc"),
                "ErrImagePull",
                "no match for platform in manifest"
            )
        );
        // Someone else's pod says nothing about this rollout.
        let other = pod(
            json!({"app": "other"}),
            pulling
                .status
                .clone()
                .map(|s| serde_json::to_value(s).unwrap())
                .unwrap(),
        );
        assert!(matches!(rollout(&d, &[other]), Rollout::Waiting { .. }));
        let unschedulable = pod(
            json!({"app": "sum"}),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/4 nodes are available"}]}),
        );
        assert!(
            matches!(rollout(&d, &[unschedulable]), Rollout::Failed(p) if p.reason == "Unschedulable")
        );
        // Short of room (terminating pods still hold it, say), it waits, and says why.
        let no_room = pod(
            json!({"app": "sum"}),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/4 nodes are available: 2 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."}]}),
        );
        match rollout(&d, &[no_room]) {
            Rollout::Waiting { message, .. } => assert!(
                message.ends_with("(pod sum-service-abc waits for room: 0/4 nodes are available: 2 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.)"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
        let creating = pod(
            json!({"app": "sum"}),
            json!({"phase": "Pending", "containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert!(matches!(rollout(&d, &[creating]), Rollout::Waiting { .. }));
    }
}
