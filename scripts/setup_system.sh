#!/usr/bin/env bash
# Debian packages that Qt (PyQt6's xcb platform plugin) and napari's OpenGL canvas need to run
# under a virtual X server (Xvfb): scripts/test.sh runs this first; `scripts/run.sh` on a desktop
# needs the Qt libraries of this list too.
# Installs only what is missing (checked with `dpkg -s`), so a second run is quick and silent.
# Uses sudo when not root; does nothing (with a note) on a system without apt-get/dpkg.
set -euo pipefail

PACKAGES=(
  python3-venv                       # venv's ensurepip: Debian's python3 has the venv module without it
  xvfb xauth x11-utils               # virtual X server, its auth helper, xdpyinfo
  libgl1 libegl1 libgl1-mesa-dri     # OpenGL (Mesa software rendering for Xvfb's GLX)
  "libglib2.0-0|libglib2.0-0t64" libfontconfig1 libdbus-1-3  # a|b: either installed will do (Ubuntu 24.04 and
                                                              # Debian 13 renamed it), a is installed where missing
  libxkbcommon-x11-0 libxkbcommon0   # what Qt 6's libqxcb.so and libQt6XcbQpa link against (ldd) ...
  libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
  libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 libxcb-cursor0  # libxcb-cursor0: required from Qt 6.5
  libxcb-sync1 libxcb-xkb1 libx11-xcb1 libxcb-shm0 libxcb-render0 libxcb-util1
)

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup_system.sh: no dpkg/apt-get here; install the equivalents of: ${PACKAGES[*]}" >&2
  exit 0
fi

installed() {
  # dpkg -s exits 0 also for removed-but-configured packages: check the status line.
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=()
for group in "${PACKAGES[@]}"; do
  found=0
  IFS='|' read -r -a names <<< "$group"
  for pkg in "${names[@]}"; do
    if installed "$pkg"; then found=1; break; fi
  done
  [ "$found" = 1 ] || missing+=("${names[0]}")  # apt resolves the first to its provider where it was renamed
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup_system.sh: not root and no sudo, so not installing: ${missing[*]}" >&2
    echo "setup_system.sh: the napari/Qt tests need them (apt-get install ${missing[*]})" >&2
    exit 0
  fi
fi

echo "setup_system.sh: installing ${missing[*]}" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q \
       && ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup_system.sh: apt-get failed (above)" >&2
  exit 1
fi
echo "setup_system.sh: done" >&2
