//! A move as it runs: the events the executor reports, the outcome it ends with, and the step
//! list built from them (what the window's move panel and the CLI's progress lines show).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::analysis::Window;
use super::moves::{Direction, StepKind};
use super::rollout::PodProblem;

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
        /// Each step's share of the traffic, for a progressive move's (in step order; empty
        /// for a move that switches at once).
        shares: Vec<Option<u8>>,
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
    /// A judged step's figures at one reading (a progressive move's, every second).
    Figures(Box<StepFigures>),
    /// The move ended.
    Finished(MoveOutcome),
}

/// A judged step's figures at one reading: the window since the step began.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepFigures {
    /// The step.
    pub step: StepKind,
    /// The service's share at that step.
    pub share: Option<u8>,
    /// Seconds since the step's window began.
    pub seconds: f64,
    /// Its figures.
    pub window: Window,
    /// What the step still waits for, in words (empty once judged).
    pub waiting_for: String,
    /// The first shadow mismatches in full (inputs and both answers), once there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
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
    /// The service's share of the traffic at this step, for a progressive move's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<u8>,
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
            share: None,
            started: None,
            took: None,
        }
    }

    /// How the step list names it: its title, with the share at a canary step
    /// (`Canary 10 %`).
    pub fn label(&self) -> String {
        match (self.step, self.share) {
            (StepKind::Canary, Some(share)) => format!("{} {share} %", self.step.title()),
            _ => self.step.title().to_owned(),
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
    /// A progressive move's judged readings, oldest first (the latest [`FIGURES_KEPT`]).
    pub figures: Vec<StepFigures>,
}

/// How many readings a progressive move's progress keeps for its charts (an hour at one a
/// second).
pub const FIGURES_KEPT: usize = 3600;

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
            figures: Vec::new(),
        }
    }

    /// Gives the steps their shares (a progressive move's), in step order.
    pub fn set_shares(&mut self, shares: &[Option<u8>]) {
        for (line, share) in self.steps.iter_mut().zip(shares) {
            line.share = *share;
        }
    }

    /// Whether it is a progressive move (one with shared steps).
    pub fn progressive(&self) -> bool {
        self.steps.iter().any(|s| s.share.is_some())
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
                shares,
            } => {
                *self = MoveProgress::new(plan, service, *direction, by, steps, at);
                self.set_shares(shares);
            }
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
                // A step may come more than once (a progressive move's canary steps): the
                // event is the first one's not yet over.
                let over = |s: &StepProgress| {
                    matches!(
                        s.state,
                        StepState::Done | StepState::Skipped | StepState::Failed(_)
                    )
                };
                let at_line = list
                    .iter()
                    .position(|s| s.step == *step && !over(s))
                    .or_else(|| list.iter().rposition(|s| s.step == *step));
                let line = match at_line {
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
            MoveEvent::Figures(figures) => {
                self.figures.push((**figures).clone());
                let excess = self.figures.len().saturating_sub(FIGURES_KEPT);
                self.figures.drain(..excess);
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
        // The step's progress line carries the same figures.
        MoveEvent::Figures(_) => None,
        MoveEvent::Finished(outcome) => Some(outcome.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                shares: Vec::new(),
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

    #[test]
    fn a_progressive_move_s_canary_steps_are_followed_one_after_the_other() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut progress = None;
        let steps = vec![
            StepKind::Shadow,
            StepKind::Canary,
            StepKind::Canary,
            StepKind::Full,
        ];
        let step = |step, state| MoveEvent::Step {
            step,
            state,
            detail: String::new(),
            fraction: None,
        };
        let figures = |share| {
            MoveEvent::Figures(Box::new(StepFigures {
                step: StepKind::Canary,
                share: Some(share),
                seconds: 1.0,
                window: Window::default(),
                waiting_for: "1 of 30 s held".into(),
                mismatches: Vec::new(),
            }))
        };
        for event in [
            MoveEvent::Started {
                plan: "calculator".into(),
                service: "sum".into(),
                direction: Direction::Extract,
                by: "alice".into(),
                steps,
                shares: vec![Some(0), Some(10), Some(50), Some(100)],
            },
            step(StepKind::Shadow, StepState::Done),
            step(StepKind::Canary, StepState::Running),
            figures(10),
            step(StepKind::Canary, StepState::Done),
            step(StepKind::Canary, StepState::Running),
            figures(50),
        ] {
            MoveProgress::follow(&mut progress, &event, t0);
        }
        let progress = progress.unwrap();
        assert!(progress.progressive());
        let lines: Vec<(String, StepState)> = progress
            .steps
            .iter()
            .map(|s| (s.label(), s.state.clone()))
            .collect();
        assert_eq!(
            lines,
            [
                ("Shadow and compare".to_owned(), StepState::Done),
                ("Canary 10 %".to_owned(), StepState::Done),
                ("Canary 50 %".to_owned(), StepState::Running),
                ("All traffic".to_owned(), StepState::Pending),
            ]
        );
        let shares: Vec<Option<u8>> = progress.figures.iter().map(|f| f.share).collect();
        assert_eq!(shares, [Some(10), Some(50)]);
    }
}
