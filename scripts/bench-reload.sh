#!/usr/bin/env bash
# How soon a step of a progressive move is in force, as recorded in BENCHMARKS.md: on the local
# cluster (release build, default flags), the calculator's monolith (2 pods) and sum service;
# the routing ConfigMap `monolith-routing` switched between `split 10` and `split 50` N times;
# each time, the time from just before `kubectl apply` to every monolith pod reporting the new
# share at `/api/routes` (polled every 20 ms) — the kubelet's volume sync plus the monolith's
# own poll of its file.
# Usage: scripts/bench-reload.sh [changes, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
changes=${1:-10}
cargo build --release -q -p local-cluster
bin=${CARGO_TARGET_DIR:-target}/release/local-cluster
work=$(mktemp -d)
export KUBECONFIG=$work/kubeconfig
"$bin" up --kubeconfig "$KUBECONFIG" >"$work/cluster.log" 2>&1 &
cluster=$!
cleanup() { kill "$cluster" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q "local cluster up at" "$work/cluster.log" && break; sleep 0.1; done

kubectl apply -f manifests/calculator/00-namespace.yaml -f manifests/calculator/monolith.yaml \
  -f manifests/calculator/calculator-service.yaml -f manifests/calculator/services/sum-service.yaml >/dev/null
kubectl -n calculator rollout status deployment/monolith --timeout=120s >/dev/null
kubectl -n calculator rollout status deployment/sum-service --timeout=120s >/dev/null
service="http://$(kubectl -n calculator get service sum-service -o jsonpath='{.spec.clusterIP}'):3000"
pods=$(kubectl -n calculator get pods -l app.kubernetes.io/component=monolith -o jsonpath='{.items[*].status.podIP}')

echo "== machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r)"
times=()
for i in $(seq "$changes"); do
  percent=$(( i % 2 == 1 ? 10 : 50 ))
  started=$(date +%s%N)
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: monolith-routing, namespace: calculator}
data:
  routing.yaml: "sum: {mode: split, percent: $percent, service: '$service'}"
YAML
  while true; do
    all=1
    for ip in $pods; do
      curl -fs "http://$ip:3000/api/routes" | grep -q "split $percent%" || { all=0; break; }
    done
    [ "$all" = 1 ] && break
    if (( ($(date +%s%N) - started) > 10000000000 )); then echo "change $i not in force after 10 s" >&2; exit 1; fi
    sleep 0.02
  done
  took=$(( ($(date +%s%N) - started) / 1000000 ))
  times+=("$took")
  echo "change $i: split $percent % in force in every monolith pod after $took ms"
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "min %d ms, median %d ms, max %d ms over %d changes\n", a[1], a[int((NR+1)/2)], a[NR], NR}'
