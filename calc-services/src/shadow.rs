//! The shadow comparisons' record: per operation, how the service's answers compared with this
//! process's own since the operation last entered `shadow` mode.
//!
//! Comparisons run off the request's path; at most [`MAX_IN_FLIGHT`] at once and at most the
//! route's `per-second` a second, so a slow service or a busy monolith costs skipped comparisons
//! (counted), never memory or more than that share of the monolith's time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::{ShadowMismatch, ShadowRecord, ShadowReport};
use crate::operation::Operation;
use crate::routing::{Route, RoutingTable};

/// Comparisons in flight at most; a request beyond them is answered but not compared.
pub const MAX_IN_FLIGHT: usize = 256;

/// Mismatches kept in full per operation (the rest are counted).
pub const KEPT_MISMATCHES: usize = 5;

/// How one comparison came out.
#[derive(Debug)]
pub enum Verdict {
    /// The same total, or the same error code.
    Match,
    /// Different answers, both shown.
    Mismatch(Box<ShadowMismatch>),
    /// The service's side failed (unreachable, timeout, 5xx): nothing to compare.
    Failed(String),
}

/// Every shadowed operation's record.
pub struct Shadows {
    records: Mutex<BTreeMap<Operation, ShadowRecord>>,
    /// Per operation, the comparisons it may still start (a token bucket holding one second's
    /// worth), and when it was last filled.
    allowance: Mutex<BTreeMap<Operation, (f64, Instant)>>,
    in_flight: Arc<Semaphore>,
}

impl Default for Shadows {
    fn default() -> Self {
        Shadows {
            records: Mutex::default(),
            allowance: Mutex::default(),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }
}

impl Shadows {
    /// Follows the table now in force: an operation that enters `shadow` mode (or is shadowed
    /// against another service) starts a fresh record; one that leaves it keeps its numbers,
    /// marked inactive.
    pub fn follow(&self, table: &RoutingTable) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        for (op, route) in table.iter() {
            match route {
                Route::Shadow { service: url, .. } => {
                    let record = records.entry(op).or_default();
                    if !record.active || record.service != url.as_str() {
                        *record = ShadowRecord {
                            service: url.as_str().to_owned(),
                            active: true,
                            ..ShadowRecord::default()
                        };
                    }
                }
                _ => {
                    if let Some(record) = records.get_mut(&op) {
                        record.active = false;
                    }
                }
            }
        }
    }

    /// A place for one more comparison of `op`, or `None` (counted as skipped) when `op` has
    /// had its `per_second` this second or the comparisons in flight are at their limit.
    pub fn try_start(&self, op: Operation, per_second: u32) -> Option<OwnedSemaphorePermit> {
        let allowed = {
            let mut allowance = self.allowance.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let rate = f64::from(per_second);
            let (tokens, filled) = allowance.entry(op).or_insert((rate, now));
            *tokens = (*tokens + now.duration_since(*filled).as_secs_f64() * rate).min(rate);
            *filled = now;
            if *tokens >= 1.0 {
                *tokens -= 1.0;
                true
            } else {
                false
            }
        };
        let permit = allowed
            .then(|| self.in_flight.clone().try_acquire_owned().ok())
            .flatten();
        if permit.is_none() {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(record) = records.get_mut(&op) {
                record.skipped += 1;
            }
        }
        permit
    }

    /// Counts one comparison of `op` against `service` (ignored when the operation has since
    /// been shadowed against another service).
    pub fn record(&self, op: Operation, service: &str, verdict: Verdict) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let Some(record) = records.get_mut(&op).filter(|r| r.service == service) else {
            return;
        };
        match verdict {
            Verdict::Match => {
                record.compared += 1;
                record.matched += 1;
            }
            Verdict::Mismatch(example) => {
                record.compared += 1;
                record.mismatched += 1;
                if record.mismatches.len() < KEPT_MISMATCHES {
                    record.mismatches.push(*example);
                }
            }
            Verdict::Failed(why) => {
                record.failed += 1;
                record.last_failure = Some(why);
            }
        }
    }

    /// Every record, as `/api/shadow` answers.
    pub fn report(&self) -> ShadowReport {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;
    use crate::routing::file;

    fn table(text: &str) -> RoutingTable {
        let baseline = RoutingTable::from_lookup(Role::Monolith, |_| None).unwrap();
        file::apply(text, &baseline).unwrap()
    }

    #[test]
    fn comparisons_are_held_to_their_rate() {
        let shadows = Shadows::default();
        shadows.follow(&table("sum: {mode: shadow, per-second: 5}"));
        let started: Vec<_> = (0..8)
            .filter_map(|_| shadows.try_start(Operation::Sum, 5))
            .collect();
        // A second's worth at once, then nothing until the bucket fills again.
        assert_eq!(started.len(), 5);
        assert_eq!(shadows.report()[&Operation::Sum].skipped, 3);
        std::thread::sleep(std::time::Duration::from_millis(450));
        assert!(
            shadows.try_start(Operation::Sum, 5).is_some(),
            "refilled at 5 a second"
        );
    }

    #[test]
    fn a_record_starts_afresh_each_time_an_operation_enters_shadow_mode() {
        let shadows = Shadows::default();
        let url = "http://sum-service:3000";
        shadows.follow(&table("sum: {mode: shadow}"));
        shadows.record(Operation::Sum, url, Verdict::Match);
        shadows.record(Operation::Sum, url, Verdict::Failed("refused".into()));
        // Another operation's or another service's comparisons are not this record's.
        shadows.record(Operation::Division, url, Verdict::Match);
        shadows.record(Operation::Sum, "http://elsewhere:1", Verdict::Match);
        let report = shadows.report();
        let sum = &report[&Operation::Sum];
        assert_eq!((sum.compared, sum.matched, sum.failed), (1, 1, 1));
        assert_eq!(sum.last_failure.as_deref(), Some("refused"));
        assert!(!report.contains_key(&Operation::Division));

        shadows.follow(&table("sum: {mode: split, percent: 10}"));
        let sum = &shadows.report()[&Operation::Sum];
        assert!(!sum.active);
        assert_eq!(sum.matched, 1, "numbers stay after the step");

        shadows.follow(&table("sum: {mode: shadow}"));
        let sum = &shadows.report()[&Operation::Sum];
        assert!(sum.active);
        assert_eq!((sum.compared, sum.failed), (0, 0));
    }
}
