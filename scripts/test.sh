#!/usr/bin/env bash
# The project's one test command: installs what the tests need on a fresh machine, then runs the
# format check, clippy with warnings as errors, the rooms check (no import loop between modules,
# no long file without a reason; `cargo xtask rooms`), the portability check (no Unix-only API
# outside `#[cfg(unix)]` or the local cluster's process runtime; `cargo xtask portable`), that the
# local cluster's Protobuf table is what k8s-pb gives (`cargo xtask proto-schema --check`), and
# every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# A one-shot run of everything gains nothing from incremental caches, which for this workspace's
# test binaries take more disk than the binaries themselves; set CARGO_INCREMENTAL=1 to keep them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo fmt --all --check
# Every package first, so that a registry that cannot be reached is said before any compiling.
cargo fetch --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo xtask rooms
cargo xtask portable
cargo xtask proto-schema --check
cargo test --workspace --locked
