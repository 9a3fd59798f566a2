//! A move of one service out of the monolith or back, as data: its direction and steps, the
//! record it keeps on the monolith (so a restarted console sees it), the events the executor
//! reports, and the progress a view shows. No I/O here.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::rollout::PodProblem;

/// The annotation on the monolith Deployment that records a move in progress.
pub const MOVE_ANNOTATION: &str = "hybrid-console.io/move";

/// The field manager of everything the console writes.
pub const FIELD_MANAGER: &str = "hybrid-console";

/// Which way a service goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Out of the monolith, into its own Deployment (on Linux, for the calculator).
    Extract,
    /// Back into the monolith; its own Deployment is removed.
    Return,
}

/// One step of a move (and of its rollback).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// Create (or update) the service's Deployment and Service.
    Deploy,
    /// Wait for its rollout.
    WaitService,
    /// Call it directly through its Service.
    VerifyService,
    /// Send traffic its new way: routing variables, or the front Service's selector.
    Reroute,
    /// Wait for the rerouted Deployments (or the front Service's endpoints).
    WaitReroute,
    /// Call the whole application through the front Service.
    VerifyFront,
    /// Remove the service's own Deployment and Service (when it returns).
    RemoveService,
    /// Rollback: put the routing back as it was.
    RestoreRoute,
    /// Rollback: wait for the restored Deployments.
    WaitRestore,
    /// Rollback: remove what the move created.
    RemoveCreated,
}

impl StepKind {
    /// The steps of a move, in order.
    pub fn sequence(direction: Direction) -> &'static [StepKind] {
        match direction {
            Direction::Extract => &[
                StepKind::Deploy,
                StepKind::WaitService,
                StepKind::VerifyService,
                StepKind::Reroute,
                StepKind::WaitReroute,
                StepKind::VerifyFront,
            ],
            Direction::Return => &[
                StepKind::Reroute,
                StepKind::WaitReroute,
                StepKind::VerifyFront,
                StepKind::RemoveService,
            ],
        }
    }

    /// The steps of a rollback, in order.
    pub const ROLLBACK: &'static [StepKind] = &[
        StepKind::RestoreRoute,
        StepKind::WaitRestore,
        StepKind::RemoveCreated,
    ];

    /// Whether it is a step of a rollback (never run by the forward drive).
    pub fn is_rollback(self) -> bool {
        Self::ROLLBACK.contains(&self)
    }

    /// How the step list names it.
    pub fn title(self) -> &'static str {
        match self {
            StepKind::Deploy => "Deploy",
            StepKind::WaitService => "Wait for rollout",
            StepKind::VerifyService => "Verify service",
            StepKind::Reroute => "Re-route",
            StepKind::WaitReroute => "Wait for redeploy",
            StepKind::VerifyFront => "Verify end to end",
            StepKind::RemoveService => "Remove service",
            StepKind::RestoreRoute => "Restore routing",
            StepKind::WaitRestore => "Wait for restore",
            StepKind::RemoveCreated => "Remove created objects",
        }
    }

    /// Whether traffic may already go the new way once this step has started: from here on,
    /// abort means rolling the routing back.
    pub fn routes_traffic(self) -> bool {
        matches!(
            self,
            StepKind::Reroute
                | StepKind::WaitReroute
                | StepKind::VerifyFront
                | StepKind::RemoveService
        )
    }
}

/// A Kubernetes object the move created, so a rollback removes exactly that.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `Deployment` or `Service`.
    pub kind: String,
    /// Its name (in the monolith's namespace).
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// The routing as it was before the move, so a rollback restores exactly that.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingBefore {
    /// The routing variable the move changes, when it changes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// The container that carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Per Deployment, the routing variable's value (`None`: unset).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Option<String>>,
    /// The front Service's selector, when the move changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_selector: Option<BTreeMap<String, String>>,
}

/// Whether the move goes forward or is being undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MovePhase {
    /// Going forward.
    Running,
    /// Being rolled back.
    RollingBack,
}

