#!/usr/bin/env python
"""Screenshots of the "Landmarks & TRE" and "Evaluation plots" docks (docs/screenshots/).

    xvfb-run -s "-screen 0 1920x1900x24" python scripts/make_landmark_screenshots.py [--cache DIR]

Registers the satellite and cardiac samples with NMSR (minutes on a CPU; results are kept in
``--cache`` and reused), shows each result in a viewer exactly as the Register widget does after
a run, places/tracks points, and saves ``docs/screenshots/landmarks_satellite.png`` and
``docs/screenshots/plots_cardiac.png``. The cardiac plot overlays the sample's ground-truth
motion (a synthetic sample knows it) as a second "method" for comparison.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def nmsr_result(name: str, cache: Path):
    import napari_tlreg as tl

    folder = cache / f"{name}_nmsr"
    if (folder / "result.json").is_file():
        return tl.RegistrationResult.load(folder)
    seq = tl.load_sequence(name)
    res = tl.register(seq.frames, method="nmsr", device="auto", spacing=seq.spacing)
    res.save(folder)
    return res


def truth_result(seq):
    """The sample's ground-truth field packaged as a RegistrationResult (method "ground truth")."""
    import napari_tlreg as tl
    from napari_tlreg.core.normalize import normalize_sequence

    u = np.asarray(seq.metadata["displacement"], np.float32)
    frames = normalize_sequence(seq.frames)
    return tl.RegistrationResult(frames=frames, warped=tl.warp(frames[0], u), displacement=u,
                                 jacobian=tl.jacobian_determinant(u), method="ground truth",
                                 params={"source": "synthetic sample metadata"}, spacing=seq.spacing)


def show_result(reg, image, res, labels=None):
    """What the Register widget does when a run returns (layers, store, signal)."""
    from napari_tlreg import display as L
    from napari_tlreg._widgets.register import _Outcome

    settings = {"base": image.name, "grid_spacing": reg.grid_spacing(), "checker": False,
                "scale": tuple(image.scale), "translate": tuple(image.translate), "region": None}
    layers, warnings = L.result_layers(res, labels=labels, **settings)
    reg._show_result(_Outcome("done", result=res, layers=layers, warnings=warnings, settings=settings))


def wait(app, cond, timeout=60.0):
    t0 = time.time()
    while not cond():
        app.processEvents()
        time.sleep(0.02)
        if time.time() - t0 > timeout:
            raise TimeoutError("gave up waiting")
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)


def viewer_with_docks(title: str):
    import napari

    from napari_tlreg._widgets.landmarks import LandmarkWidget
    from napari_tlreg._widgets.plots import PlotsWidget
    from napari_tlreg._widgets.register import RegisterWidget

    viewer = napari.Viewer(title=title)
    viewer.window._qt_window.resize(1880, 1800)
    reg = RegisterWidget(viewer)
    lmw = LandmarkWidget(viewer)
    plots = PlotsWidget(viewer)
    viewer.window.add_dock_widget(reg, name="Register sequence", area="right")
    d_lm = viewer.window.add_dock_widget(lmw, name="Landmarks & TRE", area="right", tabify=True)
    d_pl = viewer.window.add_dock_widget(plots, name="Evaluation plots", area="right")
    viewer._tlreg_docks = (d_lm, d_pl)  # noqa: SLF001 - sized by the callers
    return viewer, reg, lmw, plots


def size_docks(viewer, width: int, heights: tuple[int, int]) -> None:
    from qtpy.QtCore import Qt

    win = viewer.window._qt_window
    d_lm, d_pl = viewer._tlreg_docks
    win.resizeDocks([d_lm, d_pl], [width, width], Qt.Orientation.Horizontal)
    win.resizeDocks([d_lm, d_pl], list(heights), Qt.Orientation.Vertical)


def satellite(cache: Path, out: Path, app) -> None:
    import napari_tlreg as tl
    from napari_tlreg._hooks import sequence_to_layers

    seq = tl.load_sequence("satellite")
    res = nmsr_result("satellite", cache)
    viewer, reg, lmw, plots = viewer_with_docks("napari-tlreg: satellite — landmarks and TRE")
    for data, kwargs, kind in sequence_to_layers(seq):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    image = viewer.layers["satellite"]
    reg.method_combo.setCurrentIndex(reg.method_combo.findData("nmsr"))
    show_result(reg, image, res)
    for name in ("grid", "displacement", "folds", "warped reference"):
        viewer.layers[f"satellite {name}"].visible = False
    lmw.image_combo.setCurrentText("satellite")
    lmw.result_combo.setCurrentIndex(lmw.result_combo.findText("nmsr"))
    lmw.track()
    wait(app, lambda: "satellite tracked" in viewer.layers and lmw._worker is None)
    plots.metric_combo.setCurrentIndex(plots.metric_combo.findData("tre"))
    plots.all_box.setChecked(False)  # two frames: the TRE before/after is the curve that matters
    wait(app, lambda: plots.tables and not plots.busy)
    viewer.layers.selection.active = viewer.layers["satellite landmarks"]
    lmw.pairing_box.setChecked(True)
    lmw.pairs_table.selectRow(3)
    viewer.dims.set_current_step(0, 1)
    size_docks(viewer, 560, (820, 560))
    wait(app, lambda: True)
    viewer.reset_view()
    wait(app, lambda: True)
    viewer.screenshot(str(out / "landmarks_satellite.png"), canvas_only=False)
    viewer.close()


