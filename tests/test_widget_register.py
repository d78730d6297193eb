"""The "Register sequence" dock widget, end to end in a real viewer (pytest-qt, Xvfb).

The real engines need trained weights; these tests register two small engines of their own
via ``add_engine`` and remove them afterwards:
- ``widget_test_truth`` returns the ground-truth displacement of the synthetic sequence;
- ``widget_test_slow`` reports progress slowly, so Run -> Cancel can be exercised.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

import torch  # noqa: E402

from napari_tlreg.engines import add_engine, remove_engine  # noqa: E402
from napari_tlreg.engines.base import Engine  # noqa: E402

T, H, W = 4, 32, 32
REF = 1
SHIFT = np.array([0.75, -0.5])  # px per frame away from the reference (row, col)


def truth_displacement(n=T, h=H, w=W, reference=REF) -> np.ndarray:
    """Pull fields ``(T, 2, H, W)``: frame t is the reference shifted by ``-(t - ref) * SHIFT``."""
    u = np.zeros((n, 2, h, w), dtype=np.float32)
    for t in range(n):
        u[t, 0] = (t - reference) * SHIFT[0]
        u[t, 1] = (t - reference) * SHIFT[1]
    return u


def synthetic_sequence() -> tuple[np.ndarray, np.ndarray]:
    """A bright disc moving by ``SHIFT`` px per frame, and its labels on every frame."""
    rr, cc = np.mgrid[0:H, 0:W].astype(np.float32)
    frames = np.zeros((T, H, W), np.float32)
    labels = np.zeros((T, H, W), np.int32)
    for t in range(T):
        r0 = 16 - (t - REF) * SHIFT[0]
        c0 = 14 - (t - REF) * SHIFT[1]
        d = np.hypot(rr - r0, cc - c0)
        frames[t] = np.clip(8.0 - d, 0, 1) * 0.8 + 0.1 + 0.05 * np.sin(rr / 3.0)
        labels[t] = (d < 7.5).astype(np.int32)
    return frames, labels


class TruthEngine(Engine):
    name = "widget_test_truth"
    description = "test: the ground-truth displacement"
    defaults = {"gain": 1.0, "repeats": 2, "flip": False, "mode": "a"}
    choices = {"mode": ("a", "b")}
    last_params: dict = {}

    def run(self, frames, reference, params, ctx):
        TruthEngine.last_params = dict(params)
        n = int(params["repeats"])
        for i in range(n):
            ctx.report(i + 1, n, "truth")
        u = truth_displacement(*frames.shape[:1], *frames.shape[1:], reference=reference) * params["gain"]
        return torch.from_numpy(u).to(frames.device)


class SlowEngine(Engine):
    name = "widget_test_slow"
    description = "test: 400 slow steps"
    defaults = {"steps": 400}

    def run(self, frames, reference, params, ctx):
        n = params["steps"]
        for i in range(n):
            ctx.report(i, n, "slow step")
            time.sleep(0.02)
        return torch.zeros((frames.shape[0], 2, *frames.shape[1:]), device=frames.device)


@pytest.fixture
def engines():
    add_engine(TruthEngine.name, f"{__name__}:TruthEngine", TruthEngine.description)
    add_engine(SlowEngine.name, f"{__name__}:SlowEngine", SlowEngine.description)
    yield
    remove_engine(TruthEngine.name)
    remove_engine(SlowEngine.name)


@pytest.fixture
def widget(make_napari_viewer, qtbot, engines):
    from napari_tlreg._widgets.register import RegisterWidget

    viewer = make_napari_viewer()
    w = RegisterWidget(viewer)
    viewer.window.add_dock_widget(w, name="Register sequence")
    yield viewer, w
    if w.running:  # never leave a worker behind
        w.cancel()
        qtbot.waitUntil(lambda: not w.running, timeout=5000)


@pytest.fixture
def docks_all(make_napari_viewer):
    from napari_tlreg._widgets.landmarks import LandmarkWidget
    from napari_tlreg._widgets.plots import PlotsWidget
    from napari_tlreg._widgets.register import RegisterWidget

    viewer = make_napari_viewer()
    return RegisterWidget(viewer), LandmarkWidget(viewer), PlotsWidget(viewer)


def choose(combo, text):
    i = combo.findText(text)
    assert i >= 0, f"{text!r} not in {[combo.itemText(k) for k in range(combo.count())]}"
    combo.setCurrentIndex(i)


RESULT_SUFFIXES = ("warped reference", "grid", "jacobian", "folds", "displacement", "propagated labels")


def run_and_wait(qtbot, w, timeout=20000):
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.running, timeout=timeout)


def test_run_end_to_end(widget, qtbot, notes):
    viewer, w = widget
    frames, labels = synthetic_sequence()
    # pixels 0.5 x 0.25 (mm): not square, so a dropped or (col, row) spacing shows
    img = viewer.add_image(frames, name="seq", colormap="green", scale=(1.0, 0.5, 0.25), translate=(0, 3, 4))
    viewer.add_labels(labels, name="seg", scale=(1.0, 0.5, 0.25), translate=(0, 3, 4))
    viewer.dims.set_current_step(0, REF)
    assert w.image_combo.currentText() == "seq"
    choose(w.labels_combo, "seg")
    w._use_current_frame()
    assert w.reference_spin.value() == REF
    choose(w.method_combo, TruthEngine.name)
    # the parameter form follows the engine's defaults and choices
    form = {k: w.findChild(object, f"param_{k}") for k in TruthEngine.defaults}
    from qtpy.QtWidgets import QDoubleSpinBox

    assert isinstance(form["gain"], QDoubleSpinBox)
    assert type(form["repeats"]).__name__ == "QSpinBox"
    assert type(form["flip"]).__name__ == "QCheckBox"
    assert type(form["mode"]).__name__ == "QComboBox" and form["mode"].count() == 2
    form["repeats"].setValue(3)
    choose(w.device_combo, "cpu")

    steps = []
    w._relay.progress.connect(lambda *a: steps.append(a))
    run_and_wait(qtbot, w)
    assert not notes, notes
    assert w.run_btn.text() == "Run"
    assert TruthEngine.last_params == {"gain": 1.0, "repeats": 3, "flip": False, "mode": "a"}
    assert w.progress_bar.value() == w.progress_bar.maximum()
    assert (3, 3, "truth") in steps and steps[-1] == (1, 1, "done")  # the last steps reach the bar (it is set full
    # at the end anyway: the assert above passed with a throttle that dropped them)
    res = w.results[("seq", TruthEngine.name)]
    assert res.spacing == (0.5, 0.25) and res.unit == "mm"  # the layer's pixel size, (row, col)
    assert "done" in w.status_label.text()

    names = [ly.name for ly in viewer.layers]
    for s in RESULT_SUFFIXES:
        assert f"seq {s}" in names, names
        layer = viewer.layers[f"seq {s}"]
        # the grid: on a raster 5x finer than the 32-px frames, its pixels a fifth of the image's, centred in them
        fine = 5 if s == "grid" else 1
        np.testing.assert_allclose(layer.scale, np.divide(img.scale, (1, fine, fine)))
        np.testing.assert_allclose(layer.translate, img.translate + np.multiply(img.scale, (0, *[0.5 / fine - 0.5] * 2)))
        assert names.index(f"seq {s}") > names.index("seq")  # above the image
    # (clinician review) the additive warped reference just above its image, under the user's labels: on top it was
    # summed with their filled contour, which read as magenta "misalignment" over an aligned cavity
    assert names.index("seq warped reference") == names.index("seq") + 1 < names.index("seg")
    assert viewer.dims.current_step[0] == REF  # the viewer stays on its frame
    for s in ("warped reference", "grid", "jacobian", "folds", "propagated labels"):
        assert viewer.layers[f"seq {s}"].data.shape == ((T, 5 * H, 5 * W) if s == "grid" else (T, H, W)), s
    warped = viewer.layers["seq warped reference"]
    assert warped.blending == "additive" and warped.colormap.name == "magenta"
    jac = viewer.layers["seq jacobian"]
    lo, hi = jac.contrast_limits
    assert lo < 1 < hi and abs((1 - lo) - (hi - 1)) < 1e-6
    np.testing.assert_allclose(jac.data, 1.0, atol=1e-4)  # a translation keeps area
    assert viewer.layers["seq folds"].data.max() == 0
    assert not w.legend.isHidden() and w.legend.lo.text() and w.legend.hi.text()

    vec = viewer.layers["seq displacement"].data
    assert vec.ndim == 3 and vec.shape[1:] == (2, 3)
    assert set(np.unique(vec[:, 0, 0])) == set(range(T))
    np.testing.assert_allclose(vec[:, 1, 0], 0)
    t = vec[:, 0, 0].astype(int)
    np.testing.assert_allclose(vec[:, 1, 1], (t - REF) * SHIFT[0], atol=1e-5)
    np.testing.assert_allclose(vec[:, 1, 2], (t - REF) * SHIFT[1], atol=1e-5)

    prop = viewer.layers["seq propagated labels"].data
    inter = np.logical_and(prop > 0, labels > 0).sum(axis=(1, 2))
    dice = 2 * inter / ((prop > 0).sum(axis=(1, 2)) + (labels > 0).sum(axis=(1, 2)))
    assert dice.min() > 0.9, dice
    # (viewer review) the plugin's labels layers take its palette, which gave neither label 1 napari's dark brown
    # nor label 2 the grid's cyan; the propagated labels take it too where the user's layer has napari's own
    # default colours (label 1's dark-brown contour was lost on dark MRI), and their colours where they chose them
    from napari_tlreg._hooks import LABEL_PALETTE, label_colormap

    from napari.layers import Labels

    ids = [int(k) for k in np.unique(labels) if k]
    seg, shown = viewer.layers["seg"], viewer.layers["seq propagated labels"]
    np.testing.assert_allclose(shown.colormap.map(np.array(ids)), np.array(LABEL_PALETTE[: len(ids)]), atol=1e-6)
    assert np.abs(seg.colormap.map(np.array([1]))[0, :3] - (0.47, 0.15, 0.02)).max() < 0.01  # napari's brown

    ours = Labels(labels, colormap=label_colormap())  # the reader's and the contours' layers, not added here
    n = len(LABEL_PALETTE)
    np.testing.assert_allclose(ours.colormap.map(np.array([1, 2, n + 1])), np.array([*LABEL_PALETTE[:2], LABEL_PALETTE[0]]),
                               atol=1e-6)  # an id painted later has a colour too
    assert ours.colormap.map(np.array([0]))[0, 3] == 0

    # display controls update the layers in place
    grid = viewer.layers["seq grid"]
    before = grid.data.copy()
    w.grid_spin.setValue(6)  # (auto: 4 of these 0.5 x 0.25 mm pixels' coarse axis, cells 8 fine pixels wide)
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers["seq grid"].data, before), timeout=3000)
    assert viewer.layers["seq grid"] is grid
    w.checker_box.setChecked(True)
    assert viewer.layers["seq warped reference"].colormap.name == "gray"
    w.checker_box.setChecked(False)
    assert viewer.layers["seq warped reference"].colormap.name == "magenta"

    # a second run replaces the layers, never piles them up; an unchanged placement is not set
    # again (napari would recompute the dims and refresh every layer for it)
    n_layers = len(viewer.layers)
    placed: list[str] = []
    viewer.layers["seq jacobian"].events.scale.connect(lambda e: placed.append("scale"))
    viewer.layers["seq jacobian"].events.translate.connect(lambda e: placed.append("translate"))
    seg.new_colormap()  # the user's own colours ("shuffle colors"): the next run's labels take them
    run_and_wait(qtbot, w)
    assert not notes, notes
    assert viewer.layers["seq propagated labels"] is shown
    np.testing.assert_allclose(shown.colormap.map(np.array(ids)), seg.colormap.map(np.array(ids)))
    assert len(viewer.layers) == n_layers
    assert sorted(ly.name for ly in viewer.layers) == sorted(names)
    assert placed == []
    # ... but a moved image moves its results on the next run
    img.translate = (0, 5, 6)
    run_and_wait(qtbot, w)
    assert "translate" in placed and "scale" not in placed
    for s in RESULT_SUFFIXES:  # (the grid's pixel centres a quarter of the image's in from its pixel's edge)
        shift = np.multiply(img.scale, (0, -0.4, -0.4)) if s == "grid" else 0
        np.testing.assert_allclose(viewer.layers[f"seq {s}"].translate, np.add((0, 5, 6), shift))
    # results stay out of the input combos
    assert [w.image_combo.itemText(i) for i in range(w.image_combo.count())] == ["seq"]
    assert [w.labels_combo.itemText(i) for i in range(w.labels_combo.count())] == ["none", "seg"]


def labelled_off_the_reference(viewer) -> tuple[np.ndarray, np.ndarray]:
    """Image "seq" and labels "seg" drawn on frame REF + 1 only; returns the sequence's frames and its whole labels."""
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    only = np.zeros_like(labels)
    only[REF + 1] = labels[REF + 1]
    viewer.add_labels(only, name="seg")
    return frames, labels


def test_labels_off_the_reference_frame_are_said_to_carry_nothing(widget, qtbot, notes):
    """Labels drawn on other frames than the reference: the propagated layer came out empty, without a word."""
    viewer, w = widget
    frames, labels = labelled_off_the_reference(viewer)
    choose(w.labels_combo, "seg")
    choose(w.method_combo, TruthEngine.name)
    w.reference_spin.setValue(REF)
    run_and_wait(qtbot, w)
    assert [k for k, _ in notes] == ["warning"] and f"the reference frame ({REF}) has no labels" in notes[0][1], notes
    assert f"labelled frames: {REF + 1}" in notes[0][1]
    viewer.layers["seg"].data = labels  # labels on the reference: nothing to say
    notes.clear()
    run_and_wait(qtbot, w)
    assert notes == []


def test_labels_picked_on_other_frames_bring_the_reference(widget, qtbot, notes):
    """(legibility review) Labels the user drew on another frame and picked in the combo left the reference on frame
    0 (a file's): Run carried nothing, said only after it. As an image's own labels and loaded contours do, they bring
    the reference onto their most labelled frame, said in the status line; one the user sets after stays theirs."""
    from napari_tlreg.core.labels import frames_said

    viewer, w = widget
    frames, labels = labelled_off_the_reference(viewer)
    w.reference_spin.setValue(0)
    i = w.labels_combo.findText("seg")
    w.labels_combo.setCurrentIndex(i)
    w.labels_combo.activated.emit(i)  # as a user picks it
    assert w.reference_spin.value() == REF + 1
    assert f"reference: frame {REF + 1}, the most labelled of 'seg'" in w.status_label.text()
    from napari_tlreg._widgets.store import store_for

    assert store_for(viewer).planned_reference("seq") == REF + 1  # for the Landmarks dock, whose pairs go on it
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert notes == [], notes
    assert viewer.layers["seq propagated labels"].data[REF].any()
    # labelled on the reference already: picked again, nothing moves
    w.reference_spin.setValue(REF)
    viewer.layers["seg"].data = labels
    w.labels_combo.activated.emit(i)
    assert w.reference_spin.value() == REF
    drawn_on = frames_said(np.flatnonzero(labels.reshape(len(labels), -1).any(1)))
    # (2026-12-07, clinician review) the status line said what the labels chosen before were: it says these
    assert w.status_label.text() == f"labels: 'seg', drawn on frames {drawn_on}"
    # (diff review) the usual way: a new, empty labels layer picked, then painted on the frame shown
    new = viewer.add_labels(np.zeros_like(labels), name="drawn")
    w.reference_spin.setValue(0)
    k = w.labels_combo.findText("drawn")
    w.labels_combo.setCurrentIndex(k)
    w.labels_combo.activated.emit(k)
    assert w.reference_spin.value() == 0  # nothing drawn yet
    assert w.status_label.text() == ("labels: 'drawn', empty: paint the reference frame (t=0) to carry it through "
                                     "the sequence")
    new.paint((REF, 20, 20), 1)
    qtbot.waitUntil(lambda: w.reference_spin.value() == REF, timeout=3000)
    assert "the most labelled of 'drawn'" in w.status_label.text()
    new.paint((REF + 2, 20, 20), 1)  # the reference has labels now: painting elsewhere leaves it
    qtbot.wait(50)
    assert w.reference_spin.value() == REF
    # a refresh of the layer list with labels elsewhere does not move a reference the user set
    w.reference_spin.setValue(1)
    viewer.add_image(frames, name="other")
    viewer.layers.remove("other")
    assert w.reference_spin.value() == 1 and w.current_labels() is new
    # only the chosen layer is listened to: painting the one no longer chosen moves nothing
    w.labels_combo.setCurrentIndex(0)
    w.labels_combo.activated.emit(0)
    assert w.status_label.text() == "labels: none (Run propagates no segmentation and gives no Dice)"
    # (diff review) one frame's labels (H, W), which Run takes as the reference's, were said not to fit
    viewer.add_labels(labels[REF].copy(), name="flat")
    j = w.labels_combo.findText("flat")
    w.labels_combo.setCurrentIndex(j)
    w.labels_combo.activated.emit(j)
    assert w.status_label.text() == "labels: 'flat', one frame: taken as the reference's (t=1)"
    viewer.add_labels(labels[REF][None].copy(), name="one")  # (1, H, W), as a one-frame TIFF opens: taken too
    j = w.labels_combo.findText("one")
    w.labels_combo.setCurrentIndex(j)
    w.labels_combo.activated.emit(j)
    assert w.status_label.text() == "labels: 'one', one frame: taken as the reference's (t=1)"
    w.labels_combo.setCurrentIndex(0)
    w.reference_spin.setValue(1)
    new.paint((REF, 30, 30), 2)
    qtbot.wait(50)
    assert w.reference_spin.value() == 1


def test_labels_mismatch_is_refused_and_one_frame_fits(widget, qtbot, notes):
    """Labels of another size were a warning after the whole run; refused at Run (2026-12-05). One frame's labels,
    (H, W) or (1, H, W), are the reference's, as check_annotations takes them."""
    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    viewer.add_labels(np.zeros((20, 20), np.int32), name="small")
    choose(w.labels_combo, "small")
    choose(w.method_combo, TruthEngine.name)
    w.run_btn.click()
    assert not w.running and [k for k, _ in notes] == ["error"] and "labels 'small'" in notes[0][1]
    assert "seq warped reference" not in [ly.name for ly in viewer.layers]
    viewer.add_labels(labels[REF][None], name="one frame")
    choose(w.labels_combo, "one frame")
    w.reference_spin.setValue(REF)
    run_and_wait(qtbot, w)
    assert notes[1:] == [], notes
    assert "seq propagated labels" in [ly.name for ly in viewer.layers]


def test_label_ids_beyond_int32_are_refused_at_run(widget, qtbot, notes):
    """(2026-12-05, layer-kinds review) A uint64 labels layer with an id of 2**40 was refused only after the whole
    run ("labels not propagated")."""
    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    wide = labels.astype(np.uint64)
    wide[wide == 1] = 2**40
    viewer.add_labels(wide, name="wide")
    choose(w.labels_combo, "wide")
    choose(w.method_combo, TruthEngine.name)
    TruthEngine.last_params = {}
    run_and_wait(qtbot, w)  # read in the worker (2026-12-06: not on the GUI thread), refused before the run
    assert [k for k, _ in notes] == ["error"], notes
    assert "labels 'wide'" in notes[0][1] and "int32 range" in notes[0][1]
    assert w.status_label.text().startswith("not run: labels 'wide'") and TruthEngine.last_params == {}
    assert "seq warped reference" not in [ly.name for ly in viewer.layers]


def test_run_reads_the_labels_in_its_worker(widget, qtbot, notes, monkeypatch):
    """(2026-12-06, layer-state review) Run copied, scanned and cast the chosen labels on the GUI thread: 1.2 s frozen
    for 16 x 2048² labels (the frames were already read in the worker)."""
    import threading

    from napari_tlreg._widgets import register

    real, where = register.as_label_ids, []
    monkeypatch.setattr(register, "as_label_ids", lambda *a, **k: where.append(threading.current_thread()) or real(*a, **k))
    viewer, w = run_with_labels(widget, qtbot)
    assert where and threading.main_thread() not in where
    assert "seq propagated labels" in viewer.layers


def test_2d_labels_are_the_reference(widget, qtbot, notes):
    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    viewer.add_labels(labels[REF], name="ref")
    w.reference_spin.setValue(REF)
    choose(w.labels_combo, "ref")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert not notes, notes
    prop = viewer.layers["seq propagated labels"].data
    assert prop.shape == (T, H, W)
    np.testing.assert_array_equal(prop[REF], labels[REF])  # the one frame is the reference's (an empty one passed)
    inter = np.logical_and(prop > 0, labels > 0).sum(axis=(1, 2))
    dice = 2 * inter / ((prop > 0).sum(axis=(1, 2)) + (labels > 0).sum(axis=(1, 2)))
    assert dice.min() > 0.9, dice  # and it follows the motion to every frame


def test_combos_follow_layers(widget, qtbot):
    viewer, w = widget
    items = lambda c: [c.itemText(i) for i in range(c.count())]  # noqa: E731
    assert items(w.image_combo) == [] and items(w.labels_combo) == ["none"]
    frames, labels = synthetic_sequence()
    a = viewer.add_image(frames, name="a")
    viewer.add_image(frames[0], name="flat")  # 2-D: not a sequence, not listed
    b = viewer.add_image(frames[:3], name="b")
    viewer.add_labels(labels, name="lab")
    assert items(w.image_combo) == ["a", "b"]
    assert items(w.labels_combo) == ["none", "lab"]
    assert w.image_combo.currentText() == "a"
    choose(w.image_combo, "b")
    assert w.reference_spin.maximum() == 2
    b.name = "bee"
    assert items(w.image_combo) == ["a", "bee"] and w.image_combo.currentText() == "bee"
    viewer.layers.move(viewer.layers.index(b), 0)
    assert items(w.image_combo) == ["bee", "a"] and w.image_combo.currentText() == "bee"
    viewer.layers.remove(b)
    assert items(w.image_combo) == ["a"] and w.current_image() is a
    assert w.reference_spin.maximum() == T - 1
    viewer.layers.remove("lab")
    assert items(w.labels_combo) == ["none"]
    viewer.layers.remove(a)
    assert items(w.image_combo) == [] and w.current_image() is None


def test_reference_defaults_to_current_frame(widget):
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="a")
    viewer.dims.set_current_step(0, 2)
    viewer.add_image(frames + 1, name="b")
    choose(w.image_combo, "b")
    assert w.reference_spin.value() == 2
    viewer.dims.set_current_step(0, 3)
    w.current_frame_btn.click()
    assert w.reference_spin.value() == 3


def test_method_combo_and_devices(widget):
    from napari_tlreg.api import available_devices, methods

    _, w = widget
    names = [w.method_combo.itemText(i) for i in range(w.method_combo.count())]
    assert names == list(methods())
    if "tlrn" in names:
        w2 = type(w)(widget[0])
        assert w2.method_combo.currentText() == "tlrn"
        w2.deleteLater()
    devs = available_devices()
    model = w.device_combo.model()
    for i in range(w.device_combo.count()):
        name = w.device_combo.itemText(i)
        assert model.item(i).isEnabled() == devs[name]
    assert w.device_combo.currentText() == "auto"


