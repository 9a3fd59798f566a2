#!/usr/bin/env bash
# Opens the console under Xvfb on the embedded local cluster (a fresh HOME, so no kubeconfig is
# read), waits until the board is up, and saves a screenshot of the whole window.
# Usage: scripts/screenshot.sh [output, default assets/board.png] [seconds to wait, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-assets/board.png}"
wait="${2:-8}"

scripts/install-deps.sh
cargo build --release --locked -p hybrid-console

home="$(mktemp -d)"
display=":$((100 + RANDOM % 400))"
Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
cleanup() {
  [ -n "${console:-}" ] && kill "$console" 2>/dev/null && wait "$console" 2>/dev/null
  kill "$xvfb" 2>/dev/null || true
  rm -rf "$home"
}
trap cleanup EXIT
sleep 1
DISPLAY="$display" HOME="$home" LIBGL_ALWAYS_SOFTWARE=1 target/release/hybrid-console &
console=$!
sleep "$wait"
# Press Calculate (the right panel's button, at its default width) so the table shows who answered.
DISPLAY="$display" xdotool mousemove 1053 149 click 1 || true
sleep 2
DISPLAY="$display" xdotool mousemove 700 880 || true
sleep 0.5
DISPLAY="$display" import -window root "$out"
echo "saved $out"
