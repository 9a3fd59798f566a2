//! The HorizontalPodAutoscaler's arithmetic, as the real controller does it: the replica count a
//! metric asks for (with its 10 % tolerance), stabilized over the behavior's windows (the
//! highest recommendation of the scale-down window, the lowest of the scale-up window), limited
//! by the scaling policies, and kept within `minReplicas`…`maxReplicas`. Pure, so each rule is
//! tested on its own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The real controller's tolerance: a usage within 10 % of the target changes nothing.
pub const TOLERANCE: f64 = 0.1;

/// The replicas `current` pods should become when they use `utilization` % of their requests
/// and the target is `target` %.
pub fn by_utilization(current: i64, utilization: i64, target: i64) -> i64 {
    if current == 0 || target <= 0 {
        return current;
    }
    let ratio = utilization as f64 / target as f64;
    if (ratio - 1.0).abs() <= TOLERANCE {
        return current;
    }
    (ratio * current as f64).ceil() as i64
}

/// One direction's behavior: how long recommendations are remembered, and how far one step
/// may go.
#[derive(Clone, Debug, PartialEq)]
pub struct Direction {
    /// The stabilization window.
    pub window: Duration,
    /// `(type, value, period)` policies: `Pods` or `Percent`.
    pub policies: Vec<(String, i64, Duration)>,
    /// `Max` (the policy allowing the most change), `Min`, or `Disabled`.
    pub select: String,
}

impl Direction {
    /// The defaults of scaling up: no window, 4 pods or 100 % per 15 s, the larger.
    pub fn default_up() -> Direction {
        Direction {
            window: Duration::ZERO,
            policies: vec![
                ("Pods".into(), 4, Duration::from_secs(15)),
                ("Percent".into(), 100, Duration::from_secs(15)),
            ],
            select: "Max".into(),
        }
    }

    /// The defaults of scaling down: a 300 s window, 100 % per 15 s.
    pub fn default_down() -> Direction {
        Direction {
            window: Duration::from_secs(300),
            policies: vec![("Percent".into(), 100, Duration::from_secs(15))],
            select: "Max".into(),
        }
    }
}

/// What the controller remembers of one autoscaler: its recent recommendations and scale events.
#[derive(Debug, Default)]
pub struct History {
    recommendations: VecDeque<(Instant, i64)>,
}

/// Why the count ended where it did (the `ScalingLimited` condition and events read it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// Within the bounds.
    No,
    /// Raised to `minReplicas`.
    TooFew,
    /// Lowered to `maxReplicas`.
    TooMany,
}

impl History {
    /// The replicas to set now: `wanted` stabilized over the windows, limited by the
    /// policies, within `min`…`max`.
    pub fn recommend(
        &mut self,
        now: Instant,
        current: i64,
        wanted: i64,
        (min, max): (i64, i64),
        up: &Direction,
        down: &Direction,
    ) -> (i64, Limited) {
        self.recommendations.push_back((now, wanted));
        let longest = up.window.max(down.window);
        while self
            .recommendations
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > longest)
        {
            self.recommendations.pop_front();
        }
        let within = |window: Duration| {
            self.recommendations
                .iter()
                .filter(move |(at, _)| now.duration_since(*at) <= window)
                .map(|(_, r)| *r)
        };
        // Up: the lowest of the up window (a spike must last); down: the highest of the down
        // window (a dip must last).
        let up_bound = within(up.window).min().unwrap_or(wanted);
        let down_bound = within(down.window).max().unwrap_or(wanted);
        let mut next = if wanted > current {
            up_bound.max(current)
        } else if wanted < current {
            down_bound.min(current)
        } else {
            current
        };
        if next > current {
            next = next.min(step_limit(current, up, true));
        } else if next < current {
            next = next.max(step_limit(current, down, false));
        }
        if next < min {
            (min, Limited::TooFew)
        } else if next > max {
            (max, Limited::TooMany)
        } else {
            (next, Limited::No)
        }
    }
}

/// The furthest one step may go from `current` under `direction`'s policies.
fn step_limit(current: i64, direction: &Direction, up: bool) -> i64 {
    if direction.select == "Disabled" {
        return current;
    }
    let limits: Vec<i64> = direction
        .policies
        .iter()
        .map(|(kind, value, _)| {
            let change = if kind == "Percent" {
                ((current as f64) * (*value as f64) / 100.0).ceil() as i64
            } else {
                *value
            };
            if up {
                current + change
            } else {
                (current - change).max(0)
            }
        })
        .collect();
    let most_change = if up {
        limits.iter().max()
    } else {
        limits.iter().min()
    };
    let least_change = if up {
        limits.iter().min()
    } else {
        limits.iter().max()
    };
    let chosen = if direction.select == "Min" {
        least_change
    } else {
        most_change
    };
    chosen.copied().unwrap_or(if up { i64::MAX } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilization_within_the_tolerance_changes_nothing() {
        assert_eq!(by_utilization(2, 54, 50), 2, "8 % over: within 10 %");
        assert_eq!(by_utilization(2, 150, 50), 6);
        assert_eq!(by_utilization(4, 10, 50), 1);
        assert_eq!(by_utilization(3, 56, 50), 4, "12 % over, rounded up");
    }

    #[test]
    fn a_dip_must_last_the_scale_down_window() {
        let start = Instant::now();
        let up = Direction::default_up();
        let down = Direction {
            window: Duration::from_secs(5),
            ..Direction::default_down()
        };
        let mut history = History::default();
        assert_eq!(
            history.recommend(start, 4, 4, (1, 10), &up, &down),
            (4, Limited::No)
        );
        // Lower now, but the window still remembers 4.
        let soon = start + Duration::from_secs(2);
        assert_eq!(
            history.recommend(soon, 4, 1, (1, 10), &up, &down),
            (4, Limited::No)
        );
        let later = start + Duration::from_secs(8);
        assert_eq!(
            history.recommend(later, 4, 1, (1, 10), &up, &down),
            (1, Limited::No)
        );
    }

    #[test]
    fn steps_are_limited_by_policy_and_bounds() {
        let start = Instant::now();
        let (up, down) = (Direction::default_up(), Direction::default_down());
        let mut history = History::default();
        // From 1, the larger of +4 pods and +100 %: 5.
        assert_eq!(
            history.recommend(start, 1, 20, (1, 10), &up, &down),
            (5, Limited::No)
        );
        let mut history = History::default();
        assert_eq!(
            history.recommend(start, 8, 20, (1, 10), &up, &down),
            (10, Limited::TooMany)
        );
        let mut history = History::default();
        assert_eq!(
            history.recommend(start, 2, 2, (3, 10), &up, &down),
            (3, Limited::TooFew)
        );
        let disabled = Direction {
            select: "Disabled".into(),
            ..Direction::default_down()
        };
        let mut history = History::default();
        assert_eq!(
            history.recommend(
                start,
                4,
                1,
                (1, 10),
                &up,
                &Direction {
                    window: Duration::ZERO,
                    ..disabled
                }
            ),
            (4, Limited::No)
        );
    }
}