def test_a_pair_of_dates_starts_on_the_pair_method_until_the_method_is_chosen(widget, tmp_path):
    """(2026-12-05, satellite review) The real Sentinel-2 pair opened with `view --run` (or the dock) ran tlrn, trained
    on cine, whose median field was (+4.25, +3.65) px against the pair's (+1.7, -0.6): worse than none. The CLI said
    what pairs want; the dock said nothing."""
    from napari_tlreg.api import DEFAULT_METHOD, PAIR_METHOD, method_params, suggested_method
    from napari_tlreg.io import save_stack

    viewer, w = widget
    rng = np.random.default_rng(0)
    save_stack(tmp_path / "pair.tif", rng.random((2, 32, 32)).astype(np.float32), (10.0, 10.0), unit="m")
    save_stack(tmp_path / "edes.nii.gz", rng.random((2, 32, 32)).astype(np.float32), (1.3, 1.3))  # ED, ES in mm
    save_stack(tmp_path / "cine.tif", rng.random((5, 32, 32)).astype(np.float32))
    save_stack(tmp_path / "two.tif", rng.random((2, 32, 32)).astype(np.float32))  # in pixels
    from test_io import _geotiff

    # (2026-12-07, satellite review) a pair in degrees (EPSG:4326, as Earth Engine exports it), measured in pixels:
    # tlrn's field was ~4 px off, without a word
    _geotiff(tmp_path / "geo.tif", (rng.random((2, 32, 32)) * 3000).astype(np.uint16), scale=(1.5e-4, 9e-5), model=2)
    for name in ("pair.tif", "edes.nii.gz", "cine.tif", "two.tif", "geo.tif"):
        viewer.open(str(tmp_path / name), plugin="napari-tlreg")
    assert PAIR_METHOD != DEFAULT_METHOD
    choose(w.image_combo, "pair")
    assert w.method_combo.currentData() == PAIR_METHOD
    assert f"method: {PAIR_METHOD}, for a pair of dates (2 frames)" in w.status_label.text()
    choose(w.image_combo, "edes")
    choose(w.image_combo, "geo")
    assert w.method_combo.currentData() == PAIR_METHOD and viewer.layers["geo"].metadata["napari_tlreg"]["map"]
    from napari_tlreg._hooks import map_window

    assert viewer.layers["geo"].contrast_limits == pytest.approx(list(map_window(viewer.layers["geo"].data)))  # a map's
    form = set(w._param_defaults)  # the form is the pair method's
    assert form <= set(method_params(PAIR_METHOD)) and form - set(method_params(DEFAULT_METHOD))
    choose(w.image_combo, "edes")  # two phases of a heart, in mm: the cine-trained default
    assert w.method_combo.currentData() == DEFAULT_METHOD
    choose(w.image_combo, "pair")
    choose(w.image_combo, "two")
    assert w.method_combo.currentData() == DEFAULT_METHOD
    choose(w.image_combo, "pair")
    choose(w.image_combo, "cine")
    assert w.method_combo.currentData() == DEFAULT_METHOD
    choose(w.image_combo, "pair")
    assert w.status_label.text().startswith(f"method: {PAIR_METHOD}")
    choose(w.method_combo, "voxelmorph")  # chosen: kept, whatever image comes next
    assert w.status_label.text() == "ready"  # (2026-12-07) it kept recommending the pair method over the user's
    choose(w.image_combo, "pair")
    assert w.method_combo.currentData() == "voxelmorph"
    w2 = type(w)(viewer)  # a second dock, set by a script before it chooses the pair: kept too
    choose(w2.method_combo, "multistep")
    choose(w2.image_combo, "cine")
    choose(w2.image_combo, "pair")
    assert w2.method_combo.currentData() == "multistep"
    w2.deleteLater()
    # two frames in pixels could be anything (an ED/ES pair without its pixel size: hsyn's Dice below tlrn's)
    assert [suggested_method(n, unit) for n, unit in ((2, None), (2, "px"), (2, "m"), (2, "mm"), (3, "m"))] \
        == [DEFAULT_METHOD, DEFAULT_METHOD, PAIR_METHOD, DEFAULT_METHOD, DEFAULT_METHOD]
    assert [suggested_method(n, "px", geotiff=True) for n in (2, 3)] == [PAIR_METHOD, DEFAULT_METHOD]


def test_a_geotiff_pair_registered_in_the_dock_is_saved_where_its_map_lies(widget, qtbot, notes, tmp_path):
    """(2026-12-07, satellite review) The command line's result of a GeoTIFF pair carried its georeferencing; the
    dock's, of the same file, did not (the reader's layer kept no tags), nor did a result layer saved with File > Save.
    Both carry the source's tags now; a layer drawn at another pixel size does not."""
    from scipy.ndimage import gaussian_filter, shift
    from test_io import _geotiff

    from napari_tlreg._hooks import write_image
    from napari_tlreg.io import load_sequence

    viewer, w = widget
    a = gaussian_filter(np.random.default_rng(0).random((48, 56)), 2) * 4000
    _geotiff(tmp_path / "geo.tif", np.stack([a, shift(a, (1.5, -1.0))]).astype(np.uint16), scale=(10.0, 10.0))
    tags = load_sequence(tmp_path / "geo.tif").metadata["geotiff"]
    viewer.open(str(tmp_path / "geo.tif"), plugin="napari-tlreg")
    choose(w.image_combo, "geo")
    choose(w.method_combo, "multistep")
    run_and_wait(qtbot, w, timeout=60000)
    assert w.current_result() is not None and w.current_result().geotiff == tags
    assert w.save_result(tmp_path / "kept") is not None
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    import tifffile

    from napari_tlreg.io.readers import geotiff_tags

    for name in ("warped.tif", "displacement.tif", "jacobian.tif"):
        with tifffile.TiffFile(tmp_path / "kept" / name) as tif:
            assert geotiff_tags(tif.pages[0]) == tags, name
    data, meta, _ = viewer.layers["geo warped reference"].as_layer_data_tuple()
    write_image(str(tmp_path / "warped_layer.tif"), data, meta)
    assert load_sequence(tmp_path / "warped_layer.tif").metadata.get("geotiff") == tags
    write_image(str(tmp_path / "warped_layer.nii.gz"), data, meta)  # NIfTI holds none: saved all the same
    meta["scale"] = (1.0, 20.0, 20.0)  # drawn at another pixel size: the map's tags would misplace it
    write_image(str(tmp_path / "rescaled.tif"), data, meta)
    assert not load_sequence(tmp_path / "rescaled.tif").metadata.get("geotiff")
    # (diff review) a crop kept in place, or the map moved: its tags would place it 300 m off
    data, meta, _ = viewer.layers["geo warped reference"].as_layer_data_tuple()
    write_image(str(tmp_path / "crop.tif"), np.asarray(data)[:, 20:, 30:], {**meta, "translate": (0.0, 200.0, 300.0)})
    write_image(str(tmp_path / "cropped.tif"), np.asarray(data)[:, 20:, 30:], meta)
    write_image(str(tmp_path / "moved.tif"), data, {**meta, "translate": (0.0, 200.0, 300.0)})
    for name in ("crop.tif", "cropped.tif", "moved.tif"):
        assert not load_sequence(tmp_path / name).metadata.get("geotiff"), name
    geo = viewer.layers["geo"]
    geo.data = np.asarray(geo.data)[:, 20:, 30:]  # cropped in the console: the dock's result is no longer on the map
    run_and_wait(qtbot, w, timeout=60000)
    assert w.current_result() is not None and w.current_result().geotiff is None


def test_only_edited_parameters_are_passed(widget):
    """The form sends what the user changed; the engine fills in its defaults, as for a call from
    Python (an nmsr ``smooth`` edited alone then holds on every sequence, clean or noisy)."""
    viewer, w = widget
    choose(w.method_combo, TruthEngine.name)
    assert w.param_values() == {}
    w.findChild(object, "param_gain").setValue(2.5)
    choose(w.findChild(object, "param_mode"), "b")
    assert w.param_values() == {"gain": 2.5, "mode": "b"}
    w.findChild(object, "param_gain").setValue(1.0)  # back to the default: not sent
    assert w.param_values() == {"mode": "b"}
    for method in ("tlrn", "voxelmorph", "multistep", "hsyn", "nmsr"):
        choose(w.method_combo, method)
        assert w.param_values() == {}, method  # every float, int, bool, choice and text editor starts at its default
    # each parameter says what it does, on its editor and its label
    editor = w.findChild(object, "param_smooth_clean")
    assert "clean frames" in editor.toolTip() and w.params_form.labelForField(editor).toolTip() == editor.toolTip()
    w.findChild(object, "param_smooth").setValue(1.0)
    assert w.param_values() == {"smooth": 1.0}
    from napari_tlreg.engines import get_engine

    assert get_engine("nmsr").validate_params(w.param_values())["smooth_clean"] == 1.0


def test_advanced_parameters_fold_away(widget, qtbot):
    """NMSR's 30 parameters: the 10 a user sets first in the form, the other 20 in a folded "advanced"
    group whose title counts the ones edited (they are still sent); its state carries across methods."""
    from napari_tlreg.api import method_params

    viewer, w = widget
    choose(w.method_combo, "nmsr")
    spec = method_params("nmsr")
    advanced = [k for k, v in spec.items() if v["advanced"]]
    assert len(advanced) == 20 and w.advanced is not None and not w.advanced.isExpanded()
    assert w.advanced.text() == "advanced (20)"
    assert w.params_form.rowCount() == len(spec) - 20 and w.advanced_form.rowCount() == 20
    for key in spec:  # each parameter in its form, with its tooltip on the label too
        editor = w.findChild(object, f"param_{key}")
        form = w.advanced_form if key in advanced else w.params_form
        label = form.labelForField(editor)
        assert label is not None and label.text() == key and label.toolTip() == editor.toolTip(), key
    w.show()
    qtbot.waitExposed(w)
    assert w.findChild(object, "param_field_sigma").height() < 5 or not w.findChild(object, "param_field_sigma").isVisible()
    # (2026-12-05, keyboard review) folded, out of Tab's reach: Tab went through 20 unseen editors, arrows changed them
    assert not any(w.findChild(object, f"param_{k}").isEnabled() for k in advanced)
    w.findChild(object, "param_field_sigma").setValue(0.5)
    w.findChild(object, "param_noise_compensation").setChecked(False)
    assert w.advanced.text() == "advanced (20, 2 changed)"
    assert w.param_values() == {"field_sigma": 0.5, "noise_compensation": False}
    w.findChild(object, "param_noise_compensation").setChecked(True)
    assert w.advanced.text() == "advanced (20, 1 changed)"
    w.advanced.expand(animate=False)
    qtbot.waitUntil(lambda: w.findChild(object, "param_field_sigma").height() > 5, timeout=2000)
    assert all(w.findChild(object, f"param_{k}").isEnabled() for k in advanced)
    choose(w.method_combo, "tlrn")  # no advanced parameters: no group
    assert w.advanced is None and w.param_values() == {}
    choose(w.method_combo, "nmsr")  # fresh editors at the defaults, the group open as the user left it
    assert w.advanced.isExpanded() and w.advanced.text() == "advanced (20)" and w.param_values() == {}


def test_nmsr_mask_from_a_labels_layer(widget, qtbot, notes):
    """NMSR's mask is chosen among the viewer's Labels layers (2-D, or a (T, H, W) layer's reference frame);
    one that does not fit the image is a notification, not a run; the result keeps the region and reports
    its MSE / local CC there."""
    from napari_tlreg import metrics

    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, "nmsr")
    combo = w.findChild(object, "param_mask")
    assert [combo.itemText(i) for i in range(combo.count())] == ["none (whole frame)"] and w.param_values() == {}
    region = np.zeros((H, W), np.int32)
    region[4:28, 6:30] = 1
    viewer.add_labels(region, name="roi")
    viewer.add_labels(labels, name="seg")  # (T, H, W): its plane at the reference
    viewer.add_labels(np.ones((H + 2, W), np.int32), name="too big")
    viewer.add_labels(np.zeros((H, W), np.int32), name="blank")
    elsewhere = np.zeros((T, H, W), np.int32)
    elsewhere[[REF - 1, REF + 1], 4:28, 6:30] = 1  # (bad-input review) painted, but not on the reference
    viewer.add_labels(elsewhere, name="off ref")
    assert [combo.itemText(i) for i in range(combo.count())] == ["none (whole frame)", "roi", "seg", "too big", "blank",
                                                                 "off ref"]
    w.reference_spin.setValue(REF)
    choose(combo, "seg")
    assert np.array_equal(w.param_values()["mask"], labels[REF] != 0)
    for name, says in (("too big", "mask layer 'too big' is 34x32, the image 'seq' 32x32"),
                       ("blank", "mask layer 'blank' is empty: paint the region"),
                       ("off ref", f"mask layer 'off ref' is empty on the reference frame {REF} (painted on frames "
                                   f"{REF - 1}, {REF + 1}): paint it on frame {REF}, or make a painted frame the reference")):
        choose(combo, name)
        n_layers = len(viewer.layers)
        notes.clear()
        w.run_btn.click()
        assert not w.running and len(viewer.layers) == n_layers and says in notes[-1][1], notes
    viewer.layers["too big"].name = "wide"  # renames follow; the choice stays on its layer
    assert combo.currentText() == "off ref" and combo.findText("wide") > 0
    choose(combo, "roi")
    for key, value in (("levels", 1), ("iterations", 3), ("threads", 1)):
        w.findChild(object, f"param_{key}").setValue(value)
    notes.clear()
    run_and_wait(qtbot, w, timeout=60000)
    assert not [n for n in notes if n[0] == "error"], notes
    res = w.results[("seq", "nmsr")]
    assert np.array_equal(res.mask, region != 0)
    rows = metrics.evaluate(res)
    assert np.allclose([r["mse"] for r in rows], metrics.mse(res.warped, res.frames, mask=region != 0, per_frame=True))
    # folding is the region's too, and the legend and the status say so
    assert np.allclose(res.folding_pct, 100 * (res.jacobian[:, region != 0] <= 0).mean(axis=1))
    assert w.status_label.text().endswith("in the mask") and w.legend.folds.text().endswith("in the mask")
    viewer.layers.remove("roi")  # the chosen layer gone: back to the whole frame
    assert combo.currentText() == "none (whole frame)" and "mask" not in w.param_values()


def test_an_nmsr_result_in_a_mask_is_shown_and_reopened_at_the_mask_scale(widget, qtbot, notes, tmp_path):
    """NMSR's frames are scaled from the percentiles inside its mask (a caption outside an echo's fan set them before):
    the frame under the overlay takes the same contrast, and the result folder opens on its image again; so does a
    folder saved when the whole frame set the scale (it was refused as "other frames" otherwise)."""
    import dataclasses

    from napari_tlreg.core.normalize import intensity_range, normalize_sequence

    viewer, w = widget
    frames, _ = synthetic_sequence()
    frames[:, :3, :] = 9.0  # a bright caption outside the mask
    region = np.zeros((H, W), np.int32)
    region[4:30, 2:30] = 1
    img = viewer.add_image(frames, name="seq")
    viewer.add_labels(region, name="roi")
    choose(w.method_combo, "nmsr")
    choose(w.findChild(object, "param_mask"), "roi")
    for key, value in (("levels", 1), ("iterations", 3), ("threads", 1)):
        w.findChild(object, f"param_{key}").setValue(value)
    run_and_wait(qtbot, w, timeout=60000)
    assert not [n for n in notes if n[0] == "error"], notes
    res = w.results[("seq", "nmsr")]
    inside = np.broadcast_to(region == 0, frames.shape)
    lo, hi = intensity_range(frames, fill=inside)
    assert hi < 1.0 and img.contrast_limits == pytest.approx((lo, hi), rel=1e-5)  # not the caption's 9
    assert np.allclose(res.frames[:, region != 0], np.clip((frames[:, region != 0] - lo) / (hi - lo), 0, 1), atol=1e-6)
    res.save(tmp_path / "now")
    old = dataclasses.replace(res, frames=normalize_sequence(frames))  # as a run before 2026-12-07 scaled them
    old.save(tmp_path / "before")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)  # another method's result of the image, the form on it
    for folder in ("now", "before"):
        notes.clear()
        choose(w.method_combo, TruthEngine.name)  # another method in the form: the folder's is chosen as it opens
        w.open_result(tmp_path / folder)
        qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
        assert [n[0] for n in notes] == ["warning"] and "replaces the nmsr result" in notes[0][1], (folder, notes)
        assert w.status_label.text().startswith(f"opened {tmp_path / folder}")
        # "save result" writes what is on screen (echo review: the form's method's result, while the folder's was shown)
        assert w.method_combo.currentData() == TruthEngine.name  # the form as the user left it (diff review)
        assert w.current_result() is w.results[("seq", "nmsr")]
    assert img.contrast_limits == pytest.approx(intensity_range(frames), rel=1e-5)  # the earlier folder's own scale


def test_the_propagated_labels_keep_their_names_and_the_legend_says_them(widget, qtbot, notes):
    """The propagated labels are outlines in the colours of the labels they come from: the legend says which is which
    (filled, outlined: both red on a cine, told apart by nothing on screen), and they keep the labels' names (the plots
    of them said "label 1" for the expert's "LV cavity"; clinician review)."""
    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    viewer.add_labels(labels, name="seg", metadata={"label_names": {1: "LV cavity"}})
    choose(w.method_combo, TruthEngine.name)
    choose(w.labels_combo, "seg")
    assert w.legend.isHidden() or not w.legend.labels.isVisibleTo(w.legend)
    run_and_wait(qtbot, w)
    assert viewer.layers["seq propagated labels"].metadata["label_names"] == {1: "LV cavity"}
    assert w.legend.labels.isVisibleTo(w.legend) and "propagated labels" in w.legend.labels.text()
    assert w.legend.grid.isVisibleTo(w.legend) and "grid" in w.legend.grid.text()
    viewer.layers["seg"].metadata["label_names"] = {}
    run_and_wait(qtbot, w)  # updated in place: the names go with the labels' own
    assert viewer.layers["seq propagated labels"].metadata["label_names"] == {}
    choose(w.labels_combo, "none")
    run_and_wait(qtbot, w)
    assert not w.legend.labels.isVisibleTo(w.legend)  # no outlines drawn: no line for them
    assert not notes, notes


def test_nmsr_mask_starts_on_the_images_own_region(widget):
    """A sample's region (the echo sector, Labels ``"echo mask"``) is NMSR's mask from the start, as in the
    benchmark; "none" chosen by the user stays none."""
    from napari_tlreg.io import load_sequence

    viewer, w = widget
    viewer.open_sample("napari-tlreg", "echo")
    assert viewer.layers["echo mask"].visible is False
    choose(w.method_combo, "nmsr")
    combo = w.findChild(object, "param_mask")
    assert combo.currentText() == "echo mask"
    assert np.array_equal(w.param_values()["mask"], load_sequence("echo").metadata["mask"])
    choose(combo, "none (whole frame)")
    viewer.add_labels(np.zeros((8, 8), np.int32), name="other")
    assert combo.currentText() == "none (whole frame)" and "mask" not in w.param_values()
    choose(w.method_combo, "tlrn")
    choose(w.method_combo, "nmsr")  # a new form: the image's region again
    assert w.findChild(object, "param_mask").currentText() == "echo mask"


def test_cancel(widget, qtbot, notes):
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, SlowEngine.name)
    n_layers = len(viewer.layers)
    assert w.run_btn.autoDefault()  # Enter on the focused button runs, as Space does (2026-12-07, UX review)
    w.run_btn.click()
    assert w.running and w.run_btn.text() == "Cancel"
    qtbot.waitUntil(lambda: w.progress_bar.value() > 0, timeout=10000)  # real progress arrives
    window = w.window()
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    w.run_btn.setFocus()
    # (2026-12-07, echo review) the bar says the time left at the pace so far (a 10-minute run said "7%" and no more)
    w._run_started, w._run_total = w._run_started - 100.0, 100
    w._on_progress(50, 100, "half way")
    assert "about 2 min left" in w.progress_bar.text() and w.progress_bar.text().startswith("50%")
    w.run_btn.click()
    # (2026-12-05, keyboard review) the button stays enabled with the focus: disabled, it gave the focus to the grid
    # spacing, which the next arrow key changed
    assert w.run_btn.isEnabled() and w.run_btn.text() == "Cancelling…" and w.run_btn.hasFocus()
    w._on_progress(5, 10, "a step already on its way")  # (2026-12-07, UX review) it overwrote "cancelling…"
    assert w.status_label.text() == "cancelling…"
    # within 2 s (SlowEngine checks every 20 ms: a cancel not taken runs 8 s)
    qtbot.waitUntil(lambda: not w.running, timeout=2000)
    assert w.run_btn.text() == "Run" and w.run_btn.isEnabled()
    assert w.status_label.text() == "cancelled"
    assert len(viewer.layers) == n_layers
    assert "left" not in w.progress_bar.text()
    assert not notes, notes
    qtbot.wait(100)  # nothing arrives late
    assert len(viewer.layers) == n_layers


def test_closing_the_dock_cancels_its_run(widget, qtbot, notes):
    """napari's closing a dock takes the widget out (setParent(None)) without deleting it: the run went on unseen,
    and quitting Python afterwards aborted the process (a worker emitting into deleted objects)."""
    from napari_tlreg._widgets import register as R

    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, SlowEngine.name)
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.progress_bar.value() > 0, timeout=10000)
    cancel = w._cancel
    assert cancel in R._RUNNING
    viewer.window.remove_dock_widget(w)
    assert cancel.is_set()
    # (2026-12-07, UX review) the dock opened next said nothing of it: its status was empty (also when opened at once)
    again = R.RegisterWidget(viewer)
    assert again.status_label.text() == R.CLOSED_RUN and again.progress_bar.value() == 0
    qtbot.waitUntil(lambda: not w.running, timeout=2000)
    assert cancel not in R._RUNNING and w.status_label.text() == "cancelled" and not notes
    viewer.window.add_dock_widget(again)
    again._done_text["seq"] = "done: 8 frames ...\n⚠ a warning"  # a result before: its first line kept, not nested
    for _ in range(2):
        choose(again.method_combo, SlowEngine.name)  # each dock's run still going when it closes (a new dock's own
        # default, tlrn, could end before the close: the test raced)
        again.run_btn.click()
        qtbot.waitUntil(lambda: again.progress_bar.value() > 0, timeout=10000)
        viewer.window.remove_dock_widget(again)
        qtbot.waitUntil(lambda: not again.running, timeout=2000)
        again = R.RegisterWidget(viewer)
        viewer.window.add_dock_widget(again)
        assert again.status_label.text() == f"{R.CLOSED_RUN}\n(before it: done: 8 frames ...)", again.status_label.text()


def test_a_widget_deleted_mid_run_lets_go_of_it(make_napari_viewer, qtbot, engines, notes):
    """(2026-12-05, two-viewer review) A viewer closed during a run deletes its docks: the run was told to stop, but
    its cancel event stayed in _RUNNING (one more for each viewer closed so)."""
    from napari_tlreg._widgets import register as R

    viewer = make_napari_viewer()
    w = R.RegisterWidget(viewer)
    viewer.window.add_dock_widget(w, name="Register sequence")
    viewer.add_image(synthetic_sequence()[0], name="seq")
    choose(w.method_combo, SlowEngine.name)
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.progress_bar.value() > 0, timeout=10000)
    cancel = w._cancel
    viewer.window.remove_dock_widget(w)
    w.deleteLater()
    qtbot.waitUntil(lambda: cancel not in R._RUNNING, timeout=5000)
    assert cancel.is_set()


