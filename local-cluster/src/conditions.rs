//! Status conditions as controllers write them: a condition keeps its `lastTransitionTime`
//! while its status stays, and (`metav1.Condition`, as Gateway API objects carry them) says which
//! generation it was written for.

use serde_json::{Value, json};

/// One condition to report.
#[derive(Clone, Debug)]
pub struct Condition {
    /// `Accepted`, `Programmed`, …
    pub kind: &'static str,
    /// True or false (this controller never reports Unknown once it has looked).
    pub status: bool,
    /// The specification's reason (`Accepted`, `NotAllowedByListeners`, …).
    pub reason: &'static str,
    /// For a person.
    pub message: String,
}

impl Condition {
    /// A condition that holds.
    pub fn yes(kind: &'static str, reason: &'static str, message: impl Into<String>) -> Condition {
        Condition {
            kind,
            status: true,
            reason,
            message: message.into(),
        }
    }

    /// A condition that does not hold.
    pub fn no(kind: &'static str, reason: &'static str, message: impl Into<String>) -> Condition {
        Condition {
            kind,
            status: false,
            reason,
            message: message.into(),
        }
    }
}

/// The condition list for `wanted`, given the list the object had (`old`) and the object's
/// `generation` (`None` for kinds whose conditions carry none, as an autoscaler's). A condition
/// whose status did not change keeps its old transition time, so rewriting an unchanged status
/// writes nothing.
pub fn merge(old: &Value, wanted: Vec<Condition>, generation: Option<i64>, now: &str) -> Value {
    let old = old.as_array();
    let conditions: Vec<Value> = wanted
        .into_iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" };
            let since = old
                .into_iter()
                .flatten()
                .find(|o| o["type"] == c.kind && o["status"] == status)
                .and_then(|o| o["lastTransitionTime"].as_str())
                .filter(|t| !t.starts_with("1970-"))
                .unwrap_or(now);
            let mut condition = json!({
                "type": c.kind,
                "status": status,
                "reason": c.reason,
                "message": c.message,
                "lastTransitionTime": since,
            });
            if let Some(generation) = generation {
                condition["observedGeneration"] = json!(generation);
            }
            condition
        })
        .collect();
    Value::Array(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_status_keeps_its_transition_time() {
        let old = json!([
            {"type": "Accepted", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "Programmed", "status": "Unknown", "lastTransitionTime": "1970-01-01T00:00:00Z"}
        ]);
        let merged = merge(
            &old,
            vec![
                Condition::yes("Accepted", "Accepted", "ok"),
                Condition::no("Programmed", "Invalid", "no"),
            ],
            Some(3),
            "2026-12-06T00:00:00Z",
        );
        assert_eq!(merged[0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
        assert_eq!(merged[1]["lastTransitionTime"], "2026-12-06T00:00:00Z");
        assert_eq!(merged[1]["status"], "False");
        assert_eq!(merged[0]["observedGeneration"], 3);
        let plain = merge(
            &old,
            vec![Condition::yes("Accepted", "Accepted", "ok")],
            None,
            "now",
        );
        assert!(plain[0].get("observedGeneration").is_none());
    }
}
