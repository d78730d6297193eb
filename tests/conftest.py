"""Fixtures shared by the whole test suite.

* ``repo_root``: the source checkout (``Path``).
* ``shared_data``: ``../shared/data`` beside the checkout (real data, read-only); the test is
  skipped when it is not there (CI has it).
* torch is limited to 2 threads once something has imported it (the CI machine has 2 cores);
  this file never imports torch itself, so tests that don't need it stay light.
* ``make_napari_viewer`` (and ``make_napari_viewer_proxy``) come from napari's own pytest plugin,
  which napari 0.9.2 registers through the ``pytest11`` entry point
  (``napari = napari.utils._testsupport``): nothing to define here. It needs a real display for
  the OpenGL canvas: ``scripts/test.sh`` runs pytest on Xvfb (pytest-xvfb) with
  ``QT_QPA_PLATFORM`` unset (Qt's "offscreen" platform has no OpenGL here).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

_TORCH_THREADS = min(2, os.cpu_count() or 1)
_torch_threads_set = False


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (the real sequences listed in its README), or skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _limit_torch_threads():
    """``torch.set_num_threads(2)`` the first time a test runs with torch already imported."""
    global _torch_threads_set
    if not _torch_threads_set and "torch" in sys.modules:
        torch = sys.modules["torch"]
        try:
            torch.set_num_threads(_TORCH_THREADS)
        except (AttributeError, RuntimeError):  # a partly imported or stubbed torch
            pass
        _torch_threads_set = True
    yield


@pytest.fixture
def shift_engine():
    """Register the fast ``test_shift`` engine (``tests/_test_engines.py``) for one test; yields its name."""
    from _test_engines import SHIFT_ENGINE, SHIFT_TARGET, ShiftEngine

    from napari_tlreg.engines import add_engine, remove_engine

    add_engine(SHIFT_ENGINE, SHIFT_TARGET, ShiftEngine.description)
    yield SHIFT_ENGINE
    remove_engine(SHIFT_ENGINE)


@pytest.fixture
def notes(monkeypatch):
    """Notifications shown by the Register widget, as ``(kind, message)``."""
    from napari_tlreg._widgets import register as mod

    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(mod, "show_error", lambda msg: seen.append(("error", str(msg))))
    monkeypatch.setattr(mod, "show_warning", lambda msg: seen.append(("warning", str(msg))))
    return seen
