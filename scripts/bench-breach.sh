#!/usr/bin/env bash
# How soon a breach sends the traffic back, as recorded in BENCHMARKS.md: on the local cluster
# (release build, default flags) with the calculator, a progressive move of `sum` with an
# error-injecting build (`0.1.0-fail20`: 20 of every 100 answers a 500) and no shadow step, so
# the 10 % canary breaches its error-rate limit; a probe asks the monolith's pods for sums
# (every 10 ms, each answer noting who computed it). Per round: the time from the console
# reporting the breach (its progress line, which it prints the moment a reading breaks a
# limit) to the last sum the service computed; the analysis window before the breach (one
# reading a second) comes on top.
# Usage: scripts/bench-breach.sh [rounds, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
rounds=${1:-5}
cargo build --release -q -p local-cluster
cargo build --profile quick -q -p hybrid-console
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
export KUBECONFIG=$work/kubeconfig
"$target/release/local-cluster" up --kubeconfig "$KUBECONFIG" >"$work/cluster.log" 2>&1 &
cluster=$!
cleanup() { kill "$cluster" ${probe:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q "local cluster up at" "$work/cluster.log" && break; sleep 0.1; done
kubectl apply -f manifests/calculator/00-namespace.yaml -f manifests/calculator/monolith.yaml \
  -f manifests/calculator/calculator-service.yaml >/dev/null
kubectl -n calculator rollout status deployment/monolith --timeout=120s >/dev/null
pods=$(kubectl -n calculator get pods -l app.kubernetes.io/component=monolith -o jsonpath='{.items[*].status.podIP}')

echo "== machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r)"
# The probe: one line per answer, `<epoch ms> <service that computed it>`.
python3 - "$work/answers" $pods <<'PY' &
import json, sys, time, urllib.request
out, pods = open(sys.argv[1], "w", buffering=1), sys.argv[2:]
n = 0
while True:
    pod = pods[n % len(pods)]
    n += 1
    try:
        with urllib.request.urlopen(f"http://{pod}:3000/sum/2/3", timeout=2) as answer:
            by = json.load(answer)["served-by"]["service"]
    except Exception as e:  # a 500 of the failing build is an answer too
        by = "failed"
    out.write(f"{int(time.time() * 1000)} {by}\n")
    time.sleep(0.01)
PY
probe=$!
results=()
for i in $(seq "$rounds"); do
  started=$(date +%s%3N)
  "$target/quick/hybrid-console" migrate sum --to linux --progressive --shadow 0 --hold 120s \
    --image ghcr.io/hybrid-console/calculator:0.1.0-fail20 --yes >"$work/move.out" 2>&1 || true
  line=$(grep -m1 "Canary: FAILED" "$work/move.out" || true)
  if [ -z "$line" ]; then echo "round $i: no breach reported" >&2; cat "$work/move.out" >&2; exit 1; fi
  # `[  12.3s] Canary: FAILED: …`: seconds since the console started.
  breach=$(( started + $(echo "$line" | sed -E 's/^\[ *([0-9.]+)s\].*/\1/' | awk '{printf "%d", $1 * 1000}') ))
  last=$(awk -v from="$started" '$1 >= from && ($2 == "sum" || $2 == "failed") {t = $1} END {printf "%.0f\n", t}' "$work/answers")
  seen=$(awk -v from="$started" '$1 >= from {c[$2]++} END {for (k in c) printf "%s %d, ", k, c[k]}' "$work/answers")
  if [ "$last" = 0 ]; then echo "round $i: the probe saw no answer by the service ($seen)" >&2; exit 1; fi
  took=$(( last > breach ? last - breach : 0 ))
  results+=("$took")
  echo "round $i: breach at +$(( breach - started )) ms; the service's last answer $took ms after it (answers: ${seen%, }) — ${line#*FAILED: }" | cut -c1-260
  sleep 2
done
printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {printf "breach to 0 %%: min %d ms, median %d ms, max %d ms over %d rounds\n", a[1], a[int((NR+1)/2)], a[NR], NR}'
