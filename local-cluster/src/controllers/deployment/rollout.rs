//! One step of a rollout: the new ReplicaSet grows within maxSurge while old ones shrink
//! within maxUnavailable, unhealthy pods first (RollingUpdate), or every old pod goes before
//! the new set grows (Recreate).

use serde_json::Value;

use super::{Context, replicas_of, status_of};
use crate::errors::ApiError;

/// A RollingUpdate bound (`25%` or `1`) resolved against `replicas`; surge rounds up,
/// unavailability rounds down, as the real controller does.
pub(super) fn resolve_bound(value: &Value, replicas: i64, round_up: bool) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) {
            Some(percent) => {
                let exact = percent * replicas as f64 / 100.0;
                (if round_up {
                    exact.ceil()
                } else {
                    exact.floor()
                }) as i64
            }
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

/// Scales `new` and `olds` one step toward `replicas` pods of the new template, with the
/// resolved `(maxSurge, maxUnavailable)`.
pub(super) fn step(
    context: &Context<'_>,
    strategy: &str,
    new: &mut Value,
    olds: &mut [Value],
    replicas: i64,
    (max_surge, max_unavailable): (i64, i64),
) -> Result<(), ApiError> {
    if strategy == "Recreate" {
        let old_pods: i64 = olds.iter().map(|rs| status_of(rs, "replicas")).sum();
        for rs in olds.iter_mut() {
            context.scale(rs, 0)?;
        }
        if old_pods == 0 {
            context.scale(new, replicas)?;
        }
    } else {
        let olds_active: i64 = olds.iter().map(replicas_of).sum();
        if olds_active == 0 {
            // Not a rollout: plain scaling.
            context.scale(new, replicas)?;
        } else {
            // Scale up the new RS within maxSurge.
            let total: i64 = replicas_of(new) + olds_active;
            let max_total = replicas + max_surge;
            if total < max_total {
                let target = (replicas_of(new) + (max_total - total)).min(replicas);
                context.scale(new, target)?;
            }
            // Scale down old RSs within maxUnavailable, unhealthy pods first.
            let min_available = replicas - max_unavailable;
            let all: i64 = replicas_of(new) + olds.iter().map(replicas_of).sum::<i64>();
            let new_unavailable = replicas_of(new) - status_of(new, "availableReplicas");
            let mut budget = all - min_available - new_unavailable;
            if budget > 0 {
                for rs in olds.iter_mut() {
                    let unhealthy = replicas_of(rs) - status_of(rs, "availableReplicas");
                    if unhealthy <= 0 || budget <= 0 {
                        continue;
                    }
                    let down = unhealthy.min(budget);
                    budget -= down;
                    let to = replicas_of(rs) - down;
                    context.scale(rs, to)?;
                }
                let available: i64 = status_of(new, "availableReplicas")
                    + olds
                        .iter()
                        .map(|rs| status_of(rs, "availableReplicas"))
                        .sum::<i64>();
                let mut down_total = (available - min_available).max(0);
                for rs in olds.iter_mut() {
                    if down_total == 0 {
                        break;
                    }
                    let down = replicas_of(rs).min(down_total);
                    if down > 0 {
                        down_total -= down;
                        let to = replicas_of(rs) - down;
                        context.scale(rs, to)?;
                    }
                }
            }
        }
    }
    Ok(())
}
