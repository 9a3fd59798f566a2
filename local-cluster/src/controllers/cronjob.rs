//! The CronJob controller: at each time the schedule names (standard five-field cron, in UTC),
//! a Job from the template, named `<cronjob>-<minutes since the epoch>` as the real controller
//! names it; `concurrencyPolicy` Allow, Forbid (skip while one runs) or Replace (delete the
//! running one first); `startingDeadlineSeconds` (a start missed by more is skipped);
//! `suspend`; the successful and failed Job history limits. Looked at on every change to a
//! CronJob or one of its Jobs, and again at the next time its schedule names.
//!
//! When a run is due is decided by [`due`], a pure function of the schedule and the clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::job::finished;
use super::runtime::{Action, Context, Controller, Reconciled};
use super::{ObjectRef, controlled_by, owner_reference};
use crate::errors::ApiError;
use crate::events::{EventRecorder, EventType};
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources;
use crate::schedule::{parse_schedule, time_zone};

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    Controller::new(registry, resources::cronjobs(), "cronjob-controller")
        .owns(resources::jobs())
        .run(reconcile)
        .tasks
}

/// The latest time the schedule names, read as wall-clock time in `zone`, after `after` and no
/// later than `now`, if any. Gives up after 100 missed times, as the real controller does, and
/// takes the latest of those.
pub fn due(
    schedule: &Cron,
    zone: Tz,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let (after, now) = (after.with_timezone(&zone), now.with_timezone(&zone));
    let mut latest = None;
    let mut from = after;
    for _ in 0..100 {
        match schedule.find_next_occurrence(&from, false) {
            Ok(next) if next <= now => {
                latest = Some(next);
                from = next;
            }
            _ => return latest.map(|t| t.with_timezone(&Utc)),
        }
    }
    // More than 100 missed: start from the most recent one before now.
    schedule
        .find_previous_occurrence(&now, true)
        .ok()
        .filter(|t| *t > after)
        .or(latest)
        .map(|t| t.with_timezone(&Utc))
}

fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str()?.parse::<DateTime<Utc>>().ok()
}

