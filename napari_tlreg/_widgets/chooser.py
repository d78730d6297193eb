"""The image chooser shared by the docks: the viewer's grey ``(T, H, W)`` image layers that are not
results of ours, kept in a combo box whose selection survives layers being added, moved or renamed."""
from __future__ import annotations

import contextlib
import re
import weakref
from typing import Callable

import numpy as np
from napari.layers import Image
from qtpy.QtCore import QEvent, Qt, QThreadPool, QTimer
from qtpy.QtWidgets import (QComboBox, QDockWidget, QFrame, QLabel, QMainWindow, QScrollArea, QSizePolicy,
                            QVBoxLayout, QWidget)

from napari_tlreg._hooks import COLOUR_OF

#: metadata flag of the layers our widgets create (results are never offered as inputs)
RESULT_KEY = "napari_tlreg_result"
#: key in a contour labels layer's plugin metadata: the DICOM image numbers of the frames they were drawn on
CONTOURS_OF = "contours_of"


#: the result layers the docks made: napari's Duplicate Layer and Convert copy the metadata flag, and a user's corrected
#: copy of the propagated labels could not be chosen as labels in any dock
_MADE: weakref.WeakSet = weakref.WeakSet()


def made_result(layer):
    """``layer`` (just made by a dock, flagged :data:`RESULT_KEY`) is a result: :func:`is_result` holds for it."""
    _MADE.add(layer)
    return layer


def is_result(layer) -> bool:
    """Whether ``layer`` was made by our widgets (a result, never an input); a copy the user made of one is theirs."""
    return bool(layer.metadata.get(RESULT_KEY)) and layer in _MADE


def unmake_result(layer) -> None:
    """``layer`` is the user's now (a result they edited, kept beside the next run's)."""
    _MADE.discard(layer)
    layer.metadata.pop(RESULT_KEY, None)


#: the docks' workers that have not finished: held here, not by their dock alone (a dock deleted mid-run let its
#: worker be collected while its thread still ran, and the thread's signals then raised "wrapped C/C++ object of type
#: WorkerBaseSignals has been deleted", which ended the process once)
_RUNNING_WORKERS: set = set()


def start_held(worker) -> None:
    """Start ``worker`` (superqt's, made with ``_start_thread=False``), held until it finishes, on a thread of its
    own: Qt's global pool, which the docks' jobs share, has one more thread while it runs (a grid at a new spacing
    waited 116 s behind the plots' 76 s evaluation of 2x4096² frames; with one core, or two viewers' runs, the short
    jobs waited behind registrations of minutes)."""
    _RUNNING_WORKERS.add(worker)
    pool = QThreadPool.globalInstance()
    pool.setMaxThreadCount(pool.maxThreadCount() + 1)

    def finished() -> None:
        _RUNNING_WORKERS.discard(worker)
        pool.setMaxThreadCount(max(1, pool.maxThreadCount() - 1))

    worker.finished.connect(finished)  # the worker's own signal: also when its dock is gone before the end
    worker.start()


def is_colour_copy(layer) -> bool:
    """Whether ``layer`` is the colour copy of a grey sequence that our reader adds for display (never an input:
    its grey image is the one to register)."""
    return COLOUR_OF in plugin_info(layer)


def frames_shape(layer) -> tuple[int, int, int]:
    """``(T, H, W)`` of a sequence layer: its data's shape, less the colour axis of an RGB(A) layer."""
    return tuple(int(s) for s in base_data(layer).shape[:3])


