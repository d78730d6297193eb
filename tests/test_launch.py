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
    # ... and it registered (a window that never ran passed the line above): the dock's status, and the overlay's
    # colours on the canvas (the green frame, the magenta warped reference, the cyan grid; ~10,000 px without them,
    # ~47,000 with them since the grid's lines are thinner than a frame's pixel, 50,000 and more before)
    assert "napari-tlreg view: done: 12 frames to frame 0 with tlrn" in proc.stdout, proc.stdout[-2000:]
    chroma = img.astype(int).max(-1) - img.astype(int).min(-1)
    assert (chroma > 80).sum() > 30_000


def test_view_says_a_refused_run_in_its_exit_status(tmp_path):
    """(2026-12-07, bad-input review) ``view --run --screenshot`` of frames a run refuses (NaN) printed "not run" and
    exited 0: a script could not tell. It exits 2, its screenshot written all the same."""
    from napari_tlreg.io import save_stack

    frames = np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    frames[1, 4, 4] = np.nan
    src = save_stack(tmp_path / "nan.tif", frames)
    png = tmp_path / "shot.png"
    cmd = [sys.executable, "-m", "napari_tlreg.cli", "view", str(src), "--method", "tlrn", "--run", "--screenshot",
           str(png)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "napari-tlreg view: not run:" in proc.stdout and png.is_file()


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


def test_view_sets_the_forms_parameters_and_refuses_unknown_ones():
    """``run.sh`` passes later arguments to ``view``, which took only --method: ``--param`` and ``--normalize``
    ended in argparse's "unrecognized arguments"."""
    base = [sys.executable, "-m", "napari_tlreg.cli", "view", "lemniscate", "--method", "nmsr"]
    proc = subprocess.run(base + ["--param", "foo=3"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "has no parameter 'foo'" in proc.stderr.strip().splitlines()[-1]
    proc = subprocess.run(base + ["--param", "iterations=2.5"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "iterations=2.5 does not fit" in proc.stderr
    proc = subprocess.run(base[:-1] + ["nope"], capture_output=True, text=True, timeout=300)  # said "unknown method 'nope'"
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == (
        "napari-tlreg view: error: unknown method 'nope'; known methods: hsyn, multistep, nmsr, tlrn, voxelmorph")


def test_set_param_fills_the_form(make_napari_viewer):
    from napari_tlreg._widgets.register import RegisterWidget

    w = RegisterWidget(make_napari_viewer())
    w.method_combo.setCurrentIndex(w.method_combo.findData("nmsr"))
    w.set_param("iterations", 3)
    w.set_param("smooth", 4.0)
    w.set_param("pairing", "consecutive")
    w.set_param("symmetric", True)
    assert w.param_values() == {"iterations": 3, "smooth": 4.0, "pairing": "consecutive", "symmetric": True}
    with pytest.raises(ValueError, match="region"):
        w.set_param("mask", "x.npy")
    with pytest.raises(ValueError, match="does not fit"):
        w.set_param("pairing", "sideways")


def test_view_starts_on_the_image_not_a_hidden_layer(monkeypatch, make_napari_viewer):
    """(noticed, session 38) ``view echo_real`` opened with its hidden sector mask selected (napari activates the last
    layer added): the layer controls were a Labels layer's, the frames' contrast out of reach."""
    from napari_tlreg._widgets import launch as launch_mod

    viewer = make_napari_viewer()
    monkeypatch.setattr(launch_mod.napari, "Viewer", lambda **kw: viewer)  # the test's viewer, not a second napari
    monkeypatch.setattr(launch_mod.napari, "run", lambda: None)
    assert launch_mod.launch("echo_real") == 0
    names = [layer.name for layer in viewer.layers]
    assert names[-1] == "echo_real mask" and not viewer.layers[-1].visible  # what napari would have activated
    assert viewer.layers.selection.active is viewer.layers["echo_real"]


def test_view_docks_the_plugins_own_register_dock(monkeypatch, make_napari_viewer):
    """(2026-12-06, plugin-menu review) `view` docked a Register widget of its own: Plugins > Register sequence then
    added a second one beside it ("Register sequence (napari-tlreg)"), which did not share the first's result. The
    menu gives the same dock now."""
    from napari_tlreg._widgets import launch as launch_mod
    from napari_tlreg._widgets.register import RegisterWidget

    viewer = make_napari_viewer()
    monkeypatch.setattr(launch_mod.napari, "Viewer", lambda **kw: viewer)
    monkeypatch.setattr(launch_mod.napari, "run", lambda: None)
    assert launch_mod.launch("lemniscate") == 0
    docks = [w for w in viewer.window._qt_window.findChildren(RegisterWidget)]
    assert len(docks) == 1
    _, again = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    assert again is docks[0] and len(viewer.window._qt_window.findChildren(RegisterWidget)) == 1
