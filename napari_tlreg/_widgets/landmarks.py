"""The "Landmarks & TRE" dock widget: place landmark pairs, see their TRE, track reference points.

Qt code only. The landmarks of image ``X`` live in their own Points layer ``"X landmarks"``
(``(t, row, col)``, ids in ``features["id"]``), which the Register widget never touches, so a
re-run keeps them. Pairing rules, undo and every number come from :mod:`napari_tlreg.landmarks`
(no Qt); the registration results come from the viewer's result store (:mod:`.store`).

Pairing mode (the layer is made active, in pan/zoom mode, and a click that is not a drag
places a point): click on the reference frame to start landmark ``#k`` (next id), then on
another frame for its partner. Keys on the layer: ``n`` / ``b`` next / previous frame,
``m`` or ``Shift-N`` next landmark, ``Ctrl-Z`` undo.
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Points
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
# not napari.qt.threading's create_worker: its task-status registry kept every worker, and with it every run's
# arguments (results, frame copies)
from superqt.utils import create_worker

from napari_tlreg import landmarks as LM
from napari_tlreg._hooks import IN_PIXELS, points_with_ids, spacing_of
from napari_tlreg.io import load_points_csv, save_points_csv
from napari_tlreg.metrics import landmarks_inside
from napari_tlreg.report import check_annotations

from .chooser import (ClosingDock, ImageChooser, StatusLabel, current_frame, enable, file_name, frame_not_shown,
                      frames_shape, is_result,
                      scroll_body, show_frame, start_held, start_reference, watch_layers)
from .store import fits, store_for, unwrap

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["LandmarkWidget", "LANDMARKS", "TRACKED", "layer_spacing"]

LANDMARKS = "landmarks"  # layer "<image> landmarks"
TRACKED = "tracked"  # layer "<image> tracked"
TRACKED_KEY = "napari_tlreg_tracked"
#: metadata key of a tracked layer: a weak reference to the result its points followed
TRACKED_FROM = "napari_tlreg_tracked_from"
NO_RESULT = "none (before registration only)"
REF_COLOR = (0.0, 0.85, 1.0, 1.0)  # cyan: on the reference
# lime: on another frame (orange is the LV cavity's fill: a landmark in it showed only as its outline)
PARTNER_COLOR = (0.6, 1.0, 0.0, 1.0)
ORPHAN_COLOR = (0.6, 0.6, 0.6, 1.0)  # grey: no partner on the reference
ACTIVE_BORDER = (1.0, 1.0, 1.0, 1.0)
BORDER = (0.0, 0.0, 0.0, 1.0)
# the errors next to the ids, the positions after them (a narrow dock shows what matters without scrolling)
#: (the TRE columns' headers short, their meaning in their tooltips: "TRE before (mm)" left "ref ro" cut off at 1920 px)
PAIR_COLUMNS = ("id", "t", "before (px)", "after (px)", "row", "col", "ref row", "ref col")
_PAIR_ORDER = (0, 1, 6, 7, 2, 3, 4, 5)  # the cells below are built as id, t, row, col, ref row, ref col, TRE b/a
STAT_ROWS = ("n", "mean", "std", "max", "dx", "dy", "ds")


def tre_line(row: dict | None, frames: str, unit: str | None, registered: bool) -> str:
    """The TRE summary in one line (the dock's top): mean after and before registration over ``frames``, in pixels and
    in ``unit`` when the image has a pixel size."""
    if row is None or not row.get("n"):
        return ""

    def mean(when):
        px = _fmt(row.get(f"{when}_mean"), 2, small=True)
        return px + " px" + (f" ({_fmt(row.get(f'{when}_mean_mm'), 2, small=True)} {unit})" if unit else "")

    pairs = f"{row['n']} pair{'s' * (row['n'] != 1)}, {frames}"
    if not registered:
        return f"TRE mean {mean('before')} before registration ({pairs})"
    return f"TRE mean {mean('after')} after, {mean('before')} before registration ({pairs})"


def _fmt(v, digits: int = 2, small: bool = False) -> str:
    """``v`` with ``digits`` decimals; ``small``: a value those decimals round to 0 with ``digits`` significant ones
    (a TRE of a micrometre pixel's fraction, 0.0004 mm, read "0.000")."""
    if v is None:
        return ""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not np.isfinite(f):
        return "—" if np.isnan(f) else "inf"
    if small and f != 0 and abs(f) < 0.5 * 10.0 ** -digits:
        return f"{f:.{digits}g}"
    return f"{f:.{digits}f}"


def _item(text: str, data: Any = None) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
    it.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
    if data is not None:
        it.setData(Qt.ItemDataRole.UserRole, data)
    return it


def _inside_or_said(table: np.ndarray, image) -> None:
    """``ValueError`` naming the first landmark of ``table`` ``(id, t, row, col)`` that lies outside ``image``'s
    frames: one added with napari's own Points tool off the image was taken (a TRE of 394 px), then saved in a CSV
    that the dock and the CLI refuse (a click of the dock's own is refused as it comes)."""
    if image is None or not len(table):
        return
    h, w = frames_shape(image)[1:]
    outside = ~landmarks_inside(table, (h, w))
    if outside.any():
        pid, t, r, c = table[np.flatnonzero(outside)[0]]
        raise ValueError(f"landmark id {pid:g} on frame {t:g} at (row {r:.1f}, col {c:.1f}) lies outside the {h}x{w} "
                         "image: move it onto the image, or delete it")


def transform_of(layer) -> dict[str, Any]:
    """The rotation, shear and affine napari draws ``layer`` with besides its scale and translate: the layers drawn
    on an image (its results, landmarks and tracks) take them too (an image rotated by 30° had its overlays drawn
    upright beside it, and the landmarks clicked on it read as other pixels). And its ``units``: layers of other
    units than the image's made napari drop the units of them all (the scale bar's "5 µm" became "5")."""
    out = {"rotate": np.asarray(layer.rotate), "shear": np.asarray(layer.shear), "affine": layer.affine.affine_matrix}
    units = getattr(layer, "units", None)
    return out if units is None else {**out, "units": tuple(units)}


def image_points(points: Points, image: Image | None, data=None) -> np.ndarray:
    """``data`` (default: the layer's) of the Points layer ``points`` as ``(t, row, col)`` pixels of ``image``: through
    the world napari draws both in, where the two layers are drawn differently (a points layer at scale 1 over an
    image at 2 mm, whose points lay on its landmarks, was read as pixels: a TRE of 4.5 px for 0). ``ValueError``
    for points that are not ``(t, row, col)``."""
    if points.ndim != 3:
        raise ValueError(f"'{points.name}' holds {points.ndim}-D points; landmarks are (t, row, col)")
    data = np.asarray(points.data if data is None else data, dtype=float)
    if image is None or not len(data) or _in_pixels(points, image):
        return data
    return to_world(image).inverse(to_world(points)(data))


def layer_points(points: Points, image: Image | None, data) -> np.ndarray:
    """``(t, row, col)`` pixels of ``image`` as the data of the Points layer ``points`` (:func:`image_points`'s
    inverse)."""
    data = np.asarray(data, dtype=float)
    if image is None or not len(data) or _in_pixels(points, image):
        return data
    return to_world(points).inverse(to_world(image)(data))


def _in_pixels(points, image) -> bool:
    """Whether ``points``' data are ``image``'s pixels as they are: a layer napari-tlreg made (a scale set on the
    image afterwards doubled every landmark when its layer was read through the world), or one drawn as the image."""
    return bool(points.metadata.get(IN_PIXELS)) or (
        points.ndim == image.ndim and np.allclose(to_world(points).affine_matrix, to_world(image).affine_matrix))


def to_world(layer):
    """The transform napari draws ``layer``'s data with, ``affine * (rotate * shear * scale + translate)``, from the
    layer's public properties (its private ``_data_to_world``, through the viewer napari hands a plugin, warned of
    on every save, track and export: "unavailable no earlier than 0.10.0")."""
    from napari.utils.transforms import Affine

    inner = Affine(scale=layer.scale, translate=layer.translate, rotate=layer.rotate, shear=layer.shear, ndim=layer.ndim)
    return layer.affine.compose(inner)


def layer_spacing(layer) -> tuple[tuple[float, float] | None, str]:
    """``(spacing, unit)`` of an image layer (:func:`napari_tlreg._hooks.spacing_of`: the scale napari draws it at, in
    its reader's unit, or in the length units set on the layer); ``(None, "px")`` for a sequence in pixels."""
    return spacing_of(layer.scale, layer.metadata, getattr(layer, "units", None))


def follow_image_name(layers, old: str, new: str) -> None:
    """An image renamed ``old`` -> ``new`` takes its landmark layer and its tracked points along (the Landmarks dock,
    or the viewer's store while no Landmarks dock is open: a dock reopened after found no landmarks)."""
    for suffix in (LANDMARKS, TRACKED):
        src, dst = f"{old} {suffix}", f"{new} {suffix}"
        if src in layers and dst not in layers and (suffix == LANDMARKS or layers[src].metadata.get(TRACKED_KEY)):
            layers[src].name = dst


class LandmarkWidget(ClosingDock, QWidget):
    """Landmark pairs per sequence, their TRE before/after registration, and point tracking."""

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self._viewer = unwrap(napari_viewer)
        self._store = store_for(napari_viewer)
        self._models: dict[str, LM.LandmarkModel] = {}
        #: images whose landmarks layer could not be read (a NaN id): the dock does not write its model over the layer
        self._unread: set[str] = set()
        self._syncing = False
        self._hooked: set[int] = set()  # ids of landmark layers whose events/keys we connected
        self._pairing_layer: Points | None = None
        self._worker = None
        self._refused: np.ndarray | None = None  # the last landmarks table refused (said once)
        self._misfits: set[int] = set()  # ids of landmark layers that are not (t, row, col) (said once)
        self._setting_reference = False  # the reference set by the dock itself (a result's, the Register dock's)
        self._reference_of = None  # the image the reference was last set for
        self._build()
        self._start_life()
        self._when_closed(watch_layers(self._viewer, self._on_layers_changed))
        self._viewer.dims.events.current_step.connect(self._update_hint)
        self._when_closed(lambda: self._viewer.dims.events.current_step.disconnect(self._update_hint))
        self._store.changed.connect(self._on_result_changed)
        self._store.added.connect(self._on_result_added)
        self._store.renamed.connect(self._on_layer_renamed)
        self._store.planned.connect(self._on_planned)
        self._store.running.connect(self._on_result_selected)
        self._when_closed(self._disconnect_all)
        store = self._store
        store.landmark_docks += 1  # it takes its images' landmark layers along when they are renamed, while open
        self._when_closed(lambda: setattr(store, "landmark_docks", store.landmark_docks - 1))
        self._when_closed(self.images.share(self._store, self._viewer))  # the image chosen, shared with the other docks
        self._when_closed(self._unhook_layers)  # its keys, its click in pairing mode
        # napari's features table edits the ids in place (layer.features.iloc[...] = id), with no event: looked for
        # every EDIT_POLL_MS while the dock is open, and before each of its actions (model())
        self._edit_poll = QTimer(self)
        self._edit_poll.setInterval(self.EDIT_POLL_MS)
        self._edit_poll.timeout.connect(self._adopt_in_place_edits)
        self._edit_poll.start()
        self._when_closed(self._edit_poll.stop)
        self._on_layers_changed()

    #: ms between looks at the landmarks layer for ids edited in place (a comparison of a few hundred numbers)
    EDIT_POLL_MS = 1000

    # -- construction ------------------------------------------------------------------------------
    def _build(self) -> None:
        root = scroll_body(self)
        form = QFormLayout()
        root.addLayout(form)
        self.images = ImageChooser(self._on_image_changed, "Image sequence (T, H, W); its landmarks are the Points layer “<image> landmarks”")
        self.image_combo = self.images.combo
        form.addRow("image", self.image_combo)
        self.result_combo = QComboBox()
        self.result_combo.setToolTip("Registration result (one per method run on this image) used for TRE and tracking")
        self.result_combo.currentIndexChanged.connect(self._on_result_selected)
        form.addRow("result", self.result_combo)
        self.reference_spin = QSpinBox()
        self.reference_spin.setToolTip("Reference frame of the pairs (the result's, when one is chosen)")
        self.reference_spin.valueChanged.connect(self._on_reference_changed)
        form.addRow("reference", self.reference_spin)
        # the figure the dock is for, on screen with three docks stacked (the TRE box below is scrolled out of view on
        # a laptop's screen, and the pairs table but for a row)
        self.tre_line = StatusLabel("")
        self.tre_line.setAccessibleName("TRE summary")
        root.addWidget(self.tre_line)

        pair_box = QGroupBox("place pairs")
        pl = QVBoxLayout(pair_box)
        row = QHBoxLayout()
        self.pairing_box = QCheckBox("pairing mode")
        self.pairing_box.setToolTip("Click on the reference frame, then on another frame: a pair with one id")
        self.pairing_box.toggled.connect(self._on_pairing_toggled)
        self.advance_box = QCheckBox("auto-advance")
        self.advance_box.setChecked(True)
        self.advance_box.setToolTip("After a click, go to the frame where the next click is expected")
        row.addWidget(self.pairing_box)
        row.addWidget(self.advance_box)
        row.addStretch(1)
        pl.addLayout(row)
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        pl.addWidget(self.hint_label)
        row = QHBoxLayout()
        self.prev_btn = QPushButton("◀ frame (b)")
        self.prev_btn.setAccessibleName("previous frame (B)")  # (read as "black left-pointing triangle")
        self.prev_btn.clicked.connect(lambda: self.step_frame(-1))
        self.next_btn = QPushButton("frame ▶ (n)")
        self.next_btn.setAccessibleName("next frame (N)")
        self.next_btn.clicked.connect(lambda: self.step_frame(1))
        self.next_landmark_btn = QPushButton("next landmark (m)")
        self.next_landmark_btn.clicked.connect(self.next_landmark)
        for b in (self.prev_btn, self.next_btn, self.next_landmark_btn):
            row.addWidget(b)
        pl.addLayout(row)
        row = QHBoxLayout()
        self.undo_btn = QPushButton("undo (Ctrl+Z)")
        self.undo_btn.setToolTip("Undo the last change to the landmarks (placed, moved, deleted, loaded)")
        self.undo_btn.clicked.connect(self.undo)
        self.delete_btn = QPushButton("delete point")
        self.delete_btn.setToolTip("Delete the point of the selected table row")
        self.delete_btn.clicked.connect(self.delete_selected)
        self.load_btn = QPushButton("load CSV…")
        self.load_btn.clicked.connect(self._on_load_clicked)
        self.save_btn = QPushButton("save CSV…")
        self.save_btn.clicked.connect(self._on_save_clicked)
        for b in (self.undo_btn, self.delete_btn, self.load_btn, self.save_btn):
            row.addWidget(b)
        pl.addLayout(row)
        root.addWidget(pair_box)

        self.pairs_table = QTableWidget(0, len(PAIR_COLUMNS))
        self.pairs_table.setAccessibleName("landmark pairs")
        self.pairs_table.setHorizontalHeaderLabels(PAIR_COLUMNS)
        self.pairs_table.verticalHeader().setVisible(False)
        self.pairs_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.pairs_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # sized to the contents once a refresh (ResizeToContents measured every row at each cell set: with a row
        # selected a refresh of 200 pairs froze the viewer 6 s, each point moved or placed, each run)
        self.pairs_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.pairs_table.setMinimumHeight(180)
        # Tab goes on to the next control (Qt's tables keep it, wrapping round their cells: the TRE table, tracking
        # and the plots dock were out of a keyboard's reach); the arrows move between cells
        self.pairs_table.setTabKeyNavigation(False)
        self.pairs_table.itemSelectionChanged.connect(self._on_row_selected)
        self.pairs_table.setToolTip("Pairs: a landmark q on a frame and its partner p on the reference; TRE in the "
                                    "image's unit (pixels where it has no pixel size), measured on the reference: "
                                    "|q + u(q) − p|, where the field carries q. A tracked reference point (the "
                                    "inverse map) can lie a little nearer or farther from q on its frame")
        root.addWidget(self.pairs_table, 2)

        tre_box = QGroupBox("TRE (target registration error)")
        tl_ = QVBoxLayout(tre_box)
        row = QHBoxLayout()
        row.addWidget(QLabel("frames"))
        self.tre_frame_combo = QComboBox()
        self.tre_frame_combo.setAccessibleName("TRE frames")
        self.tre_frame_combo.currentIndexChanged.connect(self._refresh_tre)
        row.addWidget(self.tre_frame_combo, 1)
        tl_.addLayout(row)
        self.tre_table = QTableWidget(len(STAT_ROWS), 2)
        self.tre_table.setAccessibleName("TRE statistics")
        self.tre_table.setVerticalHeaderLabels(STAT_ROWS)
        self.tre_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.tre_table.setMinimumHeight(self.tre_table.verticalHeader().defaultSectionSize() * (len(STAT_ROWS) + 1) + 6)
        self.tre_table.setTabKeyNavigation(False)
        self.tre_table.setToolTip("mean/std/max of the Euclidean error; dx = mean |Δcol|, dy = mean |Δrow|, ds = mean distance")
        tl_.addWidget(self.tre_table)
        root.addWidget(tre_box)

        row = QHBoxLayout()
        self.track_btn = QPushButton("track reference points")
        self.track_btn.setToolTip("Follow the landmarks placed on the reference through every frame (layer “<image> "
                                  "tracked”: the q with q + u(q) = p). TRE is measured on the reference (|q + u(q) − p| "
                                  "for your q), so a tracked cross's distance from your point can differ from it")
        self.track_btn.clicked.connect(self.track)
        row.addWidget(self.track_btn)
        root.addLayout(row)
        self.status_label = StatusLabel("")
        root.addWidget(self.status_label)

    # -- layers and images -------------------------------------------------------------------------
    def _on_layers_changed(self, event=None) -> None:
        if self._syncing:  # a layer this widget adds itself
            return
        layer = getattr(event, "value", None)
        kind = getattr(event, "type", "")
        if isinstance(layer, Points) and kind in ("inserted", "removed") and layer.name.endswith(f" {LANDMARKS}"):
            # a landmark layer replaced or deleted by the user: its model starts again from the layer (read again)
            self._models.pop(layer.name[: -len(f" {LANDMARKS}")], None)
            self._unread.discard(layer.name[: -len(f" {LANDMARKS}")])
            if kind == "removed":
                self._hooked.discard(id(layer))
        self.images.refresh(self._viewer.layers)
        for ly in self._viewer.layers:  # landmark layers appearing (a sample, a CSV dropped in)
            if isinstance(ly, Points) and ly.name.endswith(f" {LANDMARKS}") and self._fits(ly):
                self._hook_layer(ly)
        source = getattr(event, "source", None)
        if kind == "name" and (isinstance(source, Image) or (source is not None and is_result(source))):
            # an image renamed: the store's ``renamed`` signal (_on_layer_renamed) updates the rest, once; a result
            # layer renamed (following its image) changes nothing here
            return
        self._on_image_changed()

    def _on_layer_renamed(self, old: str, new: str) -> None:
        """An image renamed in the layer list takes its landmark layer (and its pairs) and its tracked points along
        (the next tracking made a second tracked layer under the new name, both drawn)."""
        layers = self._viewer.layers
        layer = layers[new] if new in layers else None
        if not isinstance(layer, Image) or is_result(layer):  # a result layer following its image: nothing to do
            return
        with self._quiet():
            follow_image_name(layers, old, new)
        if old in self._models:
            self._models[new] = self._models.pop(old)
        if old in self._unread:  # its layer not read: left as it is under the new name too (it was emptied)
            self._unread.discard(old)
            self._unread.add(new)
        self._on_image_changed()

    def current_image(self) -> Image | None:
        return self.images.current()

    @property
    def image_name(self) -> str | None:
        img = self.current_image()
        return None if img is None else img.name

    @property
    def n_frames(self) -> int:
        img = self.current_image()
        return 0 if img is None else frames_shape(img)[0]

    def landmarks_layer(self, create: bool = False) -> Points | None:
        """The Points layer ``"<image> landmarks"`` (created, empty, on request)."""
        img = self.current_image()
        if img is None:
            return None
        name = f"{img.name} {LANDMARKS}"
        if name in self._viewer.layers and isinstance(self._viewer.layers[name], Points):
            layer = self._viewer.layers[name]
            return layer if self._fits(layer) else None
        if not create:
            return None
        shape = frames_shape(img)
        with self._quiet():
            layer = self._viewer.add_points(
                np.zeros((0, 3)), name=name, scale=img.scale, translate=img.translate, **transform_of(img),
                features={"id": np.zeros(0, dtype=np.int64)}, feature_defaults={"id": 0},
                size=LM.point_size(shape), ndim=3, metadata={IN_PIXELS: True},
                # rings: a filled disc hid the edge or corner it marks, the very thing placed on (clinician review)
                symbol="ring",
            )
        self._hook_layer(layer)
        return layer

    def _fits(self, layer: Points) -> bool:
        """Whether the landmarks layer holds ``(t, row, col)`` points; said once if not (a 2-D or 4-D layer of that
        name, a CSV of (row, col) opened under it, raised from napari's layer events and was written into)."""
        if layer.ndim == 3:
            return True
        if id(layer) not in self._misfits:
            self._misfits.add(id(layer))
            self._error(f"'{layer.name}' holds {layer.ndim}-D points and is left out; landmarks are (t, row, col) "
                        "points of the image's frames")
        return False

    @staticmethod
    def _style_layer(layer: Points) -> None:
        size = float(layer.current_size)
        layer.text = {"string": "{id}", "size": 9, "color": "white", "anchor": "upper_left",
                      "translation": [0, -size * 0.6, size * 0.6]}
        layer.border_width = 0.15

    def _hook_layer(self, layer: Points) -> None:
        if id(layer) in self._hooked:
            return
        self._hooked.add(id(layer))
        if getattr(layer.text.string, "format", None) != "{id}":  # show the ids (a sample's layer has no text)
            self._style_layer(layer)
        layer.events.data.connect(self._on_layer_data)
        layer.events.features.connect(self._on_layer_features)
        for key, action in self._keys().items():
            layer.bind_key(key, action, overwrite=True)

    def _keys(self) -> dict:
        return {"n": lambda _ly: self.step_frame(1), "b": lambda _ly: self.step_frame(-1),
                "m": lambda _ly: self.next_landmark(), "Shift-N": lambda _ly: self.next_landmark(),
                "Control-Z": lambda _ly: self.undo()}

    def _unhook_layers(self) -> None:
        """The dock is closed: its click, keys and data events leave the landmark layers (they stay, as points)."""
        self._set_pairing(False)
        for layer in self._viewer.layers:
            if id(layer) in self._hooked:
                layer.events.data.disconnect(self._on_layer_data)
                layer.events.features.disconnect(self._on_layer_features)
                for key in self._keys():
                    layer.bind_key(key, None)
        self._hooked.clear()

    def _disconnect_all(self, *_) -> None:
        for signal, slot in ((self._store.changed, self._on_result_changed), (self._store.added, self._on_result_added),
                             (self._store.renamed, self._on_layer_renamed), (self._store.planned, self._on_planned),
                             (self._store.running, self._on_result_selected)):
            try:
                signal.disconnect(slot)
            except Exception:  # noqa: BLE001 - already gone
                pass

    # -- the model of the current image ------------------------------------------------------------
    def model(self) -> LM.LandmarkModel | None:
        name = self.image_name
        if name is None:
            return None
        m = self._models.get(name)
        if m is None:
            m = self._models[name] = LM.LandmarkModel(reference=self.reference)
            layer = self.landmarks_layer()
            if layer is not None:
                try:
                    m.set_table(self._layer_table(layer), undoable=False)
                except ValueError:  # ids of NaN, points not (t, row, col): said, as a layer taken later is (it
                    self._unread.add(name)  # escaped to napari); the layer is left as it is, not emptied
                    self._take_layer(layer)
                    return m
                self._push(create=False)
        else:
            self._adopt_in_place_edits()  # the action that asked acts on the ids the layer holds
        return m

    def _adopt_in_place_edits(self) -> None:
        """The chosen image's landmarks layer, edited without an event (ids changed in place in its features, as
        napari's features table does), taken into the model: the dock scored its own pairs while the plots and the
        report scored the layer's, and its next action wrote its ids back over the edit."""
        self._take_if_changed(self.landmarks_layer(), say_unreadable=False)

    def _take_if_changed(self, layer: Points | None, say_unreadable: bool = True) -> None:
        """``layer`` into its image's model if it holds other landmarks than the model (not again a table refused
        before: said once); ``say_unreadable``: ids that make no table are said (a poll says nothing new)."""
        if layer is None or self._syncing or len(layer.features) != len(layer.data):  # rows and ids out of step
            return
        try:
            table = self._layer_table(layer)
        except ValueError:
            if say_unreadable:
                self._take_layer(layer)  # says why
            return
        refused = self._refused
        if refused is not None and refused.shape == table.shape and np.array_equal(refused, table, equal_nan=True):
            return
        m = self._models.get(layer.name[: -len(f" {LANDMARKS}")])
        if m is None or not np.array_equal(table, m.table):
            self._take_layer(layer)

    def _image_of(self, layer: Points) -> Image | None:
        """The image a landmarks layer ``"<image> landmarks"`` is of."""
        name, layers = layer.name[: -len(f" {LANDMARKS}")], self._viewer.layers
        return layers[name] if name in layers and isinstance(layers[name], Image) else None

    def _layer_table(self, layer: Points) -> np.ndarray:
        """The layer's landmarks in its image's pixels (``ValueError`` for points that are not ``(t, row, col)``)."""
        return points_with_ids(image_points(layer, self._image_of(layer)), {"features": layer.features})

    @contextmanager
    def _quiet(self):
        self._syncing, old = True, self._syncing
        try:
            yield
        finally:
            self._syncing = old

    def _push(self, create: bool = True) -> None:
        """Model -> layer (data, ids, colours), then the tables. ``create``: add the layer if it is missing
        and there are landmarks (user edits only: never while reacting to layer events)."""
        m = self._models.get(self.image_name or "")
        if m is None or self.image_name in self._unread:  # no image (its layer deleted): the tables empty, not the
            self._refresh_tables()  # gone image's pairs; a layer not taken: left as it is (written over, emptied)
            return
        layer = self.landmarks_layer(create=create and len(m) > 0)
        if layer is not None:
            with self._quiet():
                ids = m.ids
                layer.data = layer_points(layer, self._image_of(layer), m.points)
                layer.features = {"id": ids}
                layer.feature_defaults = {"id": m.next_id()}
                if len(m):
                    pairs_on_ref = set(ids[m.table[:, 1] == m.reference].tolist())
                    face = np.array([REF_COLOR if t == m.reference else (PARTNER_COLOR if i in pairs_on_ref else ORPHAN_COLOR)
                                     for i, t in zip(ids, m.table[:, 1])])
                    border = np.array([ACTIVE_BORDER if i == m.active_id else BORDER for i in ids])
                    layer.face_color = face
                    layer.border_color = border
                layer.refresh()
        self._refresh_tables()

    def _on_layer_data(self, event) -> None:
        """Edits made with napari's own tools (add, move, delete): take them into the model (undoable)."""
        if self._syncing:
            return
        action = str(getattr(getattr(event, "action", None), "value", getattr(event, "action", "")))
        if action not in ("added", "removed", "changed"):
            return
        self._take_layer(event.source)

    def _on_layer_features(self, event) -> None:
        """Ids edited in the layer's features (napari's features table, or ``layer.features``): the pairs are the
        layer's (the dock kept its own, the plots and the report the layer's: a TRE of 0.19 px in the dock, 303 px
        in the report; and the dock's next action wrote its own ids back over the edit)."""
        self._take_if_changed(event.source)

    def _take_layer(self, layer: Points) -> None:
        """The landmarks layer as it is now into its image's model (undoable), ids repaired and shown."""
        image = layer.name[: -len(f" {LANDMARKS}")]
        m = self._models.get(image)
        if m is None:
            if image == self.image_name:
                self.model()  # reads the layer as it is now
            return
        table = None
        try:  # raised inside napari's setter (a NaN id typed into the features table), it reached the user as a crash
            table = self._layer_table(layer)
            _inside_or_said(table, self._image_of(layer))
            kept = m.set_table(table)
        except ValueError as exc:
            self._refused = table  # said once: the poll does not say it again every second
            self._error(f"'{layer.name}' not taken: {exc}")
            return
        self._unread.discard(image)  # its landmarks read: the dock writes them again
        if not np.array_equal(kept, table) and image == self.image_name:
            self._push()  # ids repaired: show them
        elif image == self.image_name:
            self._refresh_tables()

    # -- image / result / reference -------------------------------------------------------------------
    def _on_image_changed(self, *_) -> None:
        if hasattr(self, "status_label") and self.image_name != getattr(self, "_status_of", None):  # another image:
            self._status_of = self.image_name  # not the previous one's error (viewer QA review: "frame 99 is out of
            # range" of a layer gone)
            self.status_label.setText("")
        self.images.show_chosen(self._viewer.layers)  # landmarks placed on the slice the canvas shows
        T = self.n_frames
        self.reference_spin.blockSignals(True)
        self.reference_spin.setRange(0, max(0, T - 1))
        self.reference_spin.blockSignals(False)
        if self.pairing_box.isChecked() and (self._pairing_layer is None or self._pairing_layer is not self.landmarks_layer()):
            self.pairing_box.setChecked(False)  # another image, or its landmark layer went away
        self._refresh_results()
        self.model()
        self._push(create=False)
        self._update_hint()  # now that the image's model is made (the results' refresh gave the hint before it)
        has_image = self.current_image() is not None  # without one, these buttons did nothing and said nothing
        for w in (self.pairing_box, self.prev_btn, self.next_btn, self.next_landmark_btn, self.delete_btn,
                  self.load_btn, self.save_btn):
            w.setEnabled(has_image)
        m = self._models.get(self.image_name or "")  # (enabled with nothing to undo: "nothing to undo")
        enable(self.undo_btn, has_image and m is not None and m.can_undo, "nothing to undo")

    def _on_result_changed(self, image: str, method: str) -> None:
        self._drop_stale_tracks(image)
        if image == self.image_name:
            self._refresh_results(select=method)

    def _on_result_added(self, image: str, method: str) -> None:
        """A run's result: the dock turns to its image (one of a 12-slice stack registered, the dock stayed on
        slice 0 with "none (before registration only)")."""
        self.images.follow(image)

    def _drop_stale_tracks(self, image: str) -> None:
        """Tracks follow one result: once it is replaced (a run with another reference) or removed, the layer
        ``"<image> tracked"`` is removed. It stayed, drawn beside the new result and offered as landmarks."""
        name = f"{image} {TRACKED}"
        layers = self._viewer.layers
        if name not in layers or not layers[name].metadata.get(TRACKED_KEY):
            return
        ref = layers[name].metadata.get(TRACKED_FROM)
        res = ref() if callable(ref) else None
        if res is not None and any(r is res for r in self._store.for_image(image).values()):
            return  # still a result of the image (renamed, or another method's run)
        layers.remove(name)
        self._status(f"the tracks of '{image}' followed a result that was replaced: removed (track again)")

    def _refresh_results(self, select: str | None = None) -> None:
        name = self.image_name
        img = self.current_image()
        results = {m: r for m, r in self._store.for_image(name).items() if fits(r, img)} if name is not None else {}
        old = self.result_combo.currentData()
        self.result_combo.blockSignals(True)
        self.result_combo.clear()
        self.result_combo.addItem(NO_RESULT, None)
        for method in results:
            self.result_combo.addItem(method, method)
        want = select if select in results else (old if old in results else (list(results)[-1] if results else None))
        self.result_combo.setCurrentIndex(max(0, self.result_combo.findData(want)) if want else 0)
        self.result_combo.blockSignals(False)
        self._on_result_selected()

    def current_result(self):
        """The chosen result of the current image, if it was made from frames of the image's shape."""
        method = self.result_combo.currentData()
        name = self.image_name
        res = None if method is None or name is None else self._store.get(name, method)
        return res if res is None or fits(res, self.current_image()) else None

    def _on_result_selected(self, *_) -> None:
        res = self.current_result()
        running = self._store.running_reference(self.image_name or "")  # being registered: its reference is the run's
        self.reference_spin.setEnabled(res is None and running is None)
        enable(self.track_btn, res is not None, "no result of this image: register it first (Register sequence)")
        planned = self._store.planned_reference(self.image_name or "")
        img = self.current_image()
        another = self._reference_of is not None and img is not self._reference_of  # not the dock's first image
        if img is not None:
            self._reference_of = img
        self._setting_reference = True  # not the user's: not said to the Register dock (a value left from another
        try:  # image was planned for this one, and moved the Register dock from the user's 3 to 18)
            if res is not None and res.n_frames == self.n_frames:
                self.reference_spin.setValue(int(res.reference))
            elif res is None and running is not None and 0 <= running < self.n_frames:
                self.reference_spin.setValue(running)
            elif res is None and planned is not None and 0 <= planned < self.n_frames:
                self.reference_spin.setValue(planned)  # the Register dock's, before a run
            elif res is None and img is not None and another:
                # another image, nothing planned: where the Register dock starts it (slice 6's 18 was kept for slice
                # 3, the Register dock on 0, and the pairs placed on 18 were dropped from the run's TRE)
                self.reference_spin.setValue(start_reference(self._viewer, img, None))
            self._on_reference_changed()
        finally:
            self._setting_reference = False

    def _on_planned(self, image: str, reference: int) -> None:
        """The Register dock set ``image``'s reference before a run: the pairs are placed on it (this dock stayed on 0
        while that one moved to the labelled frame, 18, and the pairs on 0 were dropped from the run's TRE)."""
        if (image == self.image_name and self.current_result() is None and 0 <= reference < self.n_frames
                and self._store.running_reference(image) is None):  # being registered: the run's holds
            self._setting_reference = True
            try:
                self.reference_spin.setValue(reference)
            finally:
                self._setting_reference = False

    @property
    def reference(self) -> int:
        res = self.current_result()
        return int(res.reference) if res is not None else int(self.reference_spin.value())

    def _on_reference_changed(self, *_) -> None:
        if not self._setting_reference and self.current_result() is None and self.image_name:
            self._store.plan(self.image_name, int(self.reference_spin.value()))  # the user's: the Register dock takes it
        m = self._models.get(self.image_name or "")
        if m is not None and m.reference != self.reference:
            m.reference = self.reference
            m.next_landmark()
        self._push(create=False)
        self._update_hint()

    def spacing(self) -> tuple[tuple[float, float] | None, str]:
        res = self.current_result()
        img = self.current_image()
        sp, unit = layer_spacing(img) if img is not None else (None, "px")
        if res is not None and res.spacing is not None:  # in the result's own unit (an opened folder's 10 m pixels
            return tuple(res.spacing), res.unit  # were headed "mm" over a layer in mm)
        return sp, unit

    # -- pairing ---------------------------------------------------------------------------------------
    def _on_pairing_toggled(self, on: bool) -> None:
        self._set_pairing(on)
        img = self.current_image()
        if on and img is not None:  # a pair starts on the reference frame: show it
            show_frame(self._viewer, img, self.reference)
        self._update_hint()

    def _set_pairing(self, on: bool) -> None:
        old = self._pairing_layer
        if old is not None and self._on_click in old.mouse_drag_callbacks:
            old.mouse_drag_callbacks.remove(self._on_click)
        self._pairing_layer = None
        if not on or self.current_image() is None:
            return
        layer = self.landmarks_layer(create=True)
        if layer is None:  # a layer of that name that holds no (t, row, col) points (said)
            self.pairing_box.setChecked(False)
            return
        layer.mode = "pan_zoom"
        layer.mouse_drag_callbacks.append(self._on_click)
        self._pairing_layer = layer
        self._viewer.layers.selection.active = layer

    def _on_click(self, layer, event):
        """Mouse drag callback of the landmarks layer in pairing mode: a click (no drag) places a point."""
        if getattr(event, "button", 1) != 1 or layer.mode != "pan_zoom":
            return
        yield
        dragged = False
        while event.type == "mouse_move":
            dragged = True
            yield
        if dragged:
            return
        img = self.current_image()
        hidden = frame_not_shown(self._viewer, img) if img is not None else None
        if hidden is not None:  # a 3-D click is a point inside the volume (a landmark nobody saw, or "t=-12")
            self._status(f"{hidden} to place landmarks: nothing placed")
            return
        # to a millionth of a pixel: world (mm) -> data left 62.95399999999999 in every saved table
        pos = np.round(np.asarray(layer.world_to_data(event.position), dtype=float), 6)
        self.place(int(round(pos[-3])), float(pos[-2]), float(pos[-1]))

    def place(self, t: int, row: float, col: float) -> LM.Placement | None:
        """A pairing-mode click at ``(t, row, col)`` (data coordinates of the image)."""
        m = self.model()
        if m is None:
            return None
        img = self.current_image()
        h, w = frames_shape(img)[1:]
        if not (0 <= t < self.n_frames and -0.5 <= row <= h - 0.5 and -0.5 <= col <= w - 0.5):
            self._status(f"outside the image (t={t}, row={row:.1f}, col={col:.1f}): nothing placed")
            return None
        m.reference = self.reference
        try:
            p = m.place(t, row, col)
        except ValueError as exc:
            self._status(str(exc))
            return None
        self._push()
        self._status(f"landmark {p.id} {p.action} on frame {t} at ({row:.1f}, {col:.1f})")
        if self.advance_box.isChecked():
            self._advance(m, p)
        self._update_hint()
        return p

    def _advance(self, m: LM.LandmarkModel, p: LM.Placement) -> None:
        others = [t for t in range(self.n_frames) if t != m.reference]
        # the frames the landmarks before this one have partners on (ED with ES: the one other frame; a click on ED
        # went to frame 0, one on ES to the frame after it; clinician review), else every frame
        others_at = m.table[m.ids != p.id, 1]  # (one pass over the table: a scan an id grew as their square)
        before = {int(t) for t in others_at} - {m.reference}
        wanted = [t for t in others if t in before] or others
        missing = [t for t in wanted if t not in m.frames_of(p.id)]
        if not missing:
            m.next_landmark()
            self._push()
            self.go_to_frame(m.reference)
            return
        after = [t for t in missing if t > p.t] if p.t != m.reference else missing
        self.go_to_frame((after or missing)[0])

    def current_frame(self) -> int:
        img = self.current_image()
        if img is None:
            return 0
        return current_frame(self._viewer, img)  # clipped to its frames

    def go_to_frame(self, t: int) -> None:
        img = self.current_image()
        if img is None:
            return
        show_frame(self._viewer, img, t)
        hidden = frame_not_shown(self._viewer, img)
        if hidden is not None:  # (frame ▶ moved a slider nobody sees, and said nothing)
            self._status(f"frame {t}: not shown, {hidden}")

    def step_frame(self, delta: int) -> None:
        """Next (``+1``) / previous (``-1``) frame, skipping the reference in pairing mode."""
        T = self.n_frames
        if T < 2:
            return
        t = self.current_frame()
        for _ in range(T):
            t = (t + delta) % T
            if not (self.pairing_box.isChecked() and t == self.reference):
                break
        self.go_to_frame(t)

    def next_landmark(self) -> None:
        m = self.model()
        if m is None:
            return
        m.next_landmark()
        self._push()
        self.go_to_frame(self.reference)
        self._update_hint()

    def undo(self) -> None:
        m = self.model()
        if m is None:
            return
        if m.undo():
            self._push()
            self._status("undone")
        else:
            self._status("nothing to undo")
        self._update_hint()

    def delete_selected(self) -> None:
        key = self._selected_key()
        m = self.model()
        if key is None or m is None:
            self._status("select a row of the table first")
            return
        pid, t = key
        m.remove(pid, t)
        self._push()
        self._status(f"landmark {pid} removed from frame {t}")

    def _update_hint(self, *_) -> None:
        m = self._models.get(self.image_name or "")
        if m is None:
            self.hint_label.setText("add an image sequence")
            return
        ref = self.reference
        a = m.active_id
        on = m.table[:, 1].astype(int) if len(m) else np.zeros(0, int)
        if not self.pairing_box.isChecked() and len(m) and not (on == ref).any():
            # (clinician review) after a re-run to another reference, "0 pair(s)" and the points drawn grey, no reason
            frames, counts = np.unique(on, return_counts=True)
            listed = ", ".join(str(t) for t in frames[:6]) + (", …" if len(frames) > 6 else "")
            text = (f"{len(m)} landmark point(s) on frame{'s' * (len(frames) > 1)} {listed}, none on the reference "
                    f"(t={ref}): no pairs, no TRE. Register with reference {int(frames[np.argmax(counts)])}, or place "
                    "points on the reference.")
        elif not self.pairing_box.isChecked():
            text = f"{len(m.pairs(None))} pair(s). Tick “pairing mode” and click on the reference frame (t={ref})."
        elif a is not None and m.position(a, ref) is None and m.frames_of(a):
            text = f"landmark {a} has no point on the reference: click on the reference frame (t={ref}) to place it"
        elif a is None or m.position(a, ref) is None:
            text = f"click on the reference frame (t={ref}) to start landmark {m.next_id()}"
        else:
            text = f"landmark {a}: click its partner on another frame (n/b: frames, m: next landmark, Ctrl+Z: undo)"
        self.hint_label.setText(text)

    # -- CSV -----------------------------------------------------------------------------------------
    def _ask_path(self, save: bool) -> str:
        default = file_name(self.image_name or "landmarks", "_landmarks.csv")
        if save:
            path, _ = QFileDialog.getSaveFileName(self, "Save landmarks", default, "CSV (*.csv)")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Load landmarks", "", "CSV (*.csv);;All files (*)")
        return path

    def _on_save_clicked(self) -> None:
        if self.model() is None:  # say so before the dialog (it asked for a name, then wrote nothing, silently)
            self._error("add an image sequence and place landmarks before saving them")
            return
        path = self._ask_path(save=True)
        if path:
            self.save_csv(path)

    def _on_load_clicked(self) -> None:
        path = self._ask_path(save=False)
        if path:
            self.load_csv(path)

    def save_csv(self, path) -> Path | None:
        m = self.model()
        if m is None:
            self._error("add an image sequence and place landmarks before saving them")
            return None
        try:
            out = save_points_csv(path, m.table)
        except (OSError, ValueError) as exc:
            self._error(f"could not save landmarks: {exc}")
            return None
        self._status(f"{len(m)} landmark point(s) saved to {Path(path).name}")
        return out

    def load_csv(self, path) -> bool:
        m = self.model()
        if m is None:
            self._error("add an image sequence before loading its landmarks")
            return False
        img = self.current_image()
        try:
            table = LM.as_table(load_points_csv(path), self.n_frames)
            # inside the image, as a click must be (and as the CLI's evaluate requires)
            check_annotations(frames_shape(img), None, table)
        except (OSError, ValueError) as exc:
            self._error(f"could not load landmarks from {Path(path).name}: {exc}")
            return False
        m.set_table(table)
        m.next_landmark()
        self._push()
        self._status(f"{len(table)} landmark point(s) loaded from {Path(path).name}")
        self._update_hint()
        return True

    # -- tables --------------------------------------------------------------------------------------
    def _pairs(self):
        m = self._models.get(self.image_name or "")
        if m is None:
            return None, None
        m.reference = self.reference
        try:
            return m, m.pairs(self.n_frames or None)
        except ValueError as exc:
            self._status(f"landmarks: {exc}")
            return m, None

    def _refresh_tables(self) -> None:
        self._refresh_pairs()
        self._refresh_tre_frames()
        self._refresh_tre()
        m = self._models.get(self.image_name or "")
        enable(self.undo_btn, bool(m is not None and m.can_undo), "nothing to undo")

    def _displacement(self):
        res = self.current_result()
        if res is None or res.n_frames != self.n_frames:
            return None
        return res.displacement

    def _refresh_pairs(self) -> None:
        m, pairs = self._pairs()
        tab = self.pairs_table
        selected = self._selected_key()
        tab.blockSignals(True)
        tab.setUpdatesEnabled(False)
        tab.clearSelection()
        tab.setRowCount(0)
        again = None
        if pairs is not None:
            sp, unit = self.spacing()
            errors = LM.pair_errors(pairs, self._displacement(), spacing=sp)
            # the errors in the image's unit where it has a pixel size (the TRE line and box give both): with
            # non-square pixels px and mm rank the pairs differently (4.03 px = 4.10 mm, 3.61 px = 4.78 mm)
            sfx = "" if sp is None else "_mm"
            for j, when in ((2, "before"), (3, "after")):
                tab.horizontalHeaderItem(j).setText(f"{when} ({'px' if sp is None else unit})")
                tab.horizontalHeaderItem(j).setToolTip(f"TRE {when} registration ({'px' if sp is None else unit}): "
                                                       "the landmark's distance from its partner's position")
            for j, name in enumerate(PAIR_COLUMNS[4:], start=4):  # positions stay in pixels: said beside mm errors
                mine = name if sp is None else f"{name} (px)"  # (a 2 x 0.5 mm image's "41.5, 21.6" read as mm)
                tab.horizontalHeaderItem(j).setText(mine)
                whose = "the partner on the reference" if name.startswith("ref") else "the landmark on its frame"
                tab.horizontalHeaderItem(j).setToolTip(f"{whose}: its {name.split()[-1]}, in pixels of the image (its "
                                                       "data coordinates)")
            rows: list[tuple] = []
            for e in errors:
                rows.append(((e["id"], e["t"]), [str(e["id"]), str(e["t"]), _fmt(e["row"], 1), _fmt(e["col"], 1),
                                                 _fmt(e["ref_row"], 1), _fmt(e["ref_col"], 1),
                                                 _fmt(e["error_before" + sfx]), _fmt(e["error_after" + sfx])]))
            for pid in pairs.reference_only:
                p = m.position(int(pid), pairs.reference)
                rows.append(((int(pid), pairs.reference), [str(pid), f"{pairs.reference} (ref)", _fmt(p[0], 1), _fmt(p[1], 1),
                                                           "", "", "no partner", ""]))
            for o in pairs.orphans:
                rows.append(((int(o[0]), int(o[1])), [str(int(o[0])), str(int(o[1])), _fmt(o[2], 1), _fmt(o[3], 1),
                                                      "—", "—", "not on ref", ""]))
            rows.sort(key=lambda r: r[0])
            tab.setRowCount(len(rows))
            for i, (key, cells) in enumerate(rows):
                cells = [cells[k] for k in _PAIR_ORDER]
                for j, text in enumerate(cells):
                    tab.setItem(i, j, _item(text, key if j == 0 else None))
                if m.active_id == key[0]:
                    for j in range(len(cells)):
                        tab.item(i, j).setBackground(Qt.GlobalColor.darkCyan)
                        tab.item(i, j).setForeground(Qt.GlobalColor.white)  # the theme's text on it read at 3.5:1
                if key == selected:
                    again = i
        widths = [tab.columnWidth(j) for j in range(tab.columnCount())]
        tab.resizeColumnsToContents()
        for j, wide in enumerate(widths):  # a column the user made wider stays so (reset at every refresh otherwise)
            if wide > tab.columnWidth(j) and tab.rowCount():
                tab.setColumnWidth(j, wide)
        if again is not None:  # selected after the cells are set (before, each cell set with a row selected)
            tab.selectRow(again)
        tab.setUpdatesEnabled(True)
        tab.blockSignals(False)

    def _refresh_tre_frames(self) -> None:
        _, pairs = self._pairs()
        frames = [] if pairs is None else [int(t) for t in pairs.frames]
        old = self.tre_frame_combo.currentData()
        self.tre_frame_combo.blockSignals(True)
        self.tre_frame_combo.clear()
        self.tre_frame_combo.addItem("all frames (pooled)", None)
        for t in frames:
            self.tre_frame_combo.addItem(f"t = {t}", t)
        i = self.tre_frame_combo.findData(old) if old is not None else 0
        self.tre_frame_combo.setCurrentIndex(max(0, i))
        self.tre_frame_combo.blockSignals(False)

    def tre_values(self) -> dict | None:
        """The TRE summary shown (:func:`napari_tlreg.landmarks.tre_summary`) or ``None``."""
        m, pairs = self._pairs()
        if pairs is None:
            return None
        sp, _ = self.spacing()
        disp = self._displacement()
        table = m.table
        if disp is not None:  # a point of a layer taken as it was, off the image: its TRE would be the border field's
            table = table[landmarks_inside(table, np.shape(disp)[-2:])]  # (the plots dock leaves it out, and says so)
        return LM.tre_summary(table, m.reference, disp, spacing=sp, frame=self.tre_frame_combo.currentData())

    def _refresh_tre(self, *_) -> None:
        row = self.tre_values()
        sp, unit = self.spacing()
        cols = [("before", ""), ("after", "")]
        if sp is not None:
            cols += [("before", "_mm"), ("after", "_mm")]
        tab = self.tre_table
        tab.setColumnCount(len(cols))
        tab.setHorizontalHeaderLabels([f"{w} ({'px' if not s else unit})" for w, s in cols])
        for j, (when, sfx) in enumerate(cols):
            for i, stat in enumerate(STAT_ROWS):
                if row is None:
                    text = ""
                elif stat == "n":
                    text = str(row["n"])
                else:
                    text = _fmt(row.get(f"{when}_{stat}{sfx}"), 3, small=True)
                tab.setItem(i, j, _item(text))
        self.tre_line.setText(tre_line(row, self.tre_frame_combo.currentText(), unit if sp is not None else None,
                                       self._displacement() is not None))

    def _selected_key(self) -> tuple[int, int] | None:
        rows = self.pairs_table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.pairs_table.item(rows[0].row(), 0)
        data = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return None if data is None else (int(data[0]), int(data[1]))

    def _on_row_selected(self) -> None:
        key = self._selected_key()
        m = self.model()
        if key is None or m is None:
            return
        m.select(key[0])
        self.go_to_frame(key[1])
        self._push(create=False)
        self._update_hint()

    # -- tracking ------------------------------------------------------------------------------------
    def track(self) -> None:
        """Follow the landmarks on the reference through every frame into the layer ``"<image> tracked"``."""
        res = self.current_result()
        m = self.model()
        if res is None or m is None:
            self._error("tracking needs a registration result: run “Register sequence” first")
            return
        if res.n_frames != self.n_frames:
            self._error("the result does not match the image's frames")
            return
        on_ref = m.table[m.table[:, 1] == res.reference]
        if not len(on_ref):
            self._error(f"place points on the reference frame (t={res.reference}) to track them")
            return
        img = self.current_image()
        place = {"scale": tuple(img.scale), "translate": tuple(img.translate), **transform_of(img)}
        self.track_btn.setEnabled(False)
        self._status(f"tracking {len(on_ref)} point(s) through {res.n_frames} frames…")
        # the tracking's warnings (points that leave the frame, or where the field folds), said with the tracks: its
        # own, by callback (superqt's worker caught them, reaching no one; its `warned` takes any thread's meanwhile)
        said: list[str] = []
        worker = create_worker(LM.tracked_points, res, on_ref[:, 2:4], on_ref[:, 0].astype(np.int64),
                               on_warning=said.append, _start_thread=False,
                               _ignore_errors=True)  # errors go to self._error only (not re-raised as well)
        # a closed dock or viewer drops what comes back (its combos are gone)
        worker.returned.connect(lambda out: self.live and self._show_tracked(out, place, img, res, said))
        worker.errored.connect(lambda exc: self.live and self._error(f"tracking failed: {exc}"))
        worker.finished.connect(lambda: (setattr(self, "_worker", None),
                                         self.live and self.track_btn.setEnabled(self.current_result() is not None)))
        self._worker = worker
        start_held(worker)

    def _show_tracked(self, out, place: dict, image: Image, res=None, said=()) -> None:
        data, ids = out
        if image not in self._viewer.layers:  # removed while it was tracked: its tracks are for no image now
            self._status(f"'{image.name}' was removed while its points were tracked: the tracks are discarded")
            return
        if res is not None and not any(r is res for r in self._store.for_image(image.name).values()):
            self._status(f"the result '{image.name}' was tracked with was replaced meanwhile: the tracks are discarded")
            return
        name = f"{image.name} {TRACKED}"  # its name now (renamed meanwhile: a second set was made at the next track)
        layers = self._viewer.layers
        if name in layers and isinstance(layers[name], Points):
            layer = layers[name]
            layer.data = data
            layer.features = {"id": ids}
            layer.metadata[TRACKED_FROM] = weakref.ref(res) if res is not None else None
        else:
            if name in layers:
                layers.remove(name)
            size = LM.point_size(frames_shape(image))
            layer = self._viewer.add_points(
                data, name=name, ndim=3, features={"id": ids}, **place,
                face_color="magenta", border_color="white", border_width=0.1, size=size, symbol="cross",
                # the id below-left of its cross, clear of it (at the point it was drawn under the cross) and of the
                # landmark's own id, above-right
                # white: magenta ids over the magenta warped reference and the label fills could not be read
                text={"string": "{id}", "size": 9, "color": "white", "anchor": "center",
                      "translation": [0, 0.9 * size, -0.9 * size]},
                metadata={TRACKED_KEY: True, TRACKED_FROM: weakref.ref(res) if res is not None else None, IN_PIXELS: True},
            )
        n = len(np.unique(ids))
        self._status(f"{n} point(s) tracked through {len(data) // max(1, n)} frames → layer “{layer.name}”"
                     + "".join(f"; {w}" for w in said))
        for w in said:
            show_warning(f"Landmarks: {w}")

    # -- messages ------------------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.status_label.setText(text)

    def _error(self, text: str) -> None:
        self._status(text)
        show_error(f"Landmarks: {text}")

