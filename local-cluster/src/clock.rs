//! The time as the API writes it into objects: seconds for most timestamps, microseconds where
//! the real API writes a MicroTime.

/// The current time as the API writes it (`2026-11-25T18:05:23Z`).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The same, with microseconds, for fields the real API writes as MicroTime.
pub fn now_micro() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        .to_string()
}
