//! Computing one operation by the route in force: in this process, by its service, by a share of
//! each (`split`), or here with the service asked on the side and compared (`shadow`). Every
//! answer is counted by route and outcome, which is what a progressive move judges.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::api::{ErrorDetail, ExactNumber, OperationAnswer, OperationOutcome, ShadowMismatch};
use crate::backend::ServiceReply;
use crate::error::CalcError;
use crate::http::AppState;
use crate::metrics::{Outcome, RouteTaken};
use crate::misbehave::Misbehaviour;
use crate::operation::Operation;
use crate::routing::{Route, ServiceUrl};
use crate::shadow::Verdict;
use crate::share::picked;

/// One operation's result: an answer or an error reply (from here or from the service), or a
/// failure to get one; with the route that produced it and how long it took.
pub struct Computed {
    /// What came back.
    pub reply: Result<ServiceReply, CalcError>,
    /// Which way it was computed.
    pub route: RouteTaken,
    /// Wall time of the computation or call.
    pub elapsed: Duration,
}

impl Computed {
    fn outcome(&self) -> Outcome {
        match &self.reply {
            Ok(ServiceReply::Answer(_)) => Outcome::Ok,
            Ok(ServiceReply::Error { status, .. }) => Outcome::of_status(*status),
            Err(err) => Outcome::of_status(err.status()),
        }
    }
}

impl AppState {
    /// Computes `op` by the route in force now, and counts it.
    pub async fn compute(
        self: &Arc<Self>,
        op: Operation,
        a: ExactNumber,
        b: ExactNumber,
    ) -> Computed {
        let table = self.routes.current();
        let computed = match table.route(op) {
            Some(Route::Remote(service)) => self.by_service(service, op, a, b).await,
            Some(Route::Split { service, percent }) => {
                let n = self.split_counts[op as usize].fetch_add(1, Ordering::Relaxed);
                if picked(n, *percent) {
                    self.by_service(service, op, a, b).await
                } else {
                    self.here(op, a, b)
                }
            }
            Some(Route::Shadow {
                service,
                per_second,
            }) => {
                let computed = self.here(op, a, b);
                self.shadow(service, *per_second, op, a, b, &computed);
                computed
            }
            Some(Route::InProcess) | None => self.here(op, a, b),
        };
        self.metrics.answered(
            op.name(),
            computed.route,
            computed.outcome(),
            computed.elapsed.as_secs_f64(),
        );
        computed
    }

    /// `computed` as an entry of `/api/calculate`.
    pub fn outcome_of(&self, op: Operation, computed: &Computed) -> OperationOutcome {
        let here = (computed.route == RouteTaken::InProcess).then(|| self.served_by.clone());
        let (total, error, served_by) = match &computed.reply {
            Ok(ServiceReply::Answer(answer)) => {
                (Some(answer.total), None, Some(answer.served_by.clone()))
            }
            Ok(ServiceReply::Error { body, .. }) => {
                (None, Some(body.error.clone()), body.served_by.clone())
            }
            Err(err) => (None, Some(ErrorDetail::from(err)), here),
        };
        OperationOutcome {
            operation: op,
            total,
            error,
            served_by,
            latency_ms: millis(computed.elapsed),
        }
    }

    async fn by_service(
        &self,
        service: &ServiceUrl,
        op: Operation,
        a: ExactNumber,
        b: ExactNumber,
    ) -> Computed {
        let (reply, elapsed) = self.client.call(service, op, a, b).await;
        Computed {
            reply,
            route: RouteTaken::Service,
            elapsed,
        }
    }

    /// Computes `op` in this process, as its `CALC_MISBEHAVE` (if any) makes it.
    fn here(&self, op: Operation, a: ExactNumber, b: ExactNumber) -> Computed {
        let started = Instant::now();
        let reply = self.arithmetic(op, a, b).map(|total| {
            ServiceReply::Answer(OperationAnswer {
                first_number: a,
                second_number: b,
                operation: op,
                total: ExactNumber(total),
                served_by: self.served_by.clone(),
            })
        });
        Computed {
            reply,
            route: RouteTaken::InProcess,
            elapsed: started.elapsed(),
        }
    }

    fn arithmetic(
        &self,
        op: Operation,
        a: ExactNumber,
        b: ExactNumber,
    ) -> Result<Decimal, CalcError> {
        match self.misbehave {
            Some(Misbehaviour::FailPercent(percent)) => {
                let n = self.failure_count.fetch_add(1, Ordering::Relaxed);
                if picked(n, percent) {
                    return Err(CalcError::InjectedFailure {
                        service: self.role.name(),
                        percent,
                    });
                }
                op.apply(a.0, b.0)
            }
            Some(Misbehaviour::Float) => in_floating_point(op, a.0, b.0),
            Some(Misbehaviour::WrongAnswer) => op
                .apply(a.0, b.0)
                .map(|total| total.checked_add(Decimal::ONE).unwrap_or(total)),
            _ => op.apply(a.0, b.0),
        }
    }

