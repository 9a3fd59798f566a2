//! The HTTP surface of every role: one router, built from the role and its routing table.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};

use crate::api::{
    CalculateAnswer, ErrorBody, ErrorDetail, ExactNumber, OperationAnswer, OperationOutcome,
    ServedBy,
};
use crate::arithmetic::parse_operand;
use crate::backend::{ServiceClient, ServiceReply};
use crate::config::ServiceConfig;
use crate::error::CalcError;
use crate::metrics::{self, Metrics};
use crate::misbehave::Misbehaviour;
use crate::operation::{InvalidReason, Operand, Operation};
use crate::role::Role;
use crate::routing::{Route, RoutingTable};

/// What every handler shares.
pub struct AppState {
    role: Role,
    served_by: ServedBy,
    routes: RoutingTable,
    client: ServiceClient,
    ready: AtomicBool,
    misbehave: Option<Misbehaviour>,
    answered: AtomicU64,
    /// The process's metrics, also rendered at `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State for a process configured by `config`.
    pub fn new(config: &ServiceConfig) -> Arc<Self> {
        Arc::new(AppState {
            role: config.role,
            served_by: config.served_by.clone(),
            routes: config.routes.clone(),
            client: ServiceClient::new(config.backend_timeout),
            ready: AtomicBool::new(true),
            misbehave: config.misbehave,
            answered: AtomicU64::new(0),
            metrics: Arc::new(Metrics::default()),
        })
    }

    /// What `CALC_MISBEHAVE` does before an operation computed here is answered: wait, never
    /// answer, answer garbage, or end the process; `None` to answer (a wrong answer is made
    /// by [`AppState::total`]).
    async fn misbehave_first(&self) -> Option<Response> {
        match self.misbehave? {
            Misbehaviour::Slow(delay) => {
                tokio::time::sleep(delay).await;
                None
            }
            Misbehaviour::Hang => std::future::pending().await,
            Misbehaviour::Garbage => Some(
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    "{\"total\": definitely not a number",
                )
                    .into_response(),
            ),
            Misbehaviour::DieAfter(answers) => {
                if self.answered.fetch_add(1, Ordering::SeqCst) >= answers {
                    tracing::error!(answers, "CALC_MISBEHAVE=die-after: exiting");
                    std::process::exit(1);
                }
                None
            }
            Misbehaviour::WrongAnswer => None,
        }
    }

    /// The total to answer: `total`, or one more with `CALC_MISBEHAVE=wrong-answer`.
    fn total(&self, total: rust_decimal::Decimal) -> rust_decimal::Decimal {
        match self.misbehave {
            Some(Misbehaviour::WrongAnswer) => total
                .checked_add(rust_decimal::Decimal::ONE)
                .unwrap_or(total),
            _ => total,
        }
    }

    /// Makes `/readyz` fail so load balancers stop sending new work while in-flight work ends.
    pub fn mark_shutting_down(&self) {
        self.ready.store(false, Ordering::SeqCst);
    }

    fn error_response(&self, err: &CalcError) -> Response {
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail::from(err),
            served_by: Some(self.served_by.clone()),
        };
        (status, Json(body)).into_response()
    }
}

/// The router for `state`'s role: operation paths, frontend paths, health and metrics.
pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for &op in state.role.operations() {
        let path = format!("/{}/{{a}}/{{b}}", op.name());
        router = router.route(
            &path,
            get(
                move |state: State<Arc<AppState>>, operands: Path<(String, String)>| {
                    operation(op, state, operands)
                },
            ),
        );
    }
    if state.role.is_frontend() {
        router = router
            .route("/", get(page))
            .route("/api/calculate", get(calculate))
            .route("/api/routes", get(routes));
    }
    let metrics = state.metrics.clone();
    router
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
}

fn operands(a: &str, b: &str) -> Result<(ExactNumber, ExactNumber), CalcError> {
    Ok((
        ExactNumber(parse_operand(Operand::First, a)?),
        ExactNumber(parse_operand(Operand::Second, b)?),
    ))
}

