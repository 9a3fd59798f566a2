#!/usr/bin/env bash
# Runs the console. With no cluster configured (no ~/.kube/config, no --kubeconfig) it starts the
# embedded local hybrid cluster (2 Windows + 2 Linux nodes, the calculator monolith).
#   scripts/run.sh                      the window
#   scripts/run.sh status               a subcommand (status, calc 6 3, --help …)
#   scripts/run.sh --kubeconfig F --context C
# On a machine with no display (a server, CI) the window opens in a virtual X server (Xvfb);
# scripts/screenshot.sh shows what it looks like there.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# The `quick` profile: optimised enough for a cluster of a few nodes, and built in 78 % of the
# release profile's time on a fresh machine (BENCHMARKS.md, "Time to first window").
cargo build --profile quick --locked -p hybrid-console
binary=target/quick/hybrid-console

subcommand=false
for arg in "$@"; do
  case "$arg" in
    -*) ;;
    *) subcommand=true; break ;;
  esac
done
# `--kubeconfig F`/`--context C` take a value that is not a subcommand.
case "${1:-}" in --kubeconfig|--context|-o|--output) [ $# -ge 3 ] || subcommand=false ;; esac

if $subcommand || [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec "$binary" "$@"
fi
echo "No display found: opening the window in a virtual X server (Xvfb, 1440x900)." >&2
echo "Stop it with Ctrl-C. For a picture of it, run scripts/screenshot.sh." >&2
exec xvfb-run -a -s "-screen 0 1440x900x24" "$binary" "$@"