    /// Asks `service` the same question off the request's path and records how its answer
    /// compares with `here` (within `per_second` comparisons a second).
    fn shadow(
        self: &Arc<Self>,
        service: &ServiceUrl,
        per_second: u32,
        op: Operation,
        a: ExactNumber,
        b: ExactNumber,
        here: &Computed,
    ) {
        let Some(permit) = self.shadows.try_start(op, per_second) else {
            self.metrics.compared(op.name(), "skipped");
            return;
        };
        // Only what the comparison needs is kept; the whole answer is rebuilt on a mismatch.
        let ours: Result<ExactNumber, ErrorDetail> = match &here.reply {
            Ok(ServiceReply::Answer(answer)) => Ok(answer.total),
            Ok(ServiceReply::Error { body, .. }) => Err(body.error.clone()),
            Err(err) => Err(ErrorDetail::from(err)),
        };
        let our_latency = here.elapsed;
        let (state, service) = (self.clone(), service.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let (reply, elapsed) = state.client.call(&service, op, a, b).await;
            let theirs = Computed {
                reply,
                route: RouteTaken::Shadow,
                elapsed,
            };
            state.metrics.answered(
                op.name(),
                RouteTaken::Shadow,
                theirs.outcome(),
                elapsed.as_secs_f64(),
            );
            let verdict = match (&ours, &theirs.reply) {
                (_, Err(err)) => Verdict::Failed(err.to_string()),
                (_, Ok(ServiceReply::Error { status, body })) if *status >= 500 => {
                    Verdict::Failed(format!("HTTP {status}: {}", body.error.message))
                }
                // Equal values are a match whatever their notation (`0.30` and `0.3`).
                (Ok(total), Ok(ServiceReply::Answer(answer))) if total.0 == answer.total.0 => {
                    Verdict::Match
                }
                (Err(error), Ok(ServiceReply::Error { body, .. }))
                    if error.code == body.error.code =>
                {
                    Verdict::Match
                }
                _ => {
                    let (total, error) = match ours {
                        Ok(total) => (Some(total), None),
                        Err(error) => (None, Some(error)),
                    };
                    Verdict::Mismatch(Box::new(ShadowMismatch {
                        a,
                        b,
                        monolith: OperationOutcome {
                            operation: op,
                            total,
                            error,
                            served_by: Some(state.served_by.clone()),
                            latency_ms: millis(our_latency),
                        },
                        service: state.outcome_of(op, &theirs),
                    }))
                }
            };
            let label = match &verdict {
                Verdict::Match => "match",
                Verdict::Mismatch(_) => "mismatch",
                Verdict::Failed(_) => "failed",
            };
            state.metrics.compared(op.name(), label);
            state.shadows.record(op, service.as_str(), verdict);
        });
    }
}

/// Milliseconds with microsecond resolution: `1.632`, not `1.6315769999999998`.
pub fn millis(elapsed: Duration) -> f64 {
    elapsed.as_micros() as f64 / 1000.0
}

/// `a op b` as binary floating point computes it (`CALC_MISBEHAVE=float`), in the shortest
/// decimal that reads back as the same `f64` — what JavaScript's `String(0.1 + 0.2)` prints.
/// Errors stay those of exact arithmetic, so only the totals drift.
fn in_floating_point(op: Operation, a: Decimal, b: Decimal) -> Result<Decimal, CalcError> {
    let exact = op.apply(a, b)?;
    let (x, y) = (a.to_f64(), b.to_f64());
    let total = match (op, x, y) {
        (Operation::Sum, Some(x), Some(y)) => x + y,
        (Operation::Subtraction, Some(x), Some(y)) => x - y,
        (Operation::Multiplication, Some(x), Some(y)) => x * y,
        (Operation::Division, Some(x), Some(y)) => x / y,
        _ => return Ok(exact),
    };
    if !total.is_finite() {
        return Ok(exact);
    }
    Ok(total
        .to_string()
        .parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_f64(total))
        .map_or(exact, |d| d.normalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(op: Operation, a: &str, b: &str) -> String {
        in_floating_point(op, a.parse().unwrap(), b.parse().unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn floating_point_drifts_where_javascript_does_and_only_there() {
        assert_eq!(float(Operation::Sum, "0.1", "0.2"), "0.30000000000000004");
        assert_eq!(float(Operation::Sum, "2", "3"), "5");
        assert_eq!(
            float(Operation::Multiplication, "1.1", "1.1"),
            "1.2100000000000002"
        );
        assert_eq!(float(Operation::Division, "1", "3"), "0.3333333333333333");
        assert!(in_floating_point(Operation::Division, Decimal::ONE, Decimal::ZERO).is_err());
    }
}
