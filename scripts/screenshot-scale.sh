#!/usr/bin/env bash
# The board at size. Starts the local cluster with 500 Windows and 4,500 Linux nodes and 150,000
# simulated pods, makes one Linux node NotReady and runs one pod whose image has no Linux build,
# opens the console on it under Xvfb and saves two screenshots:
#   assets/board-5000.png          as it opens (fitted: every node on screen)
#   assets/board-5000-zoomed.png   after searching for the NotReady node (zoomed to it)
# Usage: scripts/screenshot-scale.sh [seconds to wait for the first board, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
wait="${1:-60}"

scripts/install-deps.sh
cargo build --release --locked -p hybrid-console -p local-cluster
bin="${CARGO_TARGET_DIR:-target}/release"

work="$(mktemp -d)"
display=":$((100 + RANDOM % 400))"
# Every step runs whatever the one before returned: a process killed by SIGTERM "fails" its
# wait, and under `set -e` that ended the trap before the cluster was stopped.
cleanup() {
  set +e
  for pid in ${console:-} ${cluster:-} ${xvfb:-}; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
kubeconfig="$work/kubeconfig"
"$bin/local-cluster" up --kubeconfig "$kubeconfig" --windows-nodes 500 --linux-nodes 4500 \
  --simulated-pods 150000 >"$work/cluster.log" 2>&1 &
cluster=$!
for _ in $(seq 120); do
  grep -q "local cluster up" "$work/cluster.log" && break
  sleep 1
done
grep -q "local cluster up" "$work/cluster.log" || { cat "$work/cluster.log"; exit 1; }
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

# One problem of each kind the board must show at every zoom.
down="$(k get nodes -l kubernetes.io/os=linux -o name | sed -n 1234p | cut -d/ -f2)"
k patch node "$down" --subresource=status --type=merge \
  -p '{"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady","message":"container runtime is down"}]}}' >/dev/null
k create namespace shop >/dev/null
k -n shop run wrong-os --image=mcr.microsoft.com/windows/servercore:ltsc2022 \
  --overrides='{"spec":{"nodeSelector":{"kubernetes.io/os":"linux"}}}' >/dev/null
echo "NotReady: $down"

Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
sleep 1
DISPLAY="$display" HOME="$work" LIBGL_ALWAYS_SOFTWARE=1 \
  "$bin/hybrid-console" --kubeconfig "$kubeconfig" &
console=$!
sleep "$wait"
DISPLAY="$display" xdotool mousemove 720 880 || true
sleep 1
DISPLAY="$display" import -window root assets/board-5000.png
echo "saved assets/board-5000.png"

# The search box is the top bar's text field (where it is with the connection live, at the
# default 1440x900 layout; SEARCH_X/SEARCH_Y move the click); typing the node's name zooms to it.
# With no window manager, keys go to the X input focus: give it to the window first.
DISPLAY="$display" xdotool search --name hybrid-console windowfocus --sync
DISPLAY="$display" xdotool mousemove "${SEARCH_X:-650}" "${SEARCH_Y:-12}" click 1
DISPLAY="$display" xdotool type --delay 20 "$down"
sleep 3
DISPLAY="$display" xdotool mousemove 720 880 || true
sleep 1
DISPLAY="$display" import -window root assets/board-5000-zoomed.png
echo "saved assets/board-5000-zoomed.png"
