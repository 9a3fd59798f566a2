#!/usr/bin/env bash
# Measures how long a new user waits for a working hybrid cluster: the console opened under Xvfb
# with a fresh HOME (nothing configured, so the embedded local cluster starts), until the board
# shows the nodes and the calculator monolith Ready. The console measures from the moment its
# window is created and exits when ready (HYBRID_CONSOLE_EXIT_WHEN_READY).
# Usage: scripts/bench-startup.sh [runs, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"

scripts/install-deps.sh
cargo build --release --locked -p hybrid-console

display=":$((100 + RANDOM % 400))"
Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1

ready=()
total=()
for i in $(seq "$runs"); do
  home="$(mktemp -d)"
  start=$(date +%s.%N)
  line=$(DISPLAY="$display" HOME="$home" HYBRID_CONSOLE_EXIT_WHEN_READY=1 \
    timeout 60 target/release/hybrid-console | grep '^ready ')
  end=$(date +%s.%N)
  rm -rf "$home"
  r=$(echo "$line" | awk '{print $2}')
  t=$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')
  ready+=("$r")
  total+=("$t")
  printf 'run %2d: ready %.3f s after the window opened; process start to exit %.3f s\n' "$i" "$r" "$t"
done
summary() {
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %.3f  median %.3f  max %.3f s\n", a[1], a[int((NR+1)/2)], a[NR]}'
}
echo "ready after window opened: $(summary "${ready[@]}")"
echo "process start to exit:     $(summary "${total[@]}")"
