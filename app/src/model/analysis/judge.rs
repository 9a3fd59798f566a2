//! Judging a step of a progressive move by its window's figures: a shadow step passes after
//! enough answers compared alike, a canary step after its hold with the service's error rate and
//! p99 within the plan's allowances over the monolith's own; any breach names the number, its
//! value and the limit it broke.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::window::Window;

/// How far the service may fall behind the monolith (a plan's `analysis.thresholds`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Thresholds {
    /// Mismatches a shadow step tolerates (0: the first one stops the move).
    pub max_mismatches: u64,
    /// Percentage points by which the service's error rate may exceed the monolith's.
    pub max_error_rate_increase: f64,
    /// Milliseconds by which the service's p99 may exceed the monolith's.
    pub max_p99_increase_ms: f64,
    /// Fewest service answers before a window's rates are judged (fewer prove nothing).
    pub min_answers: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_mismatches: 0,
            max_error_rate_increase: 1.0,
            max_p99_increase_ms: 100.0,
            min_answers: 20,
        }
    }
}

/// The steps of a progressive move (a plan's `analysis`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Progression {
    /// Answers a shadow step compares before it passes.
    pub shadow_requests: u64,
    /// The longest a shadow step waits for them; after it, the step passes with what was
    /// compared if that is at least `thresholds.min_answers`.
    pub shadow_seconds: u64,
    /// The service's shares, in order, before 100 %.
    pub weights: Vec<u8>,
    /// How long each share is held and judged.
    pub hold_seconds: u64,
    /// How long 100 % is watched before the move is done.
    pub settle_seconds: u64,
    /// The allowances.
    pub thresholds: Thresholds,
}

impl Default for Progression {
    fn default() -> Self {
        Progression {
            shadow_requests: 200,
            shadow_seconds: 120,
            weights: vec![10, 50],
            hold_seconds: 30,
            settle_seconds: 10,
            thresholds: Thresholds::default(),
        }
    }
}

/// Which number broke its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Number {
    /// Shadow answers that differed.
    Mismatches,
    /// The service's error rate.
    ErrorRate,
    /// The service's 99th percentile latency.
    P99,
    /// Mirrored requests the service answered, where the gateway was to copy them.
    Copies,
}

/// A number past its limit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breach {
    /// Which number.
    pub number: Number,
    /// Its value in the window.
    pub measured: f64,
    /// The most it was allowed.
    pub limit: f64,
    /// The monolith's own value it was judged against, where there is one.
    pub monolith: Option<f64>,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.number {
            Number::Mismatches => write!(
                f,
                "{} shadow answers differed from the monolith's (at most {} allowed)",
                self.measured, self.limit
            ),
            Number::ErrorRate => write!(
                f,
                "the service's error rate {:.1} % is above its limit {:.1} % (the monolith's {:.1} % + the plan's allowance)",
                self.measured,
                self.limit,
                self.monolith.unwrap_or_default()
            ),
            Number::P99 => write!(
                f,
                "the service's p99 {:.1} ms is above its limit {:.1} ms (the monolith's {:.1} ms + the plan's allowance)",
                self.measured,
                self.limit,
                self.monolith.unwrap_or_default()
            ),
            Number::Copies => write!(
                f,
                "no mirrored request reached the service while the monolith answered {}: the gateway does not copy requests (RequestMirror); move inside the monolith to compare answers, or without a shadow step",
                self.monolith.unwrap_or_default()
            ),
        }
    }
}

/// Where a step stands after a reading.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum StepState {
    /// Keep going: the step has not proven itself yet.
    Running {
        /// What it waits for, in words (`143 of 200 compared`).
        waiting_for: String,
    },
    /// The step has proven itself; on to the next.
    Passed,
    /// A number broke its limit: roll back.
    Breached(Breach),
}

impl Thresholds {
    /// The service's figures against the monolith's (error rate, then p99), once the service
    /// has answered enough to judge.
    fn breach(&self, window: &Window, service: &super::window::RouteFigures) -> Option<Breach> {
        if service.answered < self.min_answers {
            return None;
        }
        let theirs = window.monolith.error_rate();
        let limit = theirs + self.max_error_rate_increase;
        if service.error_rate() > limit {
            return Some(Breach {
                number: Number::ErrorRate,
                measured: service.error_rate(),
                limit,
                monolith: Some(theirs),
            });
        }
        if let Some(p99) = service.p99_ms {
            let theirs = window.monolith.p99_ms.unwrap_or(0.0);
            let limit = theirs + self.max_p99_increase_ms;
            if p99 > limit {
                return Some(Breach {
                    number: Number::P99,
                    measured: p99,
                    limit,
                    monolith: Some(theirs),
                });
            }
        }
        None
    }
}