def base_data(layer):
    """``layer``'s data at full resolution: level 0 of a multiscale layer, else its data (not copied)."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def file_name(name: str, suffix: str) -> str:
    """A file name a save dialog proposes for ``name`` (a layer's) + ``suffix``: the characters a path or a file
    system takes otherwise made "_" (a layer "LV/RV: base 12/03/2024" proposed "2024_report", the dialog taking
    the slashes for folders)."""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip() + suffix


def frame_axis(viewer, layer) -> int:
    """The viewer's axis that is ``layer``'s time axis (its first): with a 4-D layer in the viewer too, axis 0 is
    that layer's extra axis, not the frames."""
    return max(0, int(viewer.dims.ndim) - int(layer.ndim))


def current_frame(viewer, layer) -> int:
    """The viewer's current frame as an index into ``layer``'s first axis (clipped to its frames)."""
    axis = frame_axis(viewer, layer)
    try:
        idx = float(layer.world_to_data(viewer.dims.point)[0])
    except Exception:  # noqa: BLE001 - a layer whose transform cannot be inverted: the slider's step
        idx = float(viewer.dims.current_step[axis]) if viewer.dims.ndim > axis else 0.0
    n = frames_shape(layer)[0]
    return int(np.clip(round(idx), 0, max(0, n - 1)))


def frame_not_shown(viewer, layer) -> str | None:
    """Why the canvas shows no one frame of ``layer`` (its time axis drawn on the canvas: the 3-D view, or the dims
    transposed), or None. A click there is no point of a frame, and moving the time axis changes nothing seen."""
    if frame_axis(viewer, layer) not in tuple(viewer.dims.displayed):
        return None
    if viewer.dims.ndisplay == 3:
        return "the viewer draws the frames as a volume (3-D): switch it to 2-D"
    return "the time axis is drawn on the canvas, not on a slider: put it back on the slider (transpose the dims)"


def show_frame(viewer, layer, t: int) -> None:
    """Move the viewer to frame ``t`` of ``layer`` (on ``layer``'s own time axis)."""
    world = layer.data_to_world([int(t)] + [0] * (int(layer.ndim) - 1))
    viewer.dims.set_point(frame_axis(viewer, layer), float(world[0]))


def watch_layers(viewer, slot: Callable) -> Callable[[], None]:
    """Call ``slot(event)`` when a layer is inserted, removed or moved, and when an inserted one is renamed. Returns
    the function that stops it (a dock that is closed)."""
    ev = viewer.layers.events

    def on_event(event=None):
        layer = getattr(event, "value", None)
        if layer is not None and getattr(event, "type", "") == "inserted":
            layer.events.name.connect(slot)
        slot(event)

    for layer in viewer.layers:  # layers already there when the widget is made
        layer.events.name.connect(slot)
    ev.inserted.connect(on_event)
    ev.removed.connect(on_event)
    ev.moved.connect(on_event)

    def unwatch() -> None:
        for signal in (ev.inserted, ev.removed, ev.moved):
            signal.disconnect(on_event)
        for layer in viewer.layers:
            layer.events.name.disconnect(slot)

    return unwatch


class ClosingDock:
    """For a dock widget (a base before ``QWidget``): napari closes a dock by taking its widget out of it
    (``setParent(None)``) and never shows that widget again (reopened, a new one is made), but the widget lived on,
    connected: a closed Landmarks dock still placed points on a click, and each reopening added another evaluation
    and another point per click. On that, what the widget registered with :meth:`_when_closed` is undone (its
    connections to the viewer). :attr:`live` is False once the widget is closed or deleted (its viewer closed): a
    worker's result that arrives afterwards is dropped (it raised "wrapped C/C++ object ... has been deleted")."""

    def _start_life(self) -> None:
        life, undo = self._life, self._undo = [True], []
        self.destroyed.connect(lambda *_: _end_life(life, undo))  # a plain function: no method of a deleted object

    def _when_closed(self, undo: Callable[[], None]) -> None:
        """Call ``undo`` when the widget is closed or deleted; it must not touch the widget's Qt objects."""
        self._undo.append(undo)

    @property
    def live(self) -> bool:
        return self._life[0]

    def event(self, e) -> bool:
        if e.type() == QEvent.Type.ParentChange and self.parent() is None and hasattr(self, "_life"):
            _end_life(self._life, self._undo)
        return super().event(e)


def _end_life(life: list, undo: list) -> None:
    if not life[0]:
        return
    life[0] = False
    for step in reversed(undo):
        with contextlib.suppress(TypeError, ValueError, RuntimeError):  # already disconnected, or gone
            step()
    undo.clear()


class ImageChooser:
    """The viewer's sequence images, grey ``(T, H, W)`` or RGB(A) ``(T, H, W, C)`` (registered as grey)."""

    def __init__(self, on_changed: Callable, tooltip: str = ""):
        self.combo = QComboBox()
        if tooltip:
            self.combo.setToolTip(tooltip)
        self.combo.currentIndexChanged.connect(on_changed)
        self._images: list[Image] = []
        self._shown: Image | None = None  # the choice show_chosen last acted on
        self._store = None  # the viewer's ResultStore, once the choice is shared (share)

    def share(self, store, viewer=None) -> Callable[[], None]:
        """Share the user's choice with the viewer's other docks through ``store`` (a ResultStore): a choice made here
        turns them, theirs turn this one, and a first listing starts on the image last chosen. With ``viewer``, an
        image the user selects in its layer list is chosen too (:func:`selected_image`). Returns the undo."""
        self._store = store
        held = weakref.ref(store)  # the slot outlives a closed viewer's combo in PyQt: it held the viewer's store

        def chosen_here(i: int) -> None:  # the user's choice only (activated), not one followed or re-listed
            if 0 <= i < len(self._images) and held() is not None:
                held().choose(self._images[i].name)

        self.combo.activated.connect(chosen_here)
        store.chosen.connect(self.follow)
        unselect = follow_selection(viewer, store) if viewer is not None else (lambda: None)

        def undo() -> None:
            self.combo.activated.disconnect(chosen_here)
            store.chosen.disconnect(self.follow)
            unselect()
            self._store = None
        return undo

    def refresh(self, layers) -> None:
        """Re-list the sequence images among ``layers``, keeping the current one when it is still there (no signal)."""
        names = {ly.name for ly in layers}
        images = [ly for ly in layers if isinstance(ly, Image) and ly.ndim == 3 and not is_result(ly)
                  and not (is_colour_copy(ly) and ly.metadata["napari_tlreg"][COLOUR_OF] in names)]  # its grey one is there
        old = self.current()
        if old is None and self._store is not None:  # a dock opened after another chose: it starts there
            old = next((ly for ly in images if ly.name == self._store.chosen_image()), None)
        if old is None:  # else on the image the active layer is, or is of ("echo mask": the dock chose "echo_real",
            old = _image_of_active(layers, images)  # the first of two samples, beside "echo"'s own mask)
        self.combo.blockSignals(True)
        self.combo.clear()
        for ly in images:
            self.combo.addItem(ly.name)
        self._images = images
        self.combo.setCurrentIndex(images.index(old) if old in images else (0 if images else -1))
        self.combo.blockSignals(False)

    @staticmethod
    def why_none(layers) -> str:
        """Why no image of ``layers`` is listed, naming the first image left out by its shape ("" if there is none):
        a 4-D layer was told to "add an image layer with a time axis", which it has."""
        for ly in layers:
            if isinstance(ly, Image) and not is_result(ly) and ly.ndim != 3:
                shape = tuple(int(s) for s in base_data(ly).shape)
                if ly.ndim < 3:
                    return f"'{ly.name}' is one image {shape}, with no time axis"
                # napari's Split Stack splits the first axis: a (T, Z, H, W) stack split so gave one layer a time
                # point, its z-planes taken for frames
                return (f"'{ly.name}' is {ly.ndim}-D {shape}: one axis of frames is registered, (T, H, W). Right-click "
                        "> Split Stack splits its first axis into layers (a channel or z-plane a layer when that axis "
                        "is first); with time first, (T, Z, H, W), open the file with napari-tlreg, which gives a "
                        "sequence per slice position, or move the time axis after it first")
        return ""

    def current(self) -> Image | None:
        i = self.combo.currentIndex()
        return self._images[i] if 0 <= i < len(self._images) else None

    def show_chosen(self, layers) -> None:
        """:func:`show_slice` for the image chosen, once per choice (the docks re-read their choice on every layer
        event: a slice another dock had shown since, or a new result's layers, were hidden again)."""
        layer = self.current()
        if layer is not self._shown:
            self._shown = layer
            show_slice(layers, layer)

    def follow(self, name: str) -> None:
        """Turn to the image called ``name`` (one just registered) when it is listed; the change is signalled."""
        i = self.combo.findText(name)
        if i >= 0 and i != self.combo.currentIndex():
            self.combo.setCurrentIndex(i)


def named_after(layer, layers):
    """The image ``layer`` is named after: the one whose name, and a space, begins its name, the longest of them
    ("seq [1] landmarks" is of "seq [1]", not of "seq": they moved with "seq"); None if none."""
    of = [ly for ly in layers if isinstance(ly, Image) and ly is not layer and layer.name.startswith(f"{ly.name} ")]
    return max(of, key=lambda ly: len(ly.name)) if of else None


def _image_of_active(layers, images: list):
    """The image of ``images`` that ``layers``' active layer is (its colour copy's grey one), or that it is named after
    ("<image> mask", "<image> labels"); None without one. An active layer hidden with its image is napari's choice, not
    the user's: opening a multi-slice folder activates its last slice, hidden, and a dock docked then turned the canvas
    to it, a slice below the heart (clinician review): the slice of that source shown instead, if one is."""
    active = getattr(getattr(layers, "selection", None), "active", None)
    if active is None:
        return None
    name = selected_image(active)
    image = named_after(active, images) if name is None else next((ly for ly in images if ly.name == name), None)
    info = plugin_info(image) if image is not None else {}
    if image is None or image.visible or active.visible or int(info.get("n_slices", 1)) <= 1:  # (a colour copy shown
        return image  # over its hidden grey image, an image the user hid and selected: that one)
    return next((ly for ly in images if ly.visible and info.get("source") is not None
                 and plugin_info(ly).get("source") == info["source"]
                 and plugin_info(ly).get("n_slices") == info["n_slices"]), None)


def selected_image(layer) -> str | None:
    """The name of the sequence image a selected ``layer`` stands for (its grey image for our reader's colour copy),
    or None (not an image of frames, or a result)."""
    if not isinstance(layer, Image) or layer.ndim != 3 or is_result(layer):
        return None
    return plugin_info(layer)[COLOUR_OF] if is_colour_copy(layer) else layer.name


def follow_selection(viewer, store) -> Callable[[], None]:
    """The docks turn to an image the user selects in ``viewer``'s layer list (they stayed on the image chosen
    before: with slice 6 selected and shown, Run registered slice 0, hidden); not to one napari makes active as it
    adds or removes layers (the last slice a file opened, a neighbour of a layer deleted). Returns the undo."""
    layers = viewer.layers
    adding = [False]  # napari activates a layer added (after its "inserted"), a neighbour of one removed
    added: list = []  # the layers added since the last settle
    held = weakref.ref(store)

    def settle() -> None:
        # napari activated the last layer a file or sample added, hidden: the echo's sector mask, a colour copy, the
        # last slice of a DICOM series; its controls then stood in the layer panel (a brush stroke went into the hidden
        # mask, a contrast change to a slice not shown). The last one shown among those added is active instead
        active = layers.selection.active
        if active is not None and not active.visible and any(ly is active for ly in added):
            shown = [ly for ly in added if ly.visible and ly in layers]
            if shown:
                layers.selection.active = shown[-1]  # still "adding": the docks stay where they were
        added.clear()
        adding[0] = False

    def busy(_event=None) -> None:
        adding[0] = True
        QTimer.singleShot(0, settle)  # once this change is done (the selection is set in the same call)

    def inserted(event) -> None:
        added.append(event.value)
        busy()

    def active(event) -> None:
        name = selected_image(event.value)
        st = held()
        if not adding[0] and name is not None and st is not None and name != st.chosen_image():
            st.choose(name)

    layers.events.inserted.connect(inserted)
    layers.events.removed.connect(busy)
    layers.selection.events.active.connect(active)

    def undo() -> None:
        layers.events.inserted.disconnect(inserted)
        layers.events.removed.disconnect(busy)
        layers.selection.events.active.disconnect(active)
    return undo


def start_reference(viewer, layer, planned: int | None) -> int:
    """The reference frame the docks start ``layer`` on before it is registered: the one ``planned`` for it in a dock,
    the sequence's own (a sample's: napari opens it on its middle frame), frame 0 for one our reader opened (as the CLI
    and the API take it), the current frame for an image from elsewhere."""
    n = frames_shape(layer)[0]
    info = plugin_info(layer)
    own = info.get("reference")
    if planned is not None and 0 <= planned < n:
        return int(planned)
    if isinstance(own, int) and 0 <= own < n:
        return own
    return 0 if info else max(0, min(current_frame(viewer, layer), n - 1))


def plugin_info(layer) -> dict:
    """The plugin's record in a layer's metadata (the reader's spacing, source, slice position, DICOM image
    numbers...), ``{}`` for a layer without one."""
    info = (getattr(layer, "metadata", None) or {}).get("napari_tlreg")
    return info if isinstance(info, dict) else {}


def _slice_info(layer) -> dict:
    info = plugin_info(layer)
    return info if info.get("slice") is not None else {}


def _cine_of(layer) -> tuple:
    """Which multi-slice cine a slice layer is of: its source, and its name less ``_slice<k>`` (a second copy of the
    same file, ``"a_slice2 [1]"``, is another)."""
    return _slice_info(layer).get("source"), re.sub(r"_slice\d+(?=( \[\d+\])?$)", "", layer.name)


#: a layer's metadata key: the slice position it was hidden with (:func:`show_slice` shows it again with that one)
HIDDEN_WITH = "napari_tlreg_hidden_with"


def show_slice(layers, layer) -> None:
    """A hidden slice position of a multi-slice cine chosen in a dock (the reader shows the first): shown, with its own
    labels (the reader's ``"<name> labels"``: the expert's contours) and what was hidden with it. When one other
    position of its cine is shown (the reader's, or the last one chosen), it is hidden with the layers named after it
    (its labels, its results), so that what the dock works on is what the canvas shows: the overlay of slice 6 was
    drawn over slice 0, and slice 3's contours stayed hidden; so is another cine's one shown position (another
    patient's). Several shown of one cine (side by side on purpose) stay shown."""
    if layer is not None and not _slice_info(layer):  # an image of its own: its results that waited hidden for it
        for ly in layers:
            if ly.metadata.get(HIDDEN_WITH) == layer.name:
                ly.metadata.pop(HIDDEN_WITH, None)
                ly.visible = True
        return
    if layer is None or layer.visible:
        return
    by_cine: dict[tuple, list] = {}
    for ly in layers:
        if ly is not layer and ly.visible and _slice_info(ly):
            by_cine.setdefault(_cine_of(ly), []).append(ly)
    # each cine's one shown slice position, this one's and another file's (a second patient's slice chosen: the first's
    # results stayed drawn, under the second's additive overlay once it ran: two patients' contours on the frame)
    for shown in by_cine.values():
        if len(shown) == 1:
            prefix = f"{shown[0].name} "
            for ly in layers:
                if ly is shown[0] or (ly.visible and ly.name.startswith(prefix)):
                    ly.visible = False
                    if ly is not shown[0]:
                        ly.metadata[HIDDEN_WITH] = shown[0].name
    layer.visible = True
    own = f"{layer.name} labels"
    for ly in layers:
        if ly.metadata.get(HIDDEN_WITH) == layer.name or (
                ly.name == own and _slice_info(ly) == _slice_info(layer) and not ly.visible):
            ly.metadata.pop(HIDDEN_WITH, None)
            ly.visible = True


def enable(widget: QWidget, on: bool, why_not: str) -> None:
    """Enable ``widget``, or grey it out with ``why_not`` after its own tooltip (controls greyed out said nothing of
    why, unlike Run; UX review)."""
    own = widget.property("own_tip")
    if own is None:
        own = widget.toolTip()
        widget.setProperty("own_tip", own)
    widget.setEnabled(bool(on))
    widget.setToolTip(own if on else f"{own}\n(off: {why_not})" if own else f"off: {why_not}")


class StatusLabel(QLabel):
    """A dock's status line: wrapped, a path wrapped at its separators, and never wider than its dock gives it (a word
    longer than a line, a folder's path in "report written to PATH", made the dock and the window as wide as the word:
    2,566 px for a 200-character path); the whole text is its tooltip, and :meth:`text` gives it as set."""

    def __init__(self, text: str = ""):
        super().__init__()
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)  # a layer named "<i>seq</i>" as it is named (it was read as HTML)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self._text = text
        super().setText(re.sub(r"([/\\_])", "\\1\u200b", text))  # a zero-width space: a line may break there
        self.setToolTip(text)

    def text(self) -> str:
        """The text as set (shown with breaks allowed in its paths)."""
        return self._text


