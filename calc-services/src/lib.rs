//! The demo calculator that hybrid-console deploys, migrates and calls.
//!
//! One binary plays six roles (`sum`, `subtraction`, `multiplication`, `division`, `ui`,
//! `monolith`). Arithmetic is exact (96-bit decimals), errors are JSON a person can read, and the
//! frontends fan out to the operations concurrently, each either in-process or remote according
//! to the strangler-fig routing variables.

mod api;
mod arithmetic;
mod backend;
mod config;
mod discovery;
mod dispatch;
mod error;
mod http;
mod metrics;
mod misbehave;
mod operation;
mod role;
mod routing;
mod served_by;
mod server;
mod shadow;
mod share;

pub use api::{
    CalculateAnswer, ErrorBody, ExactNumber, OperationAnswer, OperationOutcome, RouteReport,
    ServedBy, ShadowMismatch, ShadowRecord, ShadowReport,
};
pub use arithmetic::parse_operand;
pub use config::{ConfigError, ServiceConfig};
pub use error::CalcError;
pub use operation::{InvalidReason, Operand, Operation, RangeReason};
pub use role::Role;
pub use routing::live::RoutingFileError;
pub use routing::{RoutingUrlError, default_service_url};
pub use server::{serve, termination_signal};

/// Reads the role's configuration from the environment and serves until SIGTERM or Ctrl-C.
pub async fn run_from_env(role: Role) -> anyhow::Result<()> {
    let config = ServiceConfig::from_env(role)?;
    server::serve(&config, server::termination_signal()).await?;
    Ok(())
}

/// Sets up `tracing` output for a calculator process: `RUST_LOG` filters, `info` by default.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}
