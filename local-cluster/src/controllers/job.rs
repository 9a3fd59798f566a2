//! The Job controller: runs pods to completion, `parallelism` at a time, until `completions`
//! succeeded (condition Complete) or more than `backoffLimit` failed (condition Failed,
//! BackoffLimitExceeded); deletes a finished Job `ttlSecondsAfterFinished` later, its pods with
//! it. A suspended Job runs nothing.
//!
//! What to do is decided by [`plan`], a pure function of the Job and its pods; `reconcile`
//! carries it out.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::runtime::{Action, Context, Controller, Reconciled};
use super::{ObjectRef, controller_uid, pod_from_template};
use crate::clock::now;
use crate::events::EventType;
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources;
use crate::validation::label_selector_from_json;

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    Controller::new(registry, resources::jobs(), "job-controller")
        .owns(resources::pods())
        .run(reconcile)
        .tasks
}

/// How a pod of the Job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodState {
    /// Not finished and not being deleted.
    Active {
        /// Its Ready condition is True.
        ready: bool,
    },
    /// Phase Succeeded.
    Succeeded,
    /// Phase Failed.
    Failed,
    /// Being deleted, not yet finished.
    Terminating,
}

/// The state of one pod.
pub fn pod_state(pod: &Value) -> PodState {
    match pod["status"]["phase"].as_str() {
        Some("Succeeded") => PodState::Succeeded,
        Some("Failed") => PodState::Failed,
        _ if pod["metadata"]["deletionTimestamp"].is_string() => PodState::Terminating,
        _ => PodState::Active {
            ready: crate::controllers::replicaset::is_ready(pod),
        },
    }
}