/// The move in progress, as recorded on the monolith (annotation [`MOVE_ANNOTATION`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoveRecord {
    /// The plan's name.
    pub plan: String,
    /// The service moving.
    pub service: String,
    /// Which way.
    pub direction: Direction,
    /// The step reached.
    pub step: StepKind,
    /// Forward or rolling back.
    pub phase: MovePhase,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Who started it (the Kubernetes user).
    pub by: String,
    /// The plan digest (objects and routing) it follows.
    pub digest: String,
    /// The image override it deploys, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// What it created.
    #[serde(default)]
    pub created: Vec<ObjectRef>,
    /// The routing before it.
    #[serde(default)]
    pub before: RoutingBefore,
}

impl MoveRecord {
    /// Reads the record from the monolith's annotations; `None` when there is none, an error
    /// when there is one that cannot be read.
    pub fn from_annotations(
        annotations: Option<&BTreeMap<String, String>>,
    ) -> Option<Result<MoveRecord, String>> {
        let text = annotations?.get(MOVE_ANNOTATION)?;
        Some(serde_json::from_str(text).map_err(|e| {
            format!("the {MOVE_ANNOTATION} annotation on the monolith cannot be read: {e}")
        }))
    }

    /// The annotation's value.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// One line for status displays: `sum: extract, step wait-service, by alice since …`.
    pub fn summary(&self) -> String {
        let verb = match self.direction {
            Direction::Extract => "out of the monolith",
            Direction::Return => "back into the monolith",
        };
        let phase = match self.phase {
            MovePhase::Running => "",
            MovePhase::RollingBack => ", rolling back",
        };
        format!(
            "moving {} {verb}: step \"{}\"{phase}, started by {} at {}",
            self.service,
            self.step.title(),
            self.by,
            self.started_at
        )
    }
}

/// How a move ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum MoveOutcome {
    /// Every step passed.
    Completed,
    /// A step failed (or the operator aborted); everything was put back as it was.
    RolledBack {
        /// The step that failed.
        step: StepKind,
        /// Why.
        reason: String,
        /// The pod that said so, when one did.
        problem: Option<PodProblem>,
        /// Its last log lines.
        logs: Option<String>,
    },
    /// The move stopped where rolling back would undo a verified change (or another console
    /// took it over); it is still recorded on the monolith, to be resumed or rolled back.
    Interrupted {
        /// The step it stopped at.
        step: StepKind,
        /// Why.
        reason: String,
    },
    /// The rollback itself could not finish: what is left, and why.
    RollbackFailed {
        /// The step that failed first.
        step: StepKind,
        /// Why the move failed.
        reason: String,
        /// Why the rollback did not finish.
        rollback_error: String,
    },
}

impl MoveOutcome {
    /// Whether the service is where the operator asked.
    pub fn completed(&self) -> bool {
        matches!(self, MoveOutcome::Completed)
    }

    /// One paragraph for people.
    pub fn describe(&self) -> String {
        match self {
            MoveOutcome::Completed => "completed".into(),
            MoveOutcome::RolledBack {
                step,
                reason,
                problem,
                logs,
            } => {
                let mut text = format!("rolled back: step \"{}\" failed: {reason}", step.title());
                if let Some(p) = problem {
                    text.push_str(&format!(
                        "\n  pod {}: {}: {}",
                        p.pod.as_deref().unwrap_or("-"),
                        p.reason,
                        p.message
                    ));
                }
                if let Some(logs) = logs.as_deref().filter(|l| !l.trim().is_empty()) {
                    text.push_str("\n  last log lines:");
                    for line in logs.lines() {
                        text.push_str("\n    ");
                        text.push_str(line);
                    }
                }
                text
            }
            MoveOutcome::Interrupted { step, reason } => format!(
                "interrupted at step \"{}\": {reason}. The move is still recorded on the monolith: finish it with hybrid-console migrate --resume, or undo it with --rollback.",
                step.title()
            ),
            MoveOutcome::RollbackFailed {
                step,
                reason,
                rollback_error,
            } => format!(
                "ROLLBACK INCOMPLETE: step \"{}\" failed ({reason}), and the rollback stopped: {rollback_error}. The move is still recorded on the monolith; run the rollback again (hybrid-console migrate --rollback) once the cause is fixed.",
                step.title()
            ),
        }
    }
}

