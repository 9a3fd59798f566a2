#!/usr/bin/env bash
# Load-tests calc-services with wrk, as recorded in BENCHMARKS.md:
#   /sum/2/3 on the sum role, and /api/calculate on the ui role fanning out to four services.
# Usage: scripts/bench-calc-services.sh [duration, default 10s]
#   PROFILE=quick scripts/bench-calc-services.sh   the same built as scripts/run.sh builds
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
duration=${1:-10s}
profile=${PROFILE:-release}
cargo build --profile "$profile" -q -p calc-services --bin calc-services --example minimal_axum
out=${CARGO_TARGET_DIR:-target}/$profile
bin=$out/calc-services
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

start() { # role port [env...]
  local role=$1 port=$2; shift 2
  env HOST=127.0.0.1 PORT="$port" RUST_LOG=warn "$@" "$bin" "$role" &
  pids+=($!)
}
start sum 18001
start subtraction 18002
start multiplication 18003
start division 18004
start ui 18000 SUM_SERVICE_URL=http://127.0.0.1:18001 SUBTRACTION_SERVICE_URL=http://127.0.0.1:18002 \
  MULTIPLICATION_SERVICE_URL=http://127.0.0.1:18003 DIVISION_SERVICE_URL=http://127.0.0.1:18004
for port in 18000 18001 18002 18003 18004; do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.05; done
done
curl -fs "http://127.0.0.1:18000/api/calculate?a=6&b=3"; echo

echo "== machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r)"
"$out/examples/minimal_axum" &
pids+=($!)
sleep 0.5
echo "== yardstick: minimal axum handler, same JSON (wrk -t2 -c64 -d$duration)"
wrk -t2 -c64 -d"$duration" --latency http://127.0.0.1:18100/sum/2/3 | grep -E "Requests/sec|50%|99%"
kill "${pids[-1]}"

rss() { awk '/VmRSS|VmHWM/ {printf "%s %s kB  ", $1, $2}' "/proc/$1/status"; echo; }
echo "== wrk -t2 -c64 -d$duration http://127.0.0.1:18001/sum/2/3"
wrk -t2 -c64 -d"$duration" --latency http://127.0.0.1:18001/sum/2/3
echo "sum process: $(rss "${pids[0]}")"
sleep 1
echo "== wrk -t2 -c64 -d$duration http://127.0.0.1:18000/api/calculate?a=6&b=3"
wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:18000/api/calculate?a=6&b=3"
echo "ui process:  $(rss "${pids[4]}")"
echo "sum process: $(rss "${pids[0]}")"