/// What the controller does next for a Job.
#[derive(Debug, PartialEq)]
pub struct Plan {
    /// Pods to create.
    pub create: usize,
    /// Active pods to delete (all of them when the Job has finished).
    pub delete_active: bool,
    /// The condition the Job reaches now: `("Complete", reason, message)` or Failed.
    pub finish: Option<(&'static str, &'static str, &'static str)>,
    /// Pods running or waiting to.
    pub active: usize,
    /// Active pods that are Ready.
    pub ready: usize,
    /// Pods that succeeded.
    pub succeeded: usize,
    /// Pods that failed.
    pub failed: usize,
    /// Pods being deleted.
    pub terminating: usize,
}

/// Whether the Job carries a True `Complete` or `Failed` condition.
pub fn finished(job: &Value) -> Option<&str> {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
        .and_then(|c| c["type"].as_str())
}

/// Decides from the Job and the states of its pods.
pub fn plan(job: &Value, pods: &[PodState]) -> Plan {
    let count = |f: &dyn Fn(&PodState) -> bool| pods.iter().filter(|p| f(p)).count();
    let active = count(&|p| matches!(p, PodState::Active { .. }));
    let ready = count(&|p| matches!(p, PodState::Active { ready: true }));
    let succeeded = count(&|p| *p == PodState::Succeeded);
    let failed = count(&|p| *p == PodState::Failed);
    let terminating = count(&|p| *p == PodState::Terminating);
    let spec = &job["spec"];
    let completions = spec["completions"].as_u64().map(|c| c as usize);
    let parallelism = spec["parallelism"].as_u64().unwrap_or(1) as usize;
    let backoff_limit = spec["backoffLimit"].as_u64().unwrap_or(6) as usize;
    let mut plan = Plan {
        create: 0,
        delete_active: false,
        finish: None,
        active,
        ready,
        succeeded,
        failed,
        terminating,
    };
    if finished(job).is_some() {
        plan.delete_active = active > 0;
        return plan;
    }
    if failed > backoff_limit {
        plan.finish = Some((
            "Failed",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ));
        plan.delete_active = active > 0;
        return plan;
    }
    let done = match completions {
        Some(c) => succeeded >= c,
        // With no completions, the first success finishes the Job once nothing else runs.
        None => succeeded > 0 && active == 0,
    };
    if done {
        plan.finish = Some((
            "Complete",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        ));
        plan.delete_active = active > 0;
        return plan;
    }
    if spec["suspend"] == true {
        plan.delete_active = active > 0;
        return plan;
    }
    let wanted = match completions {
        Some(c) => parallelism.min(c.saturating_sub(succeeded)),
        None if succeeded > 0 => 0,
        None => parallelism,
    };
    // Terminating pods still count, as with podReplacementPolicy TerminatingOrFailed.
    plan.create = wanted.saturating_sub(active + terminating);
    plan
}

fn reconcile(context: &Context, (namespace, name): &ObjectRef, job: &Value) -> Reconciled {
    let (registry, recorder) = (&context.registry, &context.recorder);
    let (namespace, name) = (namespace.as_str(), name.as_str());
    let jobs = resources::jobs();
    if job["metadata"]["deletionTimestamp"].is_string() {
        return Ok(Action::await_change());
    }
    let mut action = Action::await_change();
    if let Some(deadline) = ttl_deadline(job) {
        let wait = deadline.duration_since(jiff::Timestamp::now());
        if wait.is_negative() || wait.is_zero() {
            let delete = DeleteOptions {
                propagation_policy: Some("Background".into()),
                ..DeleteOptions::default()
            };
            registry.delete(jobs, namespace, name, &delete)?;
            return Ok(Action::await_change());
        }
        let wait = Duration::from_millis(wait.as_millis().clamp(0, i128::from(u32::MAX)) as u64);
        action = Action::requeue(wait);
    }
    let uid = job["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let Some(selector) = label_selector_from_json(&job["spec"]["selector"]) else {
        // Validation refuses such a selector; an object stored before that rule is left alone.
        return Ok(action);
    };
    let pods: Vec<Value> = registry
        .store
        .list(
            resources::pods(),
            Some(namespace),
            |index| selector.matches(&index.labels),
            0,
            None,
        )
        .items
        .iter()
        .map(|s| s.value())
        .filter(|pod| controller_uid(pod) == Some(uid.as_str()))
        .collect();
    let states: Vec<PodState> = pods.iter().map(pod_state).collect();
    let plan = plan(job, &states);

    for _ in 0..plan.create {
        let pod = pod_from_template(jobs, job, namespace);
        match registry.create(resources::pods(), namespace, pod, &WriteOptions::default()) {
            Ok(created) => recorder.record(
                jobs,
                job,
                EventType::Normal,
                "SuccessfulCreate",
                &format!("Created pod: {}", created.index.name),
                None,
            ),
            Err(e) => {
                recorder.record(
                    jobs,
                    job,
                    EventType::Warning,
                    "FailedCreate",
                    &format!("Error creating: {e}"),
                    None,
                );
                return Err(e);
            }
        }
    }
    if plan.delete_active {
        for (pod, state) in pods.iter().zip(&states) {
            if matches!(state, PodState::Active { .. }) {
                let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
                match registry.delete(
                    resources::pods(),
                    namespace,
                    pod_name,
                    &DeleteOptions::default(),
                ) {
                    Err(e) if e.code != 404 => return Err(e),
                    _ => {}
                }
            }
        }
    }
    if let Some((kind, reason, message)) = plan.finish {
        let event = if kind == "Complete" {
            (EventType::Normal, "Completed", "Job completed".to_owned())
        } else {
            (EventType::Warning, reason, message.to_owned())
        };
        recorder.record(jobs, job, event.0, event.1, &event.2, None);
    }
    let created = plan.create;
    registry.update_with(
        jobs,
        namespace,
        name,
        Part::Status,
        &WriteOptions::default(),
        |old| {
            let mut next = old.clone();
            let status = &mut next["status"];
            if !status.is_object() {
                *status = json!({});
            }
            let at = now();
            if status["startTime"].is_null() && old["spec"]["suspend"] != true {
                status["startTime"] = json!(at);
            }
            status["active"] = json!(plan.active + created);
            status["ready"] = json!(plan.ready);
            status["succeeded"] = json!(plan.succeeded);
            status["failed"] = json!(plan.failed);
            status["terminating"] = json!(plan.terminating);
            status["uncountedTerminatedPods"] = json!({});
            if let Some((kind, reason, message)) = plan.finish {
                let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
                // Since 1.31 a Job first says why it is ending, then that it ended.
                let first = if kind == "Complete" {
                    "SuccessCriteriaMet"
                } else {
                    "FailureTarget"
                };
                for t in [first, kind] {
                    conditions.push(json!({
                        "type": t, "status": "True", "reason": reason, "message": message,
                        "lastProbeTime": at, "lastTransitionTime": at,
                    }));
                }
                status["conditions"] = json!(conditions);
                status["active"] = json!(0);
                if kind == "Complete" {
                    status["completionTime"] = json!(at);
                }
            }
            Ok(next)
        },
    )?;
    Ok(action)
}

/// When a finished Job with `ttlSecondsAfterFinished` is due for deletion.
fn ttl_deadline(job: &Value) -> Option<jiff::Timestamp> {
    let ttl = job["spec"]["ttlSecondsAfterFinished"].as_i64()?;
    finished(job)?;
    let at = job["status"]["conditions"]
        .as_array()?
        .iter()
        .filter(|c| c["type"] == "Complete" || c["type"] == "Failed")
        .filter_map(|c| c["lastTransitionTime"].as_str())
        .filter_map(|t| t.parse::<jiff::Timestamp>().ok())
        .max()?;
    at.checked_add(jiff::SignedDuration::from_secs(ttl)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(spec: Value) -> Value {
        json!({"metadata": {"name": "j"}, "spec": spec, "status": {}})
    }

    #[test]
    fn parallel_pods_run_until_completions_succeed() {
        let j = job(json!({"completions": 3, "parallelism": 2, "backoffLimit": 6}));
        assert_eq!(plan(&j, &[]).create, 2);
        let running = PodState::Active { ready: true };
        assert_eq!(plan(&j, &[running, running]).create, 0);
        // One succeeded: two are left to do, one runs, so one more starts.
        assert_eq!(plan(&j, &[PodState::Succeeded, running]).create, 1);
        // A failed pod is replaced.
        assert_eq!(
            plan(&j, &[PodState::Succeeded, PodState::Failed, running]).create,
            1
        );
        let done = plan(&j, &[PodState::Succeeded; 3]);
        assert_eq!(done.finish.map(|f| f.0), Some("Complete"));
        assert_eq!(done.create, 0);
    }

    #[test]
    fn failures_past_the_backoff_limit_fail_the_job_and_stop_its_pods() {
        let j = job(json!({"completions": 1, "parallelism": 1, "backoffLimit": 1}));
        let one = plan(&j, &[PodState::Failed]);
        assert_eq!((one.finish, one.create), (None, 1));
        let two = plan(
            &j,
            &[
                PodState::Failed,
                PodState::Failed,
                PodState::Active { ready: false },
            ],
        );
        assert_eq!(two.finish.map(|f| f.1), Some("BackoffLimitExceeded"));
        assert!(two.delete_active);
        assert_eq!(two.create, 0);
    }

    #[test]
    fn suspended_and_finished_jobs_run_nothing() {
        let suspended = job(json!({"completions": 2, "parallelism": 2, "suspend": true}));
        assert_eq!(plan(&suspended, &[]).create, 0);
        let mut finished = job(json!({"completions": 1}));
        finished["status"]["conditions"] = json!([{"type": "Complete", "status": "True"}]);
        assert_eq!(plan(&finished, &[]).create, 0);
        assert!(plan(&finished, &[]).finish.is_none());
    }

    #[test]
    fn a_finished_job_is_due_ttl_seconds_after_it_finished() {
        let mut j = job(json!({"ttlSecondsAfterFinished": 30}));
        assert!(ttl_deadline(&j).is_none());
        j["status"]["conditions"] = json!([{"type": "Complete", "status": "True", "lastTransitionTime": "2026-11-26T10:00:00Z"}]);
        assert_eq!(
            ttl_deadline(&j).unwrap().to_string(),
            "2026-11-26T10:00:30Z"
        );
    }
}
