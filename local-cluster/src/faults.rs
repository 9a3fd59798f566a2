//! Faults the API server can be told to show, so a client's handling of them can be tried
//! and shown: answers slowed, requests refused the way a real server under API Priority and
//! Fairness refuses them, watch streams cut, and the whole API server stopped for a while (the
//! nodes and their pods keep running, as they do when a control plane goes away).
//!
//! `local-cluster up --inject latency=200,error-rate=0.1,drop-watch-every=30` or
//! [`crate::ClusterConfig::faults`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::errors::ApiError;

/// The faults to inject; the default injects none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Added before every answer (health probes excepted).
    pub latency: Duration,
    /// The fraction of requests (0 to 1) refused with 429, 500 or 503 and `Retry-After: 1`,
    /// before they reach the API: a refused write changed nothing.
    pub error_rate: f64,
    /// Every watch stream is cut (the connection's stream aborted, not ended cleanly) this long
    /// after it opened.
    pub drop_watch_every: Option<Duration>,
    /// The API server stops (listener closed, every connection dropped) this often …
    pub outage_every: Option<Duration>,
    /// … for this long, then listens again on the same address.
    pub outage_for: Option<Duration>,
}

/// What is wrong with an `--inject` text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultsError {
    /// A key this server does not know.
    #[error(
        "unknown fault `{0}`: use latency=MS, error-rate=FRACTION, drop-watch-every=SECONDS, outage-every=SECONDS and outage-for=SECONDS, separated by commas"
    )]
    Unknown(String),
    /// `key` without `=value`.
    #[error("fault `{0}` needs a value, as in `{0}=…`")]
    MissingValue(String),
    /// A value that is not what its key takes.
    #[error("fault {key}={value}: {why}")]
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What the key takes.
        why: &'static str,
    },
    /// One of the two outage keys without the other.
    #[error(
        "an outage needs both outage-every=SECONDS and outage-for=SECONDS (outage-for shorter)"
    )]
    HalfOutage,
}

/// The longest latency taken: a minute is already past every client's patience.
const MAX_LATENCY_MS: u64 = 60_000;

impl FromStr for Faults {
    type Err = FaultsError;

    fn from_str(text: &str) -> Result<Faults, FaultsError> {
        let mut faults = Faults::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| FaultsError::MissingValue(part.to_owned()))?;
            let (key, value) = (key.trim(), value.trim());
            let bad = |why| FaultsError::BadValue {
                key: key.to_owned(),
                value: value.to_owned(),
                why,
            };
            match key {
                "latency" => {
                    let ms: u64 = value
                        .parse()
                        .ok()
                        .filter(|ms| *ms <= MAX_LATENCY_MS)
                        .ok_or_else(|| bad("milliseconds, a whole number from 0 to 60000"))?;
                    faults.latency = Duration::from_millis(ms);
                }
                "error-rate" => {
                    faults.error_rate = value
                        .parse::<f64>()
                        .ok()
                        .filter(|rate| (0.0..=1.0).contains(rate))
                        .ok_or_else(|| bad("a fraction of requests, from 0 to 1"))?;
                }
                "drop-watch-every" => {
                    faults.drop_watch_every =
                        Some(seconds(value).ok_or_else(|| bad("seconds above 0"))?)
                }
                "outage-every" => {
                    faults.outage_every =
                        Some(seconds(value).ok_or_else(|| bad("seconds above 0"))?)
                }
                "outage-for" => {
                    faults.outage_for = Some(seconds(value).ok_or_else(|| bad("seconds above 0"))?)
                }
                other => return Err(FaultsError::Unknown(other.to_owned())),
            }
        }
        match (faults.outage_every, faults.outage_for) {
            (None, None) => {}
            (Some(every), Some(down)) if down < every => {}
            _ => return Err(FaultsError::HalfOutage),
        }
        Ok(faults)
    }
}

/// Seconds above zero (fractions allowed: tests cut watches every half second), at most a day.
fn seconds(value: &str) -> Option<Duration> {
    let seconds: f64 = value.parse().ok()?;
    (seconds > 0.0 && seconds <= 86_400.0).then(|| Duration::from_secs_f64(seconds))
}

impl Faults {
    /// Whether any request is touched (an outage is the server's, not a request's).
    pub fn touches_requests(&self) -> bool {
        !self.latency.is_zero() || self.error_rate > 0.0 || self.drop_watch_every.is_some()
    }
}

