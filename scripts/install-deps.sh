#!/usr/bin/env bash
# Installs what the test command needs on a fresh Debian machine of this project's kind.
# Idempotent: a tool that is already present is not installed again.
set -euo pipefail

need_apt=()
command -v Xvfb >/dev/null || need_apt+=(xvfb)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v xdotool >/dev/null || need_apt+=(xdotool)
command -v import >/dev/null || need_apt+=(imagemagick)
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null || need_apt+=(python3-kubernetes)
# A real Prometheus for the test that judges a progressive move from PromQL.
command -v prometheus >/dev/null || need_apt+=(prometheus)
# The reference container registry, for the tests that read images' Windows builds.
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
# The package test: xvfb-run starts the installed console, man reads its manual page.
command -v xvfb-run >/dev/null || need_apt+=(xvfb)
command -v man >/dev/null || need_apt+=(man-db)
# egui/eframe on X11 with software GL (Mesa llvmpipe): no GPU on these machines.
dpkg -s libgl1-mesa-dri >/dev/null 2>&1 || need_apt+=(libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6)

if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# moto server (an AWS API emulator) and boto3 for the EKS tests, from PyPI.
python3 -c 'import moto.server, flask, boto3' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'moto[server]==5.2.5'

command -v kubectl >/dev/null || {
  echo "kubectl is required by the integration tests; install it (https://kubernetes.io/docs/tasks/tools/)" >&2
  exit 1
}