/// Where a step stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// Not reached.
    Pending,
    /// Going on.
    Running,
    /// Passed.
    Done,
    /// Failed: why.
    Failed(String),
    /// Not needed this time (the service was already deployed, …).
    Skipped,
}

/// What the executor reports as it goes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MoveEvent {
    /// The move began (or was resumed) with these steps.
    Started {
        /// The plan.
        plan: String,
        /// The service.
        service: String,
        /// Which way.
        direction: Direction,
        /// Who.
        by: String,
        /// The steps to come.
        steps: Vec<StepKind>,
    },
    /// A step changed.
    Step {
        /// Which.
        step: StepKind,
        /// Its new state.
        state: StepState,
        /// What it is doing or did.
        detail: String,
        /// How far along (0 to 1), when known.
        fraction: Option<f32>,
    },
    /// A Kubernetes Event that explains a wait.
    Explain(String),
    /// A step failed or the operator aborted: the rollback begins.
    RollingBack {
        /// The step that failed.
        step: StepKind,
        /// Why.
        why: String,
    },
    /// The move ended.
    Finished(MoveOutcome),
}

/// One line of the step list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepProgress {
    /// Which step.
    pub step: StepKind,
    /// Where it stands.
    pub state: StepState,
    /// What it is doing or did.
    pub detail: String,
    /// 0 to 1.
    pub fraction: f32,
    /// When it started.
    #[serde(skip)]
    pub started: Option<SystemTime>,
    /// How long it took (or has taken so far, when running: see [`StepProgress::elapsed`]).
    #[serde(skip)]
    pub took: Option<Duration>,
}

impl StepProgress {
    fn new(step: StepKind) -> StepProgress {
        StepProgress {
            step,
            state: StepState::Pending,
            detail: String::new(),
            fraction: 0.0,
            started: None,
            took: None,
        }
    }

    /// Time spent in the step, as of `now`.
    pub fn elapsed(&self, now: SystemTime) -> Option<Duration> {
        self.took.or_else(|| {
            self.started
                .map(|s| now.duration_since(s).unwrap_or_default())
        })
    }
}

/// A move as a view shows it: the step list, the rollback's steps, the events that explain a
/// wait, and the outcome. Built only by applying [`MoveEvent`]s.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MoveProgress {
    /// The plan.
    pub plan: String,
    /// The service.
    pub service: String,
    /// Which way.
    pub direction: Direction,
    /// Who.
    pub by: String,
    /// When it started.
    #[serde(skip)]
    pub started: SystemTime,
    /// The forward steps.
    pub steps: Vec<StepProgress>,
    /// The rollback's steps, once it began.
    pub rollback: Vec<StepProgress>,
    /// Why the rollback began.
    pub rollback_reason: Option<String>,
    /// Kubernetes Events that explain a wait (the latest few).
    pub explanations: Vec<String>,
    /// The outcome, once finished.
    pub outcome: Option<MoveOutcome>,
}

impl MoveProgress {
    /// Progress of a move that just started.
    pub fn new(
        plan: &str,
        service: &str,
        direction: Direction,
        by: &str,
        steps: &[StepKind],
        at: SystemTime,
    ) -> MoveProgress {
        MoveProgress {
            plan: plan.to_owned(),
            service: service.to_owned(),
            direction,
            by: by.to_owned(),
            started: at,
            steps: steps.iter().copied().map(StepProgress::new).collect(),
            rollback: Vec::new(),
            rollback_reason: None,
            explanations: Vec::new(),
            outcome: None,
        }
    }

    /// Applies `event` to the progress being followed, starting it at the event that begins a
    /// move (or that resumes one whose start this console did not see).
    pub fn follow(progress: &mut Option<MoveProgress>, event: &MoveEvent, at: SystemTime) {
        match progress {
            Some(p) => p.apply(event, at),
            None => {
                let mut p = MoveProgress::new("", "", Direction::Extract, "", &[], at);
                p.apply(event, at);
                *progress = Some(p);
            }
        }
    }