def cardiac(cache: Path, out: Path, app) -> None:
    import napari_tlreg as tl
    from napari_tlreg._hooks import sequence_to_layers

    seq = tl.load_sequence("cardiac")
    res = nmsr_result("cardiac", cache)
    viewer, reg, lmw, plots = viewer_with_docks("napari-tlreg: cardiac — per-frame evaluation")
    for data, kwargs, kind in sequence_to_layers(seq):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    viewer.layers["cardiac labels"].metadata["label_names"] = dict(seq.metadata.get("label_names") or {})
    image = viewer.layers["cardiac"]
    reg.labels_combo.setCurrentText("cardiac labels")
    reg.method_combo.setCurrentIndex(reg.method_combo.findData("nmsr"))
    truth = truth_result(seq)
    show_result(reg, image, truth, labels=seq.labels)
    show_result(reg, image, res, labels=seq.labels)
    for name in ("grid", "displacement", "folds", "warped reference"):
        viewer.layers[f"cardiac {name}"].visible = False
    viewer.layers["cardiac labels"].visible = False
    # six points on the myocardium of the reference, tracked through the cycle
    lab = seq.labels[0]
    cy, cx = np.argwhere(lab > 0).mean(axis=0)
    myo = np.argwhere(lab == 1)
    ang = np.arctan2(myo[:, 0] - cy, myo[:, 1] - cx)
    ref_pts = []
    for a in np.linspace(-np.pi, np.pi, 6, endpoint=False):
        sel = np.abs(np.angle(np.exp(1j * (ang - a)))) < 0.15
        ref_pts.append(myo[sel].mean(axis=0))
    ref_pts = np.array(ref_pts)
    # their partners on three frames, where the true motion takes them, clicked to ~half a pixel
    true_pos = truth.track_points(ref_pts)
    rng = np.random.default_rng(1)
    m = lmw.model()
    for k, p in enumerate(ref_pts):
        m.add(k, 0, float(p[0]), float(p[1]))
        for t in (4, 7, 11, 15):
            q = np.round((true_pos[t, k] + rng.normal(0, 0.4, 2)) * 2) / 2
            m.add(k, t, float(q[0]), float(q[1]))
    lmw._push()
    lmw.result_combo.setCurrentIndex(lmw.result_combo.findText("nmsr"))
    lmw.track()
    wait(app, lambda: "cardiac tracked" in viewer.layers and lmw._worker is None)
    plots.labels_combo.setCurrentText("cardiac labels")
    wait(app, lambda: plots.tables and not plots.busy and len(plots.tables) == 2)
    plots.label_combo.setCurrentIndex(plots.label_combo.findData(1))  # myocardium
    plots.metric_combo.setCurrentIndex(plots.metric_combo.findData("dice"))
    plots.jump_to_worst()
    viewer.layers.selection.active = viewer.layers["cardiac propagated labels"]
    size_docks(viewer, 660, (520, 1000))
    wait(app, lambda: True)
    viewer.reset_view()
    wait(app, lambda: True)
    viewer.screenshot(str(out / "plots_cardiac.png"), canvas_only=False)
    viewer.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", default="/tmp/napari_tlreg_screenshots")
    p.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    p.add_argument("which", nargs="*", default=["satellite", "cardiac"])
    args = p.parse_args()
    from qtpy.QtWidgets import QApplication

    from napari_tlreg._widgets.launch import quiet_pyqt5_notice

    quiet_pyqt5_notice()  # its toast would cover the canvas

    from napari._qt.qt_event_loop import get_qapp

    app = get_qapp()
    assert isinstance(app, QApplication)
    cache, out = Path(args.cache), Path(args.out)
    cache.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.which:
        {"satellite": satellite, "cardiac": cardiac}[name](cache, out, app)
        print(f"{name}: done", flush=True)


if __name__ == "__main__":
    main()
