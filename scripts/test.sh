#!/usr/bin/env bash
# THE test command (CI runs exactly this through .ci/run):
#   1. Debian packages for Qt/napari under Xvfb (scripts/setup_system.sh; only what is missing),
#   2. .venv with napari-tlreg[test] installed editable (skipped when already current),
#   3. lint-imports: the import-linter contracts in pyproject.toml,
#   4. pytest under Xvfb (pytest-xvfb starts it); extra arguments go to pytest.
#
#   bash scripts/test.sh                    # everything, slow tests included
#   bash scripts/test.sh -x -q -m "not slow"
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup_system.sh"

# shellcheck source=scripts/_venv.sh
source "$here/_venv.sh"
tlreg_ensure_venv test
cd "$TLREG_ROOT"

# napari's canvas needs OpenGL, which Qt's offscreen platform lacks here: use xcb on Xvfb.
if [ "${QT_QPA_PLATFORM:-}" = offscreen ] || [ "${QT_QPA_PLATFORM:-}" = minimal ]; then
  echo "[napari-tlreg] ignoring QT_QPA_PLATFORM=$QT_QPA_PLATFORM: the tests run on Xvfb" >&2
fi
unset QT_QPA_PLATFORM

echo "[napari-tlreg] lint-imports" >&2
# --no-cache: grimp's cache can miss a module added after the cache was written.
"$TLREG_VENV/bin/lint-imports" --no-cache

echo "[napari-tlreg] pytest $*" >&2
exec "$TLREG_PY" -m pytest "$@"