/// The refusals a real server gives under load, each saying when to come back: APF's 429, an
/// overloaded or starting server's 503, and a 500 with `Retry-After` (which client-go retries
/// for reads).
fn refusal() -> Response {
    let error = match fastrand::u8(0..3) {
        0 => ApiError::too_many_requests(
            "Too many requests, please try again later.",
            serde_json::json!({"retryAfterSeconds": 1}),
        ),
        1 => ApiError::internal("injected fault (local-cluster --inject error-rate)"),
        _ => ApiError::unavailable(
            "the server is currently unable to handle the request (injected fault)",
        ),
    };
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The middleware: slows, refuses and cuts as `faults` says. Health probes are exempt, as the
/// real server's `probes` flow schema exempts them from APF.
pub async fn inject(State(faults): State<Arc<Faults>>, request: Request, next: Next) -> Response {
    if matches!(request.uri().path(), "/healthz" | "/livez" | "/readyz") {
        return next.run(request).await;
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.error_rate > 0.0 && fastrand::f64() < faults.error_rate {
        tracing::debug!(uri = %request.uri(), "injected refusal");
        return refusal();
    }
    let watch = is_watch(&request);
    let response = next.run(request).await;
    match faults.drop_watch_every {
        Some(after) if watch && response.status().is_success() => cut_after(response, after),
        _ => response,
    }
}

fn is_watch(request: &Request) -> bool {
    let query = crate::api::query_map(request.uri().query());
    crate::api::go_bool(query.get("watch").map(String::as_str))
}

/// The response's body until `after`, then an error: the server aborts the stream (HTTP/2
/// RST_STREAM, HTTP/1.1 a closed connection without the last chunk) as a broken network or a
/// crashed server would, rather than ending it cleanly as a watch timeout does.
fn cut_after(response: Response, after: Duration) -> Response {
    let (parts, body) = response.into_parts();
    let deadline = tokio::time::sleep(after);
    let cut = futures::stream::once(async {
        Err::<axum::body::Bytes, _>(axum::Error::new(std::io::Error::other(
            "watch cut (local-cluster --inject drop-watch-every)",
        )))
    });
    let stream = body.into_data_stream().take_until(deadline).chain(cut);
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_key() {
        let faults: Faults =
            "latency=200, error-rate=0.25,drop-watch-every=0.5,outage-every=60,outage-for=5"
                .parse()
                .unwrap();
        assert_eq!(
            faults,
            Faults {
                latency: Duration::from_millis(200),
                error_rate: 0.25,
                drop_watch_every: Some(Duration::from_millis(500)),
                outage_every: Some(Duration::from_secs(60)),
                outage_for: Some(Duration::from_secs(5)),
            }
        );
        assert!(faults.touches_requests());
        assert_eq!("".parse::<Faults>(), Ok(Faults::default()));
        assert!(!Faults::default().touches_requests());
    }

    #[test]
    fn says_what_is_wrong() {
        let error = |text: &str| text.parse::<Faults>().unwrap_err().to_string();
        assert!(
            error("latncy=5").contains("unknown fault `latncy`"),
            "{}",
            error("latncy=5")
        );
        assert!(error("latency").contains("needs a value"));
        assert!(error("latency=-1").contains("from 0 to 60000"));
        assert!(error("latency=60001").contains("from 0 to 60000"));
        assert!(error("error-rate=1.5").contains("from 0 to 1"));
        assert!(error("error-rate=NaN").contains("from 0 to 1"));
        assert!(error("drop-watch-every=0").contains("above 0"));
        assert!(error("drop-watch-every=inf").contains("above 0"));
        assert!(error("outage-every=10").contains("needs both"));
        assert!(error("outage-every=10,outage-for=10").contains("needs both"));
    }

    proptest::proptest! {
        /// Whatever the text, parsing answers (a value or an error) and never panics.
        #[test]
        fn any_text_is_answered(text in "\\PC{0,40}") {
            let _ = text.parse::<Faults>();
        }

        /// Every value in range is taken as given.
        #[test]
        fn values_in_range_are_taken(ms in 0u64..=60_000, rate in 0.0f64..=1.0, cut in 1u32..10_000) {
            let text = format!("latency={ms},error-rate={rate},drop-watch-every={cut}");
            let faults: Faults = text.parse().unwrap();
            proptest::prop_assert_eq!(faults.latency, Duration::from_millis(ms));
            proptest::prop_assert_eq!(faults.error_rate, rate);
            proptest::prop_assert_eq!(faults.drop_watch_every, Some(Duration::from_secs(cut.into())));
        }
    }
}