def test_a_registration_leaves_a_thread_for_the_docks_short_jobs(widget, qtbot, notes):
    """(2026-12-05, two-viewer review) Runs and the docks' short jobs (the plots' evaluation, the grid, tracking) share
    Qt's global pool: with one core (a container, a Slurm job) a short job waited behind a registration of minutes."""
    from qtpy.QtCore import QThreadPool
    from superqt.utils import create_worker

    pool = QThreadPool.globalInstance()
    old = pool.maxThreadCount()
    pool.setMaxThreadCount(1)
    try:
        viewer, w = widget
        viewer.add_image(synthetic_sequence()[0], name="seq")
        choose(w.method_combo, SlowEngine.name)
        w.run_btn.click()
        qtbot.waitUntil(lambda: w.progress_bar.value() > 0, timeout=10000)
        got = []
        job = create_worker(lambda: 42, _start_thread=False)
        job.returned.connect(got.append)
        job.start()
        qtbot.waitUntil(lambda: got == [42], timeout=3000)
        assert w.running  # the short job did not wait for the run's end
        w.run_btn.click()
        qtbot.waitUntil(lambda: not w.running, timeout=5000)
        qtbot.waitUntil(lambda: pool.maxThreadCount() == 1, timeout=2000)  # given back
    finally:
        pool.setMaxThreadCount(old)


def test_the_docks_jobs_do_not_wait_behind_each_other(qtbot):
    """(2026-12-06) A grid at a new spacing waited 116 s behind the plots' 76 s evaluation of 2x4096² frames in Qt's
    global pool (one core: one thread). Every dock job started held has a thread of its own, given back at its end."""
    import threading

    from qtpy.QtCore import QThreadPool
    from superqt.utils import create_worker

    from napari_tlreg._widgets.chooser import start_held

    pool = QThreadPool.globalInstance()
    old = pool.maxThreadCount()
    pool.setMaxThreadCount(1)
    release = threading.Event()
    try:
        long_job = create_worker(lambda: release.wait(20), _start_thread=False)
        start_held(long_job)
        got = []
        short = create_worker(lambda: 42, _start_thread=False)
        short.returned.connect(got.append)
        start_held(short)
        qtbot.waitUntil(lambda: got == [42], timeout=3000)
        assert not release.is_set()  # the long one still runs
        release.set()
        qtbot.waitUntil(lambda: pool.maxThreadCount() == 1, timeout=5000)  # both threads given back
    finally:
        release.set()
        pool.waitForDone(5000)
        pool.setMaxThreadCount(old)


EXIT_MID_RUN = """
import sys, time
sys.path.insert(0, {tests!r})
import napari
from qtpy.QtWidgets import QApplication
from napari_tlreg.engines import add_engine
from napari_tlreg._widgets.register import RegisterWidget
from test_widget_register import SlowEngine, synthetic_sequence
add_engine(SlowEngine.name, "test_widget_register:SlowEngine", SlowEngine.description)
v = napari.Viewer(show=False)
v.add_image(synthetic_sequence()[0], name="seq")
w = RegisterWidget(v)
v.window.add_dock_widget(w)
w.method_combo.setCurrentIndex(w.method_combo.findData(SlowEngine.name))
w.run()
t0 = time.time()
while time.time() - t0 < 1.0:
    QApplication.processEvents()
assert w.running
{then}
print("exiting", flush=True)
"""


@pytest.mark.parametrize("then", ["", "v.close()"])
def test_python_exits_cleanly_in_the_middle_of_a_run(then):
    """A run still going when the process ends (a script, napari closed mid-run) aborted Python (exit 134)."""
    import subprocess
    import sys
    from pathlib import Path

    code = EXIT_MID_RUN.format(tests=str(Path(__file__).parent), then=then)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "exiting" in done.stdout, (done.returncode, done.stderr[-2000:])
    assert "has been deleted" not in done.stderr


EXIT_MID_WORKER = """
import sys, time
import napari
from qtpy.QtWidgets import QApplication
from superqt.utils import create_worker
import napari_tlreg._widgets.register  # its exit handler
v = napari.Viewer(show=False)
worker = create_worker(lambda: (time.sleep(1.0), 1)[1], _start_thread=False)  # as the plots dock evaluates
worker.returned.connect(lambda r: None)
worker.start()
QApplication.processEvents()
time.sleep(0.2)
print("exiting", flush=True)
"""


def test_python_exits_cleanly_while_a_docks_worker_runs():
    """napari quit while the Evaluation plots dock was still evaluating (or the grid or tracking worked): the worker
    emitted into signals Qt had torn down, "wrapped C/C++ object of type WorkerBaseSignals has been deleted" twice."""
    done = subprocess.run([sys.executable, "-c", EXIT_MID_WORKER], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "exiting" in done.stdout, (done.returncode, done.stderr[-2000:])
    assert "has been deleted" not in done.stderr, done.stderr[-2000:]


def test_late_finished_of_an_earlier_run_does_not_end_the_next(widget, qtbot, notes):
    """A worker's ``finished`` comes after its ``returned``; when it is delivered only after the next
    run started, it must not reset the widget (the next run would look finished while it runs, and
    its result would be shown after a second run was allowed to start)."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    w.run_btn.click()
    earlier = w._worker
    qtbot.waitUntil(lambda: not w.running, timeout=20000)
    w.run_btn.click()  # the next run starts ...
    assert w.running and w._worker is not earlier
    earlier.finished.emit()  # ... and the earlier run's `finished` arrives only now
    assert w.running and w.run_btn.text() == "Cancel"
    qtbot.waitUntil(lambda: not w.running, timeout=20000)
    assert w.status_label.text().startswith("done: ") and "seq warped reference" in [ly.name for ly in viewer.layers]
    # the current run's own `finished` does end it (the net for a worker that never returned)
    w.run_btn.click()
    current = w._worker
    current.finished.emit()
    assert not w.running and w.run_btn.text() == "Run"
    qtbot.waitUntil(lambda: not current.is_running, timeout=20000)
    assert not notes, notes


@pytest.mark.parametrize(
    "case, data, rgb, expected",
    [
        ("one frame", np.random.default_rng(0).random((1, H, W)), False, "at least 2 frames"),
        ("nans", np.where(np.eye(H, W, dtype=bool)[None], np.nan, 1.0) * np.ones((T, 1, 1)), False, "NaN"),
        ("constant", np.full((T, H, W), 0.5), False, "same constant image"),
        ("blank reference", np.concatenate([np.zeros((1, H, W)), np.random.default_rng(0).random((T - 1, H, W))]),
         False, "reference frame 0 is constant"),
    ],
)
def test_bad_layers_notify(widget, qtbot, notes, case, data, rgb, expected):
    viewer, w = widget
    viewer.add_image(data, name=case, rgb=rgb)
    n_layers = len(viewer.layers)
    assert w.image_combo.currentText() == case
    w.reference_spin.setValue(0)
    w.run_btn.click()  # the shape is checked at once, the pixels in the worker, before any registration
    qtbot.waitUntil(lambda: not w.running, timeout=20000)
    assert len(notes) == 1 and notes[0][0] == "error" and expected in notes[0][1], notes
    assert w.status_label.text().startswith(f"not run: layer '{case}': "), w.status_label.text()
    assert w.run_btn.text() == "Run"
    assert len(viewer.layers) == n_layers


def test_run_reads_no_pixel_on_the_gui_thread_and_refuses_labels_of_another_size(widget, qtbot, notes, monkeypatch):
    """(2026-12-05, viewer review) Run on 8 x 4000 x 4000 froze the viewer for 3.5 s: the float copy, the NaN and
    constant-frame scans ran on the GUI thread. And labels of another size were said only after the whole run (53 s
    of NMSR), as "labels not propagated"."""
    import napari_tlreg._widgets.register as R

    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    threads = []
    real = R.validate_frames
    monkeypatch.setattr(R, "validate_frames", lambda *a, **k: (threads.append(threading.get_ident()), real(*a, **k))[1])
    bad = viewer.add_labels(np.zeros((T, H + 5, W), np.int32), name="other size")
    choose(w.labels_combo, "other size")
    w.run_btn.click()
    assert not w.running and w._worker is None and not threads  # refused before a worker: nothing read
    assert w.status_label.text() == (f"not run: labels 'other size': labels of shape {(T, H + 5, W)} do not match the "
                                     f"frames {(T, H, W)}: expected (T, H, W) = {(T, H, W)} or one {H}x{W} frame on "
                                     "the reference; choose labels of this image, or none")
    assert notes and notes[-1][0] == "error"
    viewer.layers.remove(bad)
    viewer.add_labels(labels.astype(np.int32), name="fits")
    choose(w.labels_combo, "fits")
    run_and_wait(qtbot, w)
    assert threads and threading.main_thread().ident not in threads and "seq warped reference" in viewer.layers


def test_blank_frame_warns_and_registers(widget, qtbot, notes):
    """A constant frame that is not the reference: the run goes on, and a warning names the frame."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    frames = frames.copy()
    frames[3] = 0.0
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert notes == [("warning", "Register sequence: frame 3 is constant (blank): nothing in it can be matched, "
                                 "so its field is the method's guess")], notes
    assert "seq warped reference" in viewer.layers


def test_intensity_choice_and_flicker_notice(widget, qtbot, notes):
    """The form's intensity choice reaches ``tl.register``: ``auto`` (the default) normalises a flickering sequence per
    frame and a warning says so; one scale for the sequence keeps it, silently."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    frames = frames * np.array([1.0, 1.0, 1.6, 0.6], np.float32)[:, None, None]  # frames 2 and 3 flicker
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    assert [w.normalize_combo.itemData(i) for i in range(w.normalize_combo.count())] == ["auto", "sequence", "frame"]
    assert w.normalize_combo.currentData() == "auto"
    run_and_wait(qtbot, w)
    assert w.results[("seq", TruthEngine.name)].normalization == "frame"
    assert len(notes) == 1 and notes[0][0] == "warning", notes
    assert notes[0][1].startswith("Register sequence: frames 2, 3 differ in brightness from the reference by ")
    # in the form's words (laptop review: it told a clinician "normalize='sequence'")
    assert notes[0][1].endswith("each frame was normalised on its own (intensity “one scale for the sequence” keeps "
                                "one scale for all)")
    assert "; intensities scaled per frame\n⚠ frames 2, 3 differ in brightness" in w.status_label.text()
    notes.clear()
    choose(w.normalize_combo, "one scale for the sequence")
    run_and_wait(qtbot, w)
    assert w.results[("seq", TruthEngine.name)].normalization == "sequence"
    assert notes == [] and "per frame" not in w.status_label.text()


def test_no_sequence_notifies(widget, notes):
    viewer, w = widget
    viewer.add_image(np.random.default_rng(0).random((H, W)), name="flat")  # a 2-D single frame
    assert w.current_image() is None
    assert not w.run_btn.isEnabled() and "(T, H, W)" in w.run_btn.toolTip()  # Run waits for a sequence ...
    w.run()  # ... and a run asked for all the same says why
    assert not w.running
    assert len(notes) == 1 and "(T, H, W)" in notes[0][1]


def test_engine_error_notifies(widget, qtbot, notes):
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    w.findChild(object, "param_mode").addItem("c", "c")  # a value the engine refuses
    choose(w.findChild(object, "param_mode"), "c")
    n_layers = len(viewer.layers)
    run_and_wait(qtbot, w)
    assert len(notes) == 1 and "mode must be one of" in notes[0][1], notes
    assert w.run_btn.text() == "Run" and len(viewer.layers) == n_layers


def test_the_lemniscates_form_starts_on_its_own_model(widget):
    """(2026-12-07, packaging review) The dock registered the lemniscate sample with the cine model, 12x the MSE of the
    model trained for it: its form starts on the sample's model, as the CLI and the API take it; another image's
    goes back to the method's default, and a name the user typed stays."""
    from qtpy.QtWidgets import QLineEdit

    viewer, w = widget
    viewer.open_sample("napari-tlreg", "lemniscate")
    viewer.open_sample("napari-tlreg", "cardiac")
    weights = lambda: w.findChild(QLineEdit, "param_weights").text()  # noqa: E731
    choose(w.image_combo, "lemniscate")
    choose(w.method_combo, "tlrn")
    assert weights() == "tlrn_synth64" and w.param_values()["weights"] == "tlrn_synth64"
    choose(w.method_combo, "voxelmorph")
    assert weights() == "voxelmorph_synth64"
    choose(w.image_combo, "cardiac")
    assert weights() == "" and "weights" not in w.param_values()
    w.findChild(QLineEdit, "param_weights").setText("voxelmorph_cine64")
    choose(w.image_combo, "lemniscate")
    assert weights() == "voxelmorph_cine64"  # the user's


def test_the_images_own_labels_are_chosen(widget):
    """Opened from the Plugins menu, the dock left labels on "none" beside a sample's "<image> labels": its labels
    were not propagated unless the user picked them (``napari-tlreg view`` did)."""
    viewer, w = widget
    viewer.open_sample("napari-tlreg", "cardiac")
    assert w.image_combo.currentText() == "cardiac" and w.labels_combo.currentText() == "cardiac labels"
    viewer.add_image(synthetic_sequence()[0], name="plain")
    choose(w.image_combo, "plain")
    assert w.labels_combo.currentText() == "none"  # not the other image's
    choose(w.image_combo, "cardiac")
    assert w.labels_combo.currentText() == "cardiac labels"
    from napari_tlreg._widgets.register import RegisterWidget

    viewer.layers.selection.active = viewer.layers["cardiac"]  # (a dock starts on the active layer's image)
    late = RegisterWidget(viewer)  # a dock opened after the sample: its labels were already there
    assert late.image_combo.currentText() == "cardiac" and late.labels_combo.currentText() == "cardiac labels"


def test_a_missing_weights_file_is_the_users_error_not_a_bug(widget, qtbot, notes, caplog):
    """A mistyped weights path was reported as "registration failed: FileNotFoundError: ..." with a traceback in
    the log, as a bug is."""
    viewer, w = widget
    viewer.add_image(synthetic_sequence()[0], name="seq")
    choose(w.method_combo, "tlrn")
    w.set_param("weights", "/nonexistent/w.pt")
    caplog.clear()
    run_and_wait(qtbot, w)
    assert len(notes) == 1 and notes[0][1] == "Register sequence: weights file not found: /nonexistent/w.pt", notes
    assert not [r for r in caplog.records if r.exc_info], "logged as a bug"


# ---- display.py: plain functions, no Qt ----------------------------------------------------------
def test_layer_helpers():
    from napari_tlreg import display as L

    a = np.zeros((2, 8, 8))
    b = np.ones((2, 8, 8))
    cb = L.checkerboard(a, b, 2)
    assert cb[0, 0, 0] == 0 and cb[0, 0, 2] == 1 and cb[0, 2, 2] == 0 and cb.mean() == 0.5
    g = L.grid_image((10, 13), 4)
    assert g[0].all() and g[:, 0].all() and g[4].all() and g[-1].all() and g[:, -1].all() and g[1, 1] == 0
    # 2.0 x 0.5 mm pixels (review): square cells of 4 x 2.0 mm = 16 x 0.5 mm, the rows' lines (2 mm wide) fainter
    # than the columns' (0.5 mm)
    ga = L.grid_image((10, 40), 4, (2.0, 0.5))
    rows, cols = np.flatnonzero(ga[:, 3]), np.flatnonzero(ga[3, :])
    assert rows.tolist() == [0, 4, 8, 9] and cols.tolist() == [0, 16, 32, 39]
    assert ga[4, 3] == 0.35 and ga[3, 16] == 1.0 and ga[4, 16] == 1.0  # 0.25 by the ratio, at least 0.35
    assert np.array_equal(L.grid_image((10, 40), 4, (0.5, 2.0)).T, L.grid_image((40, 10), 4, (2.0, 0.5)))
    # (legibility review) the grid's "auto" spacing: 8 px lines drew 64 a side on a 512-px satellite pair, a cyan mesh
    # over a quarter of the map; 32 cells across the longer side, lines at least 8 px apart
    assert [L.auto_grid_spacing(s) for s in ((20, 64, 64), (128, 128), (256, 256), (240, 320), (2, 512, 512),
                                             (480, 640))] == [8, 8, 8, 10, 16, 20]
    # (diff review) on screen with pixels that are not square: 100 x 400 pixels of 4 x 1 mm are 400 x 400 mm, 32 cells a
    # side (12 px of the coarse axis gave 8), and cells at least 8 fine pixels wide
    g = L.grid_image((100, 400), L.auto_grid_spacing((100, 400), (4.0, 1.0)), (4.0, 1.0))
    assert 30 <= len(np.flatnonzero(g[:, 5] > 0)) <= 36 and 30 <= len(np.flatnonzero(g[5, :] > 0)) <= 36
    assert L.auto_grid_spacing((1000, 250), (0.25, 1.0)) == 8  # 250 x 250 mm: 32 cells would be 7.8 mm, under 8 px
    lo, hi = L.jacobian_limits(np.array([0.5, 1.0, 1.2]))
    assert lo < 1 < hi and np.isclose(1 - lo, hi - 1)
    assert L.jacobian_limits(np.ones(4)) == (0.95, 1.05)
    u = truth_displacement()
    v = L.displacement_vectors(u, 8)
    assert v.shape == (T * 4 * 4, 2, 3)
    inside = np.zeros((H, W), bool)
    inside[:16, :] = True  # the top half: 2 of the 4 sample rows
    vi = L.displacement_vectors(u, 8, inside)
    assert vi.shape == (T * 2 * 4, 2, 3) and vi[:, 0, 1].max() < 16
    assert {tuple(r) for r in vi.reshape(len(vi), -1)} <= {tuple(r) for r in v.reshape(len(v), -1)}
    with pytest.raises(ValueError, match="region of shape"):
        L.displacement_vectors(u, 8, inside[:-1])
    with pytest.raises(ValueError):
        L.reference_labels(np.zeros((T + 1, H, W)), 0, T)


def test_result_layers_of_a_masked_run_draw_the_field_inside_its_region_only():
    """A run restricted to a region (NMSR's ``mask``, e.g. the echo sector) fits no field outside it: the
    grid and the vectors are drawn inside it only, and the Jacobian's colour limits come from inside it;
    the same result without a mask is drawn everywhere."""
    from napari_tlreg import RegistrationResult, jacobian_determinant, warp
    from napari_tlreg import display as L
    from napari_tlreg.core.region import encode_mask

    frames, _ = synthetic_sequence()
    u = truth_displacement().astype(np.float32)
    u[:, 1, :, W // 2:] += 0.3 * np.arange(W - W // 2, dtype=np.float32)  # outside the region (the right half): a stretch
    region = np.zeros((H, W), bool)
    region[:, : W // 2] = True
    jac = np.asarray(jacobian_determinant(u))
    plain = RegistrationResult(frames=frames, warped=warp(frames[REF], u), displacement=u, jacobian=jac, method="nmsr")
    masked = RegistrationResult(frames=frames, warped=plain.warped, displacement=u, jacobian=jac, method="nmsr",
                                params={"mask": encode_mask(region)})
    g_plain, g_masked = L.grid_layer(plain, "s")[0], L.grid_layer(masked, "s")[0]
    fine = region.repeat(5, 0).repeat(5, 1)  # the grid of 32-px frames is drawn 5x finer (its lines thinner)
    assert g_plain.shape == (T, 5 * H, 5 * W)
    assert g_plain[:, ~fine].max() > 0.5 and g_masked[:, ~fine].max() == 0.0
    assert np.array_equal(g_masked[:, fine], g_plain[:, fine])
    v_plain, v_masked = L.displacement_layer(plain, "s", 8)[0], L.displacement_layer(masked, "s", 8)[0]
    assert v_plain[:, 0, 2].max() >= W // 2 and v_masked[:, 0, 2].max() < W // 2 and len(v_masked) == len(v_plain) // 2
    lim_plain = L.jacobian_layer(plain, "s")[1]["contrast_limits"]
    lim_masked = L.jacobian_layer(masked, "s")[1]["contrast_limits"]
    assert lim_masked == L.jacobian_limits(jac[:, region]) and lim_masked[1] < lim_plain[1]
    # (echo review) nothing of the field drawn outside the region: the warped reference there moved the echo's
    # burned-in text, the same in every frame, and drew it as misalignment; the Jacobian coloured the black and the
    # text as tissue that grew or shrank; the folds are those the figures count
    w_plain, w_masked = L.warped_layer(plain, "s")[0], L.warped_layer(masked, "s")[0]
    assert np.array_equal(w_masked[:, region], w_plain[:, region]) and np.array_equal(w_plain, plain.warped)
    unregistered = np.broadcast_to(masked.frames[masked.reference], w_masked.shape)  # the reference as it is
    np.testing.assert_array_equal(w_masked[:, ~region], unregistered[:, ~region])
    assert not np.array_equal(w_plain[:, ~region], unregistered[:, ~region])
    tiles = L.warped_layer(masked, "s", checker=True, tile=4)[0]
    np.testing.assert_array_equal(tiles, L.checkerboard(w_masked, masked.frames, 4))
    own = {kw["name"]: d for d, kw, _ in L.result_layers(plain, "s", region=region)[0]}  # the image's own region
    np.testing.assert_array_equal(own["s warped reference"], w_masked)
    assert np.isnan(own["s jacobian"][:, ~region]).all()
    j_masked = L.jacobian_layer(masked, "s")[0]
    assert np.isnan(j_masked[:, ~region]).all() and np.isfinite(j_masked[:, region]).all()
    assert np.isfinite(L.jacobian_layer(plain, "s")[0]).all()
    folded = jac.copy()
    folded[:, 4:8, 4:8] = folded[:, 4:8, -8:-4] = -0.5  # a fold inside the region and one outside
    folded[:, 10, 5] = np.nan  # not finite: counted as folded, drawn so
    folded[:, 12:30, -12:] = 40.0  # outside: an outlier's scale (the echo's 35) the montage's must not take
    folding = RegistrationResult(frames=frames, warped=plain.warped, displacement=u, jacobian=folded, method="nmsr",
                                 params={"mask": encode_mask(region)})
    f = L.folds_layer(folding, "s")[0]
    assert f[:, 4:8, 4:8].all() and not f[:, 4:8, -8:-4].any() and f[:, 10, 5].all()
    unmasked = RegistrationResult(frames=frames, warped=plain.warped, displacement=u, jacobian=folded, method="tlrn")
    folds_own = {kw["name"]: d for d, kw, _ in L.result_layers(unmasked, "s", region=region)[0]}["s folds"]
    assert folds_own[:, 4:8, -8:-4].all()  # no mask: counted over the frame (the figures), drawn where they are
    from napari_tlreg.report import montage_figure

    fig = montage_figure(folding)
    panels = [ax for ax in fig.axes if ax.images and ax.get_subplotspec() is not None]
    ncols = panels[0].get_subplotspec().get_gridspec().ncols
    diff = panels[2 * ncols].images[0].get_array()
    assert diff.mask[~region].all() and not diff.mask[region].any()
    assert "outside the mask grey" in panels[2 * ncols].get_ylabel()
    det = panels[3 * ncols].images[0]
    assert det.get_array().mask[~region].all()  # the Jacobian inside the mask only, on the viewer's scale
    assert (det.norm.vmin, det.norm.vmax) == pytest.approx(L.jacobian_limits(folded[:, region]))
    assert det.norm.vmax < 10  # not the outlier's
    drawn = panels[3 * ncols].images[1].get_array().mask
    assert drawn[:, -8:-4].all() and not drawn[10, 5] and not drawn[4:8, 4:8].any()  # inside, NaN too; not outside
    # a run without a mask over an image with its own region (tlrn on the echo): drawn where the viewer draws it (the
    # whole frame's |diff| and an outlier's scale before); its folds where the figures count them, the whole frame
    panels = [ax for ax in montage_figure(unmasked, region=region).axes if ax.images and ax.get_subplotspec() is not None]
    diff = panels[2 * ncols].images[0].get_array()
    assert diff.mask[~region].all() and not diff.mask[region].any()
    assert "outside the image's region grey" in panels[2 * ncols].get_ylabel()
    assert panels[0].get_ylabel() == "frame"  # no labels: not "(+ propagated labels)" (satellite review)
    det = panels[3 * ncols].images[0]
    assert det.get_array().mask[~region].all() and det.norm.vmax < 10
    assert not panels[3 * ncols].images[1].get_array().mask[4:8, -8:-4].any()  # the fold outside: counted, drawn
    with pytest.raises(ValueError, match="does not match"):
        montage_figure(unmasked, region=region[:-1])


def test_worker_preimports_what_napari_loads_lazily_for_result_layers():
    """The modules napari imports on its first Labels/Image/Vectors layer are imported by the worker
    (``_run_job``), not on the GUI thread when the result is shown. Fresh process: nothing imported yet."""
    code = (
        "import sys, numpy as np\n"
        "from napari.layers import Image, Labels, Vectors\n"
        "from napari_tlreg._widgets import register as R\n"
        "if sys.argv[1] == 'warm':\n"
        "    R._preimport_layer_modules()\n"
        "before = set(sys.modules)\n"
        "Labels(np.zeros((3, 8, 8), np.uint8)); Image(np.zeros((3, 8, 8), np.float32)); Vectors(np.zeros((4, 2, 2)))\n"
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before if not m.startswith('napari')}))\n"
    )
    out = {mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True).stdout.strip()
           for mode in ("cold", "warm")}
    assert "pandas" in out["cold"]  # what the first result display used to import on the GUI thread
    assert out["warm"] == "[]", out["warm"]


