"""``napari-tlreg view``: the real launcher under Xvfb, and no napari toast over the canvas."""
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("napari")


def test_view_runs_registers_and_saves_a_screenshot(tmp_path):
    png = tmp_path / "shot.png"
    cmd = [sys.executable, "-m", "napari_tlreg.cli", "view", "lemniscate", "--method", "tlrn", "--run", "--screenshot", str(png)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PyQt5" not in proc.stderr and "System theme" not in proc.stderr  # nothing the user can act on
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape[0] > 400 and img.shape[1] > 600 and img.std() > 10  # a real window, not a blank frame


def test_pyqt5_deprecation_toast_is_kept_off_our_viewers(make_napari_viewer):
    from napari._qt import qt_main_window
    from napari.utils.notifications import notification_manager

    from napari_tlreg._widgets.launch import quiet_pyqt5_notice

    qt_main_window.SHOW_QT_WARNING = True  # as in a fresh process
    quiet_pyqt5_notice()
    assert qt_main_window.SHOW_QT_WARNING is False
    before = len(notification_manager.records)
    make_napari_viewer(show=True)
    assert not any("PyQt5" in str(r.message) for r in notification_manager.records[before:])


def test_view_without_a_display_is_a_one_line_error():
    """Found in review (2026-12-04): Qt aborted the process (SIGABRT, rc 134) with a page about its xcb plugin."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "napari_tlreg.cli", "view", "cardiac"], capture_output=True,
                          text=True, timeout=120, env=env)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and "no display to open napari on" in err[0], proc.stderr[-500:]
