//! Calculations as the calculator panel and `calc` show them: where the calculator is called,
//! each answer with who served it, and probe samples. The calls themselves are the backend's.

use std::time::SystemTime;

use calc_services::{CalculateAnswer, ErrorBody};
use serde::Serialize;

/// Where the calculator is called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CalcTarget {
    /// `/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/…`
    ServiceProxy {
        /// Namespace of the front Service.
        namespace: String,
        /// The front Service.
        service: String,
        /// Its port name or number.
        port: String,
    },
    /// An HTTP base URL (`http://localhost:3000`).
    Url(String),
}

impl Default for CalcTarget {
    fn default() -> Self {
        CalcTarget::ServiceProxy {
            namespace: "calculator".into(),
            service: "calculator".into(),
            port: "http".into(),
        }
    }
}

impl CalcTarget {
    /// How the panel describes it.
    pub fn describe(&self) -> String {
        match self {
            CalcTarget::ServiceProxy {
                namespace,
                service,
                port,
            } => format!("service {namespace}/{service}:{port} via the API server"),
            CalcTarget::Url(url) => url.clone(),
        }
    }
}

/// Why the calculator gave no answer, by what can be done about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalcFailure {
    /// No cluster is connected to call it through.
    #[error("not connected to a cluster")]
    NotConnected,
    /// Nothing answered (the URL, the API server), or not in time.
    #[error("{0}")]
    NoAnswer(String),
    /// It answered with an error: the calculator's own words, or the proxy's.
    #[error("{0}")]
    Refused(String),
    /// The URL given cannot be called.
    #[error("{0}")]
    BadTarget(String),
}

/// Written as its words, as scripts reading `calc -o json` have always read it.
impl Serialize for CalcFailure {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One calculation and how it went.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalcOutcome {
    /// Which request it answers: the panel shows only the answer to its latest request, so a
    /// slow answer to an earlier click cannot overwrite a newer one.
    pub request: u64,
    /// First number as sent.
    pub a: String,
    /// Second number as sent.
    pub b: String,
    /// The calculator's answer, or why there is none.
    pub result: Result<CalculateAnswer, CalcFailure>,
    /// Round trip, milliseconds.
    pub latency_ms: f64,
    /// When it finished.
    pub at: SystemTime,
}

impl CalcOutcome {
    /// Whether every operation has a total.
    pub fn all_ok(&self) -> bool {
        self.result.as_ref().is_ok_and(|a| {
            a.results
                .iter()
                .all(|r| r.error.is_none() && r.total.is_some())
        })
    }

    /// The first problem, for a failed probe sample.
    pub fn first_error(&self) -> Option<String> {
        match &self.result {
            Err(e) => Some(e.to_string()),
            Ok(answer) => answer.results.iter().find_map(|r| {
                r.error
                    .as_ref()
                    .map(|e| format!("{}: {}", r.operation, e.message))
            }),
        }
    }
}

/// One probe call, for the live chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeSample {
    /// When it finished.
    pub at: SystemTime,
    /// Round trip, milliseconds.
    pub latency_ms: f64,
    /// Whether all four operations answered.
    pub ok: bool,
    /// The first problem when not.
    pub error: Option<String>,
    /// The frontend pod that answered.
    pub frontend: Option<String>,
}

/// The query string of a calculation.
pub fn query(a: &str, b: &str) -> String {
    serde_urlencoded::to_string([("a", a.trim()), ("b", b.trim())]).unwrap_or_default()
}

/// Reads a calculator answer, or turns an error body (the calculator's or a Kubernetes Status)
/// into its message.
pub fn read_answer(status: u16, body: &[u8]) -> Result<CalculateAnswer, CalcFailure> {
    if status == 200 {
        return serde_json::from_slice(body).map_err(|e| {
            CalcFailure::Refused(format!(
                "the calculator answered something that is not a calculation: {e}"
            ))
        });
    }
    if let Ok(error) = serde_json::from_slice::<ErrorBody>(body) {
        return Err(CalcFailure::Refused(error.error.message));
    }
    if let Ok(status_object) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(message) = status_object["message"].as_str()
    {
        return Err(CalcFailure::Refused(format!("{message} (HTTP {status})")));
    }
    Err(CalcFailure::Refused(format!(
        "HTTP {status}: {}",
        String::from_utf8_lossy(body)
            .chars()
            .take(200)
            .collect::<String>()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_messages() {
        let calc = br#"{"error":{"code":"invalid_number","message":"The first number \"x\" is not a number."}}"#;
        assert_eq!(
            read_answer(400, calc).unwrap_err(),
            CalcFailure::Refused("The first number \"x\" is not a number.".into())
        );
        let status = br#"{"kind":"Status","message":"no endpoints available for service \"calculator\"","code":503}"#;
        assert_eq!(
            read_answer(503, status).unwrap_err(),
            CalcFailure::Refused(
                "no endpoints available for service \"calculator\" (HTTP 503)".into()
            )
        );
        assert!(
            read_answer(502, b"bad gateway")
                .unwrap_err()
                .to_string()
                .starts_with("HTTP 502")
        );
    }

    #[test]
    fn operands_are_url_encoded() {
        assert_eq!(query(" 1+1 ", "a&b"), "a=1%2B1&b=a%26b");
    }
}
