//! `calc-services <role>`: one calculator service.

use calc_services::Role;
use clap::Parser;

/// One service of the demo calculator. Listens on HOST:PORT (default 0.0.0.0:3000).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Which service to run.
    #[arg(value_enum)]
    role: Role,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    calc_services::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(calc_services::run_from_env(cli.role))
}