/// `GET /{op}/{a}/{b}`: computed here, or forwarded to the service the routing table names.
async fn operation(
    op: Operation,
    State(state): State<Arc<AppState>>,
    Path((a, b)): Path<(String, String)>,
) -> Response {
    let (a, b) = match operands(&a, &b) {
        Ok(pair) => pair,
        Err(err) => return state.error_response(&err),
    };
    match state.routes.route(op) {
        Some(Route::Remote(base)) => match state.client.call(base, op, a, b).await.0 {
            Ok(ServiceReply::Answer(answer)) => Json(answer).into_response(),
            Ok(ServiceReply::Error { status, body }) => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                Json(body),
            )
                .into_response(),
            Err(err) => {
                tracing::warn!(operation = %op, error = %err, "forwarding failed");
                state.error_response(&err)
            }
        },
        _ => {
            if let Some(misbehaved) = state.misbehave_first().await {
                return misbehaved;
            }
            match op.apply(a.0, b.0) {
                Ok(total) => Json(OperationAnswer {
                    first_number: a,
                    second_number: b,
                    operation: op,
                    total: ExactNumber(state.total(total)),
                    served_by: state.served_by.clone(),
                })
                .into_response(),
                Err(err) => state.error_response(&err),
            }
        }
    }
}

/// `GET /api/calculate?a=&b=`: all four operations concurrently; one failing does not fail the rest.
async fn calculate(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let read = |name: &str, operand| match query.get(name) {
        Some(raw) => parse_operand(operand, raw.trim()).map(ExactNumber),
        None => Err(CalcError::InvalidNumber {
            operand,
            input: String::new(),
            reason: InvalidReason::Missing,
        }),
    };
    let (a, b) = match read("a", Operand::First).and_then(|a| Ok((a, read("b", Operand::Second)?)))
    {
        Ok(pair) => pair,
        Err(err) => return state.error_response(&err),
    };
    let [sum, subtraction, multiplication, division] =
        Operation::ALL.map(|op| outcome(&state, op, a, b));
    let (sum, subtraction, multiplication, division) =
        tokio::join!(sum, subtraction, multiplication, division);
    Json(CalculateAnswer {
        a,
        b,
        frontend: state.served_by.clone(),
        results: vec![sum, subtraction, multiplication, division],
    })
    .into_response()
}

async fn outcome(
    state: &AppState,
    op: Operation,
    a: ExactNumber,
    b: ExactNumber,
) -> OperationOutcome {
    let failed = |err: &CalcError, served_by, latency_ms| OperationOutcome {
        operation: op,
        total: None,
        error: Some(ErrorDetail::from(err)),
        served_by,
        latency_ms,
    };
    match state.routes.route(op) {
        Some(Route::Remote(base)) => {
            let (reply, elapsed) = state.client.call(base, op, a, b).await;
            let latency_ms = millis(elapsed);
            match reply {
                Ok(ServiceReply::Answer(answer)) => OperationOutcome {
                    operation: op,
                    total: Some(answer.total),
                    error: None,
                    served_by: Some(answer.served_by),
                    latency_ms,
                },
                Ok(ServiceReply::Error { body, .. }) => OperationOutcome {
                    operation: op,
                    total: None,
                    error: Some(body.error),
                    served_by: body.served_by,
                    latency_ms,
                },
                Err(err) => {
                    tracing::warn!(operation = %op, error = %err, "operation service failed");
                    failed(&err, None, latency_ms)
                }
            }
        }
        _ => {
            let started = Instant::now();
            let result = op.apply(a.0, b.0);
            let latency_ms = millis(started.elapsed());
            match result {
                Ok(total) => OperationOutcome {
                    operation: op,
                    total: Some(ExactNumber(total)),
                    error: None,
                    served_by: Some(state.served_by.clone()),
                    latency_ms,
                },
                Err(err) => failed(&err, Some(state.served_by.clone()), latency_ms),
            }
        }
    }
}

/// Milliseconds with microsecond resolution: `1.632`, not `1.6315769999999998`.
fn millis(elapsed: std::time::Duration) -> f64 {
    elapsed.as_micros() as f64 / 1000.0
}

async fn routes(State(state): State<Arc<AppState>>) -> Response {
    Json(state.routes.report()).into_response()
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
    }
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn not_found(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    // `/sum//3` does not match `/sum/{a}/{b}` (a path segment cannot be empty), but it is an
    // empty number, not a missing page.
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    if let [name, a, b] = segments[..]
        && state.role.operations().iter().any(|op| op.name() == name)
        && let Err(err) = operands(a, b)
    {
        return state.error_response(&err);
    }
    let mut available: Vec<String> = state
        .role
        .operations()
        .iter()
        .map(|op| format!("/{op}/{{a}}/{{b}}"))
        .collect();
    if state.role.is_frontend() {
        available.extend([
            "/".into(),
            "/api/calculate?a=&b=".into(),
            "/api/routes".into(),
        ]);
    }
    available.extend(["/healthz".into(), "/readyz".into(), "/metrics".into()]);
    state.error_response(&CalcError::NotFound {
        path: uri.path().to_owned(),
        role: state.role.name(),
        available: available.join(", "),
    })
}
