# shellcheck shell=bash
# Shared by scripts/run.sh and scripts/test.sh (sourced, not run): finds a Python >= 3.11,
# creates the project's virtual environment if missing, and installs the package editable with
# the requested extra ("napari" or "test") unless a stamp in the venv says that exact
# pyproject.toml was already installed with that extra.
#
#   source scripts/_venv.sh && tlreg_ensure_venv test    # then use "$TLREG_PY"
#
# Environment knobs: PYTHON (interpreter used to create the venv; an existing venv of Python >= 3.11 is kept:
# delete it to remake it with PYTHON), TLREG_VENV (venv folder,
# default <repo>/.venv), TLREG_FORCE_INSTALL=1 (reinstall even when the stamp is current), TLREG_TORCH_INDEX (the
# index torch is taken from first: PyTorch's CPU index when unset, the usual index's build when empty).

TLREG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TLREG_VENV="${TLREG_VENV:-$TLREG_ROOT/.venv}"
TLREG_PY="$TLREG_VENV/bin/python"

_tlreg_log() { printf '[napari-tlreg] %s\n' "$*" >&2; }

# ensurepip too: Debian's python3.11 has the venv module without it (python3.11-venv), and venv then fails
_TLREG_PY_OK='import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 11) else 1)'

_tlreg_pick_python() {
  local cand
  if [ -n "${PYTHON:-}" ]; then  # the user's choice: used, or said why not (not swapped for another silently)
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
      _tlreg_log "PYTHON=$PYTHON: no such interpreter"
    elif ! "$PYTHON" -c "$_TLREG_PY_OK" 2>/dev/null; then
      _tlreg_log "PYTHON=$PYTHON: not a Python >= 3.11 with the venv and ensurepip modules ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo 'it does not run'))"
    else
      echo "$PYTHON"
      return 0
    fi
    return 1
  fi
  for cand in python3.11 python3 python; do
    command -v "$cand" >/dev/null 2>&1 || continue
    if "$cand" -c "$_TLREG_PY_OK" 2>/dev/null; then
      echo "$cand"
      return 0
    fi
  done
  _tlreg_log "no Python >= 3.11 with the venv and ensurepip modules found (on Debian/Ubuntu: apt-get install python3-venv); set PYTHON=/path/to/python3.11"
  return 1
}

# A short hash of what decides the install: pyproject.toml, the extra, where the source tree is.
_tlreg_stamp_key() {
  local extra="$1"
  "$TLREG_PY" - "$TLREG_ROOT" "$extra" <<'PY'
import hashlib, pathlib, sys
root, extra = pathlib.Path(sys.argv[1]), sys.argv[2]
h = hashlib.sha256((root / "pyproject.toml").read_bytes())
h.update(f"\0{extra}\0{root}\0{sys.version}".encode())
h.update(__import__("os").environ.get("TLREG_TORCH_INDEX", "").encode())  # another torch index asked for: install again
print(h.hexdigest()[:32])
PY
}

# The "test" extra contains "napari", so a current test install also satisfies "napari".
_tlreg_covering_extras() {
  case "$1" in
    napari) echo "napari test" ;;
    *) echo "$1" ;;
  esac
}

_tlreg_install_current() {
  local extra="$1" stamp="$TLREG_VENV/.tlreg-install-stamp" e key
  [ -f "$stamp" ] || return 1
  for e in $(_tlreg_covering_extras "$extra"); do
    key="$(_tlreg_stamp_key "$e")" || return 1
    if grep -qxF "$e $key" "$stamp"; then
      # The stamp alone is not proof: the editable install must still point at this tree.
      # (-I: no current folder on sys.path, so ./napari_tlreg cannot stand in for the install.)
      "$TLREG_PY" -I -c 'import sys, pathlib, napari_tlreg
sys.exit(0 if pathlib.Path(napari_tlreg.__file__).resolve().is_relative_to(pathlib.Path(sys.argv[1]).resolve()) else 1)' \
        "$TLREG_ROOT" 2>/dev/null && return 0
    fi
  done
  return 1
}

# pip, quiet, without the one-line-per-package notes that a pip.conf naming local index folders
# produces ("Location 'file:///...' is ignored"); pip's own exit status is kept.
_tlreg_pip() {
  local rc
  { "$TLREG_PY" -m pip --quiet "$@" 2>&1 1>&3 3>&- \
      | { grep -v "^WARNING: Location 'file://.*' is ignored" >&2 || true; }; rc=${PIPESTATUS[0]}; } 3>&1
  return "$rc"
}

_tlreg_torch_pin() {  # torch's requirement as pyproject.toml pins it ("torch==2.13.0")
  "$TLREG_PY" - "$TLREG_ROOT/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    deps = tomllib.load(f)["project"]["dependencies"]
print(next(d for d in deps if d.replace(" ", "").lower().startswith("torch=")).replace(" ", ""))
PY
}

