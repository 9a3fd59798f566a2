#!/usr/bin/env bash
# Opens the console under Xvfb on the embedded local cluster (a fresh HOME, so no kubeconfig is
# read), waits until the board is up, and saves a screenshot of the whole window.
# Usage: scripts/screenshot.sh [output, default assets/board.png] [seconds to wait, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-assets/board.png}"
wait="${2:-8}"

scripts/install-deps.sh
cargo build --profile quick --locked -p hybrid-console

home="$(mktemp -d)"
display=":$((100 + RANDOM % 400))"
Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
# `set +e`: a console killed by SIGTERM "fails" its wait, which under `set -e` ended the trap
# before Xvfb was stopped.
cleanup() {
  set +e
  for pid in ${console:-} $xvfb; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$home"
}
trap cleanup EXIT
sleep 1
DISPLAY="$display" HOME="$home" LIBGL_ALWAYS_SOFTWARE=1 target/quick/hybrid-console &
console=$!
sleep "$wait"
# Press Calculate (the right panel's button, at its default width) so the table shows who answered.
DISPLAY="$display" xdotool mousemove 1053 149 click 1 || true
sleep 2
DISPLAY="$display" xdotool mousemove 700 880 || true
sleep 0.5
DISPLAY="$display" import -window root "$out"
echo "saved $out"
