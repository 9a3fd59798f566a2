//! CronJob schedules as the API server reads them: five fields or a descriptor (`@hourly`), in
//! an IANA time zone (UTC when unset) — the one reading both validation and the controller use.

use std::str::FromStr;

use chrono_tz::Tz;
use croner::Cron;
use serde_json::Value;

/// Parses a CronJob schedule as the API server accepts it: five fields or a descriptor
/// (`@hourly`), no seconds.
pub fn parse_schedule(schedule: &str) -> Result<Cron, String> {
    let fields = schedule.split_whitespace().count();
    if !schedule.trim_start().starts_with('@') && fields != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {fields}: {schedule}"
        ));
    }
    Cron::from_str(schedule).map_err(|e| e.to_string())
}

/// The time zone a CronJob's schedule is read in: its `spec.timeZone` (an IANA name), UTC
/// when unset. `Err` carries the API server's words for an unknown zone.
pub fn time_zone(spec: &Value) -> Result<Tz, String> {
    match spec["timeZone"].as_str() {
        None => Ok(Tz::UTC),
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| format!("unknown time zone {name}")),
    }
}