fn reconcile(context: &Context, (namespace, name): &ObjectRef, cronjob: &Value) -> Reconciled {
    let (registry, recorder) = (context.registry.as_ref(), &context.recorder);
    let kind = resources::cronjobs();
    let cronjob = cronjob.clone();
    if cronjob["metadata"]["deletionTimestamp"].is_string() {
        return Ok(Action::await_change());
    }
    let uid = cronjob["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let spec = &cronjob["spec"];
    let jobs = controlled_by(registry, resources::jobs(), namespace, &uid);
    let (mut active, done): (Vec<&Value>, Vec<&Value>) =
        jobs.iter().partition(|job| finished(job).is_none());
    prune_history(registry, namespace, spec, &done)?;

    let now = Utc::now();
    let mut scheduled = timestamp(&cronjob["status"]["lastScheduleTime"]);
    let schedule = parse_schedule(spec["schedule"].as_str().unwrap_or_default()).ok();
    // Validation refuses an unknown zone; one stored before that rule runs in UTC.
    let zone = time_zone(spec).unwrap_or(Tz::UTC);
    if spec["suspend"] != true
        && let Some(schedule) = &schedule
    {
        let after = scheduled
            .or_else(|| timestamp(&cronjob["metadata"]["creationTimestamp"]))
            .unwrap_or(now);
        if let Some(at) = due(schedule, zone, after, now) {
            let late = (now - at).num_seconds();
            let deadline = spec["startingDeadlineSeconds"].as_i64();
            let policy = spec["concurrencyPolicy"].as_str().unwrap_or("Allow");
            if deadline.is_some_and(|d| late > d) {
                recorder.record(
                    kind,
                    &cronjob,
                    EventType::Warning,
                    "MissSchedule",
                    &format!("Missed scheduled time to start a job: {}", at.to_rfc3339()),
                    None,
                );
                scheduled = Some(at);
            } else if policy == "Forbid" && !active.is_empty() {
                // Not this time; the next tick looks again.
            } else {
                if policy == "Replace" {
                    for job in active.drain(..) {
                        let job_name = job["metadata"]["name"].as_str().unwrap_or_default();
                        match registry.delete(
                            resources::jobs(),
                            namespace,
                            job_name,
                            &DeleteOptions {
                                propagation_policy: Some("Background".into()),
                                ..DeleteOptions::default()
                            },
                        ) {
                            Err(e) if e.code != 404 => return Err(e),
                            _ => {}
                        }
                        recorder.record(
                            kind,
                            &cronjob,
                            EventType::Normal,
                            "SuccessfulDelete",
                            &format!("Deleted job {job_name}"),
                            None,
                        );
                    }
                }
                create_job(registry, recorder, &cronjob, namespace, name, at)?;
                scheduled = Some(at);
            }
        }
    }
    let last_success = done
        .iter()
        .filter(|job| finished(job) == Some("Complete"))
        .filter_map(|job| timestamp(&job["status"]["completionTime"]))
        .max();
    // The Jobs that run now, as references (a Job made this round is found next round).
    let active_refs: Vec<Value> = controlled_by(registry, resources::jobs(), namespace, &uid)
        .into_iter()
        .filter(|job| finished(job).is_none())
        .map(|job| {
            json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "name": job["metadata"]["name"], "namespace": namespace,
                "uid": job["metadata"]["uid"], "resourceVersion": job["metadata"]["resourceVersion"],
            })
        })
        .collect();
    registry.update_with(
        kind,
        namespace,
        name,
        Part::Status,
        &WriteOptions::default(),
        |old| {
            let mut next = old.clone();
            let mut status = json!({});
            if !active_refs.is_empty() {
                status["active"] = json!(active_refs);
            }
            if let Some(at) = scheduled {
                status["lastScheduleTime"] = json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            }
            if let Some(at) = last_success {
                status["lastSuccessfulTime"] = json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            }
            next["status"] = status;
            Ok(next)
        },
    )?;
    // Look again at the next time the schedule names (a change to the CronJob or its Jobs
    // brings it back sooner).
    let next = schedule.filter(|_| spec["suspend"] != true).and_then(|s| {
        s.find_next_occurrence(&Utc::now().with_timezone(&zone), false)
            .ok()
    });
    Ok(match next {
        Some(at) => Action::requeue(
            (at.with_timezone(&Utc) - Utc::now())
                .to_std()
                .unwrap_or_default()
                .saturating_add(Duration::from_millis(10)),
        ),
        None => Action::await_change(),
    })
}

fn create_job(
    registry: &Registry,
    recorder: &EventRecorder,
    cronjob: &Value,
    namespace: &str,
    name: &str,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let template = &cronjob["spec"]["jobTemplate"];
    let job_name = format!("{name}-{}", at.timestamp() / 60);
    let mut annotations = template["metadata"]["annotations"].clone();
    if !annotations.is_object() {
        annotations = json!({});
    }
    annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = json!(at.to_rfc3339());
    let job = json!({
        "metadata": {
            "name": job_name,
            "namespace": namespace,
            "labels": template["metadata"]["labels"],
            "annotations": annotations,
            "ownerReferences": [owner_reference(resources::cronjobs(), cronjob)],
        },
        "spec": template["spec"],
    });
    match registry.create(resources::jobs(), namespace, job, &WriteOptions::default()) {
        Ok(_) => {
            recorder.record(
                resources::cronjobs(),
                cronjob,
                EventType::Normal,
                "SuccessfulCreate",
                &format!("Created job {job_name}"),
                None,
            );
            Ok(())
        }
        // Made already (this minute's run, seen again).
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => {
            recorder.record(
                resources::cronjobs(),
                cronjob,
                EventType::Warning,
                "FailedCreate",
                &format!("Error creating job: {}", e.message),
                None,
            );
            Err(e)
        }
    }
}

