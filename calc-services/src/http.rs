//! The HTTP surface of every role: one router, built from the role and its routing table.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};

use crate::api::{CalculateAnswer, ErrorBody, ErrorDetail, ExactNumber, ServedBy};
use crate::arithmetic::parse_operand;
use crate::backend::{ServiceClient, ServiceReply};
use crate::config::ServiceConfig;
use crate::error::CalcError;
use crate::metrics::{self, Metrics, RouteTaken};
use crate::misbehave::Misbehaviour;
use crate::operation::{InvalidReason, Operand, Operation};
use crate::role::Role;
use crate::routing::Route;
use crate::routing::live::LiveRoutes;
use crate::shadow::Shadows;

/// What every handler shares.
pub struct AppState {
    pub(crate) role: Role,
    pub(crate) served_by: ServedBy,
    /// The routing table in force, re-read from the routing file when there is one.
    pub(crate) routes: Arc<LiveRoutes>,
    pub(crate) client: ServiceClient,
    ready: AtomicBool,
    pub(crate) misbehave: Option<Misbehaviour>,
    answered: AtomicU64,
    /// Requests of each operation (by `Operation as usize`) seen by a `split` route, which picks
    /// the service's share of them evenly.
    pub(crate) split_counts: [AtomicU64; 4],
    /// Answers seen by `CALC_MISBEHAVE=fail-percent`, which fails its share of them evenly.
    pub(crate) failure_count: AtomicU64,
    /// The shadow comparisons' record.
    pub(crate) shadows: Shadows,
    /// The process's metrics, also rendered at `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State for a process configured by `config`, routed by `routes`.
    pub fn new(config: &ServiceConfig, routes: Arc<LiveRoutes>) -> Arc<Self> {
        let metrics = Arc::new(Metrics::default());
        let shadows = Shadows::default();
        let table = routes.current();
        metrics.routes_in_force(&table);
        shadows.follow(&table);
        Arc::new(AppState {
            role: config.role,
            served_by: config.served_by.clone(),
            routes,
            client: ServiceClient::new(config.backend_timeout),
            ready: AtomicBool::new(true),
            misbehave: config.misbehave,
            answered: AtomicU64::new(0),
            split_counts: Default::default(),
            failure_count: AtomicU64::new(0),
            shadows,
            metrics,
        })
    }

    /// What `CALC_MISBEHAVE` does before an operation computed here is answered: wait, never
    /// answer, answer garbage, or end the process; `None` to answer (wrong, drifting and failed
    /// answers are made by the arithmetic itself, `dispatch`).
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
            Misbehaviour::WrongAnswer | Misbehaviour::Float | Misbehaviour::FailPercent(_) => None,
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
    if state.role == Role::Monolith {
        router = router.route("/api/shadow", get(shadow));
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

/// `GET /{op}/{a}/{b}`: computed by the route in force (here, by its service, or both).
async fn operation(
    op: Operation,
    State(state): State<Arc<AppState>>,
    Path((a, b)): Path<(String, String)>,
) -> Response {
    let (a, b) = match operands(&a, &b) {
        Ok(pair) => pair,
        Err(err) => return state.error_response(&err),
    };
    if matches!(
        state.routes.current().route(op),
        Some(Route::InProcess) | None
    ) && let Some(misbehaved) = state.misbehave_first().await
    {
        return misbehaved;
    }
    let computed = state.compute(op, a, b).await;
    match computed.reply {
        Ok(ServiceReply::Answer(answer)) => Json(answer).into_response(),
        Ok(ServiceReply::Error { status, body }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            Json(body),
        )
            .into_response(),
        Err(err) => {
            if computed.route != RouteTaken::InProcess {
                tracing::warn!(operation = %op, error = %err, "forwarding failed");
            }
            state.error_response(&err)
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
    state: &Arc<AppState>,
    op: Operation,
    a: ExactNumber,
    b: ExactNumber,
) -> crate::api::OperationOutcome {
    let computed = state.compute(op, a, b).await;
    if let (Err(err), RouteTaken::Service) = (&computed.reply, computed.route) {
        tracing::warn!(operation = %op, error = %err, "operation service failed");
    }
    state.outcome_of(op, &computed)
}

async fn shadow(State(state): State<Arc<AppState>>) -> Response {
    Json(state.shadows.report()).into_response()
}

async fn routes(State(state): State<Arc<AppState>>) -> Response {
    Json(state.routes.current().report()).into_response()
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
    if state.role == Role::Monolith {
        available.push("/api/shadow".into());
    }
    available.extend(["/healthz".into(), "/readyz".into(), "/metrics".into()]);
    state.error_response(&CalcError::NotFound {
        path: uri.path().to_owned(),
        role: state.role.name(),
        available: available.join(", "),
    })
}
