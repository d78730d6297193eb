"""``napari-tlreg view``: open napari on a sequence with the Register widget docked (Qt side only)."""
from __future__ import annotations

import contextlib
import warnings

import napari
from qtpy.QtCore import QTimer

from .._hooks import sequence_to_layers
from ..io import load_sequence
from .register import RegisterWidget


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


def launch(source: str = "cardiac", method: str | None = None, run: bool = False, screenshot: str | None = None) -> int:
    """Open a viewer on ``source`` (file, DICOM folder or sample name), dock the widget, optionally run.

    With ``screenshot`` the window is saved to that PNG once the run has finished, and napari quits.
    """
    quiet_pyqt5_notice()
    seq = load_sequence(source)
    viewer = napari.Viewer(title=f"napari-tlreg: {seq.name or source}")
    viewer.window.resize(1500, 950)
    for data, kwargs, kind in sequence_to_layers(seq):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    viewer.dims.axis_labels = ("t", "row", "col")
    viewer.dims.set_current_step(0, 0)  # the sample's reference frame; the widget defaults to the current frame
    widget = RegisterWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Register sequence", area="right")
    image = viewer.layers[seq.name or "sequence"] if (seq.name or "sequence") in viewer.layers else None
    if image is not None:
        widget.image_combo.setCurrentText(image.name)
    lab_name = f"{seq.name or 'sequence'} labels"
    if lab_name in viewer.layers:
        widget.labels_combo.setCurrentText(lab_name)
    if method is not None:
        idx = widget.method_combo.findData(method)
        if idx < 0:
            raise ValueError(f"unknown method {method!r}")
        widget.method_combo.setCurrentIndex(idx)

    def finish():
        if widget.running:
            QTimer.singleShot(200, finish)
            return
        if screenshot:
            viewer.dims.set_current_step(0, max(0, seq.frames.shape[0] // 2))
            viewer.reset_view()
            QTimer.singleShot(500, lambda: (viewer.screenshot(screenshot, canvas_only=False), viewer.close()))

    if run:
        QTimer.singleShot(300, widget.run)
        QTimer.singleShot(800, finish)
    elif screenshot:
        QTimer.singleShot(800, finish)
    napari.run()
    return 0
