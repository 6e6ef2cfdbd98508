#!/usr/bin/env bash
# Headless-Chromium screenshots of the built site: the index and one API page, into docs/_screens/ (not committed).
# Usage: tools/screens.sh [site folder, default docs] [API page, default core.html]
set -euo pipefail
site=$(cd "${1:-docs}" && pwd); page=${2:-core.html}
if ! command -v chromium >/dev/null; then  # Debian's chromium
  sudo=$([ "$(id -u)" = 0 ] || echo sudo); $sudo apt-get update && $sudo apt-get install -y chromium
fi
mkdir -p "$site/_screens"
for p in index.html "$page"; do
  test -f "$site/$p" || { echo "screens.sh: $site/$p does not exist; build the site first (make docs)" >&2; exit 1; }
  shot="$site/_screens/${p%.html}.png"; profile=$(mktemp -d); rm -f "$shot"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
    --screenshot="$shot" --window-size=1280,1600 "file://$site/$p" 2>/dev/null || true
  rm -rf "$profile"
  test -s "$shot" || { echo "screens.sh: chromium made no screenshot of $p" >&2; exit 1; }
  echo "$shot"
done