tlreg_ensure_venv() {
  local extra="${1:-napari}" py start stamp="$TLREG_VENV/.tlreg-install-stamp"
  # a venv without pip (made where ensurepip was missing), or of a Python below 3.11 (a .venv made before by hand), is
  # remade: every later run failed on it ("No module named pip", "requires a different Python: 3.10.13")
  if [ ! -x "$TLREG_PY" ] || ! "$TLREG_PY" -c 'import sys, pip; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then
    if [ -n "$(ls -A "$TLREG_VENV" 2>/dev/null)" ]; then
      local why="$TLREG_VENV has no pip or a Python below 3.11 ($("$TLREG_PY" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo 'none that runs'))"
      # remade only where it is ours (the repo's .venv, or one this script made): TLREG_VENV naming the user's own
      # environment must not be emptied
      # (the install stamp proves nothing: it is written into a working venv the user made and named)
      if ! [ "$TLREG_VENV" -ef "$TLREG_ROOT/.venv" ] && [ ! -e "$TLREG_VENV/.tlreg-made" ]; then
        _tlreg_log "$why, and it was not made here: delete it, or set TLREG_VENV to another folder"
        return 1
      fi
      _tlreg_log "$why: made again"
    fi
    # no usable Python: on Debian/Ubuntu the system set-up installs python3-venv (with Qt's libraries), then retry
    if [ -n "${PYTHON:-}" ]; then  # the user's interpreter: its own error, no system set-up that cannot mend it
      py="$(_tlreg_pick_python)" || return 1
    else
      py="$(_tlreg_pick_python 2>/dev/null)" || { bash "$TLREG_ROOT/scripts/setup_system.sh" && py="$(_tlreg_pick_python)"; } || return 1
    fi
    _tlreg_log "creating virtual environment $TLREG_VENV with $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    local made=0
    "$py" -m venv --clear "$TLREG_VENV" || made=$?
    [ -d "$TLREG_VENV" ] && : > "$TLREG_VENV/.tlreg-made"  # ours, made again next time (also where ensurepip failed)
    [ "$made" = 0 ] || return 1
    rm -f "$stamp"
  fi
  if [ "${TLREG_FORCE_INSTALL:-0}" != 1 ] && _tlreg_install_current "$extra"; then
    return 0
  fi
  start=$SECONDS
  _tlreg_log "installing napari-tlreg[$extra] into $TLREG_VENV (a few minutes on a fresh machine) ..."
  _tlreg_pip install --upgrade pip || return 1
  # torch, pinned by pyproject.toml: its CPU build first, from PyTorch's CPU index (PyPI's Linux wheel of torch is the
  # CUDA one, ~2.5 GB more; packaging review), unless the venv has torch already (a CUDA build installed beforehand
  # satisfies the pin and is kept, see README) or TLREG_TORCH_INDEX is set empty (the usual index's build). A torch of
  # another version is replaced from the CPU index too (the editable install took PyPI's CUDA build for it; diff review).
  # TLREG_TORCH_INDEX given: its build too (".../whl/cu126": 2.13.0+cu126; a CPU torch there was kept; README review).
  local torch_index="${TLREG_TORCH_INDEX-https://download.pytorch.org/whl/cpu}" torch_pin build=""
  torch_pin="$(_tlreg_torch_pin)" || return 1
  [ -n "${TLREG_TORCH_INDEX:-}" ] && build="${TLREG_TORCH_INDEX%/}" && build="${build##*/}"
  if [ -n "$torch_index" ] && ! "$TLREG_PY" - "$torch_pin" "$build" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
public, _, local = version("torch").partition("+")
sys.exit(public != sys.argv[1].split("==")[1] or (sys.argv[2] not in ("", local)))
PY
  then
    torch_pin="$torch_pin${build:++$build}"  # the build named (2.13.0+cpu installed satisfied a plain 2.13.0)
    _tlreg_log "installing $torch_pin from $torch_index (set TLREG_TORCH_INDEX= to take the usual index's build)"
    _tlreg_pip install --progress-bar off --timeout 30 --retries 1 --index-url "$torch_index" "$torch_pin" \
      || _tlreg_log "$torch_pin not installed from $torch_index (not there, or not reachable): pip takes torch from the usual index"
  fi
  (cd "$TLREG_ROOT" && _tlreg_pip install --progress-bar off -e ".[$extra]") || return 1
  # The project moved from PyQt5 to PyQt6: a venv made before keeps PyQt5, which qtpy would
  # still pick first. Remove it so that every .venv runs the Qt the tests run.
  if "$TLREG_PY" -m pip show --quiet PyQt5 >/dev/null 2>&1; then
    _tlreg_log "removing PyQt5 from $TLREG_VENV (the project uses PyQt6)"
    _tlreg_pip uninstall --yes PyQt5 PyQt5-Qt5 PyQt5-sip || return 1
  fi
  # Keep other extras' lines whose key is still current, replace this extra's line.
  { [ -f "$stamp" ] && grep -v "^$extra " "$stamp" || true; echo "$extra $(_tlreg_stamp_key "$extra")"; } > "$stamp.tmp"
  mv "$stamp.tmp" "$stamp"
  _tlreg_log "installed in $((SECONDS - start)) s"
}
