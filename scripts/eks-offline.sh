#!/usr/bin/env bash
# The talk end to end with no AWS account: moto server (an AWS API emulator) holds the EKS cluster
# and its node groups, and the embedded local cluster follows them (nodes join and leave as each
# group's desired size changes, drained first). Steps:
#
#   1. start moto server and create the EKS cluster `hybrid-calculator` in it;
#   2. start the local cluster following that cluster's node groups;
#   3. add the Linux and Windows node groups from manifests/cluster/hybrid-cluster.yaml with
#      `hybrid-console eks add-nodegroup` (the readiness findings for each are shown first);
#   4. deploy the Windows monolith (kubectl apply -f manifests/calculator/);
#   5. list the cluster and check its readiness;
#   6. move every service off the monolith and retire it (with --auto; otherwise open the window
#      and drag the chips yourself);
#   7. scale the Windows node group to zero and watch the Windows lane empty.
#
#   scripts/eks-offline.sh          steps 1-5, then the window (Ctrl-C or close it to stop)
#   scripts/eks-offline.sh --auto   every step from the command line, no window
#
# Everything runs on 127.0.0.1 and stops on exit. The AWS settings are fake, for moto only.
set -euo pipefail
cd "$(dirname "$0")/.."

auto=false
[ "${1:-}" = "--auto" ] && auto=true

scripts/install-deps.sh
cargo build --release --locked -p hybrid-console -p local-cluster
console=target/release/hybrid-console
local_cluster=target/release/local-cluster

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE
cluster=hybrid-calculator
node_role="arn:aws:iam::123456789012:role/eksctl-$cluster-NodeInstanceRole"
kubeconfig="$work/kubeconfig"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. moto server on $AWS_ENDPOINT_URL; EKS cluster $cluster (what eksctl create cluster would make)"
python3 -m moto.server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  sleep 0.1
done
python3 - <<EOF
import boto3
eks = boto3.client("eks", region_name="us-east-1")
eks.create_cluster(name="$cluster", version="1.33", roleArn="arn:aws:iam::123456789012:role/eks",
                   resourcesVpcConfig={"subnetIds": ["subnet-0a", "subnet-0b"]})
EOF

step "2. the local cluster, following the node groups of $cluster"
"$local_cluster" up --kubeconfig "$kubeconfig" --eks-cluster "$cluster" \
  --eks-endpoint "$AWS_ENDPOINT_URL" >"$work/local-cluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$kubeconfig" ] && break; sleep 0.1; done
export KUBECONFIG="$kubeconfig"

step "3. node groups from manifests/cluster/hybrid-cluster.yaml"
for group in linux windows; do
  "$console" --kubeconfig "$kubeconfig" eks add-nodegroup --cluster "$cluster" \
    --config manifests/cluster/hybrid-cluster.yaml --nodegroup "$group" --node-role "$node_role" --yes
done
for _ in $(seq 100); do
  [ "$(kubectl get nodes -o name | wc -l)" -ge 4 ] && break
  sleep 0.2
done
kubectl get nodes -L kubernetes.io/os,eks.amazonaws.com/nodegroup

step "4. the Windows monolith"
kubectl apply -f manifests/calculator/
kubectl -n calculator rollout status deployment/monolith --timeout=120s

step "5. the cluster as EKS lists it, and its hybrid readiness"
"$console" eks clusters
"$console" --kubeconfig "$kubeconfig" eks check --cluster "$cluster"

if ! $auto; then
  step "6. the window: drag each chip off the monolith onto the Linux lane, retire the monolith,"
  echo "   then in the EKS view (List clusters) scale the windows node group to 0."
  echo "   Or, in another terminal:  KUBECONFIG=$kubeconfig AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL \\"
  echo "     AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 $console …"
  if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
    "$console" --kubeconfig "$kubeconfig"
  else
    xvfb-run -a -s "-screen 0 1440x900x24" "$console" --kubeconfig "$kubeconfig"
  fi
  exit 0
fi

step "6. every service off the monolith, then the monolith retired"
for service in sum subtraction multiplication division ui; do
  "$console" --kubeconfig "$kubeconfig" migrate "$service" --to linux --yes
done
"$console" --kubeconfig "$kubeconfig" calc 6 3
"$console" --kubeconfig "$kubeconfig" retire --stage scale-to-zero --yes
"$console" --kubeconfig "$kubeconfig" retire --stage delete --yes

step "7. the Windows node group scaled to zero: drained, then its nodes leave"
"$console" --kubeconfig "$kubeconfig" eks scale-nodegroup --cluster "$cluster" \
  --nodegroup windows --size 0 --yes
for _ in $(seq 100); do
  [ -z "$(kubectl get nodes -l kubernetes.io/os=windows -o name)" ] && break
  sleep 0.2
done
kubectl get nodes -L kubernetes.io/os,eks.amazonaws.com/nodegroup
"$console" eks clusters
"$console" --kubeconfig "$kubeconfig" calc 6 3
windows_left=$(kubectl get nodes -l kubernetes.io/os=windows -o name | wc -l)
if [ "$windows_left" -ne 0 ]; then
  echo "the Windows lane did not empty: $windows_left node(s) left" >&2
  exit 1
fi
echo
echo "Done: the calculator runs on Linux only, and the Windows node group is at zero."
