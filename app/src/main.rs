//! `hybrid-console`: the window, or a CLI subcommand.

use std::process::ExitCode;

use clap::Parser;
use hybrid_console::cli::{self, Cli};
use hybrid_console::live::embedded::EmbeddedOptions;
use hybrid_console::ui::{ConsoleApp, Persisted};

/// Every frame allocates and frees the board's meshes (megabytes at 5,000 nodes). glibc's
/// allocator hands such blocks back to the kernel and takes them again, page by page, so a
/// frame of a big board cost three times its work in page faults (BENCHMARKS.md, "The board at
/// 5,000 nodes"); mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The embedded cluster runs calculator containers by re-running this executable.
    local_cluster::calculator::serve_if_requested();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,kube_client::client::builder=off,aws_config=error")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    match &cli.command {
        Some(command) => cli::run(&cli, command),
        None => run_window(&cli),
    }
}

fn run_window(cli: &Cli) -> ExitCode {
    let plan = match hybrid_console::migration::plan_file::load(cli.plan.as_deref()) {
        Ok(plan) => std::sync::Arc::new(plan),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let prices = match cli.price_list() {
        Ok(prices) => prices,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let cost_explorer = cli
        .cost_explorer_cluster()
        .map(|cluster| (cli.aws(), cluster));
    let target = cli.target();
    let kubeconfig = cli.kubeconfig.clone();
    let exit_when_ready = std::env::var_os("HYBRID_CONSOLE_EXIT_WHEN_READY").is_some();
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("hybrid-console")
        // The desktop entry's name: window managers match the two (StartupWMClass).
        .with_app_id("hybrid-console")
        .with_inner_size([1440.0, 900.0])
        .with_min_inner_size([900.0, 600.0]);
    // The icon the package installs, in the window's title bar and task switcher too.
    match hybrid_console::ui::window_icon() {
        Ok(icon) => viewport = viewport.with_icon(std::sync::Arc::new(icon)),
        Err(e) => tracing::warn!(error = %e, "the window's icon could not be read"),
    }
    let options = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    let result = eframe::run_native(
        "hybrid-console",
        options,
        Box::new(move |cc| {
            let persisted: Persisted = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            let ctx = cc.egui_ctx.clone();
            Ok(Box::new(
                ConsoleApp::new(
                    move || ctx.request_repaint(),
                    target,
                    kubeconfig,
                    plan,
                    persisted,
                    exit_when_ready,
                    EmbeddedOptions::default(),
                )
                .with_costs(prices, cost_explorer),
            ))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: cannot open the window: {e}. Is a display available (DISPLAY or WAYLAND_DISPLAY)? For scripts, use a subcommand such as `hybrid-console status`."
            );
            ExitCode::FAILURE
        }
    }
}