def test_folding_share_never_reads_zero_when_pixels_fold():
    """A few folded pixels of a large frame (0.004 %) must not read as "0.00 %" in the status or the legend."""
    from napari_tlreg._widgets.register import _percent

    nb = "\u00a0"  # a no-break space: a wrapped line never ends on the number with its "%" on the next
    assert _percent(0.0) == f"0.00{nb}%" and _percent(np.float32(0.5)) == f"0.50{nb}%" and _percent(12.345) == f"12.35{nb}%"
    assert _percent(0.0041) == f"0.004{nb}%" and _percent(0.009) == f"0.009{nb}%"


# ---- found in review (2026-12-04) ------------------------------------------------------------------------------
def run_with_labels(widget, qtbot):
    """The synthetic sequence ("seq") and its labels ("seg") registered with the truth engine: ``(viewer, dock)``."""
    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    viewer.add_labels(labels, name="seg")
    choose(w.method_combo, TruthEngine.name)
    choose(w.labels_combo, "seg")
    run_and_wait(qtbot, w)
    return viewer, w


def test_a_rerun_without_labels_removes_the_earlier_propagated_labels(widget, qtbot, notes):
    """The first run's "propagated labels" layer stayed on screen (and visible) after a run that made none."""
    viewer, w = run_with_labels(widget, qtbot)
    assert "seq propagated labels" in viewer.layers
    choose(w.labels_combo, "none")
    run_and_wait(qtbot, w)
    assert "seq propagated labels" not in viewer.layers
    assert all(f"seq {s}" in viewer.layers for s in RESULT_SUFFIXES if s != "propagated labels")
    assert "seg" in viewer.layers  # the user's own labels are untouched


def test_result_layers_follow_a_renamed_image(widget, qtbot, notes):
    """After a rename, a re-run added a second set of overlays under the new name, both drawn."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    img = viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    img.name = "patient 7"
    names = [ly.name for ly in viewer.layers]
    assert not any(n.startswith("seq ") for n in names)
    assert all(f"patient 7 {s}" in names for s in RESULT_SUFFIXES if s != "propagated labels")
    run_and_wait(qtbot, w)
    assert len(viewer.layers) == len(names)  # updated in place: no second set
    assert w.results.keys() == {("patient 7", TruthEngine.name)}


def test_nmsr_mask_of_another_image_is_not_kept(widget):
    """Switching from the echo sample (its sector the mask) to an image without a region kept the echo's sector:
    the cardiac sequence was registered inside it."""
    viewer, w = widget
    viewer.open_sample("napari-tlreg", "echo")
    choose(w.method_combo, "nmsr")
    combo = w.findChild(object, "param_mask")
    assert combo.currentText() == "echo mask"
    viewer.open_sample("napari-tlreg", "cardiac")
    choose(w.image_combo, "cardiac")
    assert combo.currentText() == "none (whole frame)" and "mask" not in w.param_values()
    choose(w.image_combo, "echo")  # back: its own region again
    assert combo.currentText() == "echo mask"


def test_frames_follow_the_sequences_axis_with_a_4d_layer_in_the_viewer(widget):
    """With a 4-D layer in the viewer, axis 0 is that layer's extra axis: "use current frame" read it."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(np.zeros((3, *frames.shape), np.float32), name="stack4d")
    viewer.add_image(frames, name="seq")
    choose(w.image_combo, "seq")
    viewer.dims.set_current_step(0, 2)  # the 4-D layer's extra axis
    viewer.dims.set_current_step(1, 3)  # the frames
    w._use_current_frame()
    assert w.reference_spin.value() == 3


def _shift_result(shift=(6.0, 0.0), h=48, w=64):
    from napari_tlreg.core.ops import jacobian_determinant
    from napari_tlreg.result import RegistrationResult

    u = np.zeros((2, 2, h, w), np.float32)
    u[1, 0], u[1, 1] = shift
    frames = np.random.default_rng(0).random((2, h, w)).astype(np.float32)
    return RegistrationResult(frames=frames, warped=frames, displacement=u, jacobian=jacobian_determinant(u),
                              method="test", reference=0)


def test_the_grid_shows_no_band_where_a_frame_shows_what_lies_beyond_the_reference():
    """Review (2026-12-04): pulled 6 px, the reference's closing edge line was repeated over rows 41-47: a solid band
    that reads as heavy compression."""
    from napari_tlreg import display as L

    data, _, _ = L.grid_layer(_shift_result((6.0, 0.0)), "seq", 8)
    assert data.shape[-2:] == (5 * 48, 5 * 64)  # drawn 5x finer: a line is the middle of its pixel's 5 fine rows
    full_rows = [r for r in range(48) if data[1, 5 * r + 2].min() > 0.5]
    # the lines of reference rows 8, 16, ..., 40 and its closing edge row 47, 6 px up; beyond that edge (41.5) nothing
    assert full_rows == [2, 10, 18, 26, 34, 41] and data[1, 5 * 42:].max() == 0.0
    data, _, _ = L.grid_layer(_shift_result((3.0, -2.0)), "seq", 8)
    assert data[1, 5 * 45:].max() == 0.0 and data[1, :, :5 * 2].max() == 0.0


def test_the_jacobian_is_drawn_above_the_warped_reference_and_its_legend_reads_as_the_field_does(qtbot):
    """Review (2026-12-04): the legend said red = grows where det > 1 of the pull field, which is tissue that shrank;
    and the Jacobian lay under the warped reference's additive magenta, which washed its colours out."""
    from napari_tlreg import display as L
    from napari_tlreg._widgets.register import _JacobianLegend
    from napari_tlreg.core.ops import jacobian_determinant
    from napari_tlreg.result import RegistrationResult

    # a disc of radius 10 on the reference, of radius 14 in frame 1: it grew; the pull field maps r -> r·10/14
    h = w = 48
    rr, cc = np.mgrid[0:h, 0:w].astype(np.float32) - 24.0
    u = np.zeros((2, 2, h, w), np.float32)
    u[1, 0], u[1, 1] = rr * (10 / 14 - 1), cc * (10 / 14 - 1)
    res = RegistrationResult(frames=np.zeros((2, h, w), np.float32), warped=np.zeros((2, h, w), np.float32),
                             displacement=u, jacobian=jacobian_determinant(u), method="test", reference=0)
    assert res.jacobian[1, 24, 24] == pytest.approx((10 / 14) ** 2, rel=1e-3)  # < 1 where the tissue grew
    legend = _JacobianLegend()
    qtbot.addWidget(legend)
    assert "blue grew" in legend.meaning.text() and "red shrank" in legend.meaning.text()
    assert "against the motion" in legend.arrows.text()
    names = [kw["name"] for _, kw, _ in L.result_layers(res, "seq")[0]]
    assert names.index("seq jacobian") > names.index("seq warped reference")
    made = [s for s in L.SUFFIXES if s != L.NODATA]  # (no-data only for an input with a fill)
    assert [n.removeprefix("seq ") for n in names] == made[1:6]
    names = [kw["name"] for _, kw, _ in L.result_layers(res, "seq", grey_frame=True)[0]]  # a colour image's
    assert [n.removeprefix("seq ") for n in names] == made[:6]  # its grey frame the lowest


def _start_slow(viewer, w, qtbot, steps=60):
    frames, _ = synthetic_sequence()
    img = viewer.add_image(frames, name="seq")
    choose(w.method_combo, SlowEngine.name)
    w.findChild(object, "param_steps").setValue(steps)
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.progress_bar.value() > 0, timeout=10000)
    return img


def test_a_run_whose_image_was_removed_publishes_nothing(widget, qtbot, notes):
    """A run finishing after its image was deleted added result layers and published its result, which a sequence
    opened later under the same name inherited (the landmarks dock measured TRE with another sequence's field)."""
    from napari_tlreg._widgets.store import store_for

    viewer, w = widget
    img = _start_slow(viewer, w, qtbot)
    viewer.layers.remove(img)
    # and the run stops at once (it went on to its end, 8 s here, minutes for NMSR, with the Run button taken)
    qtbot.waitUntil(lambda: not w.running, timeout=3000)
    assert [ly.name for ly in viewer.layers] == []
    assert w.status_label.text() == "'seq' was removed while it was registered: the run was cancelled"
    assert not w.run_btn.isEnabled() and w.run_btn.text() == "Run"  # no image left to register
    assert not w.results and len(store_for(viewer)) == 0
    viewer.add_image(synthetic_sequence()[0], name="seq")  # another sequence, the same name
    assert len(store_for(viewer)) == 0


def test_a_run_whose_image_was_renamed_shows_under_the_new_name(widget, qtbot, notes):
    """Renamed mid-run, the result came under the old name (invisible to the other docks) and a re-run added a
    second set of overlays."""
    viewer, w = widget
    img = _start_slow(viewer, w, qtbot)
    img.name = "patient 7"
    qtbot.waitUntil(lambda: not w.running, timeout=20000)
    names = [ly.name for ly in viewer.layers]
    assert all(f"patient 7 {s}" in names for s in RESULT_SUFFIXES if s != "propagated labels")
    assert not any(n.startswith("seq ") for n in names)
    assert w.results.keys() == {("patient 7", SlowEngine.name)}
    run_and_wait(qtbot, w)
    assert len(viewer.layers) == len(names)


def test_a_refused_run_does_not_leave_the_last_runs_status(widget, qtbot, notes):
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert w.status_label.text().startswith("done: ")
    viewer.add_image(np.random.default_rng(0).random((3, 6, 6)), name="tiny")
    choose(w.image_combo, "tiny")
    w.run_btn.click()
    assert w.status_label.text().startswith("not run: layer 'tiny'") and "too small" in w.status_label.text()
    assert w.progress_bar.value() == 0
    assert notes and notes[-1][0] == "error"


def test_with_no_sequence_the_dock_says_why_an_image_is_not_one(widget, notes):
    """(2026-12-05, error-message review) A (3, 4, 32, 32) layer was told "add an image layer with a time axis (T, H,
    W)", which it has: the dock names the layer, its shape, and what to do."""
    viewer, w = widget
    viewer.add_image(np.zeros((3, 4, 32, 32), np.float32), name="stack")
    assert w.current_image() is None and not w.run_btn.isEnabled()
    w.run()
    assert notes[-1][0] == "error"
    # (2026-12-05, dims review) napari's Split Stack splits the first axis: of a (T, Z, H, W) stack, a layer per time
    # point, its z-planes then taken for frames; the dock says which axis it splits and what to do with time first
    assert notes[-1][1].endswith("'stack' is 4-D (3, 4, 32, 32): one axis of frames is registered, (T, H, W). "
                                 "Right-click > Split Stack splits its first axis into layers (a channel or z-plane a "
                                 "layer when that axis is first); with time first, (T, Z, H, W), open the file with "
                                 "napari-tlreg, which gives a sequence per slice position, or move the time axis "
                                 "after it first")
    assert w.run_btn.toolTip().startswith("no image sequence to register") and w.run_btn.toolTip().endswith("after it first")
    viewer.layers.clear()
    viewer.add_image(np.zeros((32, 32), np.float32), name="one")
    w.run()
    assert notes[-1][1].endswith("'one' is one image (32, 32), with no time axis")


def test_a_sample_opens_with_its_own_reference_frame(widget):
    """napari opens a sequence on its middle frame, and the dock took that as the reference (frame 9 of the cardiac
    sample, whose reference is frame 0, as the launcher and the CLI use)."""
    viewer, w = widget
    viewer.open_sample("napari-tlreg", "cardiac")
    layer = w.current_image()
    assert viewer.dims.current_step[0] != 0  # napari's middle frame
    assert layer.metadata["napari_tlreg"]["reference"] == 0 and w.reference_spin.value() == 0
    viewer.dims.set_current_step(0, 3)
    w.current_frame_btn.click()
    assert w.reference_spin.value() == 3


def test_a_file_opens_on_reference_frame_0_as_the_cli_takes_it(widget, tmp_path):
    """(2026-12-05, echo review) A file or a sample without a reference of its own opened on napari's middle frame, and
    the dock took that as the reference (the real echo's frame 14; the CLI and the API take frame 0, and the README's
    figures): File > Open's sequences start on frame 0; an image added otherwise still takes the current frame."""
    from napari_tlreg.io import save_stack

    viewer, w = widget
    frames, _ = synthetic_sequence()
    save_stack(tmp_path / "clip.tif", frames)
    viewer.open(str(tmp_path / "clip.tif"), plugin="napari-tlreg")
    assert viewer.dims.current_step[0] != 0 and w.reference_spin.value() == 0
    viewer.open_sample("napari-tlreg", "echo_real")
    choose(w.image_combo, "echo_real")
    assert viewer.dims.current_step[0] != 0 and w.reference_spin.value() == 0
    viewer.dims.set_current_step(0, 2)
    viewer.add_image(frames + 1, name="plain")
    choose(w.image_combo, "plain")
    assert w.reference_spin.value() == 2


def test_a_result_made_in_the_viewer_records_the_file_it_came_from(widget, qtbot, tmp_path):
    """(2026-12-05, review of the later diff) register saw only the layer's pixels: the viewer's results carried no
    source in their provenance, the CLI's and the API's (given a Sequence) did."""
    from napari_tlreg.io import save_stack

    viewer, w = widget
    frames, _ = synthetic_sequence()
    save_stack(tmp_path / "clip.tif", frames)
    viewer.open(str(tmp_path / "clip.tif"), plugin="napari-tlreg")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert w._result.provenance["source"] == str(tmp_path / "clip.tif")
    assert w._result.provenance["versions"]["napari_tlreg"]
    viewer.layers.clear()
    viewer.open_sample("napari-tlreg", "lemniscate")  # a sample by its name, as load_sequence takes it
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert w._result.provenance["source"] == "lemniscate"


def test_a_multiscale_sequence_registers_at_full_resolution(widget, qtbot, notes):
    """A multiscale image layer (a pyramid, as large files open) registers its full-resolution level: the results have
    its frames' shape, the store keeps them for it, and the reference follows the viewer's frame."""
    from napari_tlreg._widgets.chooser import base_data
    from napari_tlreg._widgets.store import fits, store_for

    viewer, w = widget
    frames, labels = synthetic_sequence()
    img = viewer.add_image([frames, frames[:, ::2, ::2]], name="pyr", multiscale=True)
    assert img.multiscale and base_data(img) is img.data[0] and base_data(viewer.add_labels(labels, name="seg")).shape == labels.shape
    viewer.dims.set_current_step(0, REF)
    assert w.image_combo.currentText() == "pyr"
    w._use_current_frame()
    assert w.reference_spin.value() == REF
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert not notes, notes
    assert viewer.layers["pyr warped reference"].data.shape == (T, H, W)
    results = list(store_for(viewer).for_image("pyr").values())
    assert len(results) == 1 and fits(results[0], img) and results[0].frames.shape == (T, H, W)


def test_special_values_read_as_their_meaning_and_the_form_goes_no_lower(widget):
    """A number whose help gives a value a meaning ("0: auto") shows the meaning, not "0.000", and goes no lower; the
    engine refuses anything lower (so the form hides nothing a user could ask for); an empty weights field says what
    empty means. The value sent is still the number."""
    from napari_tlreg.api import method_params
    from napari_tlreg.engines import get_engine

    viewer, w = widget
    choose(w.method_combo, "tlrn")
    scale, steps, weights = (w.findChild(object, f"param_{k}") for k in ("scale", "steps", "weights"))
    assert scale.text() == "auto" and scale.minimum() == 0.0 and weights.placeholderText() == "tlrn_cine64"
    assert steps.text() == "7" and steps.minimum() == 0
    steps.setValue(0)
    assert steps.text() == "the velocity as a displacement" and w.param_values() == {"steps": 0}
    scale.setValue(1.5)
    assert scale.text() == "1.5" and w.param_values() == {"steps": 0, "scale": 1.5}
    choose(w.method_combo, "nmsr")
    sym, pnf = w.findChild(object, "param_symmetric_from"), w.findChild(object, "param_pair_networks_from")
    assert sym.minimum() == 0.0 and sym.specialValueText() == "every scale"  # the lowest of the values its help names
    assert pnf.specialValueText() == "" and pnf.minimum() < 0  # "2: one shared network" is not its lowest value
    assert w.findChild(object, "param_weights").placeholderText() == "nmsr_synth"
    checked = 0
    for method in ("tlrn", "voxelmorph", "multistep", "hsyn", "nmsr"):
        choose(w.method_combo, method)
        for key, spec in method_params(method).items():
            editor = w.findChild(object, f"param_{key}")
            if hasattr(editor, "specialValueText") and editor.specialValueText():
                below = editor.minimum() - (1 if isinstance(spec["default"], int) else 0.5)
                with pytest.raises(ValueError):
                    get_engine(method).validate_params({key: type(spec["default"])(below)})
                checked += 1
    assert checked >= 15