/// Deletes the oldest finished Jobs beyond the history limits (3 successful, 1 failed).
fn prune_history(
    registry: &Registry,
    namespace: &str,
    spec: &Value,
    done: &[&Value],
) -> Result<(), ApiError> {
    for (kind_of, limit) in [
        (
            "Complete",
            spec["successfulJobsHistoryLimit"].as_u64().unwrap_or(3),
        ),
        (
            "Failed",
            spec["failedJobsHistoryLimit"].as_u64().unwrap_or(1),
        ),
    ] {
        let mut finished_jobs: Vec<&&Value> = done
            .iter()
            .filter(|job| finished(job) == Some(kind_of))
            .collect();
        finished_jobs.sort_by_key(|job| {
            job["status"]["startTime"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        });
        let surplus = finished_jobs.len().saturating_sub(limit as usize);
        for job in finished_jobs.into_iter().take(surplus) {
            match registry.delete(
                resources::jobs(),
                namespace,
                job["metadata"]["name"].as_str().unwrap_or_default(),
                &DeleteOptions {
                    propagation_policy: Some("Background".into()),
                    ..DeleteOptions::default()
                },
            ) {
                Err(e) if e.code != 404 => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn the_latest_scheduled_time_not_after_now_is_due() {
        let every_five = parse_schedule("*/5 * * * *").unwrap();
        assert_eq!(
            due(
                &every_five,
                Tz::UTC,
                at("2026-11-26T10:00:00Z"),
                at("2026-11-26T10:04:59Z")
            ),
            None
        );
        assert_eq!(
            due(
                &every_five,
                Tz::UTC,
                at("2026-11-26T10:00:00Z"),
                at("2026-11-26T10:05:00Z")
            ),
            Some(at("2026-11-26T10:05:00Z"))
        );
        // Missed runs: only the latest is made.
        assert_eq!(
            due(
                &every_five,
                Tz::UTC,
                at("2026-11-26T10:00:00Z"),
                at("2026-11-26T10:17:00Z")
            ),
            Some(at("2026-11-26T10:15:00Z"))
        );
        // Far behind (more than 100 missed): still the latest.
        let minutely = parse_schedule("* * * * *").unwrap();
        assert_eq!(
            due(
                &minutely,
                Tz::UTC,
                at("2026-11-20T00:00:00Z"),
                at("2026-11-26T10:17:30Z")
            ),
            Some(at("2026-11-26T10:17:00Z"))
        );
    }

    #[test]
    fn a_named_zone_reads_the_schedule_in_its_wall_clock_time() {
        let nine = parse_schedule("0 9 * * *").unwrap();
        let new_york = time_zone(&serde_json::json!({"timeZone": "America/New_York"})).unwrap();
        // 09:00 in New York is 14:00 UTC in winter (EST) and 13:00 UTC in summer (EDT).
        assert_eq!(
            due(
                &nine,
                new_york,
                at("2026-01-15T12:00:00Z"),
                at("2026-01-15T14:30:00Z")
            ),
            Some(at("2026-01-15T14:00:00Z"))
        );
        assert_eq!(
            due(
                &nine,
                new_york,
                at("2026-07-15T12:00:00Z"),
                at("2026-07-15T13:30:00Z")
            ),
            Some(at("2026-07-15T13:00:00Z"))
        );
        assert_eq!(time_zone(&serde_json::json!({})).unwrap(), Tz::UTC);
        assert_eq!(
            time_zone(&serde_json::json!({"timeZone": "Mars/Olympus_Mons"})).unwrap_err(),
            "unknown time zone Mars/Olympus_Mons"
        );
    }

    #[test]
    fn schedules_are_five_fields_or_a_descriptor() {
        assert!(parse_schedule("0 3 * * MON-FRI").is_ok());
        assert!(parse_schedule("@hourly").is_ok());
        assert!(
            parse_schedule("*/10 * * * * *")
                .unwrap_err()
                .contains("exactly 5 fields")
        );
        assert!(parse_schedule("61 * * * *").is_err());
    }
}