impl Progression {
    /// A shadow step after `elapsed`, with `window` since it began: mismatches beyond the
    /// allowance or failing shadow calls breach it; enough answers compared pass it.
    pub fn shadow(&self, window: &Window, elapsed: Duration) -> StepState {
        let limits = &self.thresholds;
        let comparisons = &window.comparisons;
        if comparisons.mismatched > limits.max_mismatches {
            return StepState::Breached(Breach {
                number: Number::Mismatches,
                measured: comparisons.mismatched as f64,
                limit: limits.max_mismatches as f64,
                monolith: None,
            });
        }
        if let Some(breach) = limits.breach(window, &window.shadow_calls) {
            return StepState::Breached(breach);
        }
        let compared = comparisons.compared();
        let timed_out = elapsed >= Duration::from_secs(self.shadow_seconds);
        if compared >= self.shadow_requests || (timed_out && compared >= limits.min_answers) {
            StepState::Passed
        } else {
            StepState::Running {
                waiting_for: format!(
                    "{compared} of {} answers compared{}",
                    self.shadow_requests,
                    if timed_out {
                        format!(
                            " (past {} s; at least {} needed)",
                            self.shadow_seconds, limits.min_answers
                        )
                    } else {
                        String::new()
                    }
                ),
            }
        }
    }

    /// A shadow step at the edge, where the requests are mirrored to the service and its
    /// answers are not compared (the gateway drops them): breached by the service's own error
    /// rate or p99 on the copies against the monolith's on the originals; passed after enough
    /// copies answered.
    pub fn mirror(&self, window: &Window, elapsed: Duration) -> StepState {
        let limits = &self.thresholds;
        if let Some(breach) = limits.breach(window, &window.service) {
            return StepState::Breached(breach);
        }
        let answered = window.service.answered;
        let timed_out = elapsed >= Duration::from_secs(self.shadow_seconds);
        if answered >= self.shadow_requests || (timed_out && answered >= limits.min_answers) {
            StepState::Passed
        } else if timed_out && answered == 0 && window.monolith.answered >= limits.min_answers {
            // Traffic came and no copy of it: waiting longer would not change that.
            StepState::Breached(Breach {
                number: Number::Copies,
                measured: 0.0,
                limit: limits.min_answers as f64,
                monolith: Some(window.monolith.answered as f64),
            })
        } else {
            StepState::Running {
                waiting_for: format!(
                    "{answered} of {} mirrored requests answered by the service",
                    self.shadow_requests
                ),
            }
        }
    }