def test_a_folder_opened_over_a_saved_result_does_not_say_it_is_lost(widget, qtbot, notes, tmp_path):
    """(2026-12-07, echo review) Reopening the folder just saved said "... replaces the result shown before (... save a
    result to keep it)": it was saved. Over a result not saved it is still said."""
    viewer, w = widget
    viewer.add_image(synthetic_sequence()[0], name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    w.save_result(tmp_path / "kept")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    notes.clear()
    w.open_result(tmp_path / "kept")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert not notes and "replaces" not in w.status_label.text(), notes
    run_and_wait(qtbot, w)  # a new run, not saved: opening the folder over it says so
    w.open_result(tmp_path / "kept")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert len(notes) == 1 and "replaces the" in notes[0][1], notes


def test_the_progress_throttle_passes_a_stages_first_step():
    """(2026-12-07, diff review) The result's stage began 50 ms after the engine's last step and was dropped by the
    throttle: the dock said "registered (11/11)" through the seconds of the warp."""
    from napari_tlreg._widgets.register import _Throttle

    said = []
    throttle = _Throttle(lambda *a: said.append(a), interval=60.0)
    for step in [(0, 11, "run: pair 1"), (5, 11, "run: pair 6"), (11, 11, "run: registered"),
                 (0, 3, "checking the result: warping"), (1, 3, "checking the result: Jacobian")]:
        throttle(*step)
    assert said == [(0, 11, "run: pair 1"), (11, 11, "run: registered"), (0, 3, "checking the result: warping")]
    said.clear()  # (echo review) NMSR counts on across its scales: a new scale's words pass, its iterations do not
    for step in [(300, 638, "scale 0.5: iteration 12/13"), (338, 638, "scale 0.5: done after 13 iterations"),
                 (338, 638, "scale 1 (240x320, λ 3): start"), (350, 638, "scale 1 (240x320): iteration 1/3"),
                 (360, 638, "scale 1 (240x320): iteration 2/3")]:
        throttle(*step)
    assert [m for *_, m in said] == ["scale 0.5: iteration 12/13", "scale 1 (240x320, λ 3): start",
                                     "scale 1 (240x320): iteration 1/3"]


def test_the_progress_throttle_sends_a_held_step_when_nothing_follows_it():
    """(carried since 2026-12-06) A step 10 ms after the one before was dropped; where a long step followed it (a big
    pair's warp), the status named the step before it for the whole of the long one. It is sent ``interval`` s late
    instead, unless a later step went first (then it is stale: never sent after it)."""
    import time

    from napari_tlreg._widgets.register import _Throttle

    said = []
    throttle = _Throttle(lambda *a: said.append(a), interval=0.2)
    throttle(0, 10, "run: pair 1")
    throttle(1, 10, "run: pair 2")  # held: 0.2 s have not passed
    assert said == [(0, 10, "run: pair 1")]
    time.sleep(0.5)  # ... and nothing followed: sent once the interval is over, once
    assert said == [(0, 10, "run: pair 1"), (1, 10, "run: pair 2")]
    said.clear()
    time.sleep(0.25)
    throttle(2, 10, "run: pair 3")  # sent at once
    throttle(3, 10, "run: pair 4")  # held ...
    throttle(0, 3, "checking the result: warping")  # ... and overtaken by a new stage, sent at once
    time.sleep(0.5)
    assert said == [(2, 10, "run: pair 3"), (0, 3, "checking the result: warping")]
    # closed (the run over, or its dock deleted: a step the timer sent to the deleted dock crashed the process): a
    # step held is dropped, and nothing more is sent
    said.clear()
    time.sleep(0.25)
    throttle(1, 3, "checking the result: Jacobian")
    throttle(2, 3, "checking the result: against the frames")  # held
    throttle.close()
    throttle(3, 3, "done")
    time.sleep(0.5)
    assert said == [(1, 3, "checking the result: Jacobian")]


def test_the_status_gives_the_time_in_all_where_it_is_seconds_more(widget, qtbot, notes, monkeypatch):
    """(2026-12-07, large-data review) "done: ... in 39.3 s" was shown 82 s after Run: the checks against the frames
    and the result's layers took the rest. Where they take seconds, the status says the time in all."""
    import re
    import time

    from napari_tlreg._widgets import register as R

    viewer, w = widget
    viewer.add_image(synthetic_sequence()[0], name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert "in all" not in w.status_label.text()  # a quick one: its own time only
    real = R._shown
    monkeypatch.setattr(R, "IN_ALL_AFTER_S", 2.0)
    monkeypatch.setattr(R, "_shown", lambda *a, **k: (time.sleep(2.5), real(*a, **k))[1])
    run_and_wait(qtbot, w)
    assert re.search(r"in \d+\.\d s \([3-9] s in all, with its checks and layers\); worst folding",
                     w.status_label.text()), w.status_label.text()


def test_an_image_added_beside_the_chosen_one_is_said_and_not_registered_unchosen(widget, qtbot, notes):
    """(2026-12-07, README review) A sample opened after a run left the docks on the first image, as napari's own
    layer lists do, without a word: Run registered the first again, and the report written after it was the first's
    under the second's name. The dock says which image it stays on; a hidden slice added says nothing."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="first")
    assert w.image_combo.currentText() == "first"
    viewer.add_image(frames[:, ::-1].copy(), name="hidden slice", visible=False)
    assert "added" not in w.status_label.text()
    viewer.add_image(frames[:, :, ::-1].copy(), name="second")
    assert w.image_combo.currentText() == "first"
    assert w.status_label.text() == "'second' added; the docks stay on 'first': choose 'second' under image to register it"
    viewer.add_image(frames[::-1].copy(), name="third")  # said once, of the latest
    assert w.status_label.text() == "'third' added; the docks stay on 'first': choose 'third' under image to register it"
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert w.status_label.text().startswith("done: ")
    viewer.add_image(frames, name="fourth")  # a run's word goes (it stays the first's, shown when it is chosen again)
    assert w.status_label.text() == "'fourth' added; the docks stay on 'first': choose 'fourth' under image to register it"
    choose(w.image_combo, "second")
    assert "added" not in w.status_label.text()


def test_result_overlays_stay_readable(widget, qtbot, notes):
    """After a run: the grey frame turns green under the magenta warped reference (aligned tissue white; over grey
    everything read pink), a frame the user coloured is left as it is; the grid is drawn over the layers below with
    its zeros transparent (added, it vanished into bright tissue and tinted the Jacobian map); the Jacobian map is
    opaque (its colours are the legend's); the propagated labels are outlines over the frame's own labels."""
    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(np.ones_like(frames), name="opened before")  # another sequence, under this one
    img = viewer.add_image(frames, name="seq")
    viewer.add_labels(labels, name="seg")
    choose(w.image_combo, "seq")
    choose(w.labels_combo, "seg")
    choose(w.method_combo, TruthEngine.name)
    assert img.colormap.name == "gray"
    run_and_wait(qtbot, w)
    assert not notes, notes
    # (2026-12-07, README review) the frame stays opaque: additive, the sequence under it showed through its black
    assert img.colormap.name == "green" and img.blending == "translucent_no_depth" and img.opacity == 1.0
    # ... at the contrast the warped reference has: the percentiles the frames were normalised by
    assert img.contrast_limits == pytest.approx(np.percentile(frames, [1, 99]), rel=1e-5)
    assert viewer.layers.selection.active is img  # not the hidden arrows layer napari selected last
    warped = viewer.layers["seq warped reference"]
    assert warped.colormap.name == "magenta" and warped.blending == "additive"
    grid = viewer.layers["seq grid"]
    assert grid.blending == "translucent" and grid.colormap.map([0.0])[0][3] == 0.0 and grid.colormap.map([1.0])[0][3] == 1.0
    assert viewer.layers["seq jacobian"].opacity == 1.0
    prop = viewer.layers["seq propagated labels"]
    assert prop.contour == 1 and viewer.layers["seg"].contour == 0
    run_and_wait(qtbot, w)  # a re-run updates the layers in place: still outlines
    assert viewer.layers["seq propagated labels"].contour == 1
    other = viewer.add_image(frames, name="mine", colormap="inferno")
    w.image_combo.setCurrentText("mine")
    choose(w.labels_combo, "none")
    run_and_wait(qtbot, w)
    assert other.colormap.name == "inferno" and other.blending != "additive"


@pytest.mark.parametrize("dtype", [np.int32, np.float64])
def test_frame_contrast_in_the_layers_own_values(widget, qtbot, notes, dtype):
    """A float64 (numpy's default, nibabel's get_fdata) or int32 image keeps a contrast of its own values after a run:
    the limits came from the frames as registered, mapped onto [0, 1], and the image turned solid green."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    data = (frames * 3000 + 100).astype(dtype)
    img = viewer.add_image(data, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert not notes, notes
    assert img.colormap.name == "green"
    assert img.contrast_limits == pytest.approx(np.percentile(data, [1, 99]), rel=1e-4)


def test_a_result_does_not_widen_the_dock(widget, qtbot, notes):
    """(2026-12-05, HiDPI review) The Jacobian legend's lines did not wrap: a result widened the dock's least width
    from 347 to 468 px, pushing the window off a 1024 px (1280 x 720 at 125 %) screen."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert not notes, notes
    assert w.legend.isVisibleTo(w) and w.legend.minimumSizeHint().width() < 300


def test_the_form_takes_every_value_the_engine_does(widget):
    """(2026-12-05, parameter review) nmsr's lr stopped at 1e-5 and tol at 1e-3 (decimals from the default's size), a
    seed at 10**9: `view --param lr=1e-6` was refused, a run from Python could not be made again in the viewer."""
    from napari_tlreg.engines import get_engine

    _, w = widget
    choose(w.method_combo, "nmsr")
    for key, value in (("lr", 1e-6), ("tol", 5e-4), ("seed", 2**31 - 1), ("lr", 0.0123456)):
        get_engine("nmsr").validate_params({key: value})  # the engine takes it
        w.set_param(key, value)
        assert w.param_values()[key] == value, key


def test_the_time_slider_is_named(widget):
    """napari numbers the axes of a layer opened from a sample or the Plugins menu (the slider read "-3"): choosing a
    (T, H, W) image names them t, row, col; labels the user set are kept."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    assert tuple(viewer.dims.axis_labels) == ("t", "row", "col")
    viewer.dims.axis_labels = ("time", "y", "x")
    viewer.add_image(frames, name="seq2")
    w.image_combo.setCurrentText("seq2")
    assert tuple(viewer.dims.axis_labels) == ("time", "y", "x")
    viewer.layers.clear()  # napari keeps the last two labels and numbers the new axis: "-3", "y", "x" ...
    viewer.dims.axis_labels = ("row", "col")  # ... and after our labels: "-3", "row", "col" (the slider read "-3")
    viewer.add_image(frames, name="seq")
    assert tuple(viewer.dims.axis_labels) == ("t", "row", "col")


@pytest.mark.parametrize("scale", [(1.0, 1.0, 1.0), (1.0, 0.5, 0.5)])
def test_the_grid_of_small_frames_is_drawn_finer_over_its_image_and_saved_at_its_own_pixel_size(widget, qtbot, notes,
                                                                                                tmp_path, scale):
    """(2026-12-07, carried from the UX review) On 64-px frames a grid line a pixel wide, spread to two by the warp,
    covered a quarter of every 8-px cell: a cyan mesh over the heart. Frames under 342 px get a grid 3 or 5x finer,
    drawn over the image (its pixels a quarter of the image's, centred in them) and saved by File > Save at that size."""
    from napari_tlreg import _hooks
    from napari_tlreg import display as L
    from napari_tlreg.io import load_sequence

    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq", scale=scale)
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    grid = viewer.layers["seq grid"]
    assert L.grid_fineness(frames.shape) == 5 and grid.data.shape == (T, 5 * H, 5 * W)
    assert tuple(grid.scale) == pytest.approx((1.0, scale[1] / 5, scale[2] / 5))
    # the fine pixel 2 of the image's pixel 0 is centred on it, the first of them at 0.1 - 0.5 = -0.4
    np.testing.assert_allclose(grid.data_to_world((0, 2, 2)), (0, 0, 0), atol=1e-12)
    np.testing.assert_allclose(grid.data_to_world((0, 0, 0)), np.multiply(scale, (0, -0.4, -0.4)), atol=1e-12)
    lines = np.flatnonzero(L.grid_image(frames.shape, 8, fine=5)[:, 3])
    assert lines.tolist() == [2, 42, 82, 122, 157]  # rows 0, 8, 16, 24 and the last, 31: a fine pixel wide each
    # each fine pixel shows the fine grid where the field takes its centre x (in the image's pixels): x + u_t(x),
    # by scipy (u read bilinearly, its edges repeated; nothing beyond the reference's edge)
    from scipy.ndimage import map_coordinates

    res, t = w.results[("seq", TruthEngine.name)], 2
    x = np.stack(np.mgrid[0:5 * H, 0:5 * W]).astype(np.float64) / 5 + (0.5 / 5 - 0.5)  # fine centres, image's pixels
    u = np.stack([map_coordinates(res.displacement[t, k].astype(np.float64), x, order=1, mode="nearest") for k in (0, 1)])
    to = x + u
    inside = np.all((to >= -0.5) & (to <= np.array([H - 0.5, W - 0.5])[:, None, None]), axis=0)
    fine_grid = L.grid_image(frames.shape, L.auto_grid_spacing(frames.shape, scale[1:]), fine=5)
    want = map_coordinates(fine_grid, (to + 0.5) * 5 - 0.5, order=1, mode="nearest") * inside
    assert np.abs(u).max() >= 0.5  # the lines moved (2 fine pixels and more)
    np.testing.assert_allclose(grid.data[t], np.clip(want, 0, 1), atol=1e-4)
    saved = _hooks.write_image(str(tmp_path / "grid.tif"), grid.data, grid.as_layer_data_tuple()[1])[0]
    back = load_sequence(saved)
    # saved on the image's own pixels (each 5 x 5 block by its brightest), at its pixel size: reopened, it lies on it
    # (saved finer, it came back shifted by the fine raster's offset, 2/5 of a pixel, which no file keeps)
    assert back.shape == (T, H, W) and back.spacing == (None if scale[1] == 1.0 else pytest.approx(scale[1:]))
    np.testing.assert_array_equal(back.frames, grid.data.reshape(T, H, 5, W, 5).max(axis=(2, 4)))
    assert not notes, notes


def test_grid_and_arrows_stay_inside_the_images_own_region(widget, qtbot, notes, monkeypatch, tmp_path):
    """An image with its own region ("<image> mask", e.g. the real echo's sector) registered by a method without a
    mask: the grid and arrows are drawn inside the region only (they covered the burned-in text and the black outside
    the sector, a field no tissue constrained); re-drawn at another spacing, still inside; without the region, all over."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    region = np.zeros(frames.shape[1:], np.int32)
    region[4:20, 6:26] = 1
    viewer.add_labels(region, name="seq mask")
    choose(w.method_combo, TruthEngine.name)
    w.image_combo.setCurrentText("seq")
    run_and_wait(qtbot, w)
    assert not notes, notes
    outside = region == 0
    grid = np.asarray(viewer.layers["seq grid"].data)
    out_fine = outside.repeat(5, 0).repeat(5, 1)  # (the grid of 32-px frames: drawn 5x finer)
    assert grid[:, out_fine].max() == 0 and grid[:, ~out_fine].max() > 0
    vec = np.asarray(viewer.layers["seq displacement"].data)  # (N, 2, 3): start (t, row, col), direction
    rows, cols = vec[:, 0, 1].astype(int), vec[:, 0, 2].astype(int)
    assert len(vec) and not outside[rows, cols].any()
    from napari_tlreg import display as L

    res = w.results[("seq", TruthEngine.name)]  # (echo review) the warped reference: the reference as it is outside
    warped = np.asarray(viewer.layers["seq warped reference"].data)
    np.testing.assert_array_equal(warped[:, outside], np.broadcast_to(res.frames[res.reference], warped.shape)[:, outside])
    np.testing.assert_array_equal(warped[:, ~outside], res.warped[:, ~outside])
    w.checker_box.setChecked(True)  # the checkerboard redrawn with the region too
    tiles = np.asarray(viewer.layers["seq warped reference"].data)
    np.testing.assert_array_equal(tiles, L.checkerboard(warped, res.frames, L.default_tile(warped.shape)))
    w.checker_box.setChecked(False)
    before = np.asarray(viewer.layers["seq grid"].data).copy()
    w.grid_spin.setValue(4)
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers["seq grid"].data, before), timeout=3000)
    assert np.asarray(viewer.layers["seq grid"].data)[:, out_fine].max() == 0
    from napari_tlreg import report

    drawn_in = []  # "save result…": its montage drawn inside the region, as the viewer draws it (the whole frame before)
    monkeypatch.setattr(report, "save_montage", lambda res, path, propagated=None, region=None: drawn_in.append(region))
    assert w.save_result(tmp_path / "kept") is not None
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert len(drawn_in) == 1 and np.array_equal(drawn_in[0], ~outside) and not notes, (drawn_in, notes)
    viewer.layers.remove("seq mask")
    run_and_wait(qtbot, w)
    assert np.asarray(viewer.layers["seq grid"].data)[:, out_fine].max() > 0


def test_the_checkerboard_hides_the_grid_while_it_is_on(widget, qtbot, notes):
    """The grid's lines ran along the checkerboard's tile edges, where a misalignment shows: ticking it hides the grid,
    unticking shows it again as it was (a grid the user had hidden stays hidden); a run with the box ticked adds the
    grid hidden."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    grid = viewer.layers["seq grid"]
    assert grid.visible
    w.checker_box.setChecked(True)
    assert not grid.visible
    w.checker_box.setChecked(False)
    assert grid.visible
    grid.visible = False
    w.checker_box.setChecked(True)
    w.checker_box.setChecked(False)
    assert not grid.visible
    viewer.layers.remove(grid)
    w.checker_box.setChecked(True)
    run_and_wait(qtbot, w)
    assert not viewer.layers["seq grid"].visible


def test_colour_file_opens_with_a_hidden_colour_copy(widget, notes):
    """CONVENTIONS: colour frames are registered as grey, "and the original kept for display if the user wants it".
    The real echo (a YBR DICOM) opens as its grey frames plus a hidden RGB layer at the same scale; the docks offer
    only the grey one (the colour copy is no input, and listing it would only earn the "colour" refusal)."""
    from pydicom import examples

    from napari_tlreg._widgets.landmarks import LandmarkWidget
    from napari_tlreg.io.readers import to_luminance

    viewer, w = widget
    lm = LandmarkWidget(viewer)
    path = str(examples.get_path("ybr_color"))
    viewer.open(path, plugin="napari-tlreg")
    grey, colour = viewer.layers[0], viewer.layers[1]
    assert colour.name == f"{grey.name} colour" and colour.rgb and not colour.visible
    assert colour.data.shape == grey.data.shape + (3,) and colour.data.dtype == np.uint8
    assert np.allclose(colour.scale, grey.scale) and grey.scale[1] != 1.0  # the file's spacing, on both
    np.testing.assert_allclose(to_luminance(colour.data[:2]), grey.data[:2], atol=1e-3)
    for combo in (w.image_combo, lm.images.combo):
        assert [combo.itemText(i) for i in range(combo.count())] == [grey.name]
    viewer.layers.remove(grey)  # the colour copy alone is a sequence to register (by its luminance): listed
    assert w.image_combo.currentText() == colour.name and w.run_btn.isEnabled()
    assert not notes, notes


def test_a_colour_layer_registers_as_grey(widget, qtbot, notes):
    """napari's own reader opens a video as an RGB (T, H, W, 3) layer: the dock listed it only to refuse it ("convert
    to grey first (tl.load_sequence does...)", advice for Python). It registers its luminance, as the plugin's reader
    does, and the other docks list it; a huge one is refused before its grey copy is made."""
    from napari_tlreg._widgets.landmarks import LandmarkWidget
    from napari_tlreg._widgets.plots import PlotsWidget
    from napari_tlreg._widgets.store import store_for
    from napari_tlreg.io import to_luminance

    viewer, w = widget
    grey, _ = synthetic_sequence()
    rgb = np.stack([grey, 0.5 * grey, 0.25 * grey], -1)
    viewer.add_image(rgb, name="video", rgb=True)
    others = [LandmarkWidget(viewer), PlotsWidget(viewer)]
    for combo in [w.image_combo] + [d.images.combo for d in others]:
        assert combo.currentText() == "video"
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert not notes, notes
    res = store_for(viewer).get("video", TruthEngine.name)
    want = to_luminance(rgb)
    lo, hi = np.percentile(want, [1, 99])
    np.testing.assert_allclose(res.frames, np.clip((want - lo) / (hi - lo), 0, 1), atol=1e-5)
    assert viewer.layers["video warped reference"].data.shape == grey.shape
    # napari cannot turn a colour image green under the magenta overlay (added to the colours, aligned tissue read
    # pink): the frames as registered go under the overlay, green and opaque, and the legend says so
    from napari_tlreg._widgets.register import OVERLAY_TEXT

    names = [ly.name for ly in viewer.layers]
    grey_frame = viewer.layers["video grey frame"]
    assert names.index("video") < names.index("video grey frame") < names.index("video warped reference")
    assert grey_frame.colormap.name == "green" and grey_frame.blending == "translucent_no_depth"
    assert grey_frame.data is res.frames and grey_frame.metadata.get("napari_tlreg_result")
    assert w.legend.overlay.text() == OVERLAY_TEXT["rgb"]
    for combo in [w.image_combo] + [d.images.combo for d in others]:  # a result, not an input
        assert [combo.itemText(i) for i in range(combo.count())] == ["video"]
    viewer.layers.remove("video grey frame")  # removed by the user, made again by the next run: still under the
    run_and_wait(qtbot, w)  # overlay (it was added on top of every result layer, opaque: only green showed)
    names = [ly.name for ly in viewer.layers]
    assert names.index("video") + 1 == names.index("video grey frame") < names.index("video warped reference")
    viewer.add_image(grey, name="grey")
    choose(w.image_combo, "grey")
    run_and_wait(qtbot, w)
    assert viewer.layers["grey"].colormap.name == "green" and w.legend.overlay.text() == OVERLAY_TEXT["green"]
    assert "grey grey frame" not in viewer.layers  # a grey image is the green frame itself
    viewer.add_image(grey, name="mine", colormap="viridis")  # a colormap the user chose is kept, and said so
    choose(w.image_combo, "mine")
    run_and_wait(qtbot, w)
    assert viewer.layers["mine"].colormap.name == "viridis" and w.legend.overlay.text() == OVERLAY_TEXT["own"]
    viewer.add_image(np.broadcast_to(np.float32(0.5), (100_000, 64, 64, 3)), name="huge", rgb=True)
    choose(w.image_combo, "huge")
    w.run_btn.click()
    assert not w.running and notes[-1][0] == "error" and "exceeds the limit" in notes[-1][1], notes


def test_the_grid_is_redrawn_off_the_gui_thread(widget, qtbot, notes, monkeypatch):
    """A new grid spacing warped the grid through every field on the GUI thread (up to 1 s at 30x480x640, the viewer
    frozen): it is computed in a worker, and of spacings changed quickly only the last one's grid is shown."""
    import threading

    from napari_tlreg import display as L

    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    threads, real = [], L.grid_layer
    res = w.results[("seq", TruthEngine.name)]
    # the dock starts on "auto": the grid of the frames' size (legibility review: 8 px whatever the size)
    assert w.grid_spin.text() == "auto" and w.grid_spacing() is None
    w.grid_spin.stepBy(1)  # (diff review) "+" from auto went to 2 px, the densest grid: it goes to auto's spacing
    assert w.grid_spacing() == L.auto_grid_spacing(frames.shape)
    w.grid_spin.stepBy(-100)
    assert w.grid_spacing() is None
    np.testing.assert_array_equal(viewer.layers["seq grid"].data, real(res, "seq", L.auto_grid_spacing(frames.shape))[0])
    monkeypatch.setattr(L, "grid_layer", lambda *a, **k: threads.append(threading.current_thread()) or real(*a, **k))
    for spacing in (3, 5, 6):
        w.grid_spin.setValue(spacing)
        w._update_grid_layer()  # as if each one's debounce had run out
    qtbot.waitUntil(lambda: not w._grid_workers, timeout=5000)
    assert threads and threading.main_thread() not in threads
    np.testing.assert_array_equal(viewer.layers["seq grid"].data, real(res, "seq", 6)[0])
    viewer.layers.remove("seq grid")  # removed by the user (or the viewer cleared) while a grid is drawn: not back
    w.grid_spin.setValue(9)
    w._update_grid_layer()
    qtbot.waitUntil(lambda: not w._grid_workers, timeout=5000)
    assert "seq grid" not in viewer.layers
    assert not notes, notes


def test_run_stays_in_view_and_tab_reaches_the_parameters(widget, qtbot):
    """Dock review on a 1366x768 laptop: Run, the progress bar and the status were under nmsr's form, 0 px of them in
    view with the three docks stacked; Tab went method -> device -> intensity -> Run and reached the parameters made
    for a newly chosen method only after the other docks (79 presses for nmsr); set_param found the last method's
    editor, waiting for Qt to delete it, and set nothing."""
    from qtpy.QtWidgets import QScrollArea

    viewer, w = widget
    area = w.findChild(QScrollArea, "scroll_area")
    for control in (w.run_btn, w.progress_bar, w.status_label):
        assert not area.isAncestorOf(control) and w.isAncestorOf(control)  # under the form, not in it
    choose(w.method_combo, "nmsr")
    basic = [f"param_{k}" for k in w._param_editors if k not in w._advanced_keys]
    order, x = [], w.method_combo
    while len(order) < len(basic):  # the spin boxes' own line edits come between
        x = x.nextInFocusChain()
        assert x is not w.run_btn and x is not w.device_combo, order
        if x.objectName().startswith("param_"):
            order.append(x.objectName())
    assert order == basic and len(basic) >= 8
    choose(w.method_combo, "tlrn")
    choose(w.method_combo, "nmsr")  # back before Qt deleted the first form's editors
    w.set_param("levels", 3)
    assert w.param_values().get("levels") == 3
    for control in (w.device_combo, w.current_frame_btn):
        assert control.toolTip()


def test_the_dock_passes_the_readers_1mm_pixel_size(widget, qtbot):
    """Code read: the dock took a 1 x 1 scale for no pixel size even where the reader recorded 1.0 mm, so tlrn's auto
    scale on a 320-px echo was 0.25 in the viewer and 0.5 from the command line."""
    viewer, w = widget
    rng = np.random.default_rng(0)
    from scipy.ndimage import gaussian_filter

    base = gaussian_filter(rng.random((320, 320)), 4).astype(np.float32)
    frames = np.stack([base, np.roll(base, (2, 1), (0, 1))])
    viewer.add_image(frames, name="echo", metadata={"napari_tlreg": {"spacing": (1.0, 1.0), "unit": "mm"}})
    choose(w.method_combo, "tlrn")
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.running, timeout=60000)
    res = w.results[("echo", "tlrn")]
    assert res.spacing == (1.0, 1.0) and res.params["scale"] == 0.5


def test_a_refused_parameter_value_is_marked_as_it_is_typed(widget):
    """Dock review: hsyn levels -1 or a negative nmsr lr were taken by the form without a sign until Run."""
    viewer, w = widget
    choose(w.method_combo, "hsyn")
    editor = w._param_editors["levels"]
    tip = editor.toolTip()
    editor.setValue(-1)
    assert "border" in editor.styleSheet() and editor.toolTip().startswith("<p><b>hsyn: levels must be in [1, ")
    assert editor.toolTip().endswith(tip)
    # (2026-12-05, colour-vision review) in words too: the thin red border alone was an olive line to a red-blind eye
    label = w.params_form.labelForField(editor) or w.advanced_form.labelForField(editor)
    assert label.text() == "⚠ levels" and w.status_label.text().startswith("⚠ hsyn: levels must be in [1, ")
    assert w.status_label.text().endswith(": Run refuses it")
    editor.setValue(2)
    assert editor.styleSheet() == "" and editor.toolTip() == tip
    assert label.text() == "levels" and w.status_label.text() == "ready"


def test_the_docks_controls_have_names_a_screen_reader_says(docks_all):
    """(2026-12-05, accessibility review) Controls in rows of two widgets had no accessible name (the reference frame
    read "spin box 0"), the frame buttons their triangles."""
    reg, lmw, plots = docks_all
    names = {reg.reference_spin: "reference frame", reg.labels_combo: "labels", plots.metric_combo: "metric",
             lmw.prev_btn: "previous frame (B)", lmw.next_btn: "next frame (N)", lmw.pairs_table: "landmark pairs",
             lmw.tre_frame_combo: "TRE frames", lmw.tre_table: "TRE statistics"}
    assert {w.accessibleName(): n for w, n in names.items()} == {n: n for n in names.values()}


def test_a_result_of_data_replaced_while_it_ran_is_discarded(widget, qtbot, notes):
    """(2026-12-05, viewer review) The image's data replaced during a run (fewer frames, another size): the result of
    the old data was laid over the new, without a word."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    layer = viewer.add_image(frames, name="seq")
    choose(w.method_combo, SlowEngine.name)
    w.run_btn.click()
    qtbot.waitUntil(lambda: "slow step" in w.status_label.text(), timeout=20000)
    layer.data = np.random.default_rng(0).random((3, 20, 20)).astype(np.float32)
    qtbot.waitUntil(lambda: not w.running, timeout=30000)
    assert w.status_label.text() == ("'seq' changed while it was registered (its data was replaced): its result is "
                                     "discarded; run it again")
    assert notes[-1][0] == "warning" and "seq warped reference" not in viewer.layers
    choose(w.method_combo, TruthEngine.name)  # the same data throughout: shown
    w.reference_spin.setValue(0)
    run_and_wait(qtbot, w)
    assert "seq warped reference" in viewer.layers


def test_a_removed_images_results_go_and_the_checkerboard_brings_back_no_removed_layer(widget, qtbot, notes):
    """(2026-12-05, long-session review) The dock kept every result of every image ever run (12 cine files opened,
    run and closed: 300 MiB held, RSS 714 -> 1046 MB); ticking the checkerboard brought back a warped reference the
    user had removed, even over another image; the Jacobian legend stayed with another image chosen."""
    import gc
    import weakref

    from napari_tlreg import display as L

    viewer, w = widget
    frames, _ = synthetic_sequence()
    a = viewer.add_image(frames, name="a")
    viewer.add_image(frames[::-1].copy(), name="b")
    choose(w.method_combo, TruthEngine.name)
    choose(w.image_combo, "a")
    run_and_wait(qtbot, w)
    assert set(w.results) == {("a", TruthEngine.name)} and (not w.legend.isHidden())
    res = weakref.ref(w.results[("a", TruthEngine.name)])
    warped = L.layer_name("a", L.WARPED)
    viewer.layers.remove(warped)
    w.checker_box.setChecked(True)  # the removed layer stays removed
    w.checker_box.setChecked(False)
    assert warped not in viewer.layers
    choose(w.image_combo, "b")
    assert not (not w.legend.isHidden())  # b has no result
    w.checker_box.setChecked(True)
    assert warped not in viewer.layers
    w.checker_box.setChecked(False)
    choose(w.image_combo, "a")
    assert (not w.legend.isHidden())  # back on the image of the result
    mine = viewer.add_image(frames[:1].copy(), name=warped)  # the user's own layer under that name: not overwritten
    w.checker_box.setChecked(True)
    w.checker_box.setChecked(False)
    assert mine.data.shape[0] == 1
    viewer.layers.remove(mine)
    for ly in [ly for ly in viewer.layers if ly.name.startswith("a")]:
        viewer.layers.remove(ly)
    assert a not in viewer.layers and w.results == {} and not (not w.legend.isHidden())
    gc.collect()
    assert res() is None, gc.get_referrers(res())[:3]  # nothing of the dock holds the removed image's result
    assert not notes, notes


def test_a_closed_register_dock_lets_go_of_the_viewers_events(make_napari_viewer, qtbot, engines):
    """(2026-12-05, long-session review) The Register dock never disconnected from the viewer's layer events, unlike
    the other two docks: each closing left its connections in the viewer's lists (2 -> 14 over 12 reopenings), and a
    closed dock still reacted to every layer event."""
    viewer = make_napari_viewer()
    frames, _ = synthetic_sequence()
    layer = viewer.add_image(frames, name="seq")
    ev = viewer.layers.events

    def counts():
        return [len(e.callbacks) for e in (ev.inserted, ev.removed, ev.moved, layer.events.name)]

    _, w = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    viewer.window.remove_dock_widget(w)
    before = counts()  # (napari's own dock machinery keeps one connection from the first dock on)
    for _ in range(3):
        _, w = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
        assert w.live and counts() != before
        viewer.window.remove_dock_widget(w)  # what the dock's close button does
        assert not w.live and counts() == before
    refreshed = []
    w._refresh_layers = lambda *a: refreshed.append(a)
    viewer.add_image(frames, name="other")
    assert refreshed == []


def test_result_layers_saved_from_napari_keep_the_maps_pixel_size_and_unit(widget, qtbot, tmp_path):
    """(2026-12-05, outputs review) File > Save Layers of a map's result layers wrote 10 m pixels as 10 mm (the
    writer's default unit), and the satellite sample's 1 m pixels as none: the result layers carried no record of
    the image's pixel size. They take the image's now."""
    from napari_tlreg.io import load_stack

    viewer, w = widget
    viewer.open_sample("napari-tlreg", "satellite")
    image = w.current_image()
    info = image.metadata["napari_tlreg"]
    assert info["unit"] == "m"
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    for suffix in ("jacobian", "warped reference"):
        layer = viewer.layers[f"satellite {suffix}"]
        path = tmp_path / f"{suffix.replace(' ', '_')}.tif"
        viewer.layers.selection.active = layer
        viewer.layers.save(str(path), selected=True, plugin="napari-tlreg")
        _, spacing, unit = load_stack(path)
        assert unit == "m" and spacing == pytest.approx(tuple(info["spacing"])), (suffix, spacing, unit)


def test_save_a_result_and_open_it_again_over_its_image(widget, qtbot, notes, tmp_path):
    """(2026-12-05) A registration made in the viewer could not be kept (napari saves no vectors layer, and a result
    folder did not open): "save result" writes `register --out`'s folder (in a worker), "open result" shows a folder
    over the image it was registered from, as a run's result (its layers; the store, so that the Landmarks and plots
    docks score it), and refuses one of other frames or no result folder."""
    from napari_tlreg import RegistrationResult
    from napari_tlreg._widgets.store import store_for

    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq", scale=(1.0, 0.5, 0.25))
    choose(w.method_combo, TruthEngine.name)
    assert not w.save_btn.isEnabled() and w.open_btn.isEnabled()  # nothing to save yet
    run_and_wait(qtbot, w)
    res = w.results[("seq", TruthEngine.name)]
    assert w.save_btn.isEnabled()
    assert w.save_result(tmp_path / "kept") is not None
    assert not w.save_btn.isEnabled() and not w.open_btn.isEnabled() and not w.run_btn.isEnabled()  # while written
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert w.status_label.text() == f"saved the {TruthEngine.name} result of 'seq' to {tmp_path / 'kept'}"
    assert w.run_btn.isEnabled() and w.save_btn.isEnabled() and not notes, notes
    back = RegistrationResult.load(tmp_path / "kept")
    np.testing.assert_array_equal(back.displacement, res.displacement)
    assert back.spacing == (0.5, 0.25) and back.method == TruthEngine.name
    # (2026-12-06, second review) saved again over a folder holding the user's own files: they are kept; one that
    # cannot be moved into the new folder is said in a notification and the status (a worker's warning reached no one)
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    (tmp_path / "kept" / "seg").mkdir()
    import os as _os

    from napari_tlreg.io import writers

    real = _os.rename

    def busy(a, b):
        if _os.path.basename(a) == "seg" and ".old-" in _os.path.basename(_os.path.dirname(a)):
            raise OSError(16, "Device or resource busy")
        return real(a, b)

    writers.os.rename = busy
    try:
        w.save_result(tmp_path / "kept")
        qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    finally:
        writers.os.rename = real
    assert (tmp_path / "kept" / "notes.txt").read_text() == "mine"
    assert len(notes) == 1 and notes[0][0] == "warning" and "seg, kept in it before, could not be moved" in notes[0][1]
    assert w.status_label.text().startswith(f"saved the {TruthEngine.name} result of 'seq' to") and "⚠" in \
        w.status_label.text()
    notes.clear()

    viewer.add_image(frames.copy(), name="again", scale=(1.0, 0.5, 0.25))  # the same frames, another layer
    choose(w.image_combo, "again")
    assert not w.save_btn.isEnabled()  # its own result: none
    w.open_result(tmp_path / "kept")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert not notes, notes
    assert w.status_label.text().startswith(f"opened {tmp_path / 'kept'}: {T} frames to frame {REF}")
    opened = store_for(viewer).get("again", TruthEngine.name)
    np.testing.assert_array_equal(opened.displacement, res.displacement)
    for s in RESULT_SUFFIXES[:-1]:  # (no labels chosen: none propagated)
        assert viewer.layers[f"again {s}"].scale[-1] == (0.25 / 5 if s == "grid" else 0.25)  # (the grid: 5x finer)
    np.testing.assert_allclose(viewer.layers["again warped reference"].data, res.warped)
    assert w.save_btn.isEnabled()
    w.open_result(tmp_path / "kept")  # again: it replaces the one shown, and says so (a run not saved was lost)
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert notes == [("warning", f"Register sequence: {tmp_path / 'kept'} replaces the {TruthEngine.name} result of "
                                 "'again' shown before (one result a method and image: save a result to keep it)")]
    notes.clear()
    # (save/open review) over the same frames shown in pixels: opened, and said that its distances are the folder's
    viewer.add_image(frames.copy(), name="in px")
    choose(w.image_combo, "in px")
    w.open_result(tmp_path / "kept")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert notes == [("warning", f"Register sequence: {tmp_path / 'kept'} was measured with pixels of 0.5 x 0.25 mm "
                                 "and 'in px' is shown at pixels: the TRE, Hausdorff distances and plots of this "
                                 "result are in the folder's")], notes
    notes.clear()

    viewer.add_image(frames[::-1].copy(), name="other")  # frames of the same size, not those registered
    choose(w.image_combo, "other")
    w.open_result(tmp_path / "kept")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert notes[-1][0] == "error" and "was registered from other frames than 'other' holds" in notes[-1][1]
    assert "other warped reference" not in viewer.layers and store_for(viewer).for_image("other") == {}
    nan = frames.copy()
    nan[1, 3, 3] = np.nan
    viewer.add_image(nan, name="nan")  # refused in the dock's words (diff review: Python's np.nan_to_num there)
    choose(w.image_combo, "nan")
    w.open_result(tmp_path / "kept")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert notes[-1][0] == "error" and "in frame 1; they are no image values" in notes[-1][1], notes[-1]
    assert "np.nan_to_num(frames)" not in w.status_label.text()
    w.progress_bar.setRange(0, 1)  # as a run leaves it: 100 %
    w.progress_bar.setValue(1)
    w.open_result(tmp_path)
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert notes[-1] == ("error", f"Register sequence: {tmp_path}: not a napari-tlreg result folder (no result.json)")
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "result.json").write_text('{"method": ')
    w.open_result(tmp_path / "cut")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert notes[-1][1].startswith(f"Register sequence: {tmp_path / 'cut'}: not a result that can be read: unreadable "
                                   "result folder (result.json is not valid JSON (") and notes[-1][1].count("cut") == 2
    assert w.status_label.text().startswith("not opened:") and w.open_btn.isEnabled() and w.run_btn.isEnabled()
    assert w.progress_bar.value() == 0  # not the last run's 100 % beside "not opened" (viewer QA review)
    choose(w.image_combo, "seq")
    w.progress_bar.setValue(1)
    (tmp_path / "a file").write_text("mine")
    assert w.save_result(tmp_path / "a file") is not None  # refused: a file of the user's is there
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert w.status_label.text().startswith("not saved:") and w.progress_bar.value() == 0, w.status_label.text()


@pytest.mark.parametrize("language, typed, value", [
    ("German", "2,5", 2.5), ("German", "0,001", 0.001), ("German", "0.75", 0.75), ("German", "1,5e-3", 0.0015),
    ("English", "1,000", 1000.0), ("English", "1,000.5", 1000.5), ("English", "2.5", 2.5), ("English", "2,5", 2.5),
    ("English", "0,001", 0.001), ("English", "0,5", 0.5)])
def test_a_decimal_comma_typed_reads_as_the_point(widget, qtbot, language, typed, value):
    """(2026-12-05, locale review) Typed with a German or French keyboard (the keypad gives ","), "2,5" became 25
    without a word (the comma keystroke was dropped, the digits kept) and "0,001" was lost; (diff review) where the
    locale's decimal point is ".", a comma groups thousands, as it does ("1,000" was read as 1)."""
    from qtpy.QtCore import QLocale, Qt
    from qtpy.QtWidgets import QAbstractSpinBox

    before = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany) if language == "German"
                       else QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    try:
        _, w = widget
        choose(w.method_combo, "nmsr")
        box = w.findChild(QAbstractSpinBox, "param_smooth")
        box.lineEdit().selectAll()
        qtbot.keyClicks(box, typed)
        qtbot.keyClick(box, Qt.Key.Key_Return)
        assert w.param_values()["smooth"] == pytest.approx(value), box.text()
    finally:
        QLocale.setDefault(before)


