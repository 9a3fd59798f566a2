#!/usr/bin/env bash
# Renders the app icon's PNGs (the sizes desktop environments look up in the hicolor theme) from
# assets/icon/hybrid-console.svg. Needs rsvg-convert (Debian: librsvg2-bin). The PNGs are
# committed; run this after changing the SVG.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rsvg-convert >/dev/null || { echo "rsvg-convert is missing: sudo apt-get install librsvg2-bin" >&2; exit 1; }
for size in 16 24 32 48 64 128 256 512; do
  rsvg-convert -w "$size" -h "$size" assets/icon/hybrid-console.svg -o "assets/icon/hybrid-console-$size.png"
done
