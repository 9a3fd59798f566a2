#!/usr/bin/env bash
# Opens the console under Xvfb on the embedded local cluster, drags the `sum` chip from the
# Windows monolith to the Linux lane, and saves three pictures: the drag (lanes lit up), the plan
# dialog, and the move in progress. Coordinates are the default 1440x900 layout's.
# Usage: scripts/screenshot-move.sh [output directory, default assets]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-assets}"

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
export DISPLAY="$display"
HOME="$home" LIBGL_ALWAYS_SOFTWARE=1 target/quick/hybrid-console &
console=$!
sleep 8
# The first monolith tile's `sum` chip, dragged in steps into the Linux lane.
xdotool mousemove 300 207
sleep 0.3
xdotool mousedown 1
for x in 350 450 550 650 750 820; do
  xdotool mousemove "$x" 450
  sleep 0.15
done
sleep 0.5
import -window root "$out/drag.png"
xdotool mouseup 1
sleep 2
import -window root "$out/plan.png"
# Move, then a picture while the monolith redeploys.
xdotool mousemove 383 624 click 1
sleep 0.45
import -window root "$out/move.png"
echo "saved $out/drag.png $out/plan.png $out/move.png"
