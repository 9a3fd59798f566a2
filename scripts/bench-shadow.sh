#!/usr/bin/env bash
# The monolith's latency with a shadow on and off at the same load, as recorded in BENCHMARKS.md:
# a real `sum` service and a real monolith (release builds), the monolith's routing file saying
# `in-process` or `shadow` for sum, and wrk holding the same request rate on `/sum/0.1/0.2`
# (each of 8 connections waits 2 ms between answers: about 3,400 requests/s, below saturation,
# so a difference is the shadow's cost and not a queue). ROUNDS rounds (default 5), the two
# sides alternating which runs first; the median p99 of each side at the end.
# Usage: [ROUNDS=5] [PER_SECOND=N] scripts/bench-shadow.sh [duration, default 10s]
# (PER_SECOND sets the shadow's `per-second`; unset, the default of 100 comparisons a second)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
duration=${1:-10s}
cargo build --release -q -p calc-services
bin=${CARGO_TARGET_DIR:-target}/release/calc-services
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The service runs at the lowest priority: on a cluster it is on another node (a Linux one),
# so its own CPU must not be charged to the monolith sharing these two cores.
HOST=127.0.0.1 PORT=39301 RUST_LOG=warn nice -n 19 "$bin" sum >"$work/sum.log" 2>&1 &
pids+=($!)
echo "sum: {mode: in-process}" >"$work/routing.yaml"
HOST=127.0.0.1 PORT=39302 RUST_LOG=warn CALC_ROUTING_FILE="$work/routing.yaml" "$bin" monolith >"$work/monolith.log" 2>&1 &
pids+=($!)
for port in 39301 39302; do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
done
cat >"$work/paced.lua" <<'LUA'
function delay() return 2 end
LUA

# Puts `text` in force and waits until the monolith reports `expected` for sum.
route() {
  printf '%s\n' "$1" >"$work/routing.new" && mv "$work/routing.new" "$work/routing.yaml"
  for _ in $(seq 100); do
    curl -fs http://127.0.0.1:39302/api/routes | grep -q "\"sum\":\"$2" && return 0
    sleep 0.05
  done
  echo "the monolith did not take up: $1" >&2
  exit 1
}

echo "== machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r)"
# wrk's percentile in microseconds ("405.00us", "1.20ms").
micros() { awk '{v=$2; if (v ~ /us$/) {sub(/us$/,"",v); print v} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else {sub(/s$/,"",v); print v*1000000}}'; }
declare -A p99s=([off]="" [on]="")
rounds=${ROUNDS:-5}
for round in $(seq "$rounds"); do
  # Alternate the order, so neither side always runs second.
  order="off on"; (( round % 2 == 0 )) && order="on off"
  for mode in $order; do
    if [ "$mode" = on ]; then
      route "sum: {mode: shadow, service: 'http://127.0.0.1:39301'${PER_SECOND:+, per-second: $PER_SECOND}}" "shadow"
    else
      route "sum: {mode: in-process}" "in-process"
    fi
    out=$(wrk -t2 -c8 -d"$duration" --latency -s "$work/paced.lua" http://127.0.0.1:39302/sum/0.1/0.2)
    echo "-- round $round, shadow $mode: wrk -t2 -c8 -d$duration --latency -s paced.lua (2 ms between answers) …/sum/0.1/0.2"
    grep -E "Requests/sec|50%|90%|99%|Non-2xx|Socket errors" <<<"$out" || true
    p99s[$mode]+="$(grep -E '^ +99%' <<<"$out" | micros) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
off=$(median <<<"${p99s[off]}"); on=$(median <<<"${p99s[on]}")
awk -v off="$off" -v on="$on" 'BEGIN { printf "median p99: shadow off %d us, on %d us (%+.1f %%)\n", off, on, 100*(on-off)/off }'
echo "-- the shadow's count in its last round:"
curl -fs http://127.0.0.1:39302/api/shadow | python3 -c 'import json,sys; r=json.load(sys.stdin)["sum"]; print({k: r[k] for k in ("compared","matched","mismatched","failed","skipped")})'