    /// A canary step (or 100 % settling, with `hold` the settle time) after `elapsed`: breached
    /// as soon as a number is past its limit; passed once held for `hold` with enough answers.
    pub fn canary(&self, window: &Window, elapsed: Duration, hold: Duration) -> StepState {
        let limits = &self.thresholds;
        if let Some(breach) = limits.breach(window, &window.service) {
            return StepState::Breached(breach);
        }
        let answered = window.service.answered;
        if elapsed >= hold && answered >= limits.min_answers {
            StepState::Passed
        } else if elapsed < hold {
            StepState::Running {
                waiting_for: format!(
                    "{} of {} s held, {answered} answers by the service",
                    elapsed.as_secs(),
                    hold.as_secs()
                ),
            }
        } else {
            StepState::Running {
                waiting_for: format!(
                    "{answered} of at least {} answers by the service",
                    limits.min_answers
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::window::{ComparisonFigures, RouteFigures};
    use super::*;

    fn figures(answered: u64, failed: u64, p99_ms: f64) -> RouteFigures {
        RouteFigures {
            answered,
            failed,
            rejected: 0,
            p50_ms: Some(p99_ms / 2.0),
            p99_ms: Some(p99_ms),
        }
    }

    #[test]
    fn a_shadow_passes_after_enough_alike_answers_and_stops_at_the_first_mismatch() {
        let plan = Progression::default();
        let mut window = Window {
            comparisons: ComparisonFigures {
                matched: 150,
                ..ComparisonFigures::default()
            },
            ..Window::default()
        };
        let state = plan.shadow(&window, Duration::from_secs(10));
        assert_eq!(
            state,
            StepState::Running {
                waiting_for: "150 of 200 answers compared".into()
            }
        );
        window.comparisons.matched = 200;
        assert_eq!(
            plan.shadow(&window, Duration::from_secs(10)),
            StepState::Passed
        );
        window.comparisons.mismatched = 1;
        let StepState::Breached(breach) = plan.shadow(&window, Duration::from_secs(10)) else {
            panic!("a mismatch must breach");
        };
        assert_eq!(breach.number, Number::Mismatches);
        assert_eq!(
            breach.to_string(),
            "1 shadow answers differed from the monolith's (at most 0 allowed)"
        );
    }

    #[test]
    fn a_quiet_shadow_passes_at_its_time_only_with_enough_answers() {
        let plan = Progression::default();
        let mut window = Window::default();
        window.comparisons.matched = 5;
        let late = Duration::from_secs(121);
        assert!(matches!(
            plan.shadow(&window, late),
            StepState::Running { .. }
        ));
        window.comparisons.matched = 20;
        assert_eq!(plan.shadow(&window, late), StepState::Passed);
    }

    #[test]
    fn a_canary_breaks_on_error_rate_or_p99_against_the_monolith_s_own() {
        let plan = Progression::default();
        let window = Window {
            monolith: figures(900, 0, 2.0),
            service: figures(100, 5, 3.0),
            ..Window::default()
        };
        let StepState::Breached(breach) =
            plan.canary(&window, Duration::from_secs(5), Duration::from_secs(30))
        else {
            panic!("5 % errors against 0 % must breach");
        };
        assert_eq!(
            (breach.number, breach.measured, breach.limit),
            (Number::ErrorRate, 5.0, 1.0)
        );
        assert!(
            breach
                .to_string()
                .contains("error rate 5.0 % is above its limit 1.0 %"),
            "{breach}"
        );

        let slow = Window {
            monolith: figures(900, 0, 2.0),
            service: figures(100, 0, 250.0),
            ..Window::default()
        };
        let StepState::Breached(breach) =
            plan.canary(&slow, Duration::from_secs(5), Duration::from_secs(30))
        else {
            panic!("a p99 250 ms against 2 ms must breach");
        };
        assert_eq!((breach.number, breach.limit), (Number::P99, 102.0));
    }

    #[test]
    fn a_canary_passes_after_its_hold_with_enough_answers_and_too_few_prove_nothing() {
        let plan = Progression::default();
        let hold = Duration::from_secs(30);
        let good = Window {
            monolith: figures(900, 1, 2.0),
            service: figures(100, 1, 3.0),
            ..Window::default()
        };
        assert!(matches!(
            plan.canary(&good, Duration::from_secs(10), hold),
            StepState::Running { .. }
        ));
        assert_eq!(plan.canary(&good, hold, hold), StepState::Passed);
        // One failure in three answers is 33 %, but three answers prove nothing yet.
        let few = Window {
            service: figures(3, 1, 3.0),
            ..Window::default()
        };
        assert_eq!(
            plan.canary(&few, hold, hold),
            StepState::Running {
                waiting_for: "3 of at least 20 answers by the service".into()
            }
        );
    }

    #[test]
    fn a_plan_names_only_what_it_changes() {
        let plan: Progression =
            serde_yaml::from_str("weights: [5, 25, 50]\nthresholds: {maxErrorRateIncrease: 0.5}\n")
                .unwrap();
        assert_eq!(plan.weights, vec![5, 25, 50]);
        assert_eq!(plan.thresholds.max_error_rate_increase, 0.5);
        assert_eq!(plan.thresholds.min_answers, 20);
        assert_eq!(plan.hold_seconds, 30);
        let error = serde_yaml::from_str::<Progression>("weight: [5]").unwrap_err();
        assert!(
            error.to_string().contains("unknown field `weight`"),
            "{error}"
        );
    }

    #[test]
    fn a_mirror_at_the_edge_is_judged_by_the_service_s_own_answers() {
        let plan = Progression {
            shadow_requests: 50,
            ..Progression::default()
        };
        let mut window = Window {
            monolith: figures(100, 0, 5.0),
            service: figures(30, 0, 8.0),
            ..Window::default()
        };
        assert!(matches!(
            plan.mirror(&window, Duration::from_secs(5)),
            StepState::Running { .. }
        ));
        window.service = figures(50, 0, 8.0);
        assert_eq!(
            plan.mirror(&window, Duration::from_secs(5)),
            StepState::Passed
        );
        // Copies that fail breach it, though no answer is compared.
        window.service = figures(50, 5, 8.0);
        let StepState::Breached(breach) = plan.mirror(&window, Duration::from_secs(5)) else {
            panic!("not breached");
        };
        assert_eq!(breach.number, Number::ErrorRate);
        // No copy at all while traffic came: the gateway does not mirror; said once the shadow
        // time is up, not before.
        window.service = figures(0, 0, 0.0);
        assert!(matches!(
            plan.mirror(&window, Duration::from_secs(60)),
            StepState::Running { .. }
        ));
        let StepState::Breached(breach) = plan.mirror(&window, Duration::from_secs(120)) else {
            panic!("not breached");
        };
        assert_eq!(breach.number, Number::Copies);
        assert!(breach.to_string().contains("answered 100"), "{breach}");
    }
}
