"""``napari-tlreg view``: open napari on a sequence with the Register widget docked (Qt side only)."""
from __future__ import annotations

import contextlib
import warnings

import napari
from qtpy.QtCore import QTimer

from .._hooks import read_sequences


def quiet_pyqt5_notice() -> None:
    """Keep napari's "PyQt5 backend is deprecated" toast off the canvas of the viewers we open.

    The project installs PyQt6 (the ``napari`` extra); this is for a napari that a user runs on PyQt5.
    napari raises it with ``show_warning`` (a notification, not ``warnings.warn``) from the main
    window's first ``showEvent`` unless its module flag is cleared; there is no public switch.
    Its "System theme detection requires a Qt6 backend" warning is silenced too: nothing to act on.
    """
    warnings.filterwarnings("ignore", message=".*System theme detection requires a Qt6 backend.*")
    with contextlib.suppress(ImportError, AttributeError):
        from napari._qt import qt_main_window

        qt_main_window.SHOW_QT_WARNING = False


def launch(source: str = "cardiac", method: str | None = None, run: bool = False, screenshot: str | None = None,
           params: dict | None = None, normalize: str | None = None) -> int:
    """Open a viewer on ``source`` (file, DICOM folder or sample name), dock the widget, optionally run.

    ``params`` are set in the dock's form (``ValueError`` for one the method has not), ``normalize`` is its intensity
    choice. With ``screenshot`` the window is saved to that PNG once the run has finished, and napari quits.
    """
    quiet_pyqt5_notice()
    layers = read_sequences(source)  # a multi-slice cine: every slice a layer, slice 0 shown (and chosen below)
    data, kwargs, _kind = layers[0]
    name, n_frames = kwargs["name"], len(data)
    viewer = napari.Viewer(title=f"napari-tlreg: {name}")
    viewer.window.resize(1500, 950)
    for d, kw, kind in layers:
        getattr(viewer, f"add_{kind}")(d, **kw)
    viewer.layers.selection.active = viewer.layers[name]  # napari activates the last added: the echo's hidden mask
    viewer.dims.axis_labels = ("t", "row", "col")
    viewer.dims.set_current_step(0, 0)  # the sample's reference frame; the widget defaults to the current frame
    # the plugin's own dock, as the Plugins menu makes it: the menu gives this one again (a second dock, not sharing
    # the first's result, was added beside it), and what users get is what runs here
    _, widget = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    widget.image_combo.setCurrentText(name)
    if f"{name} labels" in viewer.layers:
        widget.labels_combo.setCurrentText(f"{name} labels")
    if method is not None:
        idx = widget.method_combo.findData(method)
        if idx < 0:
            from napari_tlreg.api import get_engine

            get_engine(method)  # its error lists the known methods (this one said only "unknown method 'nope'")
        widget.method_combo.setCurrentIndex(idx)
    try:
        for key, value in (params or {}).items():
            widget.set_param(key, value)
        if normalize is not None:
            widget.normalize_combo.setCurrentIndex(widget.normalize_combo.findData(normalize))
    except ValueError:
        viewer.close()
        raise

    outcome = {"done": not run}

    def finish():
        if widget.running:
            QTimer.singleShot(200, finish)
            return
        outcome["done"] = not run or widget.status_label.text().startswith("done")
        if screenshot:
            if run:  # what the screenshot shows, for a script or a log that has no window to read it from
                print(f"napari-tlreg view: {widget.status_label.text()}", flush=True)
            viewer.dims.set_current_step(0, max(0, n_frames // 2))
            viewer.reset_view()
            # fitted again once the canvas has its final size (the dock's layout can still narrow it)
            QTimer.singleShot(400, viewer.reset_view)
            QTimer.singleShot(800, lambda: (viewer.screenshot(screenshot, canvas_only=False), viewer.close()))

    # the first layer fitted the view to a canvas the dock then narrowed (the image's sides were cut off): fit it
    # again once the window is laid out
    QTimer.singleShot(250, viewer.reset_view)
    if run:
        QTimer.singleShot(300, widget.run)
        QTimer.singleShot(800, finish)
    elif screenshot:
        QTimer.singleShot(800, finish)
    napari.run()
    # a run refused or failed: not 0, so that a script knows (its screenshot was written all the same, exit 0)
    return 0 if outcome["done"] else 2
