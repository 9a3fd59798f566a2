//! The workspace's own checks, so that what CI enforces can be run by anyone with the project's
//! tools alone: `cargo xtask rooms` (see [`rooms`]) and `cargo xtask portable` (see
//! [`portable`]); and the one generated source file, `cargo xtask proto-schema [--check]` (see
//! [`proto_schema`]).

mod portable;
mod proto_schema;
mod rooms;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask rooms|portable|proto-schema [--check]

  rooms   fail when modules of a crate import each other in a loop (file to file, through
          `use` and paths in code, re-exports followed to where a name is defined), or when a
          file has more than 600 lines before its tests without a `//! Long:` line saying why
  portable
          fail when code outside the Unix-only rooms uses std::os::unix, std::os::linux, nix,
          libc or tokio::signal::unix without a #[cfg(unix)]-style attribute around it
  proto-schema
          write local-cluster's table of Kubernetes Protobuf messages from k8s-pb's sources;
          with --check, fail when the table in the repository differs from it";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // xtask/ sits in the workspace's root.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("rooms") => {
            verdict(rooms::check_workspace(&root).map(|r| (r.is_clean(), r.to_string())))
        }
        Some("portable") => {
            let members = match std::fs::read_to_string(root.join("Cargo.toml")) {
                Ok(manifest) => rooms::members(&manifest),
                Err(e) => {
                    eprintln!("error: reading Cargo.toml: {e}");
                    return ExitCode::from(2);
                }
            };
            verdict(
                portable::check_workspace(&root, &members).map(|r| (r.is_clean(), r.to_string())),
            )
        }
        Some("proto-schema") => verdict(proto_schema_command(&root, args.get(1))),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// A check's report printed, and its exit code: 0 clean, 1 findings, 2 the check could not run.
fn verdict(outcome: anyhow::Result<(bool, String)>) -> ExitCode {
    match outcome {
        Ok((clean, report)) => {
            print!("{report}");
            if clean {
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

/// `proto-schema`: writes the table, or with `--check` compares it with the file.
fn proto_schema_command(
    root: &std::path::Path,
    flag: Option<&String>,
) -> anyhow::Result<(bool, String)> {
    let fresh = proto_schema::generate(root)?;
    let path = root.join(proto_schema::TARGET);
    match flag.map(String::as_str) {
        Some("--check") => {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current == fresh {
                Ok((
                    true,
                    format!("{}: as k8s-pb gives it\n", proto_schema::TARGET),
                ))
            } else {
                Ok((
                    false,
                    format!(
                        "{}: differs from what k8s-pb gives; run `cargo xtask proto-schema`\n",
                        proto_schema::TARGET
                    ),
                ))
            }
        }
        None => {
            std::fs::write(&path, fresh)?;
            Ok((true, format!("wrote {}\n", proto_schema::TARGET)))
        }
        Some(other) => anyhow::bail!("proto-schema takes --check or nothing, not {other}"),
    }
}
