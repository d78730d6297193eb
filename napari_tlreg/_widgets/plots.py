"""The "Evaluation plots" dock widget: per-frame Dice, HD, HD95, TRE, MSE and % folding curves.

Qt code only. The numbers are :func:`napari_tlreg.metrics.evaluate` tables of every result the
viewer holds for the chosen image (one curve per method, from the viewer's result store), drawn
by :func:`napari_tlreg.report.draw_metrics` onto a matplotlib canvas; clicking a curve moves the
viewer to that frame. "Export report" writes :func:`napari_tlreg.report.export_report`'s folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.layers import Image, Labels, Points
from napari.utils.notifications import show_error, show_warning
from napari.utils.theme import get_theme
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
# not napari.qt.threading's create_worker: its task-status registry kept every worker, and with it every run's
# arguments (results, frame copies)
from superqt.utils import create_worker

from napari_tlreg import report
from napari_tlreg._hooks import points_with_ids
from napari_tlreg.core.arrays import frame_time_ms
from napari_tlreg.core.labels import label_names as names_by_id
from napari_tlreg.metrics import landmarks_inside

from .landmarks import LANDMARKS, TRACKED_KEY, image_points, layer_spacing
from .chooser import (ClosingDock, ImageChooser, StatusLabel, current_frame, enable, file_name, frame_not_shown,
                      frames_shape, is_result,
                      plugin_info, scroll_body, show_frame, start_held, watch_layers)
from .store import fits, store_for, unwrap

#: why the plots dock's buttons are off before a result (their tooltips say it)
NO_RESULT = "no result of this image yet: register it first (Register sequence)"

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["PlotsWidget"]

NONE = "none"
ALL_LABELS = "all labels (foreground)"


class PlotsWidget(ClosingDock, QWidget):
    """Per-frame curves of every result of one image, overlaid; click to go to a frame."""

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self._viewer = unwrap(napari_viewer)
        self._store = store_for(napari_viewer)
        self._labels: list[Labels] = []
        self._points: list[Points] = []
        self._hooked: set[int] = set()
        # the labels and landmarks layers the label choices were last read for: np.unique over a (T, H, W) layer ran on
        # every layer inserted (five times as a result is shown, ~0.3 s on the GUI thread at 30x480x640); now when the
        # choice changes and before each evaluation (napari's undo and a paint from code change the data unseen)
        self._inputs_for: tuple | None = None
        self._filled_for: Image | None = None  # the image the labels and landmarks choices were made for
        self.tables: dict[str, list[dict]] = {}  # what is plotted: {method: evaluate rows}
        self._axes: dict = {}
        self._generation = 0
        self._worker = None
        self._again = False  # inputs changed while an evaluation ran: one more when it ends
        self._outside = 0  # landmarks outside the image, left out of the evaluation (said)
        self._exporting = None  # the worker writing a report folder
        self.exported: Path | None = None  # the folder the last export wrote
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.recompute)
        self._build()
        self._start_life()
        self._when_closed(watch_layers(self._viewer, self._on_layers_changed))
        self._viewer.dims.events.current_step.connect(self._update_marker)
        self._viewer.events.theme.connect(self.redraw)
        self._when_closed(lambda: self._viewer.events.theme.disconnect(self.redraw))
        self._when_closed(lambda: self._viewer.dims.events.current_step.disconnect(self._update_marker))
        self._store.changed.connect(self._on_result_changed)
        self._when_closed(lambda: self._store.changed.disconnect(self._on_result_changed))
        self._store.added.connect(self.images.follow)  # a run's result: the dock turns to its image
        self._when_closed(lambda: self._store.added.disconnect(self.images.follow))
        self._when_closed(self.images.share(self._store, self._viewer))  # the image chosen, shared with the other docks
        self._when_closed(self._timer.stop)
        self._when_closed(self._unhook_layers)
        self._on_layers_changed()

    # -- construction ------------------------------------------------------------------------------
    def _build(self) -> None:
        root = scroll_body(self)
        form = QFormLayout()
        root.addLayout(form)
        self.images = ImageChooser(self._on_image_changed)
        self.image_combo = self.images.combo
        form.addRow("image", self.image_combo)
        self.labels_combo = QComboBox()
        self.labels_combo.setToolTip("Manual labels (T, H, W): Dice/HD of the propagated reference labels on every labelled frame")
        self.labels_combo.currentIndexChanged.connect(self._on_inputs_changed)
        self.labels_combo.activated.connect(self._on_labels_chosen)
        form.addRow("manual labels", self.labels_combo)
        self.label_combo = QComboBox()
        self.label_combo.setToolTip("Dice/HD of the foreground or of one label")
        self.label_combo.currentIndexChanged.connect(self.redraw)
        form.addRow("label", self.label_combo)
        self.points_combo = QComboBox()
        self.points_combo.setToolTip("Landmarks (Points with features['id']): TRE")
        self.points_combo.currentIndexChanged.connect(self._on_inputs_changed)
        form.addRow("landmarks", self.points_combo)
        row = QHBoxLayout()
        self.metric_combo = QComboBox()
        self.metric_combo.setAccessibleName("metric")  # (a row of two widgets binds no label)
        for key, (title, _) in report.PLOT_METRICS.items():
            self.metric_combo.addItem(title, key)
        self.metric_combo.setToolTip("The metric drawn (or highlighted) and used by “worst frame”")
        self.metric_combo.currentIndexChanged.connect(self.redraw)
        # until the user (or a script) picks a metric, the dock picks one with values: the first, Dice, once labels
        # are scored, else the first there is
        self._metric_set_by_dock = True
        self._labels_by_user: set[str] = set()  # images whose labels the user chose here: no run's are followed
        self.metric_combo.currentIndexChanged.connect(lambda *_: setattr(self, "_metric_set_by_dock", False))
        self.all_box = QCheckBox("all metrics")
        self.all_box.setChecked(True)
        self.all_box.setToolTip("Small multiples: every metric with values; untick for the chosen one only")
        self.all_box.toggled.connect(self.redraw)
        row.addWidget(self.metric_combo, 1)
        row.addWidget(self.all_box)
        form.addRow("metric", row)

        self.figure = Figure(figsize=(4.2, 4.8), dpi=100)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.canvas.setMinimumHeight(320)
        self.canvas.mpl_connect("button_press_event", self._on_canvas_click)
        self.canvas.mpl_connect("draw_event", self._on_canvas_drawn)
        self._background = None  # the figure as last drawn, without the frame markers (blitted over it)
        root.addWidget(self.canvas, 1)

        row = QHBoxLayout()
        self.worst_btn = QPushButton("jump to worst frame")
        self.worst_btn.setToolTip("Go to the frame with the worst value of the chosen metric (latest result)")
        self.worst_btn.clicked.connect(self.jump_to_worst)
        self.refresh_btn = QPushButton("refresh")
        self.refresh_btn.clicked.connect(self.recompute)
        self.export_btn = QPushButton("export report…")
        self.export_btn.setToolTip("Write a folder: per-frame CSV, plots PNG, landmarks, TRE tables, JSON of methods and versions")
        self.export_btn.clicked.connect(self._on_export_clicked)
        for b in (self.worst_btn, self.refresh_btn, self.export_btn):
            row.addWidget(b)
        enable(self.worst_btn, False, NO_RESULT)  # until there are results (redraw)
        enable(self.export_btn, False, NO_RESULT)
        root.addLayout(row)
        self.status_label = StatusLabel("")
        root.addWidget(self.status_label)
        report.draw_metrics(self.figure, {}, theme=self._theme())

    # -- inputs ------------------------------------------------------------------------------------
    def _on_layers_changed(self, event=None) -> None:
        self.images.refresh(self._viewer.layers)
        self._on_image_changed()

    def current_image(self) -> Image | None:
        return self.images.current()

    def _fill(self, combo: QComboBox, layers: list, preferred: str | None, keep: bool = True) -> list:
        """List ``layers`` in ``combo``: the layer chosen before if ``keep`` (the same image), else the image's own
        (``preferred``), else none."""
        old = combo.currentText() if keep else None
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(NONE)
        for ly in layers:
            combo.addItem(ly.name)
        names = [ly.name for ly in layers]
        want = old if old in names else (preferred if preferred in names else NONE)
        combo.setCurrentIndex(combo.findText(want))
        combo.blockSignals(False)
        return layers

    def _on_image_changed(self, *_) -> None:
        img = self.current_image()
        self.images.show_chosen(self._viewer.layers)
        shape = None if img is None else frames_shape(img)
        lys = list(self._viewer.layers)
        labels = [ly for ly in lys if isinstance(ly, Labels) and not is_result(ly)
                  and shape is not None and tuple(ly.data.shape) == shape]
        # tracked points are the result's own output: scored against it, its TRE is 0 (not landmarks placed by hand)
        points = [ly for ly in lys if isinstance(ly, Points) and ly.ndim == 3 and "id" in ly.features
                  and not ly.metadata.get(TRACKED_KEY)]
        base = img.name if img is not None else ""
        # another image: its own labels and landmarks (another image's kept chosen gave its TRE and Dice to this one)
        same = img is not None and img is self._filled_for
        another = img is not self._filled_for
        self._filled_for = img
        # the labels its last run in the Register dock had (the propagated labels shown are theirs), else its own
        used = self._store.labels_used(base) if img is not None else None
        self._labels = self._fill(self.labels_combo, labels, used if used in [ly.name for ly in labels]
                                  else f"{base} labels", keep=same)
        self._points = self._fill(self.points_combo, points, f"{base} {LANDMARKS}", keep=same)
        for ly in labels + points:
            if id(ly) not in self._hooked:
                self._hooked.add(id(ly))
                ly.events.data.connect(self._on_layer_data)
                if isinstance(ly, Labels):  # the brush and the fill edit in place, without a data event
                    ly.events.paint.connect(self._on_layer_data)
        # not for every layer inserted; for another image always (one without labels or landmarks, turned to after a
        # run, kept "no registration result for this image yet" beside its result: its inputs were the same, none)
        if another or (self.current_labels(), self.current_points()) != self._inputs_for:
            self._on_inputs_changed()

    def _unhook_layers(self) -> None:
        """The dock is closed: the labels and landmark layers' edits no longer re-evaluate."""
        for ly in self._viewer.layers:
            if id(ly) in self._hooked:
                ly.events.data.disconnect(self._on_layer_data)
                if isinstance(ly, Labels):
                    ly.events.paint.disconnect(self._on_layer_data)
        self._hooked.clear()

    def _on_layer_data(self, event=None) -> None:
        layer = getattr(event, "source", None)
        if layer is None or layer.name in (self.labels_combo.currentText(), self.points_combo.currentText()):
            self._timer.start()  # the evaluation re-reads the label choices (the data is written after a paint event)

    def _on_labels_chosen(self, *_) -> None:
        """The user chose labels here: kept for this image, whatever a run in the Register dock had."""
        img = self.current_image()
        if img is not None:
            self._labels_by_user.add(img.name)

    def _on_result_changed(self, image: str, method: str) -> None:
        img = self.current_image()
        if img is not None and img.name == image:
            # the labels the run had (chosen in the Register dock), unless the user chose labels here for this image:
            # a second run with others kept the first's, scored against the propagated labels of the second
            used = self._store.labels_used(image)
            i = self.labels_combo.findText(used) if used is not None else -1
            if i > 0 and image not in self._labels_by_user:
                self.labels_combo.setCurrentIndex(i)
            self._timer.start()

    def _on_inputs_changed(self, *_) -> None:
        self._inputs_for = (self.current_labels(), self.current_points())
        self._timer.start()  # recompute reads the label choices (once: np.unique over the whole layer)

    def _refresh_label_choices(self) -> None:
        """The label combo: the ids in the chosen labels layer now."""
        lab = self.current_labels()
        ids = [] if lab is None else [int(k) for k in np.unique(np.asarray(lab.data)) if k != 0]
        old = self.label_combo.currentData()
        self.label_combo.blockSignals(True)
        self.label_combo.clear()
        self.label_combo.addItem(ALL_LABELS, None)
        names = self.label_names()
        for k in ids:
            self.label_combo.addItem(f"{k}: {names[k]}" if k in names else str(k), k)
        self.label_combo.setCurrentIndex(max(0, self.label_combo.findData(old)) if old is not None else 0)
        self.label_combo.setEnabled(len(ids) > 1)
        self.label_combo.blockSignals(False)

    def label_names(self) -> dict:
        """``{id: name}`` of the chosen labels layer (its ``label_names``: a sample's, the expert's contours')."""
        lab = self.current_labels()
        return names_by_id(lab.metadata.get("label_names")) if lab is not None else {}

    def current_labels(self) -> Labels | None:
        i = self.labels_combo.currentIndex() - 1
        return self._labels[i] if 0 <= i < len(self._labels) else None

    def current_points(self) -> Points | None:
        i = self.points_combo.currentIndex() - 1
        return self._points[i] if 0 <= i < len(self._points) else None

    def results(self) -> dict:
        img = self.current_image()
        if img is None:
            return {}
        return {m: r for m, r in self._store.for_image(img.name).items() if fits(r, img)}

    def _inputs(self):
        lab = self.current_labels()
        labels = None if lab is None else np.asarray(lab.data).astype(np.int32, copy=False)
        pts = self.current_points()
        img = self.current_image()
        landmarks = (None if pts is None or not len(pts.data)
                     else points_with_ids(image_points(pts, img), {"features": pts.features}))
        self._outside = 0
        if landmarks is not None and img is not None:  # a point napari let fall off the image: left out, said (the
            # evaluation refused them all, and every curve with them)
            inside = landmarks_inside(landmarks, frames_shape(img)[1:])
            self._outside = int((~inside).sum())
            landmarks = landmarks[inside]
        spacing, unit = layer_spacing(img) if img is not None else (None, "px")
        # the results were measured in their own pixel size: the axes say the latest's, unless one is the layer's (a
        # scale changed after a run gave px axes beside the Landmarks dock's mm; the oldest's labelled them all)
        own = [(r.spacing, r.unit) for r in self.results().values() if r.spacing is not None]
        if own and (spacing, unit) not in own:
            spacing, unit = own[-1]
        return labels, landmarks, spacing, unit

    def frame_ms(self) -> float | None:
        """Milliseconds between frames: the results' source's (their provenance), else the image's reader's."""
        img = self.current_image()
        ms = report.frame_time_ms(*self.results().values())
        return ms if ms is not None or img is None else frame_time_ms(plugin_info(img))

    # -- evaluation --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None or self._timer.isActive()

    def recompute(self) -> None:
        """Evaluate every result of the image (in a worker thread), then redraw."""
        self._timer.stop()
        self._refresh_label_choices()  # the data may have changed since (an undo sends no event)
        results = self.results()
        self._generation += 1
        gen = self._generation
        if not results:
            self.tables = {}
            self.redraw()
            self._status("no registration result for this image yet: run “Register sequence”")
            return
        if self._worker is not None:  # one evaluation at a time: the newest inputs once the one running ends (each
            # landmark click or brush stroke started another, never stopped: 47 for 15 pairs, 866 s of CPU, and a
            # registration waited 7 minutes behind them)
            self._again = True
            self._status(f"evaluating {len(results)} result(s)… (again for the latest edit)")
            return
        labels, landmarks, spacing, _ = self._inputs()
        self._status(f"evaluating {len(results)} result(s)…")
        # errors go to _on_error only (superqt would re-raise them in the main thread too: a second, raw notification)
        worker = create_worker(report.per_frame_tables, results, labels=labels, landmarks=landmarks,
                               spacing=spacing, _start_thread=False, _ignore_errors=True)
        # a closed dock or viewer drops what comes back (its combos are gone)
        worker.returned.connect(lambda tables: self.live and self._on_tables(gen, tables))
        worker.errored.connect(lambda exc: self.live and self._on_error(gen, exc))
        worker.finished.connect(lambda: self._on_worker_done(worker))  # no Qt object touched
        self._worker = worker
        if not self.tables:  # the figure says so too (it said "register a sequence first")
            self.redraw()
        start_held(worker)

    def _on_worker_done(self, worker) -> None:
        if self._worker is worker:
            self._worker = None
            if self._again and self.live:
                self._again = False
                self.recompute()
            elif self.live and not self.tables:  # it failed: the figure no longer says "evaluating" (diff review)
                self.redraw()

    def _on_tables(self, gen: int, tables: dict) -> None:
        if gen != self._generation:
            return  # inputs changed meanwhile; a newer run is coming
        self.tables = tables
        avail = report.available_metrics(tables)
        if avail and self._metric_set_by_dock:  # (Dice without labels: an empty panel, and no worst frame)
            self.metric_combo.blockSignals(True)
            self.metric_combo.setCurrentIndex(self.metric_combo.findData(avail[0]))
            self.metric_combo.blockSignals(False)
        self.redraw()
        off = self._outside
        self._status(f"{len(tables)} result(s): " + ", ".join(tables) + " — click a curve to go to that frame"
                     + (f" ({off} landmark{'s' * (off > 1)} outside the image left out)" if off else ""))

    def _on_error(self, gen: int, exc: BaseException) -> None:
        if gen != self._generation:
            return
        self.tables = {}
        self.redraw()
        self._error(f"evaluation failed: {exc}")

    # -- drawing -----------------------------------------------------------------------------------
    def metrics_shown(self) -> list[str]:
        chosen = self.metric_combo.currentData()
        if self.all_box.isChecked():
            avail = report.available_metrics(self.tables)
            return avail or [chosen]
        return [chosen]

    def redraw(self, *_) -> None:
        # without a result (or its tables) these did nothing but say so
        enable(self.export_btn, bool(self.results()) and self._exporting is None,
               NO_RESULT if not self.results() else "a report is being written")
        enable(self.worst_btn, bool(self.tables), NO_RESULT)
        _, _, spacing, unit = self._inputs()
        self._axes = report.draw_metrics(self.figure, self.tables, self.metrics_shown(), label=self.label_combo.currentData(),
                                         label_names=self.label_names(),
                                         physical=spacing is not None, unit=unit, current=self._frame_now(),
                                         frame_ms=self.frame_ms(), theme=self._theme(), **self._empty_text())
        chosen = self.metric_combo.currentData()
        for ax, m in self._axes.items():
            if m == chosen and len(self._axes) > 1:
                ax.title.set_fontweight("bold")
        for mk in getattr(self.figure, "_tlreg_markers", []):
            mk.set_animated(True)  # left out of full draws: moved by blitting (_update_marker)
        self._background = None
        self.canvas.draw_idle()

    def _theme(self) -> tuple[str, str]:
        """The viewer's theme's background and text colours, for the figure (it stayed white on napari's dark theme)."""
        theme = get_theme(self._viewer.theme)
        return theme.background.as_hex(), theme.text.as_hex()

    def _empty_text(self) -> dict:
        """What the figure says while it has nothing to draw and results are being evaluated (it said "register a
        sequence first" for the 86 s a 32x2048x2048 result took; large-data review)."""
        if self.busy and not self.tables and self.results():
            return {"empty": f"evaluating {len(self.results())} result(s)…"}
        return {}

    def _on_canvas_drawn(self, event=None) -> None:
        """After a full draw: keep the picture without the frame markers, then draw them on it."""
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self._draw_markers()

    def _draw_markers(self) -> None:
        """The frame markers over the picture, and each axes' curves, points and values over them again: a band blitted
        last hid the points of the frame it marks (a pair of expert contours, ED and ES: the Dice, HD and TRE panels
        looked empty on the frame "jump to worst frame" went to)."""
        for mk in getattr(self.figure, "_tlreg_markers", []):
            ax = mk.axes
            ax.draw_artist(mk)
            for artist in (*ax.collections, *ax.lines, *ax.texts):
                if artist is not mk and artist.get_visible() and not artist.get_animated():
                    ax.draw_artist(artist)

    def _frame_now(self) -> int | None:
        """The frame the viewer shows, of the chosen image (None without one)."""
        img = self.current_image()
        return None if img is None or not self._viewer.dims.ndim else current_frame(self._viewer, img)

    def _update_marker(self, *_) -> None:
        """Move the frame markers to the viewer's frame. Only they are redrawn, over the figure as last drawn: a full
        draw on every step of the slider took 100-400 ms (scrubbing ran at ~5 fps with the dock open)."""
        markers = getattr(self.figure, "_tlreg_markers", [])
        if not markers:
            return
        t = self._frame_now()
        for mk in markers:
            mk.set_xdata([t, t])
        if not self.canvas.isVisible():  # nothing on screen to change (a hidden dock blits them when shown)
            return
        if self._background is None:  # not drawn yet: the coming full draw shows them
            self.canvas.draw_idle()
            return
        self.canvas.restore_region(self._background)
        self._draw_markers()
        # shown at Qt's next paint, not now: blit() repaints at once, inside the dims event of a layer being removed,
        # and napari's layer list, painted with it while half removed, raised (or aborted Python: "select all, delete")
        self.canvas.update()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._update_marker()

    def _on_canvas_click(self, event) -> None:
        if event.inaxes is None or event.inaxes not in self._axes or event.xdata is None:
            return
        T = max((len(rows) for rows in self.tables.values()), default=0)
        if not T:
            return
        self.go_to_frame(int(np.clip(round(event.xdata), 0, T - 1)))

    def go_to_frame(self, t: int) -> None:
        img = self.current_image()
        if img is None:
            return
        show_frame(self._viewer, img, t)
        hidden = frame_not_shown(self._viewer, img)
        if hidden is not None:  # (the slider moved an axis the canvas draws whole: nothing changed)
            self._status(f"frame {t}: not shown, {hidden}")

    def jump_to_worst(self) -> int | None:
        """Go to the worst frame of the chosen metric for the latest result; returns it (or ``None``)."""
        if not self.tables:
            self._status("nothing to jump to: no results evaluated")
            return None
        metric = self.metric_combo.currentData()
        if self.all_box.isChecked() and metric not in report.available_metrics(self.tables):
            avail = report.available_metrics(self.tables)
            metric = avail[0] if avail else metric
        name, rows = list(self.tables.items())[-1]
        label = self.label_combo.currentData()
        t = report.worst_frame(rows, metric, label)
        if t is None:
            self._status(f"no {report.PLOT_METRICS[metric][0]} values for {name}")
            return None
        _, _, spacing, unit = self._inputs()
        # in the plot's unit (it plots mm or m when the image has a pixel size): "1.27" beside a plot of 12.7 m
        tt, v, physical = report.metric_series(rows, metric, label, physical=spacing is not None)
        shown = f"{v[list(tt).index(t)]:.4g}"
        if metric in ("hd", "hd95", "tre"):
            shown += f" {unit if physical else 'px'}"
        self.go_to_frame(t)
        hidden = frame_not_shown(self._viewer, self.current_image())
        ms = self.frame_ms()
        self._status(f"worst {report.PLOT_METRICS[metric][0]} of {name}: {shown} at frame {t}"
                     + (f" ({t * ms:.0f} ms)" if ms is not None else "")
                     + (f" (not shown: {hidden})" if hidden else ""))
        return t

    # -- export ------------------------------------------------------------------------------------
    def _ask_folder(self) -> str:
        img = self.current_image()
        default = file_name(img.name if img is not None else "sequence", "_report")
        path, _ = QFileDialog.getSaveFileName(self, "Export report folder", default, "Report folder (*)")
        return path

    def _on_export_clicked(self) -> None:
        path = self._ask_folder()
        if path:
            self.export(path)

    @property
    def exporting(self) -> bool:
        return self._exporting is not None

    def export(self, folder):
        """Write the report folder of every result of this image (atomically), in a worker thread.

        The tables, when the plots are not up to date, and the plots' PNG are computed there: on the GUI thread they
        froze the viewer for 4-40 s (20x256² to 200x256² frames). Returns the worker (started), or None when nothing is
        exported; :attr:`exported` is the folder once it is written.
        """
        results = self.results()
        if not results:
            self._error("nothing to export: run “Register sequence” first")
            return None
        if self._exporting is not None:
            self._error("a report is being written: wait for it to end")
            return None
        labels, landmarks, spacing, unit = self._inputs()
        if labels is not None:  # the layer's own array (int32): painting during the export must not change it
            labels = labels.copy()
        img = self.current_image()
        source = (plugin_info(img).get("source") or img.name) if img is not None else None
        tables = self.tables if set(self.tables) == set(results) and not self.busy else None
        said: list[str] = []  # the write's warnings (a worker's reach no one)
        if self._outside:  # said with the report too, and in it (its landmarks.csv lacked the point without a word)
            said.append(f"{self._outside} landmark{'s' * (self._outside > 1)} outside the image left out")
        worker = create_worker(report.export_report, results, folder, labels=labels, landmarks=landmarks,
                               spacing=spacing, unit=unit, label=self.label_combo.currentData(), source=source,
                               tables=tables, label_names=self.label_names(), frame_ms=self.frame_ms(),
                               on_warning=said.append,
                               extra={"image_layer": img.name if img is not None else None,
                                      **({"landmarks_outside_left_out": self._outside} if self._outside else {})},
                               _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda out: self.live and self._on_exported(out, said))
        worker.errored.connect(lambda exc: self.live and self._error(f"export failed: {exc}"))
        worker.finished.connect(lambda: self._on_export_done(worker))
        self._exporting = worker
        self.exported = None
        enable(self.export_btn, False, "a report is being written")
        self._status(f"writing the report to {folder}…")
        start_held(worker)
        return worker

    def _on_exported(self, out: Path, said: list[str] = ()) -> None:
        self.exported = Path(out)
        for text in said:  # files of the user's the write could not keep in the folder
            show_warning(f"Evaluation plots: {text}")
        self._status(f"report written to {out}" + "".join(f"; {text}" for text in said))

    def _on_export_done(self, worker) -> None:
        if self._exporting is worker:
            self._exporting = None
            if self.live:
                enable(self.export_btn, bool(self.results()), NO_RESULT)

    # -- messages ----------------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.status_label.setText(text)

    def _error(self, text: str) -> None:
        self._status(text)
        show_error(f"Evaluation plots: {text}")