    /// Applies one executor event that happened at `at`.
    pub fn apply(&mut self, event: &MoveEvent, at: SystemTime) {
        match event {
            MoveEvent::Started {
                plan,
                service,
                direction,
                by,
                steps,
            } => *self = MoveProgress::new(plan, service, *direction, by, steps, at),
            MoveEvent::Step {
                step,
                state,
                detail,
                fraction,
            } => {
                let list = if StepKind::ROLLBACK.contains(step) {
                    &mut self.rollback
                } else {
                    &mut self.steps
                };
                let line = match list.iter_mut().position(|s| s.step == *step) {
                    Some(i) => &mut list[i],
                    None => {
                        list.push(StepProgress::new(*step));
                        let last = list.len() - 1;
                        &mut list[last]
                    }
                };
                if line.started.is_none() && *state != StepState::Pending {
                    line.started = Some(at);
                }
                match state {
                    StepState::Done | StepState::Skipped => {
                        line.fraction = 1.0;
                        line.took = line
                            .started
                            .map(|s| at.duration_since(s).unwrap_or_default());
                    }
                    StepState::Failed(_) => {
                        line.took = line
                            .started
                            .map(|s| at.duration_since(s).unwrap_or_default());
                    }
                    _ => {}
                }
                if let Some(f) = fraction {
                    line.fraction = f.clamp(0.0, 1.0);
                }
                line.state = state.clone();
                if !detail.is_empty() {
                    line.detail = detail.clone();
                }
            }
            MoveEvent::Explain(text) => {
                if self.explanations.last() != Some(text) {
                    self.explanations.push(text.clone());
                }
                let excess = self.explanations.len().saturating_sub(8);
                self.explanations.drain(..excess);
            }
            MoveEvent::RollingBack { why, .. } => {
                self.rollback_reason = Some(why.clone());
                if self.rollback.is_empty() {
                    self.rollback = StepKind::ROLLBACK
                        .iter()
                        .copied()
                        .map(StepProgress::new)
                        .collect();
                }
            }
            MoveEvent::Finished(outcome) => self.outcome = Some(outcome.clone()),
        }
    }

    /// Whether it is over.
    pub fn finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// The step going on now.
    pub fn current(&self) -> Option<&StepProgress> {
        self.rollback
            .iter()
            .chain(self.steps.iter())
            .find(|s| s.state == StepState::Running)
    }

    /// Whether traffic may already go the new way (abort then means "roll back now").
    pub fn past_reroute(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.step.routes_traffic() && s.state != StepState::Pending)
    }
}

/// The line a CLI prints for an event (`[+3.2s] wait-service: 1 of 2 updated replicas…`).
pub fn event_line(event: &MoveEvent) -> Option<String> {
    match event {
        MoveEvent::Started {
            service,
            direction,
            by,
            ..
        } => Some(format!(
            "moving {service} {} (as {by})",
            match direction {
                Direction::Extract => "out of the monolith",
                Direction::Return => "back into the monolith",
            }
        )),
        MoveEvent::Step {
            step,
            state,
            detail,
            ..
        } => {
            let state = match state {
                StepState::Pending => return None,
                StepState::Running => "…",
                StepState::Done => "done",
                StepState::Skipped => "skipped",
                StepState::Failed(why) => return Some(format!("{}: FAILED: {why}", step.title())),
            };
            Some(if detail.is_empty() {
                format!("{}: {state}", step.title())
            } else {
                format!("{}: {state} {detail}", step.title())
            })
        }
        MoveEvent::Explain(text) => Some(format!("  event: {text}")),
        MoveEvent::RollingBack { step, why } => {
            Some(format!("rolling back after \"{}\": {why}", step.title()))
        }
        MoveEvent::Finished(outcome) => Some(outcome.describe()),
    }
}