#: the least height of a dock's scroll area: three docks stacked still fit a 1366x768 laptop's screen (at 230 px the
#: window could not be made lower than 813 px); each still shows five rows of its form
MIN_VISIBLE_HEIGHT = 170


class _Scroll(QScrollArea):
    """A scroll area that asks for its content's natural size, up to most of the screen's height (a plain one asks
    for a size set by the font: the dock would open squeezed), and is never narrower than its content nor lower
    than :data:`MIN_VISIBLE_HEIGHT` (or the content's own least height). Read each time: napari's style sheet,
    applied once the dock is shown, changes the content's sizes."""

    def _bar(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def setWidget(self, widget: QWidget) -> None:  # noqa: N802 (Qt's name)
        super().setWidget(widget)
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if obj is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the content's sizes changed (a style sheet, a result's legend): tell the dock
        return super().eventFilter(obj, event)

    def sizeHint(self):  # noqa: N802 (Qt's name)
        hint = self.widget().sizeHint()
        screen = self.screen().availableGeometry().height() if self.screen() is not None else 900
        hint.setWidth(max(hint.width(), self.widget().minimumSizeHint().width()) + self._bar())
        hint.setHeight(min(hint.height(), int(0.8 * screen)))
        return hint

    def minimumSizeHint(self):  # noqa: N802 (Qt's name)
        least = self.widget().minimumSizeHint()
        least.setWidth(least.width() + self._bar())
        least.setHeight(min(least.height(), self.least_height))
        return least

    #: the least height of the scrolled part (a dock with a footer always in view, Register's Run and status, takes less)
    least_height = MIN_VISIBLE_HEIGHT

    _shared = False

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._shared:  # once, when the dock first opens, after Qt has laid the column out
            self._shared = True
            QTimer.singleShot(0, self._take_share)

    def _take_share(self) -> None:
        """When a dock opens in a column of docks, Qt gives it its full height and presses those above it to their
        least (170 px: Landmarks' tables out of sight), or leaves it its least under them (the Evaluation plots'
        figure under its choices): where one of the column's docks is pressed so, they share its height equally.
        Nothing changes where none is, or where the dock is alone; later resizes are the user's."""
        dock = self.parentWidget()
        while dock is not None and not isinstance(dock, QDockWidget):
            dock = dock.parentWidget()
        window = None if dock is None else dock.parentWidget()
        if not isinstance(window, QMainWindow) or dock.isFloating() or not dock.isVisible():
            return
        area, x = window.dockWidgetArea(dock), dock.geometry().x()
        column = [d for d in window.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()
                  and window.dockWidgetArea(d) == area and d.geometry().x() == x]
        # Qt gives the new dock its full height and presses the ones above to their least (or the new one to its own)
        if len(column) > 1 and any(d.height() <= d.minimumSizeHint().height() + 8 for d in column):
            window.resizeDocks(column, [1] * len(column), Qt.Orientation.Vertical)


def scroll_body(widget: QWidget) -> QVBoxLayout:
    """The layout for ``widget``'s content, inside a vertical scroll area (:class:`_Scroll`): napari stacks docks
    on one side of its window, and docks whose content is taller than the screen would push the window (and its
    time slider) off it."""
    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    area = _Scroll(widget)
    area.setObjectName("scroll_area")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    body = QWidget()
    body.setObjectName("scroll_body")
    area.setWidget(body)
    outer.addWidget(area)
    return QVBoxLayout(body)
