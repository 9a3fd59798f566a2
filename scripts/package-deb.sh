#!/usr/bin/env bash
# Builds hybrid-console's Debian package: the console and local-cluster binaries, a desktop entry,
# the icon (SVG and the hicolor PNG sizes), the manual page and shell completions generated from
# the command line's own definition. Made with dpkg-deb, Debian's own packaging tool.
#
#   scripts/package-deb.sh                      release build, target/debian/hybrid-console_VERSION_ARCH.deb
#   scripts/package-deb.sh --profile quick      another cargo profile
#   scripts/package-deb.sh --binaries DIR --out FILE [--fast]
#                                               package binaries built already (the tests do);
#                                               --fast compresses with gzip -1 instead of xz
#
# Install it with `sudo apt install ./target/debian/hybrid-console_*.deb`.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
compression=()
binaries=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --binaries) binaries="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --fast) compression=(-Zgzip -z1); shift ;;
    *) echo "unknown argument: $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

if [ -z "$binaries" ]; then
  cargo build --profile "$profile" --locked -p hybrid-console -p local-cluster
  dir="$profile"; [ "$profile" = dev ] && dir=debug
  binaries="${CARGO_TARGET_DIR:-target}/$dir"
fi
for bin in hybrid-console local-cluster; do
  [ -x "$binaries/$bin" ] || { echo "no $bin in $binaries: build it first (cargo build -p $bin)" >&2; exit 1; }
done

console="$binaries/hybrid-console"
# `hybrid-console 0.1.0 (commit abc)` → 0.1.0
version=$("$console" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
out="${out:-target/debian/hybrid-console_${version}_${arch}.deb}"
mkdir -p "$(dirname "$out")"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -D -m 755 "$console" "$root/usr/bin/hybrid-console"
install -D -m 755 "$binaries/local-cluster" "$root/usr/bin/local-cluster"
install -D -m 644 packaging/hybrid-console.desktop "$root/usr/share/applications/hybrid-console.desktop"
install -D -m 644 assets/icon/hybrid-console.svg "$root/usr/share/icons/hicolor/scalable/apps/hybrid-console.svg"
for png in assets/icon/hybrid-console-*.png; do
  size=$(basename "$png" .png); size=${size##*-}
  install -D -m 644 "$png" "$root/usr/share/icons/hicolor/${size}x${size}/apps/hybrid-console.png"
done
mkdir -p "$root/usr/share/man/man1"
"$console" man | gzip -9n > "$root/usr/share/man/man1/hybrid-console.1.gz"
install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"
"$console" completions bash > "$root/usr/share/bash-completion/completions/hybrid-console"
"$console" completions zsh > "$root/usr/share/zsh/vendor-completions/_hybrid-console"
"$console" completions fish > "$root/usr/share/fish/vendor_completions.d/hybrid-console.fish"
install -D -m 644 README.md "$root/usr/share/doc/hybrid-console/README.md"
cat > "$root/usr/share/doc/hybrid-console/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hybrid-console
Source: https://github.com/hybrid-console/hybrid-console

Files: *
Copyright: the hybrid-console developers
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

size_kb=$(du -sk "$root/usr" | cut -f1)
mkdir -p "$root/DEBIAN"
# The window opens X11 or Wayland and OpenGL through libraries loaded at run time (winit, glutin):
# they are named here because the binary does not link them.
cat > "$root/DEBIAN/control" <<CONTROL
Package: hybrid-console
Version: $version
Architecture: $arch
Maintainer: hybrid-console developers <hybrid-console@users.noreply.github.com>
Installed-Size: $size_kb
Depends: libc6, libgcc-s1, libgl1, libegl1, libxkbcommon-x11-0, libx11-xcb1, libxcursor1, libxrandr2, libxi6
Recommends: kubectl
Section: admin
Priority: optional
Homepage: https://github.com/hybrid-console/hybrid-console
Description: native console for hybrid (Windows + Linux) Kubernetes clusters
 Shows an EKS cluster's Windows and Linux nodes with their pods, moves services out of
 a Windows monolith onto Linux (shadow, canary, switch, with rollback), checks hybrid
 readiness and what each node group costs. Without a cluster it runs an embedded local
 hybrid cluster (also installed as local-cluster).
CONTROL
dpkg-deb --build --root-owner-group "${compression[@]}" "$root" "$out" >/dev/null
echo "$out"