/// The two stages of retiring the monolith.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetireStage {
    /// Scale its Deployment to zero replicas.
    ScaleToZero,
    /// Delete its Deployment and Service (once at zero).
    Delete,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_through_its_annotation() {
        let record = MoveRecord {
            plan: "calculator".into(),
            service: "sum".into(),
            direction: Direction::Extract,
            step: StepKind::WaitService,
            phase: MovePhase::Running,
            started_at: "2026-11-26T12:00:00Z".into(),
            by: "alice".into(),
            digest: "sha256:00".into(),
            image: None,
            created: vec![ObjectRef {
                kind: "Deployment".into(),
                name: "sum-service".into(),
            }],
            before: RoutingBefore {
                variable: Some("SUM_SERVICE_URL".into()),
                container: Some("calculator".into()),
                variables: BTreeMap::from([("monolith".to_owned(), None)]),
                front_selector: None,
            },
        };
        let annotations = BTreeMap::from([(MOVE_ANNOTATION.to_owned(), record.to_annotation())]);
        assert_eq!(
            MoveRecord::from_annotations(Some(&annotations)),
            Some(Ok(record.clone()))
        );
        assert_eq!(MoveRecord::from_annotations(Some(&BTreeMap::new())), None);
        let broken = BTreeMap::from([(MOVE_ANNOTATION.to_owned(), "{".to_owned())]);
        assert!(matches!(
            MoveRecord::from_annotations(Some(&broken)),
            Some(Err(_))
        ));
        assert_eq!(
            record.summary(),
            "moving sum out of the monolith: step \"Wait for rollout\", started by alice at 2026-11-26T12:00:00Z"
        );
    }

    #[test]
    fn progress_follows_the_events_including_a_rollback() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut progress =
            MoveProgress::new("calculator", "sum", Direction::Extract, "alice", &[], t0);
        let events = [
            MoveEvent::Started {
                plan: "calculator".into(),
                service: "sum".into(),
                direction: Direction::Extract,
                by: "alice".into(),
                steps: StepKind::sequence(Direction::Extract).to_vec(),
            },
            MoveEvent::Step {
                step: StepKind::Deploy,
                state: StepState::Running,
                detail: String::new(),
                fraction: None,
            },
            MoveEvent::Step {
                step: StepKind::Deploy,
                state: StepState::Done,
                detail: "created".into(),
                fraction: None,
            },
            MoveEvent::Step {
                step: StepKind::WaitService,
                state: StepState::Running,
                detail: "1 of 2".into(),
                fraction: Some(0.5),
            },
            MoveEvent::Explain("Pulling image".into()),
            MoveEvent::Explain("Pulling image".into()),
            MoveEvent::Step {
                step: StepKind::WaitService,
                state: StepState::Failed("ErrImagePull".into()),
                detail: String::new(),
                fraction: None,
            },
            MoveEvent::RollingBack {
                step: StepKind::WaitService,
                why: "ErrImagePull".into(),
            },
            MoveEvent::Step {
                step: StepKind::RemoveCreated,
                state: StepState::Done,
                detail: String::new(),
                fraction: None,
            },
        ];
        for (i, e) in events.iter().enumerate() {
            progress.apply(e, at(i as u64));
        }
        assert_eq!(progress.steps.len(), 6);
        assert_eq!(progress.steps[0].state, StepState::Done);
        assert_eq!(progress.steps[0].took, Some(Duration::from_secs(1)));
        assert_eq!(progress.steps[1].fraction, 0.5);
        assert_eq!(progress.steps[1].detail, "1 of 2");
        assert!(matches!(progress.steps[1].state, StepState::Failed(_)));
        assert_eq!(progress.explanations, ["Pulling image"], "repeats collapse");
        assert_eq!(progress.rollback.len(), 3);
        assert_eq!(progress.rollback[2].state, StepState::Done);
        assert!(!progress.past_reroute());
        assert!(!progress.finished());
        progress.apply(&MoveEvent::Finished(MoveOutcome::Completed), at(20));
        assert!(progress.finished());
    }
}