def _run_with_labels(qtbot, viewer, w) -> np.ndarray:
    """The synthetic sequence as "seq" with its labels "seg", registered by the truth engine; returns the frames."""
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    viewer.add_labels(labels, name="seg")
    choose(w.labels_combo, "seg")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    return frames


def test_corrected_propagated_labels_are_kept_and_can_be_chosen(widget, qtbot, notes):
    """(2026-12-05, result-edits review) Painted corrections of "<image> propagated labels" were overwritten by the
    next run without a word (Ctrl+Z restored nothing), and a duplicate of the layer (napari copies the metadata) could
    not be chosen as labels in any dock."""
    viewer, w = widget
    frames = _run_with_labels(qtbot, viewer, w)
    prop = viewer.layers["seq propagated labels"]
    copy = viewer.add_labels(np.array(prop.data), name="my copy", metadata=dict(prop.metadata))
    assert "my copy" in [w.labels_combo.itemText(i) for i in range(w.labels_combo.count())]  # a copy is the user's
    assert "seq propagated labels" not in [w.labels_combo.itemText(i) for i in range(w.labels_combo.count())]
    run_and_wait(qtbot, w)  # not painted: updated in place, no word
    assert viewer.layers["seq propagated labels"] is prop and not notes, notes
    prop.paint((2, 10, 10), 3)  # a correction
    corrected = np.array(prop.data)
    run_and_wait(qtbot, w)
    assert notes == [("warning", "Register sequence: your edits of 'seq propagated labels' are kept as 'seq "
                                 "propagated labels (edited)' (a labels layer of yours now); 'seq propagated labels' "
                                 "holds the new run's")], notes
    kept = viewer.layers["seq propagated labels (edited)"]
    assert kept is prop and np.array_equal(kept.data, corrected)
    new = viewer.layers["seq propagated labels"]
    assert new is not prop and not np.array_equal(new.data, corrected)
    assert "seq propagated labels (edited)" in [w.labels_combo.itemText(i) for i in range(w.labels_combo.count())]
    assert copy in viewer.layers
    # (second diff review) nor are they lost when the next run has no labels, or the image's data is replaced
    notes.clear()
    new.paint((2, 10, 10), 3)
    choose(w.labels_combo, "none")
    run_and_wait(qtbot, w)
    assert viewer.layers["seq propagated labels (edited 2)"] is new and "seq propagated labels" not in viewer.layers
    assert len(notes) == 1 and "kept as 'seq propagated labels (edited 2)'" in notes[0][1]
    choose(w.labels_combo, "seg")
    run_and_wait(qtbot, w)
    again = viewer.layers["seq propagated labels"]
    again.paint((2, 10, 10), 3)
    viewer.layers["seq"].data = frames * 0.9
    assert viewer.layers["seq propagated labels (edited 3)"] is again and "seq grid" not in viewer.layers


def test_an_images_data_replaced_drops_its_result_layers(widget, qtbot, notes):
    """(2026-12-05, result-edits review) With the image's data replaced the plots and store dropped its result, but
    the layers stayed drawn, the status said "done" and the grid spacing and checkerboard redrew the old result (its
    opaque tiles hid the new frames)."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    layer = viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert "seq grid" in viewer.layers and w._result is not None
    layer.data = frames[::-1].copy()
    assert not any(f"seq {s}" in viewer.layers for s in RESULT_SUFFIXES), [ly.name for ly in viewer.layers]
    assert w._result is None and not w.results and not w.save_btn.isEnabled()
    assert w.status_label.text() == "'seq' changed (its data was replaced): its results are dropped; run it again"
    w.checker_box.setChecked(True)  # nothing to redraw
    assert "seq warped reference" not in viewer.layers and not notes, notes


def test_a_renamed_result_layer_is_still_the_one_updated(widget, qtbot, notes):
    """(2026-12-05, result-edits review) A result layer the user renamed ("my grid", "my warped") was orphaned: the grid
    spacing and the checkerboard did nothing, and a re-run drew a second set over it (twice the magenta)."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    grid, warped = viewer.layers["seq grid"], viewer.layers["seq warped reference"]
    grid.name, warped.name = "my grid", "my warped"
    before = np.array(grid.data)
    w.grid_spin.setValue(4)
    qtbot.waitUntil(lambda: not np.array_equal(grid.data, before), timeout=10000)  # the renamed one redrawn
    w.checker_box.setChecked(True)
    assert warped.blending != "additive" and not grid.visible
    w.checker_box.setChecked(False)
    run_and_wait(qtbot, w)
    names = [ly.name for ly in viewer.layers]
    assert "seq grid" not in names and "seq warped reference" not in names, names
    assert viewer.layers["my grid"] is grid and viewer.layers["my warped"] is warped and not notes, notes
    viewer.layers["seq"].name = "seq2"  # the image renamed: its renamed layers keep the names the user gave them
    assert viewer.layers["my grid"] is grid and "seq2 jacobian" in viewer.layers
    run_and_wait(qtbot, w)
    assert "seq2 grid" not in viewer.layers and viewer.layers["my grid"] is grid


def test_a_rerun_keeps_the_display_settings_the_user_gave_the_result_layers(widget, qtbot, notes):
    """(2026-12-06) A re-run, or a grid spacing change, reset the colormap, contrast and blending the user had set on
    the result layers to the plugin's. They are kept now, while the plugin would set what it set before (the
    checkerboard turned on still draws its grey tiles); the Jacobian's legend follows the layer's limits and
    colormap, the user's too."""
    viewer, w = run_with_labels(widget, qtbot)
    warped, jac, grid = viewer.layers["seq warped reference"], viewer.layers["seq jacobian"], viewer.layers["seq grid"]
    vectors, labs = viewer.layers["seq displacement"], viewer.layers["seq propagated labels"]
    from napari_tlreg._widgets.register import RESTYLED

    # (diff review) napari's layer controls set a new layer's colormap: not taken for the user's
    assert all(viewer.layers[f"seq {s}"].metadata[RESTYLED] == [] for s in RESULT_SUFFIXES)
    plugin_grid = grid.colormap.name
    warped.colormap, warped.blending = "cyan", "translucent"
    jac.contrast_limits = (0.5, 1.7)
    assert w.legend.lo.text() == "≤ 0.50" and w.legend.hi.text() == "≥ 1.70" and w.legend.mid.text() == "1.10"
    # (legibility review) both ends to as many decimals: 3 significant digits read 1 ± 0.296 as "≤ 0.704 … ≥ 1.3"
    jac.contrast_limits = (0.704, 1.296)
    assert (w.legend.lo.text(), w.legend.mid.text(), w.legend.hi.text()) == ("≤ 0.70", "1 (area kept)", "≥ 1.30")
    jac.contrast_limits = (0.99, 1.01)
    assert (w.legend.lo.text(), w.legend.hi.text()) == ("≤ 0.990", "≥ 1.010")
    jac.contrast_limits = (0.5, 1.7)
    jac.colormap = "viridis"
    assert "left end grew" in w.legend.meaning.text()
    vectors.edge_width, labs.contour = 3.0, 0
    labs.new_colormap()  # "shuffle colours"
    shuffled = np.asarray(labs.colormap.colors).copy()
    viewer.layers["seg"].selected_label = 2  # the user paints on their own labels: not the propagated ones' look
    viewer.layers.move(viewer.layers.index(warped), len(viewer.layers))  # and puts the warped reference on top
    w.set_param("gain", 0.5)
    run_and_wait(qtbot, w)
    for layer in (warped, jac, grid, vectors, labs):
        assert viewer.layers[layer.name] is layer  # updated in place
    assert viewer.layers[-1] is warped  # where the user put it (only a new one goes just above its image)
    assert warped.colormap.name == "cyan" and warped.blending == "translucent"
    assert tuple(jac.contrast_limits) == (0.5, 1.7) and jac.colormap.name == "viridis"
    assert w.legend.lo.text() == "≤ 0.50" and "left end grew" in w.legend.meaning.text()
    assert vectors.edge_width == 3.0 and labs.contour == 0 and np.array_equal(labs.colormap.colors, shuffled)
    assert grid.colormap.name == plugin_grid  # not changed by the user: the plugin's still
    w.grid_spin.setValue(w.grid_spin.value() + 4)
    qtbot.waitUntil(lambda: not w._grid_workers, timeout=10000)
    assert warped.colormap.name == "cyan"
    w.checker_box.setChecked(True)  # the checkerboard's own look: the plugin's value changed, so it is set
    assert warped.colormap.name == "gray"
    w.checker_box.setChecked(False)
    assert warped.colormap.name != "cyan" and warped.blending == "additive"  # the overlay's again
    jac.colormap = "bwr"
    assert "blue grew" in w.legend.meaning.text()


def test_save_result_keeps_the_labels_and_landmarks_as_register_out_does(widget, qtbot, notes, tmp_path, capsys):
    """(2026-12-06, interfaces review) "save result…" wrote the arrays only: no labels, landmarks or metrics, so
    `evaluate` on the folder had no Dice or TRE ("none kept in the folder or readable from its source", though its
    result.json records the source). It writes what `register --out` writes now, the annotations chosen in the
    docks kept."""
    from napari_tlreg import cli, report

    viewer, w = widget
    frames, labels = synthetic_sequence()
    img = viewer.add_image(frames, name="seq")
    viewer.add_labels(labels, name="seg")
    pts = [(t, 16 - (t - REF) * SHIFT[0], 14 - (t - REF) * SHIFT[1]) for t in range(T)]
    viewer.add_points(np.array(pts, float), name="seq landmarks", features={"id": [1] * T})
    choose(w.method_combo, TruthEngine.name)
    choose(w.labels_combo, "seg")
    run_and_wait(qtbot, w)
    assert w.save_result(tmp_path / "kept") is not None
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=30000)
    assert w.status_label.text() == (f"saved the {TruthEngine.name} result of 'seq' with its labels and its landmarks "
                                     f"to {tmp_path / 'kept'}"), w.status_label.text()
    names = {p.name for p in (tmp_path / "kept").iterdir()}
    assert {"result.json", "metrics.json", "metrics.csv", report.LABELS_FILE, report.PROPAGATED_FILE,
            report.LANDMARKS_FILE, "montage.png"} <= names, names
    assert img.name == "seq" and not notes, notes
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "kept")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dice"] > 0.9 and summary["tre"] < 0.5 and summary["tre_n"] == (T - 1), summary


