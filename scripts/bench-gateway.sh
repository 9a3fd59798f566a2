#!/usr/bin/env bash
# Load-tests the local cluster's Gateway API data plane with wrk, as recorded in BENCHMARKS.md:
# the same calculator pods (`sum`, 2 replicas) asked directly at a pod, through their Service's
# ClusterIP (the cluster's TCP proxy), and through a Gateway listener (HTTP routing by an
# HTTPRoute with two weighted backendRefs to the same pods).
# Usage: scripts/bench-gateway.sh [duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
duration=${1:-10s}
cargo build --release -q -p local-cluster
bin=${CARGO_TARGET_DIR:-target}/release/local-cluster
work=$(mktemp -d)
export KUBECONFIG=$work/kubeconfig
"$bin" up --kubeconfig "$KUBECONFIG" >"$work/cluster.log" 2>&1 &
cluster=$!
cleanup() { kill "$cluster" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q "local cluster up at" "$work/cluster.log" && break; sleep 0.1; done

kubectl apply -f manifests/gateway-api/standard-crds.yaml >/dev/null
kubectl wait --for=condition=Accepted gatewayclass/local-cluster --timeout=20s >/dev/null
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: bench}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sum, namespace: bench}
spec:
  replicas: 2
  selector: {matchLabels: {app: sum}}
  template:
    metadata: {labels: {app: sum}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers:
        - name: calculator
          image: ghcr.io/hybrid-console/calculator:0.1.0
          args: ["sum"]
          ports: [{name: http, containerPort: 3000}]
          env: [{name: RUST_LOG, value: warn}]
---
apiVersion: v1
kind: Service
metadata: {name: sum, namespace: bench}
spec:
  selector: {app: sum}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: sum-canary, namespace: bench}
spec:
  selector: {app: sum}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: bench}
spec:
  gatewayClassName: local-cluster
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: sum, namespace: bench}
spec:
  parentRefs: [{name: edge}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /sum}}]
      backendRefs:
        - {name: sum, port: 80, weight: 90}
        - {name: sum-canary, port: 80, weight: 10}
YAML
kubectl -n bench rollout status deployment/sum --timeout=60s >/dev/null
kubectl -n bench wait --for=condition=Programmed gateway/edge --timeout=20s >/dev/null
pod=$(kubectl -n bench get pods -l app=sum -o jsonpath='{.items[0].status.podIP}')
service=$(kubectl -n bench get service sum -o jsonpath='{.spec.clusterIP}')
gateway=$(kubectl -n bench get gateway edge -o jsonpath='{.status.addresses[0].value}')
for url in "http://$pod:3000" "http://$service:80" "http://$gateway:8080"; do
  curl -fs "$url/sum/2/3" >/dev/null || { echo "not answering: $url" >&2; exit 1; }
done

echo "== machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r)"
# Rounds alternate the three targets, so a slow moment of the machine hits all of them alike.
rounds=${ROUNDS:-3}
rate() { grep -E "Requests/sec" <<<"$1" | awk '{print $2}'; }
for round in $(seq "$rounds"); do
  echo "== round $round"
  declare -A rates=()
  for target in "pod|one pod directly|http://$pod:3000" "service|the Service (ClusterIP, TCP proxy)|http://$service:80" \
                "gateway|the Gateway (HTTPRoute, 90/10 weights)|http://$gateway:8080"; do
    IFS='|' read -r key label url <<<"$target"
    out=$(wrk -t2 -c64 -d"$duration" --latency "$url/sum/2/3")
    rates[$key]=$(rate "$out")
    echo "-- $label: wrk -t2 -c64 -d$duration --latency $url/sum/2/3"
    grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors" <<<"$out" || true
    sleep 1
  done
  awk -v g="${rates[gateway]}" -v s="${rates[service]}" \
    'BEGIN { printf "round %d: gateway/service = %.1f %% (the gateway costs %.1f %%)\n", '"$round"', 100*g/s, 100-100*g/s }'
done
