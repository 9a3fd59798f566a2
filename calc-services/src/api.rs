//! The JSON the calculator speaks, shared with every client (the console reads it with these types).
//!
//! Keys before `served-by` are the reference app's (`first-number`, `second-number`, `operation`,
//! `total`) so its clients keep working.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::error::CalcError;
use crate::operation::Operation;

/// An exact decimal that travels as a JSON number in its shortest exact form (`5`, not `5.0`).
///
/// JSON numbers have no precision limit, but most parsers read them as `f64`; this type writes
/// and reads the digits themselves so `0.1 + 0.2` stays `0.3` end to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExactNumber(pub Decimal);

impl fmt::Display for ExactNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.normalize(), f)
    }
}

impl Serialize for ExactNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.to_string()).map_err(S::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ExactNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        let text = raw.get().trim();
        let text = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        let parsed = if text.contains(['e', 'E']) {
            Decimal::from_scientific(text)
        } else {
            Decimal::from_str(text)
        };
        parsed
            .map(ExactNumber)
            .map_err(|e| D::Error::custom(format!("{text:?} is not an exact decimal: {e}")))
    }
}

/// Which process answered: the pod, node and namespace from the downward API, and the OS the
/// process really runs on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedBy {
    /// The role that computed or served it: `sum`, …, `ui`, `monolith`.
    pub service: String,
    /// `POD_NAME`, if set.
    pub pod: Option<String>,
    /// `NODE_NAME`, if set.
    pub node: Option<String>,
    /// `POD_NAMESPACE`, if set.
    pub namespace: Option<String>,
    /// `linux`, `windows`, … (Rust's `std::env::consts::OS`, which matches `kubernetes.io/os`).
    pub os: String,
}

/// The answer of `GET /{operation}/{a}/{b}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationAnswer {
    /// `a`, normalised.
    #[serde(rename = "first-number")]
    pub first_number: ExactNumber,
    /// `b`, normalised.
    #[serde(rename = "second-number")]
    pub second_number: ExactNumber,
    /// Which operation.
    pub operation: Operation,
    /// The exact result.
    pub total: ExactNumber,
    /// Who computed it.
    #[serde(rename = "served-by")]
    pub served_by: ServedBy,
}

/// `{"code": …, "message": …}`: the code is stable, the message is for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`division_by_zero`, …).
    pub code: String,
    /// What happened and what to do, in words.
    pub message: String,
}

impl From<&CalcError> for ErrorDetail {
    fn from(err: &CalcError) -> Self {
        ErrorDetail {
            code: err.code().to_owned(),
            message: err.to_string(),
        }
    }
}

/// The body of every error response: `{"error": {...}}`, plus who answered when known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
    /// The process that produced the error, so a failing service can be found.
    #[serde(rename = "served-by", default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<ServedBy>,
}

/// One operation's entry in `/api/calculate`: a total or an error, never both.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationOutcome {
    /// Which operation.
    pub operation: Operation,
    /// The result, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<ExactNumber>,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    /// Who answered (also on errors the service itself reported).
    #[serde(rename = "served-by", default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<ServedBy>,
    /// Wall time of this operation as seen by the frontend, in milliseconds.
    #[serde(rename = "latency-ms")]
    pub latency_ms: f64,
}

/// The answer of `GET /api/calculate?a=…&b=…`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalculateAnswer {
    /// `a`, normalised.
    pub a: ExactNumber,
    /// `b`, normalised.
    pub b: ExactNumber,
    /// The frontend (ui or monolith) that fanned out.
    pub frontend: ServedBy,
    /// One entry per operation, in [`Operation::ALL`] order.
    pub results: Vec<OperationOutcome>,
}

/// The answer of `GET /api/routes`: per operation, `"in-process"`, the base URL it goes to, or
/// while it moves `"shadow URL"` or `"split 10% URL"`.
pub type RouteReport = BTreeMap<Operation, String>;

/// The answer of `GET /api/shadow`: per operation that has been in `shadow` mode since the
/// process started, the comparisons since it last entered it.
pub type ShadowReport = BTreeMap<Operation, ShadowRecord>;

/// How the service's answers compared with this process's own while an operation was shadowed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ShadowRecord {
    /// The service asked (its base URL).
    pub service: String,
    /// Whether the operation is in `shadow` mode now (the numbers stay after it leaves it).
    pub active: bool,
    /// Answers compared: `matched + mismatched`.
    pub compared: u64,
    /// The service answered as this process did (the same total, or the same error code).
    pub matched: u64,
    /// The service answered differently.
    pub mismatched: u64,
    /// The service could not be compared: unreachable, too slow, or a 5xx.
    pub failed: u64,
    /// Requests not shadowed because too many comparisons were already in flight.
    pub skipped: u64,
    /// The first few mismatches, in full.
    pub mismatches: Vec<ShadowMismatch>,
    /// Why the last failed comparison failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
}

/// One request whose answers differed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShadowMismatch {
    /// The first operand.
    pub a: ExactNumber,
    /// The second operand.
    pub b: ExactNumber,
    /// What this process answered (and the client got).
    pub monolith: OperationOutcome,
    /// What the service answered.
    pub service: OperationOutcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_are_json_numbers_in_shortest_form() {
        let n = ExactNumber(Decimal::from_str("5.000").unwrap());
        assert_eq!(serde_json::to_string(&n).unwrap(), "5");
        let n = ExactNumber(Decimal::from_str("-0.30").unwrap());
        assert_eq!(serde_json::to_string(&n).unwrap(), "-0.3");
        let n = ExactNumber(Decimal::MAX);
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            "79228162514264337593543950335"
        );
    }

    #[test]
    fn exact_numbers_round_trip_without_float_loss() {
        let text = "0.3333333333333333333333333333";
        let n: ExactNumber = serde_json::from_str(text).unwrap();
        assert_eq!(n.to_string(), text);
        let big: ExactNumber = serde_json::from_str("79228162514264337593543950335").unwrap();
        assert_eq!(big.0, Decimal::MAX);
        assert!(serde_json::from_str::<ExactNumber>("\"abc\"").is_err());
    }
}