def test_save_result_leaves_out_annotations_that_do_not_fit_and_says_so(widget, qtbot, notes, tmp_path):
    """(2026-12-06, diff review) With the annotations kept, a landmark beyond the image's frames (a longer layer
    stretches the slider), a landmark id twice on a frame, or labels of another shape refused the whole save. The
    result is saved without them now, and a notification says which were left out and why."""
    from napari_tlreg import report

    viewer, w = run_with_labels(widget, qtbot)
    viewer.add_labels(np.zeros((T, H + 2, W), np.int32), name="other")
    choose(w.labels_combo, "other")
    viewer.add_points(np.array([[0, 10.0, 10.0], [0, 12.0, 12.0], [15, 10.0, 10.0]]), name="seq landmarks",
                      features={"id": [1, 1, 2]})  # id 1 twice on frame 0; frame 15 of 4
    assert w.save_result(tmp_path / "kept") is not None
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=30000)
    assert w.status_label.text() == f"saved the {TruthEngine.name} result of 'seq' to {tmp_path / 'kept'}"
    assert len(notes) == 1 and notes[0][1].startswith("Register sequence: saving the result without its labels ("), notes
    assert " and its landmarks (" in notes[0][1]
    names = {p.name for p in (tmp_path / "kept").iterdir()}
    assert "result.json" in names and report.LABELS_FILE not in names and report.LANDMARKS_FILE not in names


def test_the_lasting_status_line_says_the_run_s_own_checks(widget, qtbot, notes, tmp_path):
    """(2026-12-06, clinician review) A field the run's own check found worse than none was said in a notification
    only (cut off, covered by the next, faded): the dock's status line read "done: ... worst folding 0.00 %", also when
    the image was chosen again. It says the warnings that distrust the result first."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    viewer.add_image(frames[:3], name="other")
    choose(w.image_combo, "seq")
    choose(w.method_combo, TruthEngine.name)
    w.findChild(object, "param_gain").setValue(-1.0)  # every frame moved the wrong way: worse than none
    run_and_wait(qtbot, w)
    text = w.status_label.text()
    assert text.startswith("done: ") and "\n⚠ widget_test_truth: the warped reference matches the frames worse" in text
    assert any("matches the frames worse" in m for _, m in notes)  # and the notification, whole
    choose(w.image_combo, "other")
    choose(w.image_combo, "seq")
    assert w.status_label.text() == text
    # (2026-12-07, echo review) ... and so does the folder it is saved to, reopened (it was shown as a good result)
    saved = w.results[("seq", TruthEngine.name)].save(tmp_path / "bad")
    w.findChild(object, "param_gain").setValue(1.0)
    run_and_wait(qtbot, w)
    assert "⚠" not in w.status_label.text()
    w.open_result(saved)
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert "\n⚠ widget_test_truth: the warped reference matches the frames worse" in w.status_label.text()


def test_a_result_layer_made_again_goes_back_to_its_place_among_the_others(widget, qtbot, notes):
    """(2026-12-06, layer-state review) The Jacobian the user removed came back on top at the next run: opaque, it hid
    the folds and the grid its legend points at."""
    viewer, w = run_with_labels(widget, qtbot)
    order = [ly.name for ly in viewer.layers]
    for gone in ("seq jacobian", "seq warped reference", "seq propagated labels"):
        viewer.layers.remove(gone)
        run_and_wait(qtbot, w)
        assert [ly.name for ly in viewer.layers] == order, gone


def test_a_dates_no_data_is_a_grey_layer_named_in_the_legend(widget, qtbot, notes):
    """(Session 45 review) the fill of a satellite date read green or magenta, the legend's "misalignment"."""
    from napari_tlreg.synth.satellite import satellite_pair

    viewer, w = widget
    f = satellite_pair(size=128, seed=4, n_landmarks=0).frames.astype(np.float32)
    land = (500 + 2500 * (f - f.min()) / (f.max() - f.min())).astype(np.uint16)
    filled = land.copy()
    filled[1, :, :24] = 0
    viewer.add_image(filled, name="pair")
    choose(w.method_combo, "multistep")
    run_and_wait(qtbot, w, timeout=60000)
    assert not notes, notes
    layer = viewer.layers["pair no data"]
    assert layer.data[1, :, :24].all() and not layer.data[1, :, 32:].any()
    names = [ly.name for ly in viewer.layers]
    assert names.index("pair folds") < names.index("pair no data") < names.index("pair grid")
    assert not w.legend.isHidden() and not w.legend.nodata.isHidden() and "no data" in w.legend.nodata.findChildren(
        type(w.legend.folds))[-1].text()
    viewer.layers["pair"].data = land  # the same image without its fill: the layer and the legend's line go
    run_and_wait(qtbot, w, timeout=60000)
    assert "pair no data" not in viewer.layers and w.legend.nodata.isHidden()


def test_the_status_line_puts_a_dates_worse_than_none_first():
    """(Session 45, read of the change) the pair engines' per-date warning was not among those that distrust the
    result: the status line led with a flicker note."""
    from napari_tlreg._widgets.register import warned

    said = ["frames 1 differ in brightness from the reference by 30 % or more (flicker?): ...",
            "multistep: on 1 of 3 frames the warped reference matches the frame worse than the reference left as it is"]
    assert warned(said).startswith("\n⚠ multistep: on 1 of 3 frames")
    # (2026-12-07, echo review) whole: cut at 140 characters, "worse than none" lost what it means, in the tooltip too
    from napari_tlreg.api import worse_message

    message = worse_message("nmsr", 0.00405, 0.0034, 5, 7)
    assert warned([message]) == f"\n⚠ {message}" and message.endswith("this field does not fit these frames; try another method")


def test_the_plots_dock_scores_a_run_with_the_labels_the_register_dock_had(widget, qtbot):
    """(2026-12-06, cardiac review) Labels chosen in the Register dock that are not the image's own (``"<image>
    labels"``: a ground truth opened on its own) were not the plots dock's: after the run it stayed on "none", Dice
    None, until they were chosen there too; a second run with other labels kept the first's (scored against the
    propagated labels of the second). Labels the user chose in the plots dock stay."""
    from napari_tlreg._widgets.plots import PlotsWidget

    viewer, w = widget
    plots = PlotsWidget(viewer)
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    viewer.add_labels(labels, name="seg")
    choose(w.labels_combo, "seg")
    choose(w.method_combo, TruthEngine.name)
    assert plots.labels_combo.currentText() == "none"
    run_and_wait(qtbot, w)
    qtbot.waitUntil(lambda: plots.labels_combo.currentText() == "seg", timeout=5000)
    assert plots.current_labels() is viewer.layers["seg"]
    qtbot.waitUntil(lambda: any(r.get("dice") is not None for r in plots.tables.get(TruthEngine.name, [])),
                    timeout=10000)  # scored
    lv = labels.copy()
    lv[:, :16] = 0
    viewer.add_labels(lv, name="half")
    choose(w.labels_combo, "half")
    run_and_wait(qtbot, w)
    qtbot.waitUntil(lambda: plots.labels_combo.currentText() == "half", timeout=5000)  # the second run's
    viewer.add_labels(labels, name="seq labels")  # its own labels, added later: the run's stay chosen
    viewer.add_image(frames, name="other")
    choose(plots.images.combo, "other")
    assert plots.labels_combo.currentText() == "none"  # another image: not seq's run's labels
    choose(plots.images.combo, "seq")
    assert plots.labels_combo.currentText() == "half"
    choose(w.labels_combo, "seg")
    run_and_wait(qtbot, w)  # a third run, straight after: followed again
    qtbot.waitUntil(lambda: plots.labels_combo.currentText() == "seg", timeout=5000)
    choose(plots.labels_combo, "seq labels")  # the user's choice: kept
    plots.labels_combo.activated.emit(plots.labels_combo.currentIndex())
    choose(w.labels_combo, "half")
    run_and_wait(qtbot, w)
    qtbot.wait(200)
    assert plots.labels_combo.currentText() == "seq labels"
    # the run's labels gone: the image's own (they gave "none")
    viewer.layers.remove("half")
    choose(plots.images.combo, "other")
    choose(plots.images.combo, "seq")
    assert plots.labels_combo.currentText() == "seq labels"
    # a cancelled run's labels are not a result's (the next choice of the image took them)
    from napari_tlreg._widgets.store import store_for

    choose(w.labels_combo, "seg")
    choose(w.method_combo, SlowEngine.name)
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.running, timeout=5000)
    w.cancel()
    qtbot.waitUntil(lambda: not w.running, timeout=10000)
    assert store_for(viewer).labels_used("seq") == "half"


class NotingEngine(TruthEngine):
    name = "widget_test_noting"
    description = "test: the ground truth, with a note of what it decided"

    def run(self, frames, reference, params, ctx):
        ctx.notes.append("widget_test_noting: frame 2 kept the affine alone")
        return super().run(frames, reference, params, ctx)


@pytest.fixture
def noting():
    add_engine(NotingEngine.name, f"{__name__}:NotingEngine", NotingEngine.description)
    yield
    remove_engine(NotingEngine.name)


def test_what_the_run_decided_stays_on_the_status_line(noting, widget, qtbot, notes, tmp_path):
    """(satellite review) multistep keeping the affine alone (its Jacobian flat white) was said nowhere: the run's
    notes (``provenance["notes"]``) are on the status line, not a warning; ``batch`` puts them in its note column."""
    from napari_tlreg.batch import register_one
    from napari_tlreg.io import save_stack

    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, NotingEngine.name)
    run_and_wait(qtbot, w)
    assert "\nwidget_test_noting: frame 2 kept the affine alone" in w.status_label.text(), w.status_label.text()
    assert "⚠" not in w.status_label.text() and not notes, notes
    save_stack(tmp_path / "seq.tif", frames)
    row = register_one({"name": "seq", "source": str(tmp_path / "seq.tif")}, NotingEngine.name, str(tmp_path / "out"),
                       montage=False, engine_entry=(f"{__name__}:NotingEngine", NotingEngine.description))
    assert row["status"] == "ok" and "widget_test_noting: frame 2 kept the affine alone" in row["note"], row
    assert row["warning"] is None, row


def test_a_removed_images_result_layers_go_with_it(widget, qtbot, notes):
    """(landmarks review) The image deleted: its warped reference, grid, Jacobian, folds... stayed drawn, no dock's
    result any more, and sat over the same file opened again. They go with it; a layer the user corrected stays,
    theirs, and so does a layer of theirs; all of them at once (``layers.clear()``) is no error."""
    viewer, w = widget
    frames = _run_with_labels(qtbot, viewer, w)
    made = {ly.name for ly in viewer.layers} - {"seq", "seg"}
    assert {"seq warped reference", "seq grid", "seq jacobian", "seq propagated labels"} <= made, made
    viewer.layers["seq propagated labels"].paint((2, 10, 10), 3)  # a correction
    viewer.layers.remove("seq")
    qtbot.waitUntil(lambda: "seq grid" not in viewer.layers, timeout=3000)
    assert [ly.name for ly in viewer.layers] == ["seg", "seq propagated labels (edited)"], [ly.name for ly in viewer.layers]
    assert notes == [("warning", "Register sequence: your edits of 'seq propagated labels' are kept as 'seq propagated "
                                 "labels (edited)' (a labels layer of yours now); 'seq' was removed")], notes
    viewer.add_image(frames, name="seq")  # the same file again, then every layer at once
    run_and_wait(qtbot, w)
    viewer.layers.clear()
    qtbot.wait(50)
    assert len(viewer.layers) == 0
    viewer.add_image(frames, name="seq")
    run_and_wait(qtbot, w)
    viewer.layers.remove("seq")
    viewer.add_image(frames, name="seq")  # opened again before the dock's turn: the layers are still the removed one's
    qtbot.waitUntil(lambda: "seq grid" not in viewer.layers, timeout=3000)
    assert w.current_result() is None and not notes[1:], notes
    # (review of the change) another image renamed to the removed one's name before the dock's turn: its layers
    # follow it once the removed one's are gone (they stayed "other ...", and a re-run drew a second set)
    run_and_wait(qtbot, w)  # "seq"'s layers, in the way of the rename below (no labels: no propagated labels)
    viewer.add_image(frames, name="other")
    choose(w.image_combo, "other")
    viewer.add_labels(synthetic_sequence()[1], name="seg2")
    choose(w.labels_combo, "seg2")
    run_and_wait(qtbot, w)
    assert {"seq grid", "other grid", "other propagated labels"} <= {ly.name for ly in viewer.layers}
    assert "seq propagated labels" not in viewer.layers
    viewer.layers.remove("seq")
    viewer.layers["other"].name = "seq"
    qtbot.waitUntil(lambda: "other grid" not in viewer.layers, timeout=3000)
    qtbot.wait(50)
    # the removed one's layers, not those that took their names: its propagated labels stayed (third review)
    assert {"seq grid", "seq warped reference", "seq propagated labels"} <= {ly.name for ly in viewer.layers}
    assert not any(ly.name.startswith("other") for ly in viewer.layers), [ly.name for ly in viewer.layers]


def test_frames_scaled_each_its_own_are_shown_as_registered(widget, qtbot, notes):
    """(satellite review) Dates in other units (DN beside reflectance) registered right, scaled frame by frame, but
    the frame layer's one contrast window showed the second date black under the magenta warped reference: all
    "misalignment". The frames as registered go under the overlay (as a colour image's), said in the legend."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    frames = frames.copy()
    frames[1::2] *= 1e-3  # every other frame in other units
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    w.normalize_combo.setCurrentIndex(w.normalize_combo.findData("frame"))
    run_and_wait(qtbot, w)
    res = w.results[("seq", TruthEngine.name)]
    assert res.normalization == "frame"
    names = [ly.name for ly in viewer.layers]
    assert names.index("seq grey frame") == names.index("seq") + 1 < names.index("seq warped reference"), names
    np.testing.assert_array_equal(viewer.layers["seq grey frame"].data, res.frames)
    assert "scaled frame by frame" in w.legend.overlay.text()
    w.normalize_combo.setCurrentIndex(w.normalize_combo.findData("sequence"))
    run_and_wait(qtbot, w)
    assert "seq grey frame" not in viewer.layers and "scaled frame by frame" not in w.legend.overlay.text()


def test_a_reopened_register_dock_takes_over_the_result_on_screen(make_napari_viewer, qtbot, engines):
    """(2026-12-06, napari review) napari's "x" deletes the dock and its menu makes a new one: the reopened dock's grid
    spacing and checkerboard did nothing to the result on screen, its status was empty, its bar at 0 %, its Jacobian
    legend hidden. It takes over what the closed one had."""
    viewer = make_napari_viewer()
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    _, w = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    done = w.status_label.text()
    assert done.startswith("done:") and w.legend.isVisibleTo(w)
    limits = viewer.layers["seq jacobian"].contrast_limits
    viewer.window.remove_dock_widget(w)  # what the dock's close button does
    _, w2 = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    assert w2 is not w and w2.current_image() is viewer.layers["seq"]
    assert w2.status_label.text() == done and w2.progress_bar.value() == 1 and w2.legend.isVisibleTo(w2)
    assert w2.results == w.results and w2.save_btn.isEnabled()
    grid = viewer.layers["seq grid"]
    before = grid.data.copy()
    w2.grid_spin.setValue(4 if w2.grid_spin.value() != 4 else 6)
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers["seq grid"].data, before), timeout=3000)
    assert viewer.layers["seq grid"] is grid  # redrawn in place, not a second set
    w2.checker_box.setChecked(True)
    assert viewer.layers["seq warped reference"].colormap.name == "gray" and not grid.visible
    w2.checker_box.setChecked(False)
    assert viewer.layers["seq warped reference"].colormap.name == "magenta" and grid.visible
    # the legend follows the Jacobian layer for the new dock
    viewer.layers["seq jacobian"].contrast_limits = (limits[0], limits[1] * 2)
    assert w2.legend.hi.text() == f"≥ {limits[1] * 2:.2f}"
    # a second closing and opening hands it on again; a run in the new dock replaces the layers, never piles them up
    viewer.window.remove_dock_widget(w2)
    _, w3 = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    n = len(viewer.layers)
    choose(w3.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w3)
    assert len(viewer.layers) == n and w3.status_label.text().startswith("done:")
    # an image removed while no dock was open, and another opened under its name: the next dock has nothing of the
    # first (diff review: its status, 100 % bar and legend were shown over the new one)
    viewer.window.remove_dock_widget(w3)
    viewer.layers.remove("seq")
    viewer.add_image(frames.copy(), name="seq")
    _, w4 = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    assert w4.current_image() is viewer.layers["seq"]
    assert w4.results == {} and w4._result is None and w4.status_label.text() == "" and not w4.legend.isVisibleTo(w4)
    assert w4.progress_bar.value() == 0 and not [ly.name for ly in viewer.layers if ly.name.startswith("seq ")]


def test_a_reopened_register_dock_catches_up_with_renames_and_removals_made_while_it_was_closed(
        make_napari_viewer, qtbot, engines):
    """(2026-12-06, plugin-menu review) With the dock closed, an image removed and a new one opened under its name:
    the reopened dock showed the old run's status, legend and layers over it. An image renamed meanwhile: its results
    and layers were lost to the reopened dock (a run added a second set). The dock catches up with the store."""
    viewer = make_napari_viewer()
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="a")
    viewer.add_image(frames.copy(), name="b")
    _, w = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    choose(w.method_combo, TruthEngine.name)
    for name in ("a", "b"):
        choose(w.image_combo, name)
        run_and_wait(qtbot, w)
    assert {"a grid", "b grid"} <= {ly.name for ly in viewer.layers}
    viewer.window.remove_dock_widget(w)
    viewer.layers.remove("a")  # removed, and opened again: never registered
    viewer.add_image(frames.copy(), name="a")
    viewer.layers["b"].name = "c"  # renamed
    _, w2 = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    qtbot.wait(50)
    names = [ly.name for ly in viewer.layers]
    assert not [n for n in names if n.startswith("a ")], names  # the removed image's layers went
    assert "c grid" in names and "b grid" not in names  # the renamed one's followed it
    assert set(w2.results) == {("c", TruthEngine.name)}
    choose(w2.image_combo, "a")
    assert w2.status_label.text() == "" and w2.progress_bar.value() == 0 and not w2.legend.isVisibleTo(w2)
    choose(w2.image_combo, "c")
    assert w2.status_label.text().startswith("done:") and w2.legend.isVisibleTo(w2)
    grid = viewer.layers["c grid"]
    before = grid.data.copy()
    w2.grid_spin.setValue(4 if w2.grid_spin.value() != 4 else 6)
    qtbot.waitUntil(lambda: not np.array_equal(grid.data, before), timeout=3000)
    n = len(viewer.layers)
    choose(w2.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w2)
    assert len(viewer.layers) == n  # replaced in place, not a second set


def test_a_colormaps_fingerprint_uses_no_deprecated_pydantic_call():
    """(2026-12-06, plugin-menu review) Every run warned "PydanticDeprecatedSince20: The dict method is deprecated"
    (napari's colormaps are pydantic 2 models): model_dump is taken first."""
    import warnings

    from napari.utils.colormaps import ensure_colormap

    from napari_tlreg._widgets.register import _fingerprint

    magenta, green = ensure_colormap("magenta"), ensure_colormap("green")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _fingerprint(magenta) == _fingerprint(ensure_colormap("magenta")) != _fingerprint(green)


def test_the_heap_is_trimmed_after_a_run_and_after_its_image_goes(widget, qtbot, monkeypatch):
    """(2026-12-07, big-data review) After a run and its layers removed the viewer held 1.1-1.3 GB against 640 MB
    before (30x512x512): the worker thread's heap kept the run's freed temporaries. It is given back after a result is
    shown and after an image's layers are dropped (glibc's malloc_trim; nothing elsewhere)."""
    from napari_tlreg._widgets import register
    from napari_tlreg.core.memory import give_back_freed_memory

    assert give_back_freed_memory() is True  # Linux with glibc, as CI
    calls = []
    monkeypatch.setattr(register, "give_back_freed_memory", lambda: calls.append(1) or True)
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert len(calls) == 1 and "seq warped reference" in viewer.layers
    viewer.layers.remove("seq")
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=5000)


def test_a_runs_overlays_stay_under_another_image_above_its_own(widget, qtbot):
    """(2026-12-07, echo user review) The real clip registered with the echo sample opened over it: the clip's grid,
    folds and Jacobian were added on top of every layer, drawn over the sample's fan and labels as if they were its
    deformation. A run's new result layers go under the next image above their own (in their order; a colour image's
    own hidden colour layer is no other image); a result layer the user moved stays where they put it."""
    viewer, w = widget
    frames, labels = synthetic_sequence()
    a = viewer.add_image(frames, name="a")
    viewer.add_image(np.repeat(frames[..., None], 3, axis=-1), name="a colour", visible=False,  # the reader's
                     metadata={"napari_tlreg": {"colour_of": "a"}})
    viewer.add_labels(labels, name="seg")  # the user's own labels over their image: under its overlays, as before
    b = viewer.add_image(frames[::-1].copy(), name="b")
    viewer.add_labels(labels, name="b labels")
    choose(w.image_combo, "a")
    choose(w.method_combo, TruthEngine.name)
    choose(w.labels_combo, "seg")
    run_and_wait(qtbot, w)
    names = [ly.name for ly in viewer.layers]
    assert names == ["a", "a warped reference", "a colour", "seg", "a jacobian", "a folds", "a grid", "a displacement",
                     "a propagated labels", "b", "b labels"], names
    viewer.layers.move(viewer.layers.index("a grid"), len(viewer.layers))  # the user wants the grid on top
    run_and_wait(qtbot, w)
    assert viewer.layers[-1].name == "a grid" and viewer.layers.index("a jacobian") < viewer.layers.index(b)
    viewer.layers.move(viewer.layers.index("a grid"), viewer.layers.index(b))  # back under b
    choose(w.image_combo, "b")  # b's overlays: on top (nothing over b), as before
    run_and_wait(qtbot, w)
    names = [ly.name for ly in viewer.layers]
    assert names.index("b grid") > names.index("b") > names.index("a grid") and names[-1] == "b propagated labels"


