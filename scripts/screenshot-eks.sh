#!/usr/bin/env bash
# Pictures of the EKS view under Xvfb, with no AWS account: moto server holds the EKS cluster
# `hybrid-calculator` (a Linux and a tainted Windows node group), the local cluster follows it
# with the calculator monolith, and the console is driven with xdotool at the default 1440x900
# layout's coordinates. Saves eks.png (clusters and the readiness window), eks-retire.png (the
# confirmation once the monolith is gone), eks-empty.png (the Windows lane emptied) and
# eks-add.png (adding a node group from the eksctl file: the findings first).
# Usage: scripts/screenshot-eks.sh [output directory, default assets]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-assets}"

scripts/install-deps.sh
cargo build --release --locked -p hybrid-console -p local-cluster

work="$(mktemp -d)"
display=":$((100 + RANDOM % 400))"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE
python3 -m moto.server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pids+=($!)
sleep 2
python3 - <<PY
import boto3
eks = boto3.client("eks")
eks.create_cluster(name="hybrid-calculator", version="1.33", roleArn="arn:aws:iam::123456789012:role/eks",
                   resourcesVpcConfig={"subnetIds": ["subnet-0a", "subnet-0b"]})
for name, ami, kind, low, size, high, taints in [
    ("linux", "AL2023_x86_64_STANDARD", "t3.medium", 2, 2, 4, []),
    ("windows", "WINDOWS_CORE_2022_x86_64", "t3.large", 0, 2, 3,
     [{"key": "os", "value": "windows", "effect": "NO_SCHEDULE"}]),
]:
    eks.create_nodegroup(clusterName="hybrid-calculator", nodegroupName=name,
                         nodeRole="arn:aws:iam::123456789012:role/node", subnets=["subnet-0a"],
                         amiType=ami, instanceTypes=[kind], taints=taints,
                         scalingConfig={"minSize": low, "desiredSize": size, "maxSize": high})
PY
target/release/local-cluster up --kubeconfig "$work/kubeconfig" --eks-cluster hybrid-calculator \
  --eks-endpoint "$AWS_ENDPOINT_URL" --with-calculator >"$work/cluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q "local cluster up" "$work/cluster.log" && break; sleep 0.1; done
export KUBECONFIG="$work/kubeconfig"
# A workload that leaves its OS open and tolerates every taint: the readiness check warns
# (kept at zero replicas, so no pod of it lands on a Windows node before the pictures).
kubectl apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: metrics-proxy, namespace: default}
spec:
  replicas: 0
  selector: {matchLabels: {app: metrics-proxy}}
  template:
    metadata: {labels: {app: metrics-proxy}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: proxy, image: "nginx:1.27"}]
YAML

Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
sleep 1
export DISPLAY="$display"
HOME="$work" LIBGL_ALWAYS_SOFTWARE=1 target/release/hybrid-console --kubeconfig "$KUBECONFIG" &
pids+=($!)
sleep 6
xdotool windowfocus "$(xdotool search --name hybrid-console | tail -1)"
xdotool mousemove 50 229 click 1          # List clusters
sleep 3
xdotool mousemove 80 316 click 1          # Check readiness
sleep 3
import -window root "$out/eks.png"
xdotool mousemove 1142 78 click 1         # close the readiness window
kubectl -n calculator scale deployment monolith --replicas=0 >/dev/null
sleep 6
xdotool mousemove 85 408 click 1          # Scale to 0…
sleep 3
xdotool mousemove 790 260 click 1
xdotool type --delay 60 windows
sleep 1
import -window root "$out/eks-retire.png"
xdotool mousemove 602 283 click 1         # Scale to 0
sleep 8
import -window root "$out/eks-empty.png"
xdotool mousemove 1002 157 click 1        # close the dialog
sleep 1
xdotool mousemove 202 316 click 1         # Add node group…
sleep 2
xdotool mousemove 800 199 click 1
xdotool type --delay 30 "arn:aws:iam::123456789012:role/eksctl-hybrid-calculator-NodeInstanceRole"
xdotool mousemove 595 223 click 1         # Review
sleep 3
import -window root "$out/eks-add.png"
echo "saved $out/eks.png $out/eks-retire.png $out/eks-empty.png $out/eks-add.png"
