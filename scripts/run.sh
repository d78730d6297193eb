#!/usr/bin/env bash
# One command on a fresh machine: set up .venv (first time only) and show napari-tlreg at work.
#
#   bash scripts/run.sh                      # the bundled "cardiac" sample
#   bash scripts/run.sh satellite            # another bundled sample (lemniscate, cardiac, echo,
#                                            #   satellite, echo_real) or a file/DICOM folder
#   bash scripts/run.sh echo --method nmsr   # further arguments go to the napari-tlreg command
#
# With a usable display it opens napari with the sequence loaded, the "Register sequence" widget
# docked and a registration started (`napari-tlreg view INPUT --run`). Without one (no DISPLAY,
# or Qt cannot open it), or with TLREG_HEADLESS=1, it registers headless
# (`napari-tlreg register INPUT --out results/NAME`) and prints where the results are.
set -euo pipefail

# shellcheck source=scripts/_venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
tlreg_ensure_venv napari

input="cardiac"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  input="$1"
  shift
fi

display_usable() {
  [ "${TLREG_HEADLESS:-0}" = 1 ] && return 1
  case "${QT_QPA_PLATFORM:-}" in offscreen|minimal) return 1 ;; esac
  if [ "$(uname -s)" != Darwin ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    return 1
  fi
  local probe=("$TLREG_PY" -c 'from qtpy.QtWidgets import QApplication; QApplication([])')
  if command -v timeout >/dev/null 2>&1; then probe=(timeout 60 "${probe[@]}"); fi
  # In a subshell, so that a Qt abort ("could not connect to display") stays quiet.
  if ! ( "${probe[@]}"; rc=$?; exit $rc ) >/dev/null 2>&1; then
    echo "[napari-tlreg] Qt cannot open the display ${DISPLAY:-} (if it is there," \
         "'bash scripts/setup_system.sh' installs the libraries Qt needs on Debian/Ubuntu)" >&2
    return 1
  fi
}

if display_usable; then
  echo "[napari-tlreg] opening napari: napari-tlreg view $input --run $*" >&2
  exec "$TLREG_VENV/bin/napari-tlreg" view "$input" --run "$@"
fi

# Headless: results/<name> under the repository, unless the caller gave --out (then that folder).
out=""
prev=""
for a in "$@"; do
  case "$a" in --out=*) out="${a#--out=}" ;; esac
  if [ "$prev" = "--out" ]; then out="$a"; fi
  prev="$a"
done
cmd=(register "$input")
if [ -z "$out" ]; then
  name="$(basename -- "${input%/}")"
  name="${name%%.*}"
  out="$TLREG_ROOT/results/${name:-sequence}"
  cmd+=(--out "$out")
fi
cmd+=("$@")
echo "[napari-tlreg] no usable display: registering headless (napari-tlreg ${cmd[*]})" >&2
"$TLREG_VENV/bin/napari-tlreg" "${cmd[@]}"
echo "[napari-tlreg] results are in $out"
ls -1 "$out" 2>/dev/null | sed 's/^/    /' || true
