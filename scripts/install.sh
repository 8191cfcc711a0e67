#!/usr/bin/env bash
# Install eegfmri_viewer into ./.venv on Debian (run as root for the system packages).
#   bash scripts/install.sh          # the app
#   bash scripts/install.sh --test   # the app, the test tools and Xvfb
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# Qt's xcb platform plugin and Mesa's OpenGL (the 3-D views need a GL context).
pkgs="libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0
      libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libgl1 libegl1
      libgl1-mesa-dri libfontconfig1 libdbus-1-3"
[ "$want_test" = 1 ] && pkgs="$pkgs xvfb xauth"
command -v python3 >/dev/null 2>&1 || pkgs="$pkgs python3"
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || pkgs="$pkgs python3-venv python3-pip"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
  else
    echo "Missing Debian packages:$missing (run this script as root, or install them)" >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$want_test" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "eegfmri_viewer installed in $(pwd)/.venv"
