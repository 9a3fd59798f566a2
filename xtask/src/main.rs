//! The workspace's own checks, so that what CI enforces can be run by anyone with the project's
//! tools alone: `cargo xtask rooms` (see [`rooms`]).

mod rooms;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask rooms

  rooms   fail when modules of a crate import each other in a loop (file to file, through
          `use` and paths in code, re-exports followed to where a name is defined), or when a
          file has more than 600 lines before its tests without a `//! Long:` line saying why";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("rooms") => {
            // xtask/ sits in the workspace's root.
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default();
            match rooms::check_workspace(&root) {
                Ok(report) => {
                    print!("{report}");
                    if report.is_clean() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