def test_labels_and_masks_of_another_size_are_greyed_out_with_why(widget, qtbot):
    """(2026-12-07, echo user review) With the real clip (240x320) chosen, the labels and mask lists offered the echo
    sample's layers (128x128): picked, they were refused only at Run. They are listed greyed out, with why in the item's
    tooltip, for the image chosen; those that fit (one frame's labels too) are not."""
    from qtpy.QtCore import Qt

    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="a")
    viewer.add_labels(labels, name="a labels")
    viewer.add_labels(labels[0], name="one frame")
    viewer.add_labels(np.zeros((3, 20, 24), np.int32), name="other")
    viewer.add_image(np.zeros((3, 20, 24), np.float32), name="small")
    choose(w.image_combo, "a")
    choose(w.method_combo, "nmsr")
    mask = w.findChild(object, "param_mask")

    def enabled(combo):
        return {combo.itemText(i): combo.model().item(i).isEnabled() for i in range(combo.count())}

    assert enabled(w.labels_combo) == {"none": True, "a labels": True, "one frame": True, "other": False}
    assert enabled(mask) == {"none (whole frame)": True, "a labels": True, "one frame": True, "other": False}
    tip = w.labels_combo.itemData(w.labels_combo.findText("other"), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("does not fit 'a': labels of shape (3, 20, 24) do not match the frames")
    assert mask.itemData(mask.findText("other"), Qt.ItemDataRole.ToolTipRole) == (
        "does not fit 'a': 'other' is 20x24, the image 'a' " f"{frames.shape[1]}x{frames.shape[2]}")
    choose(w.image_combo, "small")  # the other way round
    assert enabled(w.labels_combo) == {"none": True, "a labels": False, "one frame": False, "other": True}
    assert enabled(w.findChild(object, "param_mask"))["a labels"] is False
    assert w.labels_combo.itemData(w.labels_combo.findText("other"), Qt.ItemDataRole.ToolTipRole) is None
    viewer.add_labels(np.zeros((20, 24), np.int32), name="new")  # a layer added: marked as the others
    assert enabled(w.labels_combo)["new"] is True and enabled(w.labels_combo)["a labels"] is False


def test_a_renamed_colour_images_overlays_stay_over_its_colour_layer(widget, qtbot):
    """(diff review) A colour sequence renamed after opening: its hidden colour layer (named for the old name) was
    taken for another image, and the overlays went under it, hidden where the user showed the colour."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    img = viewer.add_image(frames, name="rgbseq")
    viewer.add_image(np.repeat(frames[..., None], 3, axis=-1), name="rgbseq colour", visible=False,
                     metadata={"napari_tlreg": {"colour_of": "rgbseq"}})
    viewer.add_image(frames[::-1].copy(), name="b")
    img.name = "q"
    choose(w.image_combo, "q")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    names = [ly.name for ly in viewer.layers]
    assert names.index("rgbseq colour") < names.index("q grid") < names.index("b") and names[-1] == "b", names


def test_labels_all_zero_are_said_after_a_run(widget, qtbot, notes):
    """(2026-12-07, robustness review) An empty labels layer chosen: the run ended "done" with no Dice and no word."""
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    viewer.add_labels(np.zeros(frames.shape, np.int32), name="empty")
    choose(w.method_combo, TruthEngine.name)
    choose(w.labels_combo, "empty")
    run_and_wait(qtbot, w)
    said = [m for kind, m in notes if kind == "warning"]
    assert any("the labels hold no label (0 on every frame)" in m for m in said), notes


def test_the_legend_follows_the_checkerboard_and_the_bar_the_layers_being_made(widget, qtbot):
    """(2026-12-07, UX review) With the checkerboard on, the legend still described the green and magenta overlay over
    grey tiles; the bar said 100 % with Cancel shown while the result's layers were made, the status line the engine's
    last word ("integrated (1/1)")."""
    from napari_tlreg._widgets.register import CHECKER_TEXT, OVERLAY_TEXT

    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert w.legend.overlay.text() == OVERLAY_TEXT["green"]
    w.checker_box.setChecked(True)
    assert w.legend.overlay.text() == CHECKER_TEXT
    w.checker_box.setChecked(False)
    assert w.legend.overlay.text() == OVERLAY_TEXT["green"]
    choose(w.method_combo, SlowEngine.name)
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.running, timeout=5000)
    w._on_progress(7, 7, "integrated")
    assert (w.progress_bar.maximum(), w.progress_bar.value()) == (7, 7)
    # register's own stage after the engine's: the bar busy (it went from 100 % to 0/3: read as a restart, twice)
    w._on_progress(0, 3, "checking the result: warping the reference")
    assert w.progress_bar.maximum() == 0 and w.status_label.text() == "checking the result: warping the reference (0/3)"
    w._on_progress(1, 1, "done")  # as register says it, before the layers are made
    assert w.progress_bar.maximum() == 0 and w.status_label.text() == "registered: making the result layers"
    w.cancel()
    qtbot.waitUntil(lambda: not w.running, timeout=10000)


def test_a_dock_opened_starts_on_the_image_of_the_active_layer(make_napari_viewer, qtbot):
    """(2026-12-07, echo review) Opened after two samples with the second's mask active, the dock chose the first
    sample's image (the first image of the list)."""
    from napari_tlreg._widgets.register import RegisterWidget

    viewer = make_napari_viewer()
    viewer.open_sample("napari-tlreg", "lemniscate")
    viewer.open_sample("napari-tlreg", "cardiac")
    viewer.layers.selection.active = viewer.layers["cardiac labels"]
    w = RegisterWidget(viewer)
    assert w.image_combo.itemText(0) == "lemniscate" and w.image_combo.currentText() == "cardiac"


def test_a_dock_opened_after_a_multi_slice_source_starts_on_the_slice_shown(make_napari_viewer, qtbot, shared_data):
    """(2026-12-07, clinician review) Docked after a DICOM folder of 12 slice positions was opened, the dock took
    napari's active layer, the last slice (hidden), and turned the canvas to it: a slice below the heart."""
    from napari_tlreg._widgets.register import RegisterWidget

    viewer = make_napari_viewer()
    viewer.open(str(shared_data / "sunnybrook" / "dicom_SCD0000101"), plugin="napari-tlreg")
    assert viewer.layers.selection.active.name.endswith("_slice11")  # napari's: the last added
    w = RegisterWidget(viewer)
    assert w.image_combo.currentText().endswith("_slice0")
    shown = [ly.name for ly in viewer.layers if ly.visible]
    assert shown == [w.image_combo.currentText()], shown
    # not the first image listed: the shown slice of that source (diff review: an image opened before took it)
    viewer2 = make_napari_viewer()
    viewer2.open_sample("napari-tlreg", "cardiac")
    viewer2.open(str(shared_data / "sunnybrook" / "dicom_SCD0000101"), plugin="napari-tlreg")
    assert RegisterWidget(viewer2).image_combo.currentText().endswith("_slice0")
    # a colour copy shown over its hidden grey image, and an image the user hid and selected: those
    viewer3 = make_napari_viewer()
    viewer3.open_sample("napari-tlreg", "lemniscate")
    viewer3.open_sample("napari-tlreg", "echo_real")
    colour = next(ly for ly in viewer3.layers if ly.name.endswith("colour"))
    grey = viewer3.layers[colour.name.removesuffix(" colour")]
    colour.visible, grey.visible = True, False
    viewer3.layers.selection.active = colour
    assert RegisterWidget(viewer3).image_combo.currentText() == grey.name
    viewer3.layers.selection.active = grey
    colour.visible = False
    assert RegisterWidget(viewer3).image_combo.currentText() == grey.name


def test_a_sub_clip_result_opened_on_its_whole_source_says_which_frames(widget, qtbot, notes, tmp_path):
    """(2026-12-07, echo re-check) A `register --frames 0:5` result opened on its source was refused with "open it on
    the image it was made from", which it was: the refusal names its frames and the folder's own frames.tif."""
    from napari_tlreg import cli

    assert cli.main(["register", "cardiac", "--frames", "0:10:2", "--out", str(tmp_path / "r"), "--no-montage"]) == 0
    viewer, w = widget
    viewer.open_sample("napari-tlreg", "cardiac")
    choose(w.image_combo, "cardiac")
    w.open_result(tmp_path / "r")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert notes and (f"registered frames 0 to 9 (every 2) of its source: open {tmp_path / 'r'}/frames.tif, its "
                      "frames, and the result on it") in notes[-1][1], notes
    # (2026-12-07, diff review) frames in a row: cut again from the sample, as the dock cuts them, and opened there
    assert cli.main(["register", "cardiac", "--frames", "0:5", "--out", str(tmp_path / "r5"), "--no-montage"]) == 0
    choose(w.image_combo, "cardiac")
    w.open_result(tmp_path / "r5")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert w.status_label.text().startswith(f"opened {tmp_path / 'r5'}: 5 frames"), w.status_label.text()
    assert w.image_combo.currentText() == "cardiac frames 0-4" and "cardiac frames 0-4 warped reference" in viewer.layers


def test_small_displacements_are_drawn_longer_and_the_legend_says_how_much(widget, qtbot):
    """(Remote-sensing review, 2026-12-07) A satellite pair's 2 px shift drawn at its true length made specks on a
    512 px frame whose direction could not be seen: the arrows are drawn the largest of 1, 2, 5, 10... times that keeps
    the longest within their spacing, and the legend says the factor, and the one the user sets."""
    from napari_tlreg import display as L
    from napari_tlreg._widgets.register import arrows_text

    res = _shift_result((2.0, -0.6), h=512, w=512)
    data, kw, _ = L.displacement_layer(res, "pair")
    assert L.default_vector_step(res.displacement.shape) == 8 and kw["length"] == 2.0  # 2.09 px: 4.2 of 8 px
    assert L.displacement_layer(_shift_result((0.3, 0.0)), "s")[1]["length"] == 20.0  # 6 of 8 px
    assert L.displacement_layer(_shift_result((6.0, 0.0)), "s")[1]["length"] == 1.0  # long enough: as they are
    assert L.arrow_length(np.zeros((0, 2, 3), np.float32), 8) == 1
    assert "drawn" not in arrows_text(1.0) and "drawn 2x as long" in arrows_text(2.0)
    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    arrows = viewer.layers["seq displacement"]
    assert w.legend.arrows.text() == arrows_text(float(arrows.length))
    arrows.length = 3.0  # the user's, followed
    assert "drawn 3x as long" in w.legend.arrows.text()
    viewer.layers.remove(arrows)  # its factor goes with it (diff review: the legend kept it)
    assert w.legend.arrows.text() == arrows_text(1.0)


def test_layers_of_the_users_named_as_results_are_never_written_over_nor_removed(widget, qtbot, monkeypatch):
    """(napari review, 2026-12-07) The user's own labels opened again under a result's name ("seq propagated labels",
    as File > Save Layers and Open give them) had their paint wiped by the next run, and a Points layer of a result's
    name was removed: a run takes only layers it made; its result goes beside theirs ("<name> [1]"), said."""
    from napari_tlreg._widgets import register as mod
    from napari_tlreg._widgets.chooser import is_result

    said = []
    monkeypatch.setattr(mod, "show_info", said.append)
    viewer, w = widget
    frames, labels = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    viewer.add_labels(labels, name="seg")
    painted = np.zeros_like(labels)
    painted[:, 2:6, 2:6] = 7
    mine = viewer.add_labels(painted.copy(), name="seq propagated labels")
    pts = viewer.add_points(np.array([[0, 5.0, 5.0]]), name="seq jacobian")
    choose(w.image_combo, "seq")
    choose(w.labels_combo, "seg")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    assert mine in viewer.layers and np.array_equal(mine.data, painted) and not is_result(mine)
    assert pts in viewer.layers and pts.name == "seq jacobian" and len(pts.data) == 1
    made = {ly.name for ly in viewer.layers if is_result(ly)}
    assert {"seq propagated labels [1]", "seq jacobian [1]"} <= made, made
    assert any("'seq propagated labels' is a layer of yours, left as it is: the result is 'seq propagated labels [1]'"
               in m for m in said), said
    run_and_wait(qtbot, w)  # a second run updates its own, not theirs, and makes no third
    assert np.array_equal(mine.data, painted) and pts in viewer.layers
    assert sum(ly.name.startswith("seq propagated labels") for ly in viewer.layers) == 2


def test_result_layers_go_under_the_users_landmarks(widget, qtbot):
    """(napari review, 2026-12-07) Added on top, the opaque Jacobian hid every landmark pair over the image (still
    placed by clicks on what could not be seen): a run's layers go under the user's points and shapes over it."""
    from napari_tlreg._widgets.chooser import is_result

    viewer, w = widget
    frames, _ = synthetic_sequence()
    viewer.add_image(frames, name="seq")
    pts = viewer.add_points(np.array([[0, 5.0, 5.0], [1, 6.0, 6.0]]), name="seq landmarks")
    shapes = viewer.add_shapes([np.array([[2.0, 2.0], [2.0, 9.0], [9.0, 9.0]])], shape_type="polygon", name="roi")
    choose(w.image_combo, "seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    names = [ly.name for ly in viewer.layers]
    made = [i for i, ly in enumerate(viewer.layers) if is_result(ly)]
    assert made and max(made) < names.index("seq landmarks") < names.index("roi"), names
    assert viewer.layers.index(pts) == len(viewer.layers) - 2 and viewer.layers[-1] is shapes


def test_a_result_named_beside_a_users_layer_follows_its_image_when_renamed(widget, qtbot):
    """(Diff review, 2026-12-07) "seq jacobian [1]", made beside the user's "seq jacobian", kept the old name when the
    image was renamed, and then followed the next image named "seq" (its scale too)."""
    from napari_tlreg._widgets.chooser import is_result

    viewer, w = widget
    frames, _ = synthetic_sequence()
    img = viewer.add_image(frames, name="seq")
    viewer.add_points(np.array([[0, 5.0, 5.0]]), name="seq jacobian")
    choose(w.image_combo, "seq")
    choose(w.method_combo, TruthEngine.name)
    run_and_wait(qtbot, w)
    jac = viewer.layers["seq jacobian [1]"]
    assert is_result(jac)
    img.name = "heart"
    qtbot.waitUntil(lambda: jac.name == "heart jacobian", timeout=3000)
    assert viewer.layers["seq jacobian"] is not jac and "heart grid" in viewer.layers
    img.scale = (1.0, 2.0, 2.0)
    qtbot.waitUntil(lambda: tuple(jac.scale)[1:] == (2.0, 2.0), timeout=3000)


def test_a_sub_clips_saved_result_opens_on_its_whole_sequence(widget, qtbot, notes, tmp_path):
    """(2026-12-07, diff review) A sub-clip's saved result was refused on the sequence it was cut from ("open its
    frames.tif"), with no way in the dock to cut the clip again without a run: it is cut again, and opened on it."""
    from napari_tlreg._widgets.store import store_for

    viewer, w = widget
    frames = np.random.default_rng(1).random((6, H, W)).astype(np.float32)
    viewer.add_image(frames, name="seq", metadata={"napari_tlreg": {"source": "/data/seq.tif"}})
    choose(w.method_combo, TruthEngine.name)
    w.set_frames(1, 4)
    w.reference_spin.setValue(2)
    run_and_wait(qtbot, w)
    assert w.save_result(tmp_path / "clip") is not None
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    for name in [ly.name for ly in viewer.layers if ly.name != "seq"]:
        viewer.layers.remove(name)
    viewer.layers["seq"].visible = True
    w.image_combo.setCurrentText("seq")
    w.open_result(tmp_path / "clip")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert w.status_label.text().startswith(f"opened {tmp_path / 'clip'}: 4 frames to frame 1 (frames 1-4 of the "
                                            "source, the reference its frame 2)"), w.status_label.text()
    clip = viewer.layers["seq frames 1-4"]
    np.testing.assert_array_equal(clip.data, frames[1:5])
    res = store_for(viewer).get("seq frames 1-4", TruthEngine.name)
    assert res is not None and res.reference == 1 and res.provenance["frames"] == [1, 5, 1]
    assert "seq frames 1-4 warped reference" in viewer.layers and not viewer.layers["seq"].visible
    # another sequence's clip result (another source, or none recorded): not cut, refused as before
    for name, meta in (("other", {"napari_tlreg": {"source": "/data/other.tif"}}), ("bare", None)):
        viewer.add_image(frames, name=name, metadata=meta)
        w.image_combo.setCurrentText(name)
        w.open_result(tmp_path / "clip")
        qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
        assert w.status_label.text().startswith("not opened") and f"{name} frames 1-4" not in viewer.layers
    # (README check) its source recorded, but other frames now: the clip cut for it goes again, and the image is
    # shown and chosen as it was
    for name in [ly.name for ly in viewer.layers if ly.name.startswith("seq frames")]:
        viewer.layers.remove(name)
    viewer.layers["seq"].data = frames[::-1].copy()
    viewer.layers["seq"].visible = True
    w.image_combo.setCurrentText("seq")
    n_layers = len(viewer.layers)
    w.open_result(tmp_path / "clip")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert w.status_label.text().startswith("not opened") and "other frames than 'seq frames 1-4'" in w.status_label.text()
    assert len(viewer.layers) == n_layers and "seq frames 1-4" not in viewer.layers
    assert viewer.layers["seq"].visible and w.image_combo.currentText() == "seq"


def test_a_sub_clip_is_registered_as_a_layer_of_its_own_on_the_same_frames(widget, qtbot, notes):
    """(2026-12-07, echo review) The dock registered every frame: NMSR on the real echo's 30 took ~10 minutes, and a
    sub-clip made in the console lost the sector mask, the frame time and the source. Frames A to B are cut into a
    layer of their own, with the image's labels, mask and landmarks, on the same frames of the slider; its result
    records which frames of the source it registered."""
    from napari_tlreg._widgets.store import store_for

    viewer, w = widget
    rng = np.random.default_rng(0)
    frames = rng.random((6, H, W)).astype(np.float32)
    labels = (rng.random((6, H, W)) > 0.5).astype(np.int32)
    mask = np.zeros((H, W), np.int32)
    mask[4:28, 4:28] = 1
    info = {"source": "/data/seq.tif", "frame_time_ms": 40.0, "instance_numbers": [11, 12, 13, 14, 15, 16]}
    viewer.add_image(frames, name="seq", scale=(1.0, 1.5, 1.5), metadata={"napari_tlreg": info})
    viewer.add_labels(labels, name="seq labels", scale=(1.0, 1.5, 1.5))
    viewer.add_image(np.stack([frames] * 3, axis=-1), name="seq colour", rgb=True, scale=(1.0, 1.5, 1.5), visible=False,
                     metadata={"napari_tlreg": {"colour_of": "seq"}})  # as the reader gives it
    viewer.add_labels(mask, name="seq mask", scale=(1.5, 1.5), visible=False)
    viewer.add_points(np.array([[0, 5.0, 5.0], [2, 6.0, 5.0], [3, 7.0, 5.0], [5, 8.0, 5.0]]), name="seq landmarks",
                      scale=(1.0, 1.5, 1.5), features={"id": [0, 0, 0, 0]})
    w.image_combo.setCurrentText("seq")
    w.labels_combo.setCurrentText("seq labels")
    choose(w.method_combo, TruthEngine.name)
    assert w.frames_range() is None and (w.first_spin.value(), w.last_spin.value()) == (0, 5)
    w.set_frames(3, 3)  # (diff review) one frame: refused before anything is cut
    w.reference_spin.setValue(3)
    run_and_wait(qtbot, w)
    assert "not run: frames 3-3 of 'seq': a sequence needs at least 2 frames" in w.status_label.text()
    assert "seq frames 3-3" not in viewer.layers and viewer.layers["seq"].visible
    w.set_frames(2, 4)
    w.reference_spin.setValue(5)
    run_and_wait(qtbot, w)
    assert "not run: the reference, frame 5, is not among frames 2-4" in w.status_label.text()
    assert "seq frames 2-4" not in viewer.layers
    w.reference_spin.setValue(3)
    run_and_wait(qtbot, w)
    clip = viewer.layers["seq frames 2-4"]
    np.testing.assert_array_equal(clip.data, frames[2:5])
    assert clip.translate[0] == 2.0 and tuple(clip.scale) == (1.0, 1.5, 1.5)  # on frames 2-4 of the slider
    np.testing.assert_array_equal(viewer.layers["seq frames 2-4 labels"].data, labels[2:5])
    np.testing.assert_array_equal(viewer.layers["seq frames 2-4 mask"].data, mask)
    colour = viewer.layers["seq frames 2-4 colour"]
    assert colour.rgb and not colour.visible and colour.translate[0] == 2.0
    # (diff review) the clip's colour copy is the clip's, not an image to register; its labels and landmarks over it
    assert colour.metadata["napari_tlreg"]["colour_of"] == "seq frames 2-4"
    assert "seq frames 2-4 colour" not in [w.image_combo.itemText(i) for i in range(w.image_combo.count())]
    order = [ly.name for ly in viewer.layers]
    assert order.index("seq frames 2-4 labels") > order.index("seq frames 2-4") < order.index("seq frames 2-4 landmarks")
    np.testing.assert_array_equal(colour.data[..., 0], frames[2:5])
    lm = viewer.layers["seq frames 2-4 landmarks"]
    assert lm.data.tolist() == [[0.0, 6.0, 5.0], [1.0, 7.0, 5.0]] and lm.translate[0] == 2.0
    assert not viewer.layers["seq"].visible and not viewer.layers["seq labels"].visible  # not drawn twice
    own = clip.metadata["napari_tlreg"]
    assert own["frames"] == [2, 5, 1] and own["instance_numbers"] == [13, 14, 15] and own["frame_time_ms"] == 40.0
    res = store_for(viewer).get("seq frames 2-4", TruthEngine.name)
    assert res is not None and res.n_frames == 3 and res.reference == 1
    assert res.provenance["frames"] == [2, 5, 1] and res.provenance["source"] == "/data/seq.tif"
    assert viewer.layers["seq frames 2-4 warped reference"].translate[0] == 2.0
    assert w.image_combo.currentText() == "seq frames 2-4" and w.frames_range() is None
    # the same frames again: the layer made before is run again, not another one
    w.image_combo.setCurrentText("seq")
    w.set_frames(2, 4)
    w.reference_spin.setValue(2)
    run_and_wait(qtbot, w)
    assert [ly.name for ly in viewer.layers].count("seq frames 2-4") == 1
    assert store_for(viewer).get("seq frames 2-4", TruthEngine.name).reference == 0
    # (diff review) ... brought up to date: the image's frames and the labels chosen as they are now (the clip ran on
    # the frames it was cut from, after the image's data was replaced)
    viewer.layers["seq"].data = frames[::-1].copy()
    viewer.layers["seq labels"].data = 1 - labels
    w.image_combo.setCurrentText("seq")
    w.labels_combo.setCurrentText("seq labels")
    w.set_frames(2, 4)
    w.reference_spin.setValue(2)
    run_and_wait(qtbot, w)
    np.testing.assert_array_equal(viewer.layers["seq frames 2-4"].data, frames[::-1][2:5])
    # the clip's labels are never written over (they may have been painted there, second diff review): the new cut
    # beside them, said, and the run takes it
    np.testing.assert_array_equal(viewer.layers["seq frames 2-4 labels"].data, labels[2:5])
    np.testing.assert_array_equal(viewer.layers["seq frames 2-4 labels [1]"].data, (1 - labels)[2:5])
    assert any("'seq frames 2-4 labels' holds other labels" in m for k, m in notes if k == "warning"), notes
    assert w.labels_combo.currentText() == "seq frames 2-4 labels [1]" and w.status_label.text().startswith("done")
    # "none" chosen for the image: the clip runs without labels (its own were taken all the same)
    w.image_combo.setCurrentText("seq")
    w.labels_combo.setCurrentIndex(0)
    w.set_frames(2, 4)
    w.reference_spin.setValue(2)
    run_and_wait(qtbot, w)
    assert w.labels_combo.currentIndex() == 0 and w.status_label.text().startswith("done")
    assert store_for(viewer).get("seq frames 2-4", TruthEngine.name) is not None
    # a multiscale image: refused, nothing cut
    viewer.add_image([frames, frames[:, ::2, ::2]], name="pyramid", multiscale=True)
    w.image_combo.setCurrentText("pyramid")
    assert w.current_image() is viewer.layers["pyramid"]  # (the chooser lists a multiscale image)
    w.set_frames(1, 3)
    w.reference_spin.setValue(1)
    run_and_wait(qtbot, w)
    assert "not run: frames 1-3 of 'pyramid': a multiscale image is not cut" in w.status_label.text()
    assert "pyramid frames 1-3" not in viewer.layers
