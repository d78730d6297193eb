"""The "Register sequence" dock widget: a face on :func:`napari_tlreg.register`.

Qt code only: the registration runs in a worker thread through the public API, and the
result arrays become layers through the plain functions of :mod:`napari_tlreg.display`.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import html
import importlib
import json
import logging
import math
import re
import threading
import time
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import numpy as np
from napari.layers import Image, Labels, Layer, Points, Shapes, Vectors
from napari.utils.colormaps import ensure_colormap
from napari.utils.colormaps import label_colormap as napari_label_colormap
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent, QLocale, QObject, QPoint, QRect, Qt, QThreadPool, QTimer, Signal
from qtpy.QtGui import QValidator
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible
# not napari.qt.threading's create_worker: its task-status registry kept every worker, and with it every run's
# arguments (results, frame copies)
from superqt.utils import create_worker

import napari_tlreg as tl
from napari_tlreg.api import (
    NONFINITE_HINT,
    DEFAULT_METHOD,
    NORMALIZATIONS,
    RESULT_STAGE,
    Cancelled,
    available_devices,
    check_reference,
    check_shape,
    method_params,
    methods,
    out_of_memory,
    param_problem,
    rescaled_to_float32,
    suggested_method,
    validate_frames,
)
from napari_tlreg.core.arrays import recorded_frames
from napari_tlreg.core.labels import as_label_ids, frames_said, labelled_frames, reference_on_labels
from napari_tlreg.core.labels import label_names as names_by_id
from napari_tlreg.core.memory import give_back_freed_memory
from napari_tlreg.core.normalize import ONE_SCALE_HINT, intensity_range
from napari_tlreg.core.notes import time_left
from napari_tlreg.io import to_luminance
from napari_tlreg._hooks import COLOUR_OF, clip_info, geotiff_of, label_colormap, points_with_ids
from napari_tlreg.io.contours import LABEL_NAMES, contour_labels
from napari_tlreg import report
from napari_tlreg.report import labels_misfit

from napari_tlreg import display as L
from .chooser import (CONTOURS_OF, HIDDEN_WITH, RESULT_KEY, ClosingDock, ImageChooser, StatusLabel, base_data, enable,
                      current_frame, file_name, frame_not_shown, frames_shape, is_colour_copy, is_result, made_result,
                      plugin_info, scroll_body, selected_image, start_held, start_reference, unmake_result)
from .store import store_for, unwrap
from .landmarks import LANDMARKS, image_points, layer_spacing, transform_of

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["RegisterWidget"]

log = logging.getLogger(__name__)

NO_LABELS = "none"
NO_REGION = "none (whole frame)"
LAYER_TYPES = {"image": Image, "labels": Labels, "vectors": Vectors}
#: layer settings that are properties only (no constructor argument): set once the layer is made
SET_AFTER = ("contour",)
#: the intensity choices (``tl.register``'s ``normalize``) as the form names them
NORMALIZE_TEXT = {"auto": "auto (per frame if they flicker)", "sequence": "one scale for the sequence",
                  "frame": "each frame its own"}
#: the API's hints in Python's words, said in the form's (the flicker warning told a clinician to pass
#: normalize='sequence'; frames with NaNs, to call np.nan_to_num and the pair engines' mask_nodata)
DOCK_WORDS = {
    ONE_SCALE_HINT: f"intensity “{NORMALIZE_TEXT['sequence']}” keeps one scale for all",
    NONFINITE_HINT: "they are no image values: fill them with one value first, where the frames were made (or in "
                    "napari's console, np.nan_to_num(layer.data)); a pair method's mask_nodata leaves a no-data "
                    "fill out",
}
#: the grid spacing spin box's value for "auto" (:func:`~napari_tlreg.display.auto_grid_spacing`)
GRID_AUTO = 1
#: the seed of the colours napari gives a new labels layer (``napari.utils.colormaps.label_colormap``'s default)
NAPARI_LABEL_SEED = 0.5


def _unwatch(watched: list) -> None:
    """Disconnect the ``(emitter, handler)`` pairs in ``watched`` and empty it."""
    for emitter, handler in watched:
        with contextlib.suppress(Exception):  # a layer gone with its events
            emitter.disconnect(handler)
    watched.clear()


class _GridSpin(QSpinBox):
    """The grid spacing: "auto" at its minimum; a step up from "auto" goes to the spacing auto gives the image (a "+"
    went to 2 px, 256 lines a side on a 512-px map where auto drew 32 cells)."""

    def __init__(self, auto_value: Callable[[], int]):
        super().__init__()
        self._auto_value = auto_value

    def stepBy(self, steps: int) -> None:
        if self.value() == self.minimum() and steps > 0:
            self.setValue(min(self.maximum(), max(self.minimum() + 1, self._auto_value()) + steps - 1))
        else:
            super().stepBy(steps)


def napari_default_colours(layer: Labels) -> bool:
    """Whether ``layer`` has the colours napari gives a new labels layer (not shuffled, nor chosen by its user)."""
    cm = layer.colormap
    if getattr(cm, "seed", None) != NAPARI_LABEL_SEED:
        return False
    return np.array_equal(cm.colors, napari_label_colormap(len(cm.colors) - 1, seed=NAPARI_LABEL_SEED).colors)


def in_dock_words(message: str) -> str:
    """``message`` with the API's hints in :data:`DOCK_WORDS` said in the form's words."""
    for python, ours in DOCK_WORDS.items():
        message = message.replace(python, ours)
    return message


RUN_TEXT = "Run"
#: the border of a parameter editor whose value the method refuses
PROBLEM_COLOUR = "#e05050"
#: the least height of the Register dock's scrolled form: its Run, progress and status lie under it, always shown
FORM_LEAST_HEIGHT = 110
NO_IMAGE = "no image sequence to register — add an image layer with a time axis (T, H, W); 2-D images are not listed"
CANCEL_TEXT = "Cancel"
RUN_TIP = ("Register every frame to the reference in the background (the viewer stays usable; the button cancels "
           "while it runs); the results come as layers over the image")


# ---- work done in the worker thread (touches no widget) -------------------------------------------
#: metadata flag of a result layer the user has painted
EDITED = "napari_tlreg_edited"
#: a result layer's display settings that stay as the user set them when a re-run updates the layer in place (its
#: colormap, contrast, blending, ...), while the plugin's own value for them is the one it set before
STYLE_KEYS = ("colormap", "blending", "contrast_limits", "gamma", "contour", "edge_color", "edge_width", "length",
              "vector_style")
#: metadata of a result layer: the :data:`STYLE_KEYS` the user changed; the fingerprints of the values the plugin set
RESTYLED, STYLED = "napari_tlreg_restyled", "napari_tlreg_styled"
#: fields of a napari colormap that are not its look: the label chosen to paint (a user painting their own labels
#: changed the plugin's value for the propagated labels' colormap, and a re-run put back colours the user had changed)
NOT_STYLE = ("selection", "use_selection")
_STYLING: set[int] = set()  # ids of the result layers the plugin is setting now (their events are not the user's)
#: the frames row's tooltip
FRAMES_TIP = ("Register these frames only (both in): a cardiac cycle, or a few frames to try a slow method on first. "
              "They become an image layer of their own, '<image> frames A-B', on the same frames of the time slider, "
              "with the labels chosen, the image's region and landmarks cut alike; the whole sequence is hidden, not changed. "
              "The result records which frames of the source it registered.")
CONTOURS_TIP = ("Expert contours of this DICOM image (a folder of the Sunnybrook Cardiac Data's "
                "IM-0001-NNNN-icontour-manual.txt files) as its labels: 1 inside the endocardium, 2 the myocardium")


@dataclass
class _Outcome:
    kind: str  # "done" | "cancelled" | "error" | "refused" (the inputs, checked in the worker: not run)
    message: str = ""
    result: Any = None
    layers: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)


def _renamed(outcome: _Outcome, base: str) -> _Outcome:
    """``outcome`` with its result layers named after ``base``, the image's name now."""
    old = str(outcome.settings["base"])
    names = {L.layer_name(old, suffix): L.layer_name(base, suffix) for suffix in L.SUFFIXES}
    layers = [(data, {**kwargs, "name": names.get(kwargs["name"], kwargs["name"])}, kind)
              for data, kwargs, kind in outcome.layers]
    return replace(outcome, layers=layers, settings={**outcome.settings, "base": base})


#: s: the status says the time from Run to the result on screen where it is this much, and half again, more than the
#: registration's own
IN_ALL_AFTER_S = 5.0


def _in_all(runtime: float, settings: dict, opened) -> str:
    """The time from Run to the result on screen where it is much more than the registration's own (its checks
    against the frames and the result's layers: 39 s registered, 82 s in all at the size limit; large-data review)."""
    started = settings.get("started")
    if opened is not None or started is None:
        return ""
    total = time.monotonic() - started
    return (f" ({total:.0f} s in all, with its checks and layers)"
            if total - runtime >= IN_ALL_AFTER_S and total >= 1.5 * runtime else "")


class _Throttle:
    """Forward ``progress(done, total, message)`` at most every ``interval`` s (always the last step, a stage's first,
    and a step held back when nothing followed it, once ``interval`` s have passed since the step sent before it: the
    step before a long one was shown late or never, the status naming the one before it through the long step)."""

    def __init__(self, emit: Callable[[int, int, str], None], interval: float = 0.05):
        self._emit = emit
        self._interval = interval
        self._last = 0.0
        self._stage = None
        self._lock = threading.Lock()  # the worker's steps and the timer's trailing one: one at a time, in order
        self._held: tuple[int, int, str] | None = None
        self._timer: threading.Timer | None = None
        self._closed = False

    def close(self) -> None:
        """Send nothing more (the run is over, or its dock gone: a step sent by the timer after the dock was deleted
        crashed the process): what is held is dropped, the timer stopped. Once it returns, nothing is being sent."""
        with self._lock:
            self._closed, self._held = True, None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        step = (int(done), int(total), str(message))
        with self._lock:
            if self._closed:
                return
            now = time.monotonic()
            # a stage's first step too (its count at 0, or its words before the first ":" new): "checking the result"
            # came 50 ms after the engine's last and was dropped, the dock saying "registered (11/11)" through the
            # warp (diff review); NMSR's "scale 1 (240x320, λ 3): start", counted on from the scale before, was dropped
            # likewise and "scale 0.5: done" said for 8 s (echo review)
            stage = step[2].split(":", 1)[0]
            if now - self._last >= self._interval or done >= total or done == 0 or stage != self._stage:
                self._held = None
                self._send(step, now, stage)
                return
            self._held = step
            if self._timer is None:
                self._timer = threading.Timer(self._interval - (now - self._last), self._trail)
                self._timer.daemon = True
                self._timer.start()

    def _send(self, step: tuple[int, int, str], now: float, stage: str) -> None:
        self._last, self._stage = now, stage
        self._emit(*step)  # (a Qt signal: queued to the GUI thread, in the order sent)

    def _trail(self) -> None:
        with self._lock:
            self._timer = None
            if self._held is not None and not self._closed:  # nothing has been sent since it came
                step, self._held = self._held, None
                self._send(step, time.monotonic(), step[2].split(":", 1)[0])


#: Modules napari imports lazily the first time it builds our result layers (the Labels layers'
#: features table, colour conversions): about 0.5 s of the first result's display, on the GUI
#: thread. The worker imports them first (a no-op once imported; a missing one is skipped).
LAZY_LAYER_MODULES = ("pandas", "scipy.ndimage", "scipy.linalg", "skimage.color.colorconv", "skimage.exposure", "skimage.util")


def _preimport_layer_modules() -> None:
    for name in LAZY_LAYER_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


#: the start of a warning that says the result itself is not to be trusted (the registration's own checks)
DISTRUST = ("the warped reference matches the frames worse", "the warped reference matches the frame worse",
            "correlate negatively")


#: what the dock opened after one closed during a run says of it
CLOSED_RUN = "the run was cancelled: the Register dock was closed during it"

#: the most characters of a run's first warning its status line keeps
WARNING_CHARS = 400


def warned(warnings: list[str]) -> str:
    """The run's warnings as the end of its lasting status line: a notification fades (and the next one covers it),
    so a field the run's own check found worse than none read "done: ..." a minute later. The warnings that say the
    result is not to be trusted first; the first one whole up to :data:`WARNING_CHARS` (the status line shows what its
    lines hold, its tooltip all of it; cut at 140, "worse than none" lost "this field does not fit these frames")."""
    if not warnings:
        return ""
    ranked = sorted(warnings, key=lambda w: not any(d in w for d in DISTRUST))
    first = ranked[0] if len(ranked[0]) <= WARNING_CHARS else ranked[0][:WARNING_CHARS - 1].rstrip() + "…"
    more = f" (and {len(ranked) - 1} more warning{'s' if len(ranked) > 2 else ''})" if len(ranked) > 1 else ""
    return f"\n⚠ {first}{more}"


def _same(current: Any, value: Any) -> bool:
    """Whether ``current`` (a layer attribute, an editor's value) already is ``value`` (numbers and
    tuples compared as arrays)."""
    if current is None:
        return False
    try:
        return bool(np.array_equal(np.asarray(current), np.asarray(value)))
    except (TypeError, ValueError):
        return False


def _fingerprint(value: Any) -> str:
    """A value the plugin gives a display setting, as a short digest that is the same for the same setting (a napari
    colormap, a list of colours, a name, numbers)."""
    return hashlib.sha1(_canonical(value).encode()).hexdigest()[:16]


def _canonical(value: Any) -> str:
    # napari's colormaps (evented models), without a labels colormap's label chosen to paint; pydantic 2's model_dump
    # (its dict() warned "deprecated" at every run)
    dump = getattr(value, "model_dump", None) or getattr(value, "dict", None)
    if callable(dump):
        value = {k: v for k, v in dump().items() if k not in NOT_STYLE}
    if isinstance(value, dict):
        return "{" + ",".join(sorted(f"{_canonical(k)}:{_canonical(v)}" for k, v in value.items())) + "}"
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            a = np.asarray(value)
        except ValueError:  # ragged
            a = None
        if a is not None and a.dtype != object:
            return f"{a.dtype.str}{a.shape}{a.tobytes().hex()}"
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return repr(value)


def _watch_style(layer: Layer) -> None:
    """Note in the layer's metadata which :data:`STYLE_KEYS` the user changes (not the plugin: :data:`_STYLING`)."""
    ref = weakref.ref(layer)

    def changed(event) -> None:
        ly = ref()
        if ly is None or id(ly) in _STYLING:
            return
        keys = ly.metadata.setdefault(RESTYLED, [])
        if event.type not in keys:
            keys.append(event.type)

    for key in STYLE_KEYS:
        emitter = getattr(layer.events, key, None)
        if emitter is not None:
            emitter.connect(changed)


class _Unread(NamedTuple):
    """A labels layer's data, checked by its shape on the GUI thread and read in the worker (a copy, a scan and a cast
    of 16 x 2048² labels froze the window for 1.2 s at Run)."""

    name: str
    data: Any

    def read(self) -> np.ndarray:
        """The labels as int32 ids; ValueError (said as it is) for ids that are no ids."""
        try:  # ids beyond int32 (a uint64 layer) were refused only after the whole run
            return as_label_ids(np.array(self.data))
        except ValueError as exc:
            raise ValueError(f"labels '{self.name}': {exc}; choose other labels, or none") from None


def _run_job(data, colour: bool, labels, cancel: threading.Event, progress, call: dict, display: dict,
             origin: dict | None = None, geotiff: list | None = None) -> _Outcome:
    """Check the frames, register and build the layer data; every failure comes back as an :class:`_Outcome`, never
    raised. The checks that read every pixel (the grey copy of colour, NaN, constant frames) are made here, not on the
    GUI thread: 8 x 4000 x 4000 froze the viewer for 3.5 s at Run."""
    try:
        shown = to_luminance(np.asarray(data)) if colour else np.asarray(data)  # as the layer holds them
        frames, _ = validate_frames(shown, call["reference"])
    except (ValueError, TypeError) as exc:
        return _Outcome("refused", message=f"layer '{display['base']}': {exc}")
    except MemoryError:
        return _Outcome("refused", message="out of memory: crop or downsample the sequence")
    try:
        labels = labels.read() if isinstance(labels, _Unread) else labels
    except ValueError as exc:
        return _Outcome("refused", message=str(exc))
    except MemoryError:
        return _Outcome("refused", message="out of memory reading the labels: crop or downsample them")
    started: list[bool] = []  # a first progress call: the engine runs (before it, register checks what it was given)

    def steps(*args) -> None:
        started.append(True)
        if progress is not None:
            progress(*args)

    try:
        notes: list[str] = []  # the run's own warnings (e.g. blank frames), shown with the result's
        res = tl.register(frames, progress=steps, cancel=cancel,
                          on_warning=lambda m: notes.append(in_dock_words(m)), **call)
        if cancel.is_set():
            return _Outcome("cancelled")
        res.provenance.update(origin or {})  # the layer's file (register saw only its pixels)
        res.geotiff = geotiff  # ... and where its map lies: the result's images are saved there
        return _shown(res, shown, frames, labels, display, notes, res.scaled_apart)
    except Cancelled:
        return _Outcome("cancelled")
    except (ValueError, TypeError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:  # the user's to fix
        # refused by register's checks (the memory it would need, a parameter) said as "not run", not "failed"
        return _Outcome("error" if started else "refused", message=str(exc))
    except Exception as exc:  # a bug or a backend failure: report it, keep the viewer alive
        if out_of_memory(exc):  # the host's, or a GPU's (a RuntimeError, reported as a bug)
            return _Outcome("error", message="out of memory: crop or downsample the sequence, or use another device")
        log.exception("registration failed")
        return _Outcome("error", message=f"registration failed: {type(exc).__name__}: {exc}")


def _shown(res, shown: np.ndarray, frames: np.ndarray, labels, display: dict, notes: list[str], apart) -> _Outcome:
    """A result's layers and display settings, made in the worker (a run's or an opened folder's). ``apart``: the
    pixels the run left out of the frames' scale (:attr:`~napari_tlreg.result.RegistrationResult.scaled_apart`)."""
    if res.normalization == "frame":  # frames scaled each its own (dates in other units, a flickering cine): one
        # contrast window over the image showed a date black under the magenta overlay ("misalignment" everywhere);
        # the frames as registered go under the overlay, as a colour image's do
        display = {**display, "grey_frame": True}
    layers, warnings = L.result_layers(res, labels=labels, **{k: v for k, v in display.items() if k != "started"})
    # the frame's contrast as the warped reference's (normalised by the same percentiles): the overlay balanced;
    # in the layer's own values (validate_frames maps float64 and wide integers onto [0, 1]: an int32 or float64
    # image took limits of (0.003, 0.985) and turned solid green)
    # the frame scaled as the run scaled its frames (NMSR's: in its mask)
    display = {**display, "frame_limits": intensity_range(shown if rescaled_to_float32(shown.dtype) else frames, fill=apart)}
    _preimport_layer_modules()
    return _Outcome("done", result=res, layers=layers, warnings=notes + warnings, settings=display)


def _of_source(res) -> str:
    """" (frames A-B of the source, the reference its frame R)" for a sub-clip's result (``provenance["frames"]``), the
    numbers the time slider shows (the dock's reference, Landmarks and plots count the clip's own frames from 0)."""
    cut = recorded_frames(res.provenance)
    if cut is None:
        return ""
    first, _, step = cut
    last = first + step * (res.n_frames - 1)
    every = f" every {step}" if step != 1 else ""
    return f" (frames {first}-{last}{every} of the source, the reference its frame {first + step * res.reference})"


def _recorded_clip(folder, layer) -> tuple[int, int] | None:
    """``(first, last)`` frames of ``layer`` that the result in ``folder`` registered, when it is a sub-clip's
    (``provenance["frames"]``, step 1) of a sequence like ``layer`` (as many frames or more, itself no sub-clip, the
    source recorded by both); else None (opened on ``layer`` as it is, or refused with the reason)."""
    try:
        record = json.loads((Path(folder).expanduser() / "result.json").read_text())
        prov, shape = record.get("provenance") or {}, record.get("shape")
    except (OSError, ValueError, AttributeError):
        return None
    cut, info = recorded_frames(prov), plugin_info(layer)
    if cut is None or cut[2] != 1:
        return None
    n = frames_shape(layer)[0]
    first, stop = cut[0], cut[1]
    own = info.get("sample", info.get("source"))
    if not 0 <= first < stop <= n or stop - first == n or info.get("frames") is not None:
        return None
    if not (isinstance(own, str) and isinstance(prov.get("source"), str) and own == prov["source"]):
        return None  # (cut from an image that records no source, then refused: a clip left behind, named in the refusal)
    if isinstance(shape, list) and shape and shape[0] != stop - first:
        return None
    return first, stop - 1


def _open_job(folder, data, colour: bool, labels, display: dict, size: tuple = (None, "px")) -> _Outcome:
    """Read a result folder (:meth:`RegistrationResult.save`, ``register --out``) and make its layers over the image
    ``data`` it must have been registered from: the same frames, scaled as the run scaled them. ``size``: the image's
    ``(spacing, unit)``; a folder measured at another pixel size says so (the docks measure in the folder's)."""
    base = display["base"]
    try:
        res = tl.RegistrationResult.load(folder)
    except FileNotFoundError as exc:  # no such folder, or no result.json: said with the folder
        return _Outcome("refused", message=str(exc))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        said = str(exc)[len(f"{folder}: "):] if str(exc).startswith(f"{folder}: ") else str(exc)  # (the folder twice)
        return _Outcome("refused", message=f"{folder}: not a result that can be read: {said}")
    except MemoryError:
        return _Outcome("refused", message=f"{folder}: out of memory reading it")
    try:
        shown = to_luminance(np.asarray(data)) if colour else np.asarray(data)
        if tuple(res.frames.shape) != tuple(shown.shape):
            cut = recorded_frames(res.provenance)  # a sub-clip's (register --frames): its frames.tif is the image
            made = (f"{folder} registered frames {cut[0]} to {cut[1] - 1}{f' (every {cut[2]})' if cut[2] != 1 else ''} "
                    f"of its source: open {folder}/frames.tif, its frames, and the result on it"
                    if cut is not None else "open it on the image it was made from")
            return _Outcome("refused", message=(
                f"{folder} registered frames of shape {tuple(res.frames.shape)} and '{base}' is "
                f"{tuple(shown.shape)}: {made}"))
        frames, apart, off = res.frames_apart(shown)
        if not off <= 1e-4:  # another sequence of the same size (or the same one cropped, filtered...)
            return _Outcome("refused", message=(
                f"{folder} was registered from other frames than '{base}' holds (intensities up to {off:.3g} apart, "
                "scaled as the run scaled them): open it on the image it was made from"))
        # what its run warned of, as the run said it (a field worse than none: reopened, it was shown as good)
        notes = [str(w) for w in (res.provenance or {}).get("warnings", ()) if isinstance(w, str)]
        mine = "pixels" if res.spacing is None else f"{res.spacing[0]:g} x {res.spacing[1]:g} {res.unit}"
        theirs = "pixels" if size[0] is None else f"{size[0][0]:g} x {size[0][1]:g} {size[1]}"
        if mine != theirs:  # (a folder of 10 m pixels over a layer of 0.5 mm: TRE in metres headed mm, silently)
            notes.append(f"{folder} was measured with pixels of {mine} and '{base}' is shown at {theirs}: the TRE, "
                         f"Hausdorff distances and plots of this result are in the folder's")
        return _shown(res, shown, frames, labels, display, notes, apart)
    except (ValueError, TypeError) as exc:
        return _Outcome("refused", message=f"layer '{base}': {exc}")
    except MemoryError:
        return _Outcome("refused", message="out of memory: crop or downsample the sequence")


#: the cancel events of the runs going on now, in any dock
_RUNNING: set[threading.Event] = set()


@atexit.register
def _stop_runs_at_exit() -> None:
    """A run still going when Python exits would emit into objects already torn down (Qt aborts the process): stop
    every run and let its thread end first. The docks' other workers (the plots' evaluation, the grid, tracking:
    superqt's, on the global pool too) are waited for as well: one ending after Qt's teardown printed "wrapped C/C++
    object of type WorkerBaseSignals has been deleted" twice as the viewer quit."""
    for cancel in list(_RUNNING):
        cancel.set()
    QThreadPool.globalInstance().waitForDone(10_000)


class _Relay(QObject):
    """Carries progress from the worker thread to the GUI thread (queued connection)."""

    progress = Signal(int, int, str)


# ---- small widget helpers -------------------------------------------------------------------------
class _FloatSpin(QDoubleSpinBox):
    """A number editor that takes any value its engine does, shown as briefly as it reads (0.002, 1e-06, 2.5): with
    decimals fixed by the default's size, nmsr's ``lr`` could not go below 1e-5 nor ``tol`` below 1e-3, which the
    engine takes (a run from Python could not be made again in the viewer). A decimal comma (German, French: the
    keypad's) reads as the point: it was dropped, and "2,5" became 25 without a word."""

    def __init__(self):
        super().__init__()
        self.setDecimals(12)

    def _plain(self, text: str) -> str:
        """``text`` as Python reads a number: a comma is the decimal point where the locale's is one (its keypad's);
        elsewhere a comma groups thousands ("1,000"), and only as it does (it made 1,000 into 1)."""
        t = text.strip()
        # where the point is ".", a comma groups thousands only as thousands are grouped ("1,000", "12,345.5"; not
        # "0,001" nor "2,5", read as decimals: they became 1 and 25); where the locale's point is a comma, it is one
        if QLocale().decimalPoint() != "," and re.fullmatch(r"[-+]?[1-9]\d{0,2}(,\d{3})+(\.\d*)?([eE][-+]?\d*)?", t):
            return t.replace(",", "")
        return t.replace(",", ".")

    def textFromValue(self, value: float) -> str:
        return f"{value:.12g}"  # what reads back as the value set (.6g rounded 0.0123456789 at Enter)

    def fixup(self, text: str) -> str:
        return text  # (Qt's took a comma for a group separator and dropped it: "2,5" became 25)

    def valueFromText(self, text: str) -> float:
        try:
            return float(self._plain(text))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        if text.strip() and text.strip() == self.specialValueText():
            return QValidator.State.Acceptable, text, pos
        t = self._plain(text)
        try:
            v = float(t)
        except ValueError:
            partial = t in ("", "-", "+", ".", "-.", "+.") or re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?", t)
            return (QValidator.State.Intermediate if partial else QValidator.State.Invalid), text, pos
        inside = self.minimum() <= v <= self.maximum()
        return (QValidator.State.Acceptable if inside else QValidator.State.Intermediate), text, pos


def _float_spin(value: float) -> QDoubleSpinBox:
    w = _FloatSpin()
    mag = abs(float(value))
    step = 0.1 if mag == 0 else 10.0 ** np.floor(np.log10(mag)) / (10 if mag >= 0.01 else 1)
    w.setRange(-1e9, 1e9)
    w.setSingleStep(step)
    w.setValue(float(value))
    return w


def _special_value(help_text: str) -> tuple[float, str] | None:
    """The lowest value an engine's help gives a meaning of its own, and that meaning's first words: ``"... (0: auto,
    from ...)"`` -> ``(0.0, "auto")``; ``"(1: the finest only; 0: every scale)"`` -> ``(0.0, "every scale")``; None
    where the help names none. (The engines refuse anything lower: tests/test_widget_register.py checks it for each one.)"""
    named = re.findall(r"[(;]\s*(-?\d+): ([^,;()]+)", help_text or "")
    return min(((float(v), text.strip()) for v, text in named), default=None, key=lambda vt: vt[0])


def _empty_meaning(help_text: str) -> str | None:
    """What an empty text parameter means by its help: ``"... (empty: nmsr_synth)"`` -> ``"nmsr_synth"``."""
    m = re.search(r"\(empty: ([^()]+)\)", help_text or "")
    return m.group(1).strip() if m else None


def _param_editor(default: Any, choices: tuple | None, help_text: str = "") -> tuple[QWidget, Callable[[], Any], Any]:
    """An editor for one engine parameter, a getter returning a value of the default's type, and the
    editor's signal that its value changed. A number whose help gives one value a meaning of its own ("0: auto")
    shows that meaning instead of the number, and goes no lower; an empty text shows what empty means."""
    special = _special_value(help_text) if isinstance(default, (int, float)) and not isinstance(default, bool) else None
    if choices:
        w = QComboBox()
        for c in choices:
            w.addItem(str(c), c)
        if default in choices:
            w.setCurrentIndex(list(choices).index(default))
        return w, w.currentData, w.currentIndexChanged
    if isinstance(default, bool):
        w = QCheckBox()
        w.setChecked(default)
        return w, w.isChecked, w.toggled
    if isinstance(default, (int, float)):
        if isinstance(default, int):
            w = QSpinBox()
            w.setRange(-(2**31) + 1, 2**31 - 1)  # a seed up to 2**31 - 1, as the engines take (10**9 refused it)
            w.setValue(default)
        else:
            w = _float_spin(default)
        if special is not None and special[0] <= default:  # "scale 0.000" reads as a scale of nothing: "auto"
            w.setMinimum(type(default)(special[0]))
            w.setSpecialValueText(special[1])
        return w, w.value, w.valueChanged
    w = QLineEdit("" if default is None else str(default))
    if default is None:
        w.setPlaceholderText("not set")
        return w, lambda: (w.text() or None), w.textChanged
    empty = _empty_meaning(help_text)
    if empty:
        w.setPlaceholderText(empty)
    return w, w.text, w.textChanged


def _percent(value) -> str:
    """A share in % for people: 2 decimals, but a few folded pixels never read as "0.00 %"."""
    v = float(value)
    # a no-break space: the status line wrapped between the number and its "%"
    return f"{v:.2f}\u00a0%" if v == 0 or v >= 0.01 else f"{v:.1g}\u00a0%"


def _hex(rgba) -> str:
    r, g, b = (int(round(float(c) * 255)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


#: the legend's line on the overlay, by how the frame under the warped reference is drawn
OVERLAY_TEXT = {
    "green": "overlay: the frame green, the warped reference magenta: aligned structures white, a misalignment green or "
             "magenta (so is a change of brightness between the frames)",
    "rgb": "overlay: the frame as registered (grey, layer “… grey frame”, over the colour image) green, the warped "
           "reference magenta: aligned structures white, a misalignment green or magenta (so is a change of "
           "brightness between the frames)",
    "per_frame": "overlay: the frame as registered (its intensities scaled frame by frame, as the run scaled them: "
                 "layer “… grey frame”, over the image) green, the warped reference magenta: aligned structures "
                 "white, a misalignment green or magenta",
    "own": "overlay: the warped reference magenta, added over the frame in the colormap you gave it (a gray frame "
           "turns green: aligned structures white, a misalignment green or magenta)",
}
#: the legend's line while the checkerboard is on (it described the green and magenta overlay over grey tiles)
CHECKER_TEXT = ("checkerboard: tiles of the warped reference and of the frame in turn; an edge that breaks where two "
                "tiles meet is a misalignment")


#: the legend's line on the no-data layer, for a fill the run found and for the user's (or the file's) value
NODATA_FOUND_TEXT = ("not compared (layer “… no data”): the input's no-data, a flat region at its lowest or highest "
                     "value apart from the rest (a fill; or clipped), or the reference's moved there")
NODATA_GIVEN_TEXT = ("not compared (layer “… no data”): the input's pixels of its no-data value, {:g}, or the "
                     "reference's moved there")


#: the legend's line under the Jacobian's ramp: in the plugin's colormap, and in one the user chose
JACOBIAN_MEANING = "since the reference: blue grew · white unchanged · red shrank"
JACOBIAN_MEANING_OTHER = "since the reference: left end grew · 1 unchanged · right end shrank"


#: the most lines of the Register dock's status kept in view however low the dock is (the whole text in its tooltip)
STATUS_LINES = 5
#: the least height of the Register dock's form where the status takes more lines (two rows of the form)
FORM_FLOOR = 56


#: the Register dock's word on an image added beside the one chosen (:meth:`RegisterWidget._on_layer_inserted`)
_ADDED = re.compile(r"'.*' added; the docks stay on '.*': choose '.*' under image to register it$")


class _StatusLabel(StatusLabel):
    """The Register dock's status line: wrapped, and as high as its text needs at its width (up to
    :data:`STATUS_LINES` lines), the least height of the scrolled ``form`` above it lowered by as much (down to
    :data:`FORM_FLOOR`), so the dock's least height stays the same and the window still fits a 768-px screen. A plain
    wrapped label asked for one line's height: with the three docks on such a screen the end of a run's status, the
    warning not to trust the result, was cut in half; the whole text is its tooltip too."""

    def __init__(self, text: str, form: QScrollArea):
        self.form = form
        super().__init__(text)
        # a text longer than the lines it is given keeps its first line, the run's summary, whole (centred, it lost
        # half of it and the end; UX review)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setIndent(0)  # (a framed label indents its text by an "x" on its aligned sides: half a line more asked for)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        # the text's own height (QLabel's heightForWidth is never below the least height set here)
        # (the contents rectangle, as QLabel wraps in it: napari's style sheet pads it beyond the contents margins, and
        # the text took a line more than was asked for)
        metrics, inside = self.fontMetrics(), self.contentsRect()
        inner = max(inside.width() - 2 * self.margin(), 1)
        text = metrics.boundingRect(QRect(0, 0, inner, 0), Qt.TextFlag.TextWordWrap, QLabel.text(self)).height()
        line = metrics.lineSpacing()
        need = min(text + self.height() - inside.height() + 2 * self.margin(), line * STATUS_LINES + line // 2)
        if need != self.minimumHeight():  # a width change may change it; a height change never does
            self.setMinimumHeight(need)
            lines = max(1, round(need / line))  # the label's margins less than a line
            self.form.least_height = max(FORM_FLOOR, FORM_LEAST_HEIGHT - (lines - 1) * line)
            self.form.updateGeometry()


def arrows_text(length: float) -> str:
    """The legend's line on the arrows drawn ``length`` times their length (the layer's length control)."""
    drawn = "" if length == 1 else f", drawn {length:g}x as long (the layer's length)"
    return (f"arrows (“… displacement”{drawn}): from a pixel to where its content is on the reference, against the "
            "motion")


class _JacobianLegend(QWidget):
    """Colour bar of the jacobian layer (its colormap and contrast limits) and the fold colour."""

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.title = QLabel("Jacobian det(I + ∇u) — layer “… jacobian”")
        self.ramp = QLabel()
        self.ramp.setFixedHeight(14)
        self.ramp.setMinimumWidth(120)
        ticks = QHBoxLayout()
        self.lo = QLabel()
        self.mid = QLabel("1 (area kept)")
        self.hi = QLabel()
        self.mid.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hi.setAlignment(Qt.AlignmentFlag.AlignRight)
        for w in (self.lo, self.mid, self.hi):
            ticks.addWidget(w, 1)
        # det of the pull field: the reference area one pixel of the frame shows (> 1: the tissue shrank since the reference)
        self.meaning = QLabel(JACOBIAN_MEANING)
        # wrapped, as the lines below: unwrapped, a result's legend widened the docks by 120 px (off a 1024 px screen)
        self.title.setWordWrap(True)
        self.meaning.setWordWrap(True)
        self.overlay = QLabel(OVERLAY_TEXT["green"])
        self.overlay.setWordWrap(True)
        self.arrows = QLabel(arrows_text(1.0))
        self.arrows.setWordWrap(True)
        # (clinician review: the propagated labels' outlines and the expert's filled labels, both red, were told apart
        # by nothing on screen)
        self.grid = QLabel(f"cyan lines (“… {L.GRID}”): the reference's square grid as it lies in this frame")
        self.labels = QLabel(f"outlines (“… {L.LABELS}”): the reference frame's labels carried to this frame; "
                             "filled: the labels as they were drawn")
        for w in (self.grid, self.labels):
            w.setWordWrap(True)
        self.labels.setVisible(False)  # shown for a result with labels propagated
        self.nodata = QWidget()  # shown for a result whose input held no-data (a satellite date's fill)
        row = QHBoxLayout(self.nodata)
        row.setContentsMargins(0, 0, 0, 0)
        grey = QLabel()
        grey.setFixedSize(14, 14)
        grey.setStyleSheet(f"background: {L.NODATA_COLOR}; border: 1px solid #808080;")
        text = self.nodata_text = QLabel(NODATA_FOUND_TEXT)
        text.setWordWrap(True)
        row.addWidget(grey)
        row.addWidget(text, 1)
        self.nodata.setVisible(False)
        folds = QHBoxLayout()
        swatch = QLabel()
        swatch.setFixedSize(14, 14)
        swatch.setStyleSheet(f"background: {_hex(ensure_colormap(L.FOLD_COLOR).map([1.0])[0])}; border: 1px solid #808080;")
        self.folds = QLabel()
        self.folds.setWordWrap(True)
        folds.addWidget(swatch)
        folds.addWidget(self.folds, 1)
        for w in (self.title, self.ramp):
            lay.addWidget(w)
        lay.addLayout(ticks)
        lay.addWidget(self.meaning)
        lay.addLayout(folds)
        lay.addWidget(self.overlay)
        lay.addWidget(self.nodata)
        lay.addWidget(self.arrows)
        lay.addWidget(self.grid)
        lay.addWidget(self.labels)
        self.set_colormap(L.JACOBIAN_COLORMAP)
        self.set_values((0.9, 1.1), None)

    def set_colormap(self, colormap) -> None:
        """The ramp in the Jacobian layer's colormap (the user's, when they chose another)."""
        cmap = ensure_colormap(colormap)
        stops = np.linspace(0, 1, 9)
        grad = ", ".join(f"stop:{s:.3f} {_hex(c)}" for s, c in zip(stops, cmap.map(stops)))
        self.ramp.setStyleSheet(f"background: qlineargradient(x1:0, y1:0, x2:1, y2:0, {grad}); border: 1px solid #808080;")
        ours = cmap.name == ensure_colormap(L.JACOBIAN_COLORMAP).name
        self.meaning.setText(JACOBIAN_MEANING if ours else JACOBIAN_MEANING_OTHER)

    def set_limits(self, limits) -> None:
        """The ticks at the Jacobian layer's contrast limits (the user's, when they set others)."""
        lo, hi = (float(v) for v in limits)
        # both ends to as many decimals (3 significant digits read 1 ± 0.296 as "≤ 0.704 … ≥ 1.3": not symmetric)
        digits = max(2, 1 - math.floor(math.log10(hi - lo))) if hi > lo else 3
        self.lo.setText(f"≤ {lo:.{digits}f}")
        self.hi.setText(f"≥ {hi:.{digits}f}")
        mid = (lo + hi) / 2
        self.mid.setText("1 (area kept)" if abs(mid - 1.0) < 1e-6 else f"{mid:.{digits}f}")

    def set_values(self, limits: tuple[float, float], folding_pct, in_mask: bool = False) -> None:
        self.set_limits(limits)
        text = "folding: det ≤ 0 (layer “… folds”)"
        if folding_pct is not None and len(folding_pct):
            text += f" — worst frame {_percent(np.max(folding_pct))}" + (" in the mask" if in_mask else "")
        self.folds.setText(text)


# ---- the widget -----------------------------------------------------------------------------------
class RegisterWidget(ClosingDock, QWidget):
    """Register an image sequence ``(T, H, W)`` to one of its frames and show the result as layers.

    Every finished run is kept in :attr:`results` under ``(image layer name, method)``, published to
    the viewer's :func:`~napari_tlreg._widgets.store.store_for` store (read by the landmark and plots
    widgets) and announced by :attr:`result_ready` ``(image name, method, result)``.
    """

    result_ready = Signal(str, str, object)

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        # the viewer itself, not napari's PublicOnlyProxy (the plugin menu's dock got it): through the proxy every
        # access gives a new object, so the weak references and identity checks on layers never held (the legend
        # followed no change of the Jacobian layer's limits)
        self._viewer = unwrap(napari_viewer)
        self._labels_layers: list[Labels] = []
        self._worker = None
        self._file_worker = None  # a result folder being saved or opened
        self._run_layer: Layer | None = None
        self._run_removed: str | None = None  # the name of the image removed while it was registered
        self._run_data = None  # the image's data the run took (replaced while it ran: the result is not its)
        self._run_labels: str | None = None  # the labels layer the run took
        self._grid_gen = 0  # the latest grid asked for (a spacing changed again meanwhile: the older one is dropped)
        self._grid_workers: set = set()
        #: the result layers made, by the name they were made under: one the user renamed ("my grid") is still the
        #: one a re-run, the grid spacing and the checkerboard update (a second set was drawn over it)
        self._made_as: dict[str, weakref.ref] = {}
        #: an image renamed onto a name whose result layers were in the way: new name -> old name
        self._renamed_over: dict[str, str] = {}
        self._followed: weakref.WeakSet = weakref.WeakSet()  # Jacobian layers whose limits the legend follows
        self._cancel: threading.Event | None = None
        self._result = None  # last RegistrationResult
        self.results: dict[tuple[str, str], Any] = {}  # (image name, method) -> last RegistrationResult
        self._done_text: dict[str, str] = {}  # image name -> the status line of its last run
        self._saved_results: set[int] = set()  # ids of the results saved from this dock (while the store holds them)
        self._result_place: dict = {}  # base name, scale, translate of the last result's layers
        self._grid_was_visible = True  # the grid's visibility before the checkerboard hid it
        self._legend_args: dict = {}  # what the Jacobian's legend says of the last result (_fill_legend)
        self._param_getters: dict[str, Callable[[], Any]] = {}
        self._param_defaults: dict[str, Any] = {}
        self._region_combos: dict[str, QComboBox] = {}  # region parameters: their Labels-layer choosers
        self._param_editors: dict[str, QWidget] = {}
        self._own_nodata_text = ""  # what _choose_own_nodata last put in the nodata field (a value typed is the user's)
        self._own_weights_text = ""  # ... and _choose_own_weights in the weights field
        self._frame_limits_set: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # frame layer -> limits set
        self._relay = _Relay(self)
        self._relay.progress.connect(self._on_progress)
        self._build()
        self._take_over()
        self._connect_viewer()
        self._refresh_layers()
        self._on_method_changed()
        if self._handed:
            self._catch_up()
            if self._result is not None:
                self._fill_legend()
            self._on_image_changed()  # its status, progress and legend, as the closed dock had them (or none: the
            # listing above showed a removed image's status over a new one of its name, before _catch_up dropped it)

    #: what a closed dock hands to the one napari makes when it is opened again (its "x" deletes the widget): the
    #: result on screen and where it is drawn, each image's status line, the result layers it made (the reopened dock's
    #: grid spacing, checkerboard and legend did nothing to the result shown; its status was empty, its bar at 0 %)
    _HANDED = ("_result", "results", "_done_text", "_result_place", "_made_as", "_renamed_over",
               "_frame_limits_set", "_grid_was_visible", "_legend_args", "_saved_results")

    def _take_over(self) -> None:
        """Take what the viewer's last closed Register dock left (:attr:`_HANDED`), and leave ours when closed."""
        store = store_for(self._viewer)
        handed = store.take_dock_state()
        self._handed = handed is not None
        for key, value in (handed or {}).items():
            setattr(self, key, value)
        me = weakref.ref(self)  # (a closure holding the widget, or its values as they were, kept them alive)

        def leave() -> None:
            widget = me()
            if widget is not None:  # the values at its closing (results are replaced, not mutated, by each run)
                store.keep_dock_state({key: getattr(widget, key) for key in widget._HANDED})

        self._leave_state = leave

    # -- construction ------------------------------------------------------------------------------
    def _build(self) -> None:
        root = scroll_body(self)
        self.inputs = QWidget()  # everything a run reads: disabled while it runs
        inputs = QVBoxLayout(self.inputs)
        inputs.setContentsMargins(0, 0, 0, 0)
        root.addWidget(self.inputs)
        form = QFormLayout()
        inputs.addLayout(form)

        self.images = ImageChooser(self._on_image_changed, "Image layer with a time axis (T, H, W); colour is registered as grey")
        self.image_combo = self.images.combo
        form.addRow("image", self.image_combo)

        self.labels_combo = QComboBox()
        self.labels_combo.setAccessibleName("labels")  # (a row of two widgets binds no label: a screen reader said nothing)
        self.labels_combo.setToolTip("Labels (T, H, W) or (H, W): the reference frame's labels are propagated")
        self.labels_combo.activated.connect(self._on_labels_picked)
        self._watched_labels: list = []  # the chosen labels layer, while the dock listens to its painting
        self.labels_combo.currentIndexChanged.connect(lambda _i: self._watch_labels())
        self.contours_btn = QPushButton("contours…")
        self.contours_btn.setToolTip(CONTOURS_TIP)
        self.contours_btn.setEnabled(False)  # until a DICOM image that records its image numbers is chosen
        self.contours_btn.clicked.connect(lambda: self.load_contours())
        labels_row = QHBoxLayout()
        labels_row.addWidget(self.labels_combo, 1)
        labels_row.addWidget(self.contours_btn)
        form.addRow("labels", labels_row)

        ref_row = QHBoxLayout()
        self.reference_spin = QSpinBox()
        self.reference_spin.setAccessibleName("reference frame")  # (read as "spin box 0" alone)
        self.reference_spin.setToolTip("Frame every other frame is registered to")
        self.current_frame_btn = QPushButton("use current frame")
        self.current_frame_btn.setToolTip("Take the frame the time slider shows as the reference")
        self.current_frame_btn.clicked.connect(self._use_current_frame)
        # a reference the user sets here goes to the Landmarks dock, where the pairs are placed on it (one typed here
        # stayed here: the Landmarks dock's pairs on its own reference were dropped from the run's TRE)
        self._dock_sets_reference = False
        self.reference_spin.setKeyboardTracking(False)  # typed "18": one change, not 1 then 18
        self.reference_spin.valueChanged.connect(self._on_reference_edited)
        ref_row.addWidget(self.reference_spin, 1)
        ref_row.addWidget(self.current_frame_btn)
        form.addRow("reference", ref_row)

        # frames first..last only: a sub-clip, made a layer of its own (echo review: NMSR on the real clip's 30 frames
        # took ~10 minutes, with no way in the dock to try it on a few first)
        clip_row = QHBoxLayout()
        self.first_spin, self.last_spin = QSpinBox(), QSpinBox()
        for spin, said in ((self.first_spin, "first frame"), (self.last_spin, "last frame")):
            spin.setAccessibleName(said)
            spin.setToolTip(FRAMES_TIP)
            spin.setKeyboardTracking(False)
        self.first_spin.valueChanged.connect(self.last_spin.setMinimum)  # first <= last
        self.last_spin.valueChanged.connect(self.first_spin.setMaximum)
        clip_row.addWidget(self.first_spin, 1)
        to = QLabel("to")
        to.setToolTip(FRAMES_TIP)
        clip_row.addWidget(to)
        clip_row.addWidget(self.last_spin, 1)
        form.addRow("frames", clip_row)
        if (label := form.labelForField(clip_row)) is not None:
            label.setToolTip(FRAMES_TIP)

        self.method_combo = QComboBox()
        names = methods()
        for name, description in names.items():
            self.method_combo.addItem(name, name)
            self.method_combo.setItemData(self.method_combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        if DEFAULT_METHOD in names:
            self.method_combo.setCurrentIndex(list(names).index(DEFAULT_METHOD))
        # the method follows the chosen image (a pair of dates: PAIR_METHOD) until someone else sets it (the user, a
        # script, the launcher): from then on it is theirs
        self._method_chosen = False
        self._setting_method = False
        self.method_combo.currentIndexChanged.connect(self._on_method_set)
        form.addRow("method", self.method_combo)

        self.params_box = QGroupBox("parameters")
        params_layout = QVBoxLayout(self.params_box)
        self.params_form = QFormLayout()
        params_layout.addLayout(self.params_form)
        # the parameters few users change (Engine.advanced), folded away: rebuilt per method
        self.advanced: QCollapsible | None = None
        self.advanced_form: QFormLayout | None = None
        self._advanced_holder: QWidget | None = None
        self._advanced_keys: list[str] = []
        self._advanced_open = False
        inputs.addWidget(self.params_box)

        form2 = QFormLayout()
        inputs.addLayout(form2)
        self.device_combo = QComboBox()
        devices = available_devices()
        for i, (name, ok) in enumerate(devices.items()):
            self.device_combo.addItem(name, name)
            if not ok:
                item = self.device_combo.model().item(i)
                item.setEnabled(False)
                item.setToolTip(f"{name}: not available on this machine")
        self.device_combo.setToolTip("Where the registration runs: auto takes a CUDA GPU when there is one, else the CPU")
        form2.addRow("device", self.device_combo)
        self.normalize_combo = QComboBox()
        for value in NORMALIZATIONS:
            self.normalize_combo.addItem(NORMALIZE_TEXT[value], value)
        self.normalize_combo.setToolTip(
            "how intensities are scaled before registration: one scale for every frame, or each frame its own "
            "(a flickering video's brightness changes); auto chooses per frame where frames differ in brightness "
            "from the reference beyond what motion does, and says so")
        form2.addRow("intensity", self.normalize_combo)

        # Run, the progress and the status under the scrolled form, always in view: on a 1366x768 screen with the
        # three docks they were below nmsr's form, 0 px of them shown, the run's progress out of sight
        form = self.findChild(QScrollArea, "scroll_area")
        form.least_height = FORM_LEAST_HEIGHT  # the window still fits 768 px
        holder = QWidget()  # with the form's side margins (at the dock's edges, Run's right border was cut off)
        footer = QVBoxLayout(holder)
        left, _, right, _ = form.widget().layout().getContentsMargins()
        footer.setContentsMargins(left, 0, right, 0)
        self.layout().addWidget(holder)
        self.run_btn = QPushButton(RUN_TEXT)
        self.run_btn.setAutoDefault(True)  # Enter on the focused button runs, as Space does (UX review)
        self.run_btn.clicked.connect(self._on_run_clicked)
        footer.addWidget(self.run_btn)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%p%")
        self._run_started, self._run_total = time.monotonic(), None
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        footer.addWidget(self.progress_bar)
        self.status_label = _StatusLabel("ready", form)
        footer.addWidget(self.status_label)

        display = QGroupBox("display")
        dform = QFormLayout(display)
        self.grid_spin = _GridSpin(self._auto_grid_spacing)
        self.grid_spin.setRange(GRID_AUTO, 512)
        self.grid_spin.setSpecialValueText("auto")
        self.grid_spin.setValue(GRID_AUTO)
        self.grid_spin.setSuffix(" px")
        self.grid_spin.setToolTip("Spacing of the reference grid drawn deformed in the “… grid” layer (pixels of the "
                                  "coarser axis when they are not square: the cells stay square); auto: "
                                  f"{L.GRID_CELLS} cells across the longer side, lines at least "
                                  f"{L.GRID_MIN_SPACING} px apart")
        self._grid_timer = QTimer(self)
        self._grid_timer.setSingleShot(True)
        self._grid_timer.setInterval(200)
        self._grid_timer.timeout.connect(self._update_grid_layer)
        self.grid_spin.valueChanged.connect(lambda _v: self._grid_timer.start())
        dform.addRow("grid spacing", self.grid_spin)
        self.checker_box = QCheckBox("checkerboard (warped reference | frame)")
        self.checker_box.setToolTip(
            "Show the “… warped reference” layer as tiles alternating between the warped reference and the frame "
            "(the grid is hidden meanwhile: its lines ran along the tiles' edges)"
        )
        self.checker_box.toggled.connect(self._update_warped_layer)
        dform.addRow(self.checker_box)
        self.legend = _JacobianLegend()
        self.legend.setVisible(False)
        dform.addRow(self.legend)
        files = QHBoxLayout()
        self.save_btn = QPushButton("save result…")
        self.save_btn.setToolTip("Write the chosen image's result (this method's, else the latest) as a result folder, "
                                 "as `napari-tlreg register --out` does: the fields, warped reference, Jacobian, frames")
        self.save_btn.clicked.connect(self._on_save_clicked)
        self.open_btn = QPushButton("open result…")
        self.open_btn.setToolTip("Show a saved result folder over the chosen image, as a run's result (the image it "
                                 "was registered from)")
        self.open_btn.clicked.connect(self._on_open_clicked)
        for b in (self.save_btn, self.open_btn):
            b.setEnabled(False)
            files.addWidget(b)
        dform.addRow("result folder", files)
        root.addWidget(display)
        root.addStretch(1)

    def _connect_viewer(self) -> None:
        ev = self._viewer.layers.events
        connections = [(ev.inserted, self._on_layer_inserted), (ev.removed, self._refresh_layers),
                       (ev.removed, self._on_layer_removed), (ev.moved, self._refresh_layers)]
        for signal, slot in connections:
            signal.connect(slot)
        for layer in self._viewer.layers:
            layer.events.name.connect(self._refresh_layers)
        # closed, the dock lets go of the viewer's events, as the other docks do (each reopening left its dead
        # connections in the viewer's lists: 2 -> 14 over 12)
        self._start_life()

        def disconnect(viewer=self._viewer, refresh=self._refresh_layers) -> None:
            for signal, slot in connections:
                signal.disconnect(slot)
            for layer in viewer.layers:
                layer.events.name.disconnect(refresh)

        self._when_closed(disconnect)
        self._when_closed(lambda watched=self._watched_labels: _unwatch(watched))
        self._watch_labels()
        self._when_closed(self._leave_state)  # for the dock opened next (_take_over)
        me = weakref.ref(self)  # ... which says a run the closing cancelled (run first: the undo steps go backwards)
        self._when_closed(lambda: (widget := me()) is not None and widget._say_closed_run())
        holder = self._cancel_holder = [None]
        # if the widget goes away mid-run, stop the worker (a plain closure: no method of a deleted object)
        # the run told to stop, and let go of (its _reset never comes once the widget is gone)
        self.destroyed.connect(lambda *_: holder[0] is not None and (holder[0].set(), _RUNNING.discard(holder[0])))
        throttle = self._throttle_holder = [None]  # ... and its progress sent no more (to the relay, deleted next)
        self.destroyed.connect(lambda *_: throttle[0] is not None and throttle[0].close())
        store, slot = store_for(self._viewer), self._on_image_renamed  # result layers follow their image's name
        store.renamed.connect(slot)
        self._when_closed(lambda: store.renamed.disconnect(slot))  # the next dock catches up (_catch_up)
        store.changed.connect(self._update_file_buttons)  # a result to save, or none any more
        self._when_closed(lambda: store.changed.disconnect(self._update_file_buttons))
        store.changed.connect(self._on_result_dropped)
        self._when_closed(lambda: store.changed.disconnect(self._on_result_dropped))
        # the reference frame, shared with the Landmarks dock before a run (the pairs are placed on it)
        planned = self._on_planned
        store.planned.connect(planned)
        self._when_closed(lambda: store.planned.disconnect(planned))
        self._when_closed(self.images.share(store, self._viewer))  # the image chosen, shared with the other docks

    def event(self, e) -> bool:
        # napari's closing a dock takes the widget out of it (setParent(None)) without deleting it: stop its run
        if e.type() == QEvent.ParentChange and self.parent() is None and self.running:
            self.cancel()
        return super().event(e)

    # -- layer combos --------------------------------------------------------------------------------
    def _on_layer_inserted(self, event=None) -> None:
        layer = getattr(event, "value", None)
        if layer is not None:
            layer.events.name.connect(self._refresh_layers)
        self._refresh_layers()
        image = self.current_image()
        if (isinstance(layer, Image) and layer.visible and selected_image(layer) == layer.name and image is not None
                and image is not layer and not self.running):
            # the docks stay on the image chosen (as napari's own layer lists do), which Run registers: say so (a
            # sample opened after a run, Run registered the first again, and its report was written for the second),
            # below what was said of that image (its method for a pair of dates), not of an earlier run or addition
            text = self.status_label.text()
            ran = any(text in (done, f"'{base}' {done}") for base, done in self._done_text.items())  # a run's word
            kept = [] if ran else [line for line in text.split("\n") if line and not _ADDED.match(line)]
            self.status_label.setText("\n".join(kept[:1] + [f"'{layer.name}' added; the docks stay on '{image.name}': "
                                                             f"choose '{layer.name}' under image to register it"]))
        if layer is not None and layer is self._own_region_layer():  # e.g. a sample's sector, added after its image
            self._choose_own_region()
        if layer is not None and layer is self._own_labels_layer():  # a sample's labels, added after its image
            self._choose_own_labels()

    def _refresh_layers(self, event=None) -> None:
        layers = [ly for ly in self._viewer.layers if not is_result(ly)]
        labels = [ly for ly in layers if isinstance(ly, Labels) and ly.ndim in (2, 3)]

        old_image = self.current_image()
        self.images.refresh(self._viewer.layers)
        self._update_run_button()
        image_changed = self.current_image() is not old_image
        if image_changed:
            self._on_image_changed()

        old_labels = self.current_labels()
        self.labels_combo.clear()
        self.labels_combo.addItem(NO_LABELS)
        for ly in labels:
            self.labels_combo.addItem(ly.name)
        self._labels_layers = labels
        self.labels_combo.setCurrentIndex(labels.index(old_labels) + 1 if old_labels in labels else 0)
        if image_changed:  # now that the combo lists the viewer's labels (a dock added beside an open sample)
            self._choose_own_labels(reset=True)
        for combo in self._region_combos.values():
            self._fill_region_combo(combo)
        self._mark_fits()

    def _mark_fits(self) -> None:
        """Grey out, in the labels and region lists, the layers that cannot fit the chosen image's frames (another
        image's, of another size: picked, they were refused only at Run), with why as the item's tooltip (Run's own
        tests: :func:`~napari_tlreg.report.labels_misfit`, and a region's frame size)."""
        image = self.current_image()
        shape = frames_shape(image) if image is not None else None

        def misfit(layer, region: bool) -> str | None:
            if shape is None or layer is None:
                return None
            got = tuple(np.shape(base_data(layer)))
            if not region:
                return labels_misfit(shape, got)
            return None if got[-2:] == tuple(shape[1:]) else (
                f"'{layer.name}' is {got[-2]}x{got[-1]}, the image '{image.name}' {shape[1]}x{shape[2]}")

        lists = [(self.labels_combo, self._labels_layers, False)]
        lists += [(c, [c.itemData(i) for i in range(1, c.count())], True) for c in self._region_combos.values()]
        for combo, layers, region in lists:
            model = combo.model()
            for i, layer in enumerate(layers, start=1):
                why = misfit(layer, region)
                model.item(i).setEnabled(why is None)
                combo.setItemData(i, f"does not fit '{image.name}': {why}" if why else None, Qt.ItemDataRole.ToolTipRole)

    def _fill_region_combo(self, combo: QComboBox) -> None:
        """"none" and the viewer's Labels layers (not results), keeping the layer chosen before."""
        old = combo.currentData()
        layers = [ly for ly in self._viewer.layers if isinstance(ly, Labels) and ly.ndim in (2, 3) and not is_result(ly)]
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(NO_REGION, None)
        for ly in layers:
            combo.addItem(ly.name, ly)
        combo.setCurrentIndex(layers.index(old) + 1 if old in layers else 0)
        combo.blockSignals(False)

    def _region_value(self, key: str, combo: QComboBox) -> np.ndarray | None:
        """The chosen Labels layer as an ``(H, W)`` bool mask (nonzero = inside; a ``(T, H, W)`` layer: its plane at
        the reference frame), checked against the image; ``ValueError`` with a plain message otherwise."""
        layer = combo.currentData()
        if layer is None or layer not in self._viewer.layers:
            return None
        data = np.asarray(base_data(layer))
        painted = ""
        if data.ndim == 3:
            ref = int(self.reference_spin.value())
            if not 0 <= ref < data.shape[0]:
                raise ValueError(f"{key} layer '{layer.name}' has {data.shape[0]} frames, no frame {ref} (the reference)")
            if not data[ref].any() and data.any():  # painted, but elsewhere: "is empty" was said of a painted layer
                on = [int(t) for t in np.flatnonzero(data.reshape(len(data), -1).any(1))]
                painted = (f" on the reference frame {ref} (painted on frame{'s' * (len(on) > 1)} "
                           f"{', '.join(map(str, on[:6]))}{' ...' if len(on) > 6 else ''}): paint it on frame {ref}, "
                           "or make a painted frame the reference")
            data = data[ref]
        image = self.current_image()
        if image is not None:
            shape = frames_shape(image)[1:]
            if data.shape != shape:
                raise ValueError(f"{key} layer '{layer.name}' is {data.shape[0]}x{data.shape[1]}, "
                                 f"the image '{image.name}' {shape[0]}x{shape[1]}")
        mask = data != 0
        if not mask.any():
            raise ValueError(f"{key} layer '{layer.name}' is empty" + (
                painted or ": paint the region to register in (nonzero = inside)"))
        return mask

    def current_image(self) -> Image | None:
        return self.images.current()

    def current_labels(self) -> Labels | None:
        i = self.labels_combo.currentIndex() - 1
        return self._labels_layers[i] if 0 <= i < len(self._labels_layers) else None

    def _current_frame(self, layer) -> int:
        """The viewer's current frame as an index into ``layer``'s first axis."""
        return current_frame(self._viewer, layer)

    def _on_image_changed(self, *_) -> None:
        layer = self.current_image()
        self._mark_fits()
        self._update_file_buttons()  # its own result to save, or none
        self.contours_btn.setEnabled(bool(plugin_info(layer).get("instance_numbers")))
        self.images.show_chosen(self._viewer.layers)
        # the Jacobian's legend is the last result's: shown with the image it was run on only
        self.legend.setVisible(self._result is not None and layer is not None
                               and self._result_place.get("base") == layer.name)
        if not self.running:  # the chosen image's own last run, or nothing (slice 6 showed slice 3's "done ... frame 0")
            done = layer is not None and layer.name in self._done_text
            self.status_label.setText(self._done_text[layer.name] if done else "")
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(1 if done and not self._done_text[layer.name].startswith(CLOSED_RUN) else 0)
            # (100 % under an image never run; 0 under a run cancelled by the dock's closing)
        if layer is None:
            with self._setting_reference():
                self.reference_spin.setRange(0, 0)
            self._set_frames_range(1)
            return
        n = frames_shape(layer)[0]
        with self._setting_reference():
            self.reference_spin.setRange(0, max(0, n - 1))
        self._set_frames_range(n)
        # the sequence's own reference (a sample's: napari opens it on its middle frame); frame 0 for one our reader
        # opened, as the CLI and the API take it (it took napari's middle frame: the real echo's 14, a result the
        # CLI's would not match); the current frame for an image from elsewhere. Labels drawn elsewhere move it on
        # (_reference_on_own_labels)
        planned = store_for(self._viewer).planned_reference(layer.name)  # set in a dock before (the Landmarks')
        with self._setting_reference():
            self.reference_spin.setValue(start_reference(self._viewer, layer, planned))
        self._method_for_image(layer, n)
        self._choose_own_region(reset=True)
        self._choose_own_nodata()
        self._choose_own_weights()
        self._choose_own_labels(reset=True)
        dims = self._viewer.dims
        named = ("t", "row", "col")  # napari's numbered axes ("-3" on the time slider; after the layer list was
        # cleared, "-3" beside the "row", "col" it kept): name them, unless the user named them
        if dims.ndim == 3 and layer.ndim == 3 and all(str(a).lstrip("-").isdigit() or a in named for a in dims.axis_labels):
            dims.axis_labels = named

    def _method_for_image(self, layer, n_frames: int) -> None:
        """The method the chosen image suggests (:func:`napari_tlreg.api.suggested_method`: a pair of dates gets a pair
        engine; the default, trained on cine, gave the real Sentinel-2 pair a field worse than none), unless the method
        was set by someone else; said in the status line when it changes."""
        if self._method_chosen:
            return
        name = suggested_method(n_frames, layer_spacing(layer)[1], geotiff=bool(plugin_info(layer).get("map")))
        i = self.method_combo.findData(name)
        if i < 0 or i == self.method_combo.currentIndex():
            return
        self._setting_method = True
        try:
            self.method_combo.setCurrentIndex(i)
        finally:
            self._setting_method = False
        if name != DEFAULT_METHOD:
            self.status_label.setText(f"method: {name}, for a pair of dates ({n_frames} frames); {DEFAULT_METHOD} is "
                                      "trained on cine sequences")

    def load_contours(self, folder=None) -> Labels | None:
        """Expert contour files (Sunnybrook's) drawn on the chosen DICOM image, as its labels layer ``"<image> labels"``
        (chosen as the labels); ``folder`` None asks for it. Returns the layer, None when nothing was loaded (said)."""
        image = self.current_image()
        if image is None:
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Folder of contour files (IM-0001-NNNN-icontour-manual.txt)")
            if not folder:
                return None
        info = plugin_info(image)
        try:
            labels = contour_labels(folder, info.get("instance_numbers"), frames_shape(image),
                                    info.get("slice_instance_numbers"), name=image.name)
        except (OSError, ValueError) as exc:
            self.status_label.setText(f"contours not loaded: {exc}")
            show_error(f"Register sequence: contours not loaded: {exc}")
            return None
        # the reference onto the contoured frames first: the layer's arrival would move it without a word
        moved = self._reference_on_labels(labels, f"{image.name} labels")
        own = self._own_layer("labels")
        if own is not None and np.array_equal(np.asarray(own.data), labels):  # loaded before, unchanged
            layer = own
        else:  # a new layer: the one there (edited by hand, or other labels) is kept, under its name
            layer = self._viewer.add_labels(
                labels, name=f"{image.name} labels", scale=image.scale, translate=image.translate, **transform_of(image),
                opacity=0.5,
                colormap=label_colormap(LABEL_NAMES), metadata={"label_names": dict(LABEL_NAMES),
                          # the images they were drawn on: Run refuses them on another slice
                          "napari_tlreg": {"source": str(folder), CONTOURS_OF: list(info["instance_numbers"])}})
        self.labels_combo.setCurrentIndex(self._labels_layers.index(layer) + 1)
        drawn = [t for t in range(labels.shape[0]) if labels[t].any()]
        self.status_label.setText(f"contours of frames {', '.join(map(str, drawn))} loaded as '{layer.name}'"
                                  + (f"; {moved}" if moved else ""))
        if moved:
            self._publish_reference()
        return layer

    def _own_layer(self, suffix: str) -> Labels | None:
        """The image's own Labels layer ``"<image> <suffix>"`` (a sample's or reader's), if there is one."""
        image = self.current_image()
        name = None if image is None else f"{image.name} {suffix}"
        layer = next((ly for ly in self._viewer.layers if ly.name == name), None)
        return layer if isinstance(layer, Labels) else None

    def _own_region_mask(self, image: Layer) -> np.ndarray | None:
        """The chosen image's own region, ``"<image> mask"`` (a reader's or sample's, e.g. the real echo's sector) as
        an ``(H, W)`` bool array, if it has one of its frames' size: the grid and arrows stay inside it."""
        own = self._own_layer("mask")
        data = None if own is None else np.asarray(own.data)
        return data != 0 if data is not None and data.shape == frames_shape(image)[1:] else None

    def _own_labels_layer(self) -> Labels | None:
        """The image's own labels, ``"<image> labels"``, as the labels combo lists it."""
        own = self._own_layer("labels")
        return own if own in self._labels_layers else None

    #: labels read on the GUI thread to place the reference, at most (a larger layer: the reference stays as it is)
    LABELS_READ_LIMIT = 2**25

    def _reference_on_own_labels(self) -> None:
        """:meth:`_reference_on_labels` for labels the dock chose itself (the image's own), unless the image names its
        reference (a sample's), and said in the status line."""
        layer = self.current_image()
        if layer is None or isinstance(plugin_info(layer).get("reference"), int):
            return
        self._reference_onto_chosen_labels()

    def _reference_onto_chosen_labels(self) -> str | None:
        """:meth:`_reference_on_labels` for the chosen labels, said in the status line and published when it moved;
        returns what it said (None: the reference stayed)."""
        moved = self._reference_on_labels()
        if moved:
            self.status_label.setText(moved)
            self._publish_reference()
        return moved

    def _labels_said(self) -> str:
        """The status line's words for the labels chosen, where the reference stays on them (the line described the
        labels chosen before: "contours of frames 7, 18 loaded as ..." over a new empty layer picked)."""
        lab, image = self.current_labels(), self.current_image()
        if lab is None:
            return "labels: none (Run propagates no segmentation and gives no Dice)"
        data, t = base_data(lab), int(self.reference_spin.value())
        shape = frames_shape(image) if image is not None else None
        if shape is None or labels_misfit(shape, np.shape(data)) is not None:  # Run's own test of them
            return f"labels: '{lab.name}' do not fit the image's frames: Run says why it cannot use them"
        if tuple(np.shape(data)) != tuple(shape):  # (H, W), or (1, H, W) as read
            return f"labels: '{lab.name}', one frame: taken as the reference's (t={t})"
        if np.size(data) > self.LABELS_READ_LIMIT:
            return f"labels: '{lab.name}'"
        drawn = labelled_frames(data)
        if not len(drawn):
            return f"labels: '{lab.name}', empty: paint the reference frame (t={t}) to carry it through the sequence"
        return f"labels: '{lab.name}', drawn on frame{'s' * (len(drawn) > 1)} {frames_said(drawn)}"

    def _reference_on_labels(self, data=None, name: str | None = None) -> str | None:
        """With labels (``data``, named ``name``; else the chosen layer's) drawn on some frames only (an expert's, at
        end-diastole and end-systole) and none on the reference, the reference goes to the frame with the most
        labelled pixels (end-diastole's cavity and myocardium): Run on the current frame propagated nothing and gave
        no Dice. Returns what to say, or None."""
        if data is None:
            lab = self.current_labels()
            data, name = (None, None) if lab is None else (base_data(lab), lab.name)
        image = self.current_image()
        if (data is None or image is None or np.ndim(data) != 3 or np.size(data) > self.LABELS_READ_LIMIT
                or tuple(np.shape(data)) != frames_shape(image)):  # another image's: Run refuses them, says why
            return None
        t = int(self.reference_spin.value())
        best = reference_on_labels(data, t)
        if best is None:
            return None
        with self._setting_reference():  # published by the caller, with its reason said
            self.reference_spin.setValue(best)
        drawn = frames_said(labelled_frames(data))
        return (f"reference: frame {best}, the most labelled of '{name}' (labelled frames: {drawn}); frame {t} "
                "has none to carry to the others")

    def _on_labels_chosen(self, _index=None) -> None:
        """Labels the user picks, drawn on other frames than the reference only, bring the reference onto them (as
        an image's own labels and loaded contours do), said in the status line: it stayed on frame 0 and Run carried
        nothing, said only after the run. So do labels the user paints after picking them (:meth:`_watch_labels`:
        a new labels layer is empty when it is picked)."""
        if not self.running:
            self._reference_onto_chosen_labels()

    def _on_labels_picked(self, _index=None) -> None:
        """The user's pick in the labels list: :meth:`_on_labels_chosen`, and where the reference stays, what the
        labels picked are, in the status line."""
        if not self.running and self._reference_onto_chosen_labels() is None:
            self.status_label.setText(self._labels_said())

    def _watch_labels(self) -> None:
        """Listen to the chosen labels layer's painting (and data set anew), and to no other's."""
        _unwatch(self._watched_labels)
        layer = self.current_labels()
        if layer is None:
            return
        handler = self._on_labels_painted
        for emitter in (layer.events.paint, layer.events.data):
            emitter.connect(handler)
            self._watched_labels.append((emitter, handler))

    def _on_labels_painted(self, _event=None) -> None:
        # napari says "paint" before the stroke is in the layer's data: looked at once this event is done
        QTimer.singleShot(0, lambda: self.live and self._check_painted_labels())

    def _check_painted_labels(self) -> None:
        layer = self.current_labels()
        if layer is None:
            return
        data, t = base_data(layer), int(self.reference_spin.value())
        if np.ndim(data) == 3 and 0 <= t < len(data) and np.asarray(data[t]).any():  # the reference has labels
            return
        self._on_labels_chosen()

    def _choose_own_labels(self, reset: bool = False) -> None:
        """Labels start on the image's own when it has them (as the region does; the user can pick "none"); with
        ``reset`` (another image chosen) an image without them starts on "none", not on the previous image's. Own labels
        drawn on some frames only bring the reference onto them (:meth:`_reference_on_own_labels`)."""
        own = self._own_labels_layer()
        if own is not None:
            self.labels_combo.setCurrentIndex(self._labels_layers.index(own) + 1)
            self._reference_on_own_labels()
        elif reset:
            self.labels_combo.setCurrentIndex(0)

    def _own_region_layer(self) -> Labels | None:
        """The image's own region, ``"<image> mask"`` (e.g. the echo sector)."""
        return self._own_layer("mask")

    def _choose_own_region(self, reset: bool = False) -> None:
        """Region parameters start on the image's own region when it has one (the user can set "none"). With
        ``reset`` (another image chosen) an image without one starts on "none": the region chosen for the previous
        image (e.g. the echo's sector) would otherwise restrict this one's registration."""
        own = self._own_region_layer()
        if own is None:
            if reset:
                for combo in self._region_combos.values():
                    combo.setCurrentIndex(0)  # NO_REGION
            return
        for combo in self._region_combos.values():
            i = combo.findData(own)
            if i >= 0:
                combo.setCurrentIndex(i)

    def _choose_own_nodata(self) -> None:
        """A pair engine's ``nodata`` starts on the chosen image's own no-data value (a GeoTIFF's, which its reader
        kept), or not set, as the CLI and the API take a file's; a value the user typed stays. The field is off while
        ``mask_nodata`` is (none is left out: a value there was refused as a contradiction)."""
        editor, mask = self._param_editors.get("nodata"), self._param_editors.get("mask_nodata")
        layer = self.current_image()
        if not isinstance(editor, QLineEdit) or layer is None:
            return
        own = plugin_info(layer).get("nodata")
        text = "" if own is None else f"{float(own):g}"
        text = text if own is None or float(text) == float(own) else repr(float(own))
        if editor.text() in ("", self._own_nodata_text):
            editor.setText(text)
            self._own_nodata_text = text
        if isinstance(mask, QCheckBox) and not editor.property("follows_mask"):
            editor.setProperty("follows_mask", True)
            mask.toggled.connect(editor.setEnabled)
            editor.setEnabled(mask.isChecked())

    def _choose_own_weights(self) -> None:
        """A method's ``weights`` start on the model trained for the chosen image (a sample's: the lemniscate's, which
        the cine models registered at 12x its MSE), as the CLI and the API take it; a name the user typed stays."""
        editor = self._param_editors.get("weights")
        layer = self.current_image()
        if not isinstance(editor, QLineEdit) or layer is None:
            return
        own = str((plugin_info(layer).get("weights") or {}).get(self.method_combo.currentData(), ""))
        if editor.text() in ("", self._own_weights_text):
            editor.setText(own)
            self._own_weights_text = own

    def _use_current_frame(self) -> None:
        layer = self.current_image()
        if layer is None:
            return
        hidden = frame_not_shown(self._viewer, layer)
        if hidden is not None:  # (it took the frame of a slider nobody sees)
            self.status_label.setText(f"no frame is shown to use as the reference: {hidden}")
            return
        self.reference_spin.setValue(self._current_frame(layer))

    # -- method parameters ---------------------------------------------------------------------------
    def _on_method_set(self, *_) -> None:
        if not self._setting_method:
            self._method_chosen = True
            if self.status_label.text().startswith("method: "):  # the suggestion, over the user's own choice now
                self.status_label.setText("ready")
        self._on_method_changed()

    def _on_method_changed(self, *_) -> None:
        self._problems: dict[str, str] = {}  # the parameters whose values the method refuses: {key: why}
        if self.status_label.text().startswith("⚠ "):  # another method's parameter
            self.status_label.setText("ready")
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        if self.advanced is not None:
            self.params_box.layout().removeWidget(self.advanced)
            self.advanced.deleteLater()
            self.advanced = self.advanced_form = None
        self._param_getters = {}
        self._param_defaults = {}
        self._param_editors: dict[str, QWidget] = {}  # this method's (the last one's wait for Qt to delete them)
        name = self.method_combo.currentData()
        if name is None:
            self.params_box.setVisible(False)
            return
        self.method_combo.setToolTip(methods().get(name, ""))
        try:
            params = method_params(name)
        except Exception as exc:  # an engine that fails to load: say so, keep the widget usable
            self.status_label.setText(f"method {name!r} unavailable: {exc}")
            params = {}
        advanced = self._advanced_keys = [k for k, spec in params.items() if spec.get("advanced")]
        if advanced:
            self.advanced = QCollapsible(self._advanced_title(len(advanced), 0), expandedIcon="▼", collapsedIcon="▶")
            self.advanced.setObjectName("advanced_parameters")
            self.advanced.setToolTip("Parameters few users change: the benchmarks chose their defaults")
            self.advanced.toggled.connect(self._on_advanced_toggled)
            holder = self._advanced_holder = QWidget()
            self.advanced_form = QFormLayout(holder)
            self.advanced_form.setContentsMargins(0, 0, 0, 0)
            self.advanced.addWidget(holder)
            self.params_box.layout().addWidget(self.advanced)
        self._region_combos = {}
        for key, spec in params.items():
            if spec.get("region"):  # an (H, W) mask: chosen among the viewer's Labels layers
                editor = QComboBox()
                self._region_combos[key] = editor
                self._fill_region_combo(editor)
                getter, changed = (lambda combo=editor, k=key: self._region_value(k, combo)), editor.currentIndexChanged
            else:
                editor, getter, changed = _param_editor(spec["default"], spec.get("choices"), spec.get("help", ""))
            editor.setObjectName(f"param_{key}")
            self._param_editors[key] = editor
            tip = f"<p>{html.escape(spec['help'])}</p>" if spec.get("help") else ""  # rich text: Qt wraps it
            editor.setToolTip(tip)
            form = self.advanced_form if key in advanced else self.params_form
            form.addRow(key, editor)
            label = form.labelForField(editor)
            if label is not None:
                label.setToolTip(tip)
            self._param_getters[key] = getter
            self._param_defaults[key] = spec["default"]
            if key in advanced:
                changed.connect(self._update_advanced_title)
            if not spec.get("region"):
                changed.connect(lambda *_, k=key, t=tip: self._flag_param(k, t))
        self._choose_own_region()
        self._choose_own_nodata()
        self._choose_own_weights()
        self._mark_fits()
        if self.advanced is not None and self._advanced_open:
            self.advanced.expand(animate=False)
        self._on_advanced_toggled(self._advanced_open)
        self.params_box.setVisible(bool(params))
        self._tab_through_parameters(advanced)

    def _tab_through_parameters(self, advanced: list[str]) -> None:
        """Tab goes from the method to its parameters (the advanced ones after their fold's button), then on to the
        device: the editors, made when the method is chosen, came last in Qt's order, after Run and the other docks
        (79 presses away for nmsr, through a table that keeps Tab)."""
        chain: list[QWidget] = [self.method_combo]
        chain += [e for k, e in self._param_editors.items() if k not in advanced]
        if self.advanced is not None:
            toggle = self.advanced.findChild(QPushButton)
            chain += ([toggle] if toggle is not None else []) + [self._param_editors[k] for k in advanced]
        chain.append(self.device_combo)
        for a, b in zip(chain, chain[1:]):
            QWidget.setTabOrder(a, b)

    def _flag_param(self, key: str, tip: str) -> None:
        """A value the method refuses is marked as it is typed (hsyn levels -1, a negative nmsr lr: said only at
        Run), with the reason first in its tooltip."""
        editor, method = self._param_editors.get(key), self.method_combo.currentData()
        if editor is None or method is None:
            return
        problem = param_problem(method, key, self._param_getters[key]())
        editor.setStyleSheet(f"border: 1px solid {PROBLEM_COLOUR};" if problem else "")
        editor.setToolTip(f"<p><b>{html.escape(problem)}</b></p>{tip}" if problem else tip)
        # in words too: a thin red border alone was missed (on the dark theme, and by a red-blind eye an olive line)
        advanced = self.advanced_form is not None and self.advanced_form.indexOf(editor) >= 0
        label = (self.advanced_form if advanced else self.params_form).labelForField(editor)
        if label is not None:
            label.setText(f"⚠ {key}" if problem else key)
        self._problems.pop(key, None)
        if problem:
            self._problems[key] = problem
        if not self.running and (problem or self.status_label.text().startswith("⚠ ")):
            first = next(iter(self._problems.values()), None)
            self.status_label.setText(f"⚠ {first}: Run refuses it" if first else "ready")

    @staticmethod
    def _advanced_title(n: int, changed: int) -> str:
        return f"advanced ({n}" + (f", {changed} changed)" if changed else ")")

    def _update_advanced_title(self, *_) -> None:
        """The folded group says how many of its parameters differ from the defaults (they are sent)."""
        if self.advanced is None:
            return
        values = {k: self._param_getters[k]() for k in self._advanced_keys}
        edited = [k for k, v in values.items() if v is not None and not _same(v, self._param_defaults[k])]
        self.advanced.setText(self._advanced_title(len(self._advanced_keys), len(edited)))

    def _on_advanced_toggled(self, expanded: bool) -> None:
        self._advanced_open = expanded  # kept for the next method that has advanced parameters
        if self.advanced is not None:  # folded: out of Tab's reach (it went through 20 unseen editors, and the arrow
            self._advanced_holder.setEnabled(expanded)  # keys changed them blind)

    def set_param(self, key: str, value: Any) -> None:
        """Set the current method's parameter ``key`` in the form, as if typed (``napari-tlreg view --param``);
        ``ValueError`` for a parameter the method does not have or a value its editor cannot take. The engine
        checks the value itself when the run starts."""
        editor = self._param_editors.get(key)  # not findChild: the last method's, deleted later, has the same name
        if editor is None or key not in self._param_getters:
            raise ValueError(f"method {self.method_combo.currentData()!r} has no parameter {key!r} in the form; "
                             f"its parameters: {', '.join(self._param_getters)}")
        if key in self._region_combos:
            raise ValueError(f"{key} is a region: choose its Labels layer in the dock")
        ok = True
        if isinstance(editor, QComboBox):
            i = editor.findData(value)
            ok = i >= 0
            if ok:
                editor.setCurrentIndex(i)
        elif isinstance(editor, QCheckBox):
            ok = isinstance(value, bool)
            if ok:
                editor.setChecked(value)
        elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
                isinstance(editor, QDoubleSpinBox) or float(value).is_integer())
            if ok:
                editor.setValue(type(editor.value())(value))
                ok = editor.value() == value  # not clipped by the editor's range
        elif isinstance(editor, QLineEdit):
            editor.setText(str(value))
        if not ok:
            raise ValueError(f"{key}={value!r} does not fit the form's {key} (default "
                             f"{self._param_defaults.get(key)!r})")

    def param_values(self) -> dict[str, Any]:
        """The parameters the user changed from the method's defaults: the engine fills in the rest, as
        for a call from Python (so e.g. an edited nmsr ``smooth`` alone holds on every sequence). A region
        parameter (nmsr ``mask``) is the chosen Labels layer as an ``(H, W)`` mask; ``ValueError`` if it does not fit."""
        values = {k: get() for k, get in self._param_getters.items()}
        if values.get("mask_nodata") is False:  # no no-data left out: the nodata field (off) is not sent
            values.pop("nodata", None)
        return {k: v for k, v in values.items() if v is not None and not _same(v, self._param_defaults.get(k))}

    # -- running -------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._worker is not None

    def _on_run_clicked(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.run()

    def _update_run_button(self) -> None:
        """Run is enabled when there is an image sequence to register (without one it only said so)."""
        self._update_file_buttons()
        if self.running:
            return
        has = self.current_image() is not None
        self.run_btn.setEnabled(has and self._file_worker is None)
        self.run_btn.setToolTip(RUN_TIP if has else self._no_image())

    def _no_image(self) -> str:
        why = ImageChooser.why_none(self._viewer.layers)
        return f"{NO_IMAGE}: {why}" if why else NO_IMAGE

    @contextlib.contextmanager
    def _setting_reference(self):
        """The reference set by the dock itself (an image's start, labels, another dock's plan): not the user's."""
        before, self._dock_sets_reference = self._dock_sets_reference, True
        try:
            yield
        finally:
            self._dock_sets_reference = before

    def _on_reference_edited(self, *_) -> None:
        if not self._dock_sets_reference:
            self._reference_said("set here")
            self._publish_reference()

    def _reference_said(self, where: str) -> None:
        """The status line's "reference: frame 18, the most labelled ..." replaced once the reference is set elsewhere
        (here by the user, or in the Landmarks dock): it went on saying 18 beside a reference of 7."""
        said = self.status_label.text()
        value = int(self.reference_spin.value())
        if said.startswith("reference: frame ") and not said.startswith(f"reference: frame {value},"):
            self.status_label.setText(f"reference: frame {value}, {where}")

    def _publish_reference(self, *_) -> None:
        """The reference the user set here, or the dock moved to onto the labelled frames, for the Landmarks dock, whose
        pairs are placed on it: it stayed on 0 while this dock moved to 18, and the pairs on 0 were dropped from the
        run's TRE."""
        layer = self.current_image()
        # not the image being registered (its reference is the run's); another shown meanwhile is planned as ever
        if layer is not None and layer is not self._run_layer:
            store_for(self._viewer).plan(layer.name, int(self.reference_spin.value()))

    def _on_planned(self, image: str, reference: int) -> None:
        """Another dock set ``image``'s reference (the Landmarks dock, where pairs are placed): take it."""
        layer = self.current_image()
        if (layer is not None and layer.name == image and layer is not self._run_layer
                and 0 <= reference <= self.reference_spin.maximum() and reference != self.reference_spin.value()):
            with self._setting_reference():
                self.reference_spin.setValue(reference)
            self._reference_said("set in the Landmarks & TRE dock")

    def _on_layer_removed(self, event=None) -> None:
        """The image being registered was removed: its result could not be shown, so the run stops now (it went on
        to the end, minutes for NMSR, with the Run button taken). A removed image's results go with it (the dock kept
        every one: 12 cine files opened, run and closed held 300 MiB), and so do its result layers (they stayed drawn,
        no dock's result any more, over a file opened again under that name; the ones the user edited stay, and the
        landmarks, theirs); its legend goes with the choice of another image (:meth:`_on_image_changed`)."""
        gone = getattr(event, "value", None)
        if self.running and self._run_layer is not None and gone is self._run_layer:
            self._run_removed = self._run_layer.name
            self.cancel()
        made = self._made_as.get(self._legend_args.get("arrows", ""))
        if gone is not None and made is not None and made() is gone:  # the legend's arrows: their factor goes with
            self.legend.arrows.setText(arrows_text(1.0))  # them (it kept "drawn 50x"; diff review)
        if gone is None or is_result(gone) or gone.name in self._viewer.layers:
            return
        self.results = {key: res for key, res in self.results.items() if key[0] != gone.name}
        self._done_text.pop(gone.name, None)  # a new layer of that name showed the old run's line
        if self._result is not None and self._result_place.get("base") == gone.name:
            self._result = None
        # after the layer list's event (removing layers inside it, e.g. during viewer.layers.clear(), is not safe)
        # the layers themselves, taken now: by the time the timer fires another image may carry the name (renamed)
        doomed = [ly for ly in (self._result_layer(L.layer_name(gone.name, suffix)) for suffix in L.SUFFIXES)
                  if ly is not None]
        QTimer.singleShot(0, lambda name=gone.name: self.live and self._drop_layers_of_removed(name, doomed))

    def _drop_layers_of_removed(self, image: str, doomed: list) -> None:
        """``doomed``, the result layers ``image`` had when it was removed (:meth:`_on_layer_removed`), removed (also
        when an image of that name is back already: they are the removed one's); one the user edited stays, theirs
        (as a re-run keeps it)."""
        for layer in doomed:
            if layer not in self._viewer.layers or not is_result(layer):  # gone, or made the user's meanwhile
                continue
            if layer.metadata.get(EDITED):
                self._keep_edited(layer, then=f"'{image}' was removed")
            else:
                self._viewer.layers.remove(layer)
        give_back_freed_memory()
        old = self._renamed_over.pop(image, None)  # an image renamed to this name meanwhile: its layers follow it now
        if old is not None and image in self._viewer.layers:
            self._on_image_renamed(old, image)

    def _on_result_dropped(self, image: str, method: str) -> None:
        """The store let go of an image's result while the image stays: its data was replaced. Its layers go too, and
        the dock's copy (the layers stayed drawn, the status said "done", the grid spacing and the checkerboard redrew
        the old result, whose opaque tiles then hid the new frames)."""
        key = (image, method)
        if key not in self.results or store_for(self._viewer).get(image, method) is not None:
            return
        if image not in self._viewer.layers:
            return  # the image removed: _on_layer_removed
        dropped = self.results.pop(key)
        self._done_text.pop(image, None)
        if self._result is dropped:
            self._result = None
            self.legend.setVisible(False)
        if not any(i == image for i, _ in self.results):
            self._drop_stale_layers(image, [])
        if not self.running:
            self.status_label.setText(f"'{image}' changed (its data was replaced): its results are dropped; run it again")

    # -- a sub-clip ---------------------------------------------------------------------------------
    def _set_frames_range(self, n: int) -> None:
        """The frames row over all ``n`` frames of the image chosen (another image: all of its frames)."""
        for spin in (self.first_spin, self.last_spin):
            spin.blockSignals(True)
        self.first_spin.setRange(0, max(0, n - 1))
        self.last_spin.setRange(0, max(0, n - 1))
        self.first_spin.setValue(0)
        self.last_spin.setValue(max(0, n - 1))
        for spin in (self.first_spin, self.last_spin):
            spin.blockSignals(False)

    def frames_range(self) -> tuple[int, int] | None:
        """``(first, last)`` frames of the chosen image to register (both in), or None for all of them."""
        layer = self.current_image()
        if layer is None:
            return None
        n = frames_shape(layer)[0]
        if n != self.last_spin.maximum() + 1:  # its data replaced since (another number of frames): all of them
            self._set_frames_range(n)
        first, last = int(self.first_spin.value()), int(self.last_spin.value())
        return None if (first, last) == (0, n - 1) else (first, last)

    def set_frames(self, first: int, last: int) -> None:
        """Register frames ``first`` to ``last`` (both in) of the chosen image only (as the frames row does)."""
        self.first_spin.setMaximum(self.last_spin.maximum())
        self.last_spin.setMinimum(0)
        self.first_spin.setValue(first)
        self.last_spin.setValue(last)

    def _run_clip(self, layer: Image, first: int, last: int) -> None:
        """Register frames ``first..last`` of ``layer``: they become an image layer of their own, ``"<image> frames
        first-last"``, on the same frames of the time slider, with the labels chosen (none if none), the image's own
        region mask, colour copy and landmarks cut alike, the layers copied hidden; then that layer is run, its
        frames recorded as the result's (``provenance["frames"]``, as ``register --frames`` records them). Made
        before: brought up to date with the image and the labels chosen, then run."""
        reference = int(self.reference_spin.value())
        if not first <= reference <= last:
            self._refuse(f"the reference, frame {reference}, is not among frames {first}-{last}: choose one of them "
                         "as the reference, or all the frames")
            return
        try:  # refused before anything is cut (a clip of one frame was made, then refused)
            check_shape((last - first + 1, *frames_shape(layer)[1:]))
            if layer.multiscale:
                raise ValueError("a multiscale image is not cut into frames here: register it whole")
        except ValueError as exc:
            self._refuse(f"frames {first}-{last} of '{layer.name}': {exc}")
            return
        cut = self._cut_and_choose(layer, first, last, self._refuse, ", or choose other frames")
        if cut is None:
            return
        _, labels, _ = cut
        # the labels chosen for the image, cut (none where none was chosen: the clip's own were taken)
        i = 0 if labels is None else self.labels_combo.findText(labels.name)
        self.labels_combo.setCurrentIndex(max(0, i))
        with self._setting_reference():
            self.reference_spin.setValue(reference - first)
        self.run()

    def _cut_and_choose(self, layer: Image, first: int, last: int, refuse: Callable[[str], None],
                        rename: str = "") -> tuple[Image, Labels | None, bool] | None:
        """Frames ``first..last`` of ``layer`` as their layer (:meth:`_make_clip`; the one made before brought up to
        date), chosen in the dock: ``(clip, its labels, made now)``, or None where ``refuse(message)`` said why (a
        layer of the clip's name holding other data, a cut that failed, a layer the dock does not take)."""
        name = f"{layer.name} frames {first}-{last}"
        made = self._viewer.layers[name] if name in self._viewer.layers else None
        if made is not None and not (isinstance(made, Image) and frames_shape(made)[0] == last - first + 1):
            refuse(f"a layer named '{name}' is there already and holds other data: rename it{rename}")
            return None
        try:
            clip, labels = self._make_clip(layer, first, last, name, made)
        except (ValueError, TypeError, IndexError, MemoryError) as exc:
            refuse(f"frames {first}-{last} of '{layer.name}' could not be cut: {exc}")
            return None
        self.image_combo.setCurrentText(name)
        if self.current_image() is not clip:  # (not listed: not an image this dock takes)
            refuse(f"'{name}' cannot be registered here")
            return None
        return clip, labels, made is None

    def _make_clip(self, layer: Image, first: int, last: int, name: str,
                   clip: Image | None = None) -> tuple[Image, Labels | None]:
        """:meth:`_run_clip`'s layers, and the clip's labels: those chosen for ``layer`` (none if none), cut. ``clip``,
        made before, is given the image's frames as they are now (its data replaced since: the clip ran on the old
        ones); the labels' cut goes into ``"<clip> labels"``, made if missing (labels chosen after the clip was made
        were left out), or beside it, ``"<clip> labels [1]"``, where it holds other labels (painted there: a run from
        the image wrote over them)."""
        from napari.layers import Layer as _Layer

        T = frames_shape(layer)[0]
        stop = last + 1
        info = clip_info(plugin_info(layer), first, stop, T)

        def placed(state: dict) -> dict:  # the same frames of the slider: shifted by ``first`` frames in time
            translate = np.array(state["translate"], dtype=float)
            translate[0] += first * float(np.asarray(state["scale"])[0])
            return {**state, "translate": translate}

        def record(source) -> dict:  # the plugin's record of a copy: the image's cut; a colour copy's and contours' own
            if source is layer:
                return info
            rec = dict(plugin_info(source))
            if rec.get(COLOUR_OF) == layer.name:  # (the clip's colour copy was offered as an image to register)
                rec[COLOUR_OF] = name
            if isinstance(rec.get(CONTOURS_OF), list) and len(rec[CONTOURS_OF]) == T:  # the frames they are of
                rec[CONTOURS_OF] = rec[CONTOURS_OF][first:stop]
            return rec

        def copy(source, data, new_name: str, time: bool, **changes):
            _, state, kind = source.as_layer_data_tuple()
            state = {**state, "name": new_name, **changes}
            meta = dict(state.get("metadata") or {})
            if "napari_tlreg" in meta or source is layer:
                meta["napari_tlreg"] = record(source)
            state["metadata"] = meta
            new = _Layer.create(data, placed(state) if time else state, kind)
            self._viewer.add_layer(new)
            return new

        def cut_labels(labels) -> Labels | None:
            if labels is None:
                return None
            fresh = np.array(base_data(labels)[first:stop])
            target = f"{name} labels"
            k = 0
            while target in self._viewer.layers:
                there = self._viewer.layers[target]
                if isinstance(there, Labels) and np.shape(there.data) == fresh.shape and np.array_equal(there.data, fresh):
                    return there
                k += 1
                target = f"{name} labels [{k}]"
            if k:
                show_warning(f"Register sequence: '{name} labels' holds other labels (painted there?): kept; the cut of "
                             f"'{labels.name}' is '{target}'")
            made = copy(labels, fresh, target, True)
            labels.visible = False
            return made

        own = {sfx: self._viewer.layers[f"{layer.name} {sfx}"] for sfx in ("colour", "labels", "mask", "landmarks")
               if f"{layer.name} {sfx}" in self._viewer.layers}
        labels = self.current_labels()  # as chosen: "none" is none (the image's own were taken all the same)
        labels = labels if isinstance(labels, Labels) and np.shape(base_data(labels))[:1] == (T,) else None
        if clip is not None:  # made before: its frames as the image's are now
            frames = base_data(layer)[first:stop]
            if not np.array_equal(np.asarray(clip.data), np.asarray(frames)):
                clip.data = frames
            return clip, cut_labels(labels)
        # the image first: the labels and landmarks over it (added before it, it hid them)
        clip = copy(layer, base_data(layer)[first:stop], name, True)
        hidden = []
        if isinstance(own.get("colour"), Image) and own["colour"].rgb and frames_shape(own["colour"])[0] == T:
            copy(own["colour"], base_data(own["colour"])[first:stop], f"{name} colour", True, visible=False)
        clip_labels = cut_labels(labels)
        if isinstance(own.get("mask"), Labels) and own["mask"].ndim == 2:
            copy(own["mask"], np.array(base_data(own["mask"])), f"{name} mask", False)
            hidden.append(own["mask"])
        points = own.get("landmarks")
        if isinstance(points, Points) and points.ndim == 3 and len(points.data):
            keep = (np.rint(points.data[:, 0]) >= first) & (np.rint(points.data[:, 0]) <= last)
            data = points.data[keep].copy()
            data[:, 0] -= first
            self._viewer.add_points(
                data, name=f"{name} landmarks", features=points.features.iloc[np.flatnonzero(keep)].reset_index(drop=True),
                size=np.asarray(points.size)[keep], symbol=np.asarray(points.symbol)[keep],
                face_color=np.asarray(points.face_color)[keep], border_color=np.asarray(points.border_color)[keep],
                border_width=np.asarray(points.border_width)[keep], border_width_is_relative=points.border_width_is_relative,
                metadata=dict(points.metadata), ndim=3,
                **placed({"scale": points.scale, "translate": points.translate}), **transform_of(points))
            hidden.append(points)
        for ly in (layer, *hidden):
            ly.visible = False
        self.status_label.setText(f"frames {first}-{last} of '{layer.name}' made the layer '{name}' ('{layer.name}' "
                                  "hidden: shown again in the layer list)")
        return clip, clip_labels

    def cancel(self) -> None:
        """Ask the running registration to stop (it raises ``Cancelled`` at its next step)."""
        if self._cancel is not None:
            self._cancel.set()
            # the button keeps the focus (disabled, with the form above it, it gave the focus to the grid spacing,
            # which the next arrow key changed); another click while it stops is a cancel again, nothing more
            self.run_btn.setText("Cancelling…")
            self.status_label.setText("cancelling…")

    def run(self) -> None:
        """Validate the inputs and start the registration in a worker thread."""
        if self.running or self._file_worker is not None:
            return
        layer = self.current_image()
        if layer is None:
            self._refuse(self._no_image())
            return
        if self.frames_range() is not None:  # some frames only: registered as a layer of their own
            self._run_clip(layer, *self.frames_range())
            return
        data = base_data(layer)
        reference = int(self.reference_spin.value())
        try:  # what the shape tells; the worker reads the pixels (colour napari's reader gave: registered as grey)
            t, h, w = check_shape(frames_shape(layer) if layer.rgb else np.shape(data))
            reference = check_reference(reference, t)
        except ValueError as exc:
            self._refuse(f"layer '{layer.name}': {exc}")
            return
        try:
            labels = self._chosen_labels(layer, (t, h, w), read=False)  # read in the worker
        except ValueError as exc:
            self._refuse(str(exc))
            return
        # the reader's pixel size, 1 x 1 mm included (the command line used it, the dock took it for none: the auto
        # scale of tlrn differed between the two), else a scale that is not 1 x 1
        spacing, unit = layer_spacing(layer)
        try:
            params = self.param_values()
        except ValueError as exc:  # e.g. a mask layer that does not fit the image
            self._refuse(str(exc))
            return
        call = {
            "method": self.method_combo.currentData(),
            "reference": reference,
            "device": self.device_combo.currentData(),
            "normalize": self.normalize_combo.currentData(),
            "spacing": spacing,
            "unit": unit if unit not in (None, "px") else "mm",
            **params,
        }
        display = self._display_settings(layer)
        self._cancel = threading.Event()
        self._cancel_holder[0] = self._cancel
        _RUNNING.add(self._cancel)
        self._run_layer = layer  # the image itself: it may be renamed or removed while the run goes on
        self._run_data = data
        store_for(self._viewer).begin(layer.name, reference)
        self._run_labels = None if labels is None else self.current_labels().name  # the plots dock scores with them
        progress = self._throttle_holder[0] = _Throttle(self._relay.progress.emit)
        info = plugin_info(layer)
        # a result's provenance: the file it came from (a sample by its name)
        origin = {k: info[k] for k in ("source", "slice", "n_slices", "frame_time_ms", "frames") if k in info}
        if "sample" in info:
            origin["source"] = info["sample"]
        worker = create_worker(_run_job, data, bool(layer.rgb), labels, self._cancel, progress, call, display, origin,
                               geotiff_of(info, spacing, (h, w), layer.translate), _start_thread=False,
                               _ignore_errors=True)  # errors go to _on_errored only (not re-raised as well)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.inputs.setEnabled(False)
        self.run_btn.setText(CANCEL_TEXT)
        self.run_btn.setEnabled(True)
        self._update_file_buttons()
        self.progress_bar.setRange(0, 0)  # busy until the first step is reported
        self._run_started, self._run_total = time.monotonic(), None
        self.status_label.setText(f"registering '{layer.name}' with {call['method']}…")
        start_held(worker)  # a thread of its own: the docks' short jobs do not wait behind it

    def _chosen_labels(self, layer: Image, shape: tuple, read: bool = True) -> np.ndarray | _Unread | None:
        """The labels chosen for ``layer`` (frames of ``shape``) as int32 ids, or None; ValueError (said as it is)
        when they do not fit it. ``read=False``: checked by their shape only, to be read in a worker (:class:`_Unread`)."""
        lab_layer = self.current_labels()
        if lab_layer is None:
            return None
        misfit = labels_misfit(tuple(shape), np.shape(base_data(lab_layer)))  # said only after the whole run before
        drawn_on, numbers = plugin_info(lab_layer).get(CONTOURS_OF), plugin_info(layer).get("instance_numbers")
        if misfit is None and drawn_on is not None and drawn_on != numbers:  # another slice's: scored, silently
            misfit = (f"contours drawn on DICOM images {min(drawn_on)}-{max(drawn_on)}, and '{layer.name}' is "
                      + (f"images {min(numbers)}-{max(numbers)}" if numbers else "not those images"))
        if misfit:
            raise ValueError(f"labels '{lab_layer.name}': {misfit}; choose labels of this image, or none")
        unread = _Unread(lab_layer.name, base_data(lab_layer))
        return unread.read() if read else unread

    def _display_settings(self, layer: Image) -> dict:
        """How a result of ``layer`` is drawn: its place, the grid, the checkerboard, the labels' colours."""
        lab_layer = self.current_labels()
        return {
            "base": layer.name,
            "started": time.monotonic(),  # the status's time in all (registered in 39 s was shown after 82 s)
            "grid_spacing": self.grid_spacing(),
            "checker": self.checker_box.isChecked(),
            "scale": tuple(float(s) for s in layer.scale),
            "translate": tuple(float(t) for t in layer.translate),
            "region": self._own_region_mask(layer),
            "grey_frame": bool(layer.rgb),  # napari cannot turn a colour image green under the overlay
            # the propagated labels in the colours of the labels they come from (a label reads as itself on both),
            # but for napari's own default colours: its label 1, dark brown, drawn as a contour was lost on dark MRI
            "labels_colormap": None if lab_layer is None or napari_default_colours(lab_layer) else lab_layer.colormap,
            # ... and by their names (the expert's contours' "LV cavity": "label 1" in the plots of the propagated ones)
            "label_names": {} if lab_layer is None else names_by_id(lab_layer.metadata.get("label_names")),
        }

    # -- result folders ------------------------------------------------------------------------------
    def current_result(self):
        """The result of the chosen image that "save result" writes: the one on screen, else the chosen method's, else
        the latest. (A folder opened of another method than the form's: the form's method's result was written while
        the folder's was on screen; echo review. The form is left as the user set it.)"""
        layer = self.current_image()
        if layer is None:
            return None
        mine = store_for(self._viewer).for_image(layer.name)
        shown = self._result if self._result_place.get("base") == layer.name else None
        if shown is not None and any(r is shown for r in mine.values()):
            return shown
        return mine.get(self.method_combo.currentData()) or (list(mine.values())[-1] if mine else None)

    @property
    def busy_with_files(self) -> bool:
        return self._file_worker is not None

    def _update_file_buttons(self, *_) -> None:
        if not hasattr(self, "open_btn"):  # (an image chosen while the dock is built)
            return
        idle = self._file_worker is None and not self.running
        enable(self.save_btn, idle and self.current_result() is not None,
               "no result of this image: run it first" if idle else "wait for the registration or the file")
        self.open_btn.setEnabled(idle and self.current_image() is not None)

    def _on_save_clicked(self) -> None:
        layer, res = self.current_image(), self.current_result()
        if layer is None or res is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the result as a folder",
                                              file_name(layer.name, f"_{res.method}"), "Result folder (*)")
        if path:
            self.save_result(path)

    def _on_open_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a result folder (result.json) on the chosen image")
        if path:
            self.open_result(path)

    def save_result(self, folder):
        """Write the chosen image's result (:meth:`current_result`) to ``folder`` as ``register --out`` does (in a
        worker thread, atomically); it opens again with :meth:`open_result`, ``RegistrationResult.load`` and
        ``napari-tlreg evaluate``. Returns the worker, or None when there is nothing to save."""
        layer, res = self.current_image(), self.current_result()
        if res is None or self._file_worker is not None or self.running:
            self._refuse_file("save", "no result of this image to save: run it first" if res is None
                              else "wait for the registration or the file being read or written")
            return None
        # the annotations it is scored against, kept in the folder as register --out keeps them; one that does not fit
        # it (labels of another shape, a landmark beyond its frames) is left out, said, not the whole save refused
        labels, landmarks, left_out = None, None, []
        try:
            labels = report.check_annotations(res.frames.shape, self._chosen_labels(layer, res.frames.shape), None,
                                              res.reference)[0]
        except ValueError as exc:
            left_out.append(f"labels ({exc})")
        try:
            landmarks = report.check_annotations(res.frames.shape, None, self._image_landmarks(layer),
                                                 res.reference)[1]
        except ValueError as exc:
            left_out.append(f"landmarks ({exc})")
        if left_out:
            show_warning(f"Register sequence: saving the result without its {' and its '.join(left_out)}")
        lab_layer = self.current_labels()
        names = report.names_of_labels(lab_layer.metadata.get("label_names")) if labels is not None else None
        prov = res.provenance
        extra = {**({"slice": prov["slice"]} if "slice" in prov else {}), **({"label_names": names} if names else {})}
        kept = [w for w, there in (("its labels", labels is not None), ("its landmarks", landmarks is not None)) if there]
        own = self._own_region_mask(layer)  # the montage drawn where the viewer draws it (the echo's sector)
        said: list[str] = []  # the write's warnings (files of the user's it could not keep): a worker's reach no one
        worker = create_worker(report.write, res, folder, labels=labels, landmarks=landmarks, source=prov.get("source"),
                               extra=extra, region=own if own is not None and own.shape == res.frames.shape[1:]
                               else None, on_warning=said.append, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda out: self.live and self._on_saved(
            f"saved the {res.method} result of '{layer.name}'" + (f" with {' and '.join(kept)}" if kept else "")
            + f" to {out}", said, res))
        worker.errored.connect(lambda exc: self.live and self._refuse_file("save", str(exc)))
        self.status_label.setText(f"saving the {res.method} result of '{layer.name}' to {folder}…")
        return self._start_file_worker(worker)

    def _on_saved(self, done: str, said: list[str], res=None) -> None:
        if res is not None:  # kept: a folder opened over it does not say it is lost (echo review)
            self._saved_results.add(id(res))
        for text in said:
            show_warning(f"Register sequence: {text}")
        self.status_label.setText(done + warned(said))

    def _image_landmarks(self, layer: Image) -> np.ndarray | None:
        """The landmarks placed on ``layer`` (its ``"<image> landmarks"`` layer) as ``(id, t, row, col)``, or None."""
        name = f"{layer.name} {LANDMARKS}"
        pts = self._viewer.layers[name] if name in self._viewer.layers else None
        if not isinstance(pts, Points) or not len(pts.data):
            return None
        return points_with_ids(image_points(pts, layer), {"features": pts.features})

    def open_result(self, folder):
        """Show a result folder (:meth:`save_result`, ``register --out``, ``RegistrationResult.save``) over the chosen
        image, as a run's result: its layers, and the Landmarks and plots docks score it. Refused when it was
        registered from other frames. Returns the worker, or None when refused at once."""
        layer = self.current_image()
        if layer is None or self._file_worker is not None or self.running:
            self._refuse_file("open", self._no_image() if layer is None
                              else "wait for the registration or the file being read or written")
            return None
        cut, undo = _recorded_clip(folder, layer), None
        if cut is not None:  # a sub-clip's result on its whole sequence: on the clip, cut again (it was refused, with
            shown = {ly.name: ly.visible for ly in self._viewer.layers}  # no way in the dock to cut it without a run
            made = self._cut_and_choose(layer, *cut, lambda message: self._refuse_file("open", message))
            if made is None:
                return None
            undo = (layer, shown) if made[2] else None  # cut now: taken away again if the folder is refused
            layer = made[0]
        data = base_data(layer)
        try:
            labels = self._chosen_labels(layer, frames_shape(layer))
        except ValueError as exc:
            self._refuse_file("open", str(exc))
            return None
        worker = create_worker(_open_job, folder, data, bool(layer.rgb), labels, self._display_settings(layer),
                               layer_spacing(layer), _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda outcome: self.live and self._on_opened(outcome, layer, data, folder, undo))
        worker.errored.connect(lambda exc: self.live and self._refuse_file("open", f"{type(exc).__name__}: {exc}"))
        self.status_label.setText(f"opening {folder} on '{layer.name}'…")
        return self._start_file_worker(worker)

    def _start_file_worker(self, worker):
        self._file_worker = worker
        worker.finished.connect(lambda: self.live and self._file_worker_done(worker))
        self.inputs.setEnabled(False)
        self.run_btn.setEnabled(False)
        self._update_file_buttons()
        start_held(worker)
        return worker

    def _file_worker_done(self, worker) -> None:
        if self._file_worker is worker:
            self._file_worker = None
            self.inputs.setEnabled(not self.running)
            self._update_run_button()
            self._update_file_buttons()

    def _on_opened(self, outcome: _Outcome, layer: Image, data, folder, undo=None) -> None:
        if outcome.kind != "done":
            if undo is not None:  # the clip cut for this folder: gone again, the image shown and chosen as before
                source, shown = undo
                for ly in [ly for ly in self._viewer.layers if ly.name not in shown]:
                    self._viewer.layers.remove(ly)
                for ly in self._viewer.layers:
                    ly.visible = shown.get(ly.name, ly.visible)
                if source in self._viewer.layers:
                    self.image_combo.setCurrentText(source.name)
            self._refuse_file("open", outcome.message)
            return
        method = outcome.result.method
        shown = store_for(self._viewer).get(layer.name, method) if layer in self._viewer.layers else None
        if shown is not None and id(shown) not in self._saved_results:
            # as a re-run does, but a run not saved is lost: said (a user opening a folder to compare it with a run;
            # not of one saved, which a user reopening the folder just written was told to save)
            outcome.warnings.append(f"{folder} replaces the {method} result of '{layer.name}' shown before (one "
                                    "result a method and image: save a result to keep it)")
        self._show_result(outcome, layer, data, opened=folder)

    def _refuse_file(self, what: str, message: str) -> None:
        message = in_dock_words(message)
        self.progress_bar.setRange(0, 1)  # not the last run's 100 % beside "not opened" (viewer QA review)
        self.progress_bar.setValue(0)
        self.status_label.setText(f"not {'saved' if what == 'save' else 'opened'}: {message}")
        show_error(f"Register sequence: {message}")

    def _refuse(self, message: str) -> None:
        """A run refused before it started: said in a notification and in the dock (not the last run's "done")."""
        message = in_dock_words(message)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.status_label.setText(f"not run: {message}")
        show_error(f"Register sequence: {message}")

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if not self.running or (self._cancel is not None and self._cancel.is_set()):  # "cancelling…" stays (a step
            return  # already on its way overwrote it; UX review)
        if message == "done" and total > 0 and done >= total:  # the engine is done; the layers are still to make (a
            # second of "100 %" with Cancel shown, and the engine's last word, "integrated (1/1)")
            self.progress_bar.setRange(0, 0)
            message, done, total = "registered: making the result layers", 0, 0
        elif message.startswith(RESULT_STAGE):  # the engine is done; the result is checked: busy, not a bar that
            self.progress_bar.setRange(0, 0)  # went from 100 % back to 0 (two reviewers read it as a restart)
        elif total > 0:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(min(done, total))
            # the time left at the pace so far (a 10-minute NMSR run on a real echo clip said 7 % and no more)
            if total != self._run_total:  # a stage of its own count: timed anew
                self._run_started, self._run_total = time.monotonic(), total
            left = time_left(time.monotonic() - self._run_started, done, total)
            self.progress_bar.setFormat(f"%p%  ·  {left}" if left else "%p%")
        text = message if not total else f"{message} ({done}/{total})" if message else f"{done}/{total}"
        run = self._run_layer  # another image chosen meanwhile: the line says which one runs
        self.status_label.setText(text if run is None or self.current_image() is run else f"registering '{run.name}': {text}")

    def _say_closed_run(self) -> None:
        """The dock is closed during a run, which the closing cancels: the dock opened next says so (its status was
        empty, as if nothing had run; UX review), with the image's result before it, if any, on a line of its own."""
        layer = self._run_layer
        if layer is None or self._worker is None:
            return
        before = self._done_text.get(layer.name, "")
        if before.startswith(CLOSED_RUN):  # closed during a run before: the result before that one (not nested)
            before = before[len(CLOSED_RUN):].removeprefix("\n(before it: ").removesuffix(")")
        else:
            before = before.split("\n", 1)[0]
        self._done_text[layer.name] = CLOSED_RUN + (f"\n(before it: {before})" if before else "")

    def _on_returned(self, outcome: _Outcome) -> None:
        cancelled = self._cancel is not None and self._cancel.is_set()
        layer, removed, data = self._run_layer, self._run_removed, self._run_data
        self._reset()
        if outcome.kind == "cancelled" or cancelled:
            self.status_label.setText(f"'{removed}' was removed while it was registered: the run was cancelled"
                                      if removed is not None else "cancelled")
            return
        if outcome.kind == "refused":
            self._refuse(outcome.message)
            return
        if outcome.kind == "error":
            message = in_dock_words(outcome.message)
            self.status_label.setText(f"failed: {message}")
            show_error(f"Register sequence: {message}")
            return
        self._show_result(outcome, layer, data)
        give_back_freed_memory()  # the worker thread's heap kept the run's freed temporaries

    def _on_errored(self, exc: BaseException) -> None:  # not expected: _run_job catches everything
        self._reset()
        self.status_label.setText(f"failed: {exc}")
        show_error(f"Register sequence: {exc}")

    def _on_finished(self) -> None:
        # a safety net: `returned` or `errored` came first and already reset the widget. A run's
        # `finished` can be delivered after the next run started: only the current worker's counts.
        if self._worker is not None and self.sender() is self._worker.signals:
            self._reset()

    def _reset(self) -> None:
        if self._throttle_holder[0] is not None:  # the run is over: a step it held back is stale
            self._throttle_holder[0].close()
            self._throttle_holder[0] = None
        if self._cancel is not None:
            _RUNNING.discard(self._cancel)
        if self._run_layer is not None:
            store_for(self._viewer).end(self._run_layer.name)
        self._worker = None
        self._run_layer = None
        self._run_removed = None
        self._run_data = None
        self._cancel_holder[0] = None
        self.inputs.setEnabled(True)
        self.run_btn.setText(RUN_TEXT)
        self._update_run_button()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")

    # -- results as layers ---------------------------------------------------------------------------
    def _show_result(self, outcome: _Outcome, layer: Layer | None = None, data=None, opened=None) -> None:
        """Show a finished run's layers and publish its result; ``layer`` is the image it ran on (its name now),
        ``data`` the data the run took from it."""
        doing = "registered" if opened is None else f"{opened} was opened on it"
        if layer is not None and layer not in self._viewer.layers:
            # its result must not reach the other docks: a sequence opened later under the same name would inherit it
            self.status_label.setText(f"'{layer.name}' was removed while {'it was ' if opened is None else ''}{doing}: "
                                      "its result is discarded")
            return
        if layer is not None and data is not None and base_data(layer) is not data:
            # its data replaced while it ran (another sequence, or fewer frames): the result would lie over it
            self.status_label.setText(f"'{layer.name}' changed while {'it was ' if opened is None else ''}{doing} "
                                      "(its data was replaced): its result is discarded; "
                                      + ("run it again" if opened is None else "open it again"))
            show_warning(f"Register sequence: {self.status_label.text()}")
            return
        if layer is not None and layer.name != outcome.settings["base"]:  # renamed while it ran
            outcome = _renamed(outcome, layer.name)
        res = outcome.result
        settings = outcome.settings
        # another image chosen in a dock while it ran: the docks stay there (the pairs being placed on it were cut off
        # by the result turning every dock back), and the result is shown when its image is chosen again
        shown = layer is None or self.current_image() is layer
        self._result = res
        self._result_place = {k: settings[k] for k in ("base", "scale", "translate", "region")}
        active = self._viewer.layers.selection.active  # napari selects each layer added: the user's pairing layer lost
        before = {self._result_layer(L.layer_name(str(settings["base"]), x)) for x in L.SUFFIXES} - {None}
        self._add_layers(outcome.layers)
        if layer is not None and not shown:
            for _, kwargs, _ in outcome.layers:  # another image shown now: its results wait hidden with it (drawn
                # over the image chosen; shown again when a dock chooses it)
                hidden = self._result_layer(kwargs["name"])
                if hidden is not None and hidden.visible:  # (the arrows, hidden at first, stay so)
                    hidden.visible = False
                    hidden.metadata[HIDDEN_WITH] = layer.name
        self._drop_stale_layers(str(settings["base"]), outcome.layers)
        self._place_under_the_users_layers(str(settings["base"]), layer, before)
        if layer is not None and shown:  # napari selected the last layer added (the hidden arrows): the image again
            self._viewer.layers.selection.active = layer
        elif active is not None and active in self._viewer.layers:  # the layer the user works on (canvas clicks)
            self._viewer.layers.selection.active = active
        set_before = self._frame_limits_set.get(layer) if isinstance(layer, Image) else None
        if isinstance(layer, Image) and not layer.rgb and (layer.colormap.name == "gray" or (
                layer.colormap.name == L.FRAME_COLORMAP and set_before is not None
                and np.allclose(layer.contrast_limits, set_before))):
            # the frame green under the magenta warped reference: aligned structures white, a misalignment coloured
            # (a frame the user coloured is left as it is), at the contrast the warped reference has; again at each
            # run while the limits are the ones set here (a run with the no-data value given after one without kept
            # the first's [765, 65535]: the land dark, the overlay all magenta, "misalignment"). Its blending is left
            # as it was (opaque): the warped reference is added over it, and another sequence opened before showed
            # through a frame made additive (a heart and its labels through the lemniscate's overlay; README review)
            layer.colormap = L.FRAME_COLORMAP
            lo, hi = settings["frame_limits"]
            if hi > lo:
                layer.contrast_limits = (lo, hi)
                self._frame_limits_set[layer] = tuple(layer.contrast_limits)
        if isinstance(layer, Image):  # the legend says what the overlay shows (it promised white on a colour frame)
            green = not layer.rgb and layer.colormap.name == L.FRAME_COLORMAP
            self._legend_args["overlay"] = OVERLAY_TEXT["rgb" if layer.rgb else "per_frame"
                                                        if settings.get("grey_frame") else "green" if green else "own"]
            self.legend.overlay.setText(self._overlay_text())
        # display settings changed while it ran: redraw those layers now
        if settings["grid_spacing"] != self.grid_spacing():
            self._update_grid_layer()
        if settings["checker"] != self.checker_box.isChecked():
            self._update_warped_layer()
        jac = next((d for d in outcome.layers if d[1]["name"].endswith(L.JACOBIAN)), None)
        folding, in_mask = res.folding_pct, res.mask is not None
        if jac is not None:
            given = (res.params or {}).get("nodata")
            self._legend_args.update(
                jacobian=jac[1]["name"], limits=jac[1]["contrast_limits"], folding=folding, in_mask=in_mask,
                arrows=next((d[1]["name"] for d in outcome.layers if d[1]["name"].endswith(L.DISPLACEMENT)), ""),
                nodata=res.data_region is not None, labels=any(d[1]["name"].endswith(L.LABELS) for d in outcome.layers),
                nodata_text=NODATA_FOUND_TEXT if given is None else NODATA_GIVEN_TEXT.format(given))
            self._fill_legend()
            self.legend.setVisible(shown)  # the legend goes with its image (_on_image_changed)
        for w in outcome.warnings:
            show_warning(f"Register sequence: {w}")
        self.progress_bar.setRange(0, 1)
        chosen = self.current_image()  # another image chosen meanwhile: its own bar (100 % under one never run)
        self.progress_bar.setValue(1 if shown or (chosen is not None and chosen.name in self._done_text) else 0)
        done = ((f"opened {opened}: " if opened is not None else "done: ")
                + f"{res.n_frames} frames to frame {res.reference}{_of_source(res)} with {res.method} on {res.device} "
                f"in {res.runtime_s:.1f} s{_in_all(res.runtime_s, settings, opened)}; worst folding "
                f"{_percent(np.max(folding))}" + (" in the mask" if in_mask else "")
                + ("; intensities scaled per frame" if res.normalization == "frame" else "")
                + "".join(f"\n{note}" for note in res.provenance.get("notes", ())) + warned(outcome.warnings))
        self._done_text[str(settings["base"])] = done
        self.status_label.setText(done if shown else f"'{settings['base']}' {done}")
        key = (str(settings["base"]), str(res.method))
        self.results[key] = res
        # the labels this run had (a cancelled or failed run's are not a result's)
        store_for(self._viewer).use_labels(key[0], self._run_labels)
        store_for(self._viewer).add(*key, res, turn=shown)
        self.result_ready.emit(*key, res)

    def _catch_up(self) -> None:
        """What happened while no Register dock was open, as the viewer's store followed it (:meth:`_take_over`): an
        image renamed takes its result layers along; a removed image's results and layers go, and so do those of one
        whose data was replaced (a new image of a removed one's name showed its status, legend and layers)."""
        now = {id(res): key for key, res in store_for(self._viewer).items()}
        for (image, _), res in list(self.results.items()):
            key = now.get(id(res))
            if key is not None and key[0] != image:
                self._on_image_renamed(image, key[0])
        gone = {image for (image, _), res in self.results.items() if id(res) not in now}
        self.results = {key: res for key, res in self.results.items() if id(res) in now}
        if self._result is not None and id(self._result) not in now:
            self._result, self._result_place, self._legend_args = None, {}, {}
        for image in gone - {image for image, _ in self.results}:
            self._done_text.pop(image, None)
            doomed = [ly for ly in (self._result_layer(L.layer_name(image, s)) for s in L.SUFFIXES) if ly is not None]
            self._drop_layers_of_removed(image, doomed)

    def _fill_legend(self) -> None:
        """The Jacobian's legend of the last result (:attr:`_legend_args`), at its layer's limits and colormap: the
        user's, kept by a re-run (_upsert), and followed when they change."""
        a = self._legend_args
        if "overlay" in a:
            self.legend.overlay.setText(self._overlay_text())
        if "jacobian" not in a:
            return
        jac_layer = self._result_layer(a["jacobian"])
        self.legend.set_values(jac_layer.contrast_limits if jac_layer is not None else a["limits"], a["folding"],
                               in_mask=a["in_mask"])
        self.legend.nodata.setVisible(a["nodata"])
        self.legend.labels.setVisible(a.get("labels", False))
        self.legend.nodata_text.setText(a["nodata_text"])
        arrows = self._result_layer(a.get("arrows", ""))
        self.legend.arrows.setText(arrows_text(float(arrows.length) if arrows is not None else 1.0))
        if arrows is not None and arrows not in self._followed:  # the length the user sets, said as they set it
            self._followed.add(arrows)
            me, ref = weakref.ref(self), weakref.ref(arrows)

            def lengthened(_event=None) -> None:
                widget, ly = me(), ref()
                if widget is not None and ly is not None and ly is widget._result_layer(
                        widget._legend_args.get("arrows", "")):
                    widget.legend.arrows.setText(arrows_text(float(ly.length)))

            arrows.events.length.connect(lengthened)
        if jac_layer is not None:
            self.legend.set_colormap(jac_layer.colormap)
            self._follow_jacobian(jac_layer)

    def _follow_jacobian(self, layer: Layer) -> None:
        """The legend follows the Jacobian layer's contrast limits and colormap as the user changes them (once
        connected a layer)."""
        if layer in self._followed:
            return
        self._followed.add(layer)
        me, ref = weakref.ref(self), weakref.ref(layer)

        def changed(_event=None) -> None:
            widget, ly = me(), ref()
            if widget is None or ly is None or widget._result is None:
                return
            if ly is widget._result_layer(L.layer_name(widget._result_place["base"], L.JACOBIAN)):  # the shown one's
                widget.legend.set_limits(ly.contrast_limits)
                widget.legend.set_colormap(ly.colormap)

        def shown(_event=None) -> None:  # (clinician review) turned on, its legend below the fold of a dock stacked
            widget, ly = me(), ref()  # with two others (1000 px high: out of view): scrolled into view
            if widget is None or ly is None or not ly.visible or not widget.live or widget.legend.isHidden():
                return
            form = widget.findChild(QScrollArea, "scroll_area")
            if form is not None:
                form.ensureWidgetVisible(widget.legend, 0, 0)
                top = widget.legend.mapTo(form.widget(), QPoint(0, 0)).y()
                if widget.legend.height() > form.viewport().height():  # taller than the view: its title and ramp
                    form.verticalScrollBar().setValue(top)

        layer.events.contrast_limits.connect(changed)
        layer.events.colormap.connect(changed)
        layer.events.visible.connect(shown)

    def _add_layers(self, layer_data: list) -> None:
        dims = self._viewer.dims
        step = tuple(dims.current_step)
        for data, kwargs, layer_type in layer_data:
            self._upsert(data, kwargs, layer_type)
        if len(dims.current_step) == len(step):
            dims.current_step = step

    def _place_under_the_users_layers(self, base: str, image: Layer | None, before: set = frozenset()) -> None:
        """The layers drawn with the image itself just above it, under the layers over it. A colour image's grey frame
        (opaque) under the other result layers: made again after the user removed it, it was added on top of them all
        and hid the overlay. A warped reference made by this
        run goes just above them (a re-run leaves it where the user put it), under the layers the user had over the
        image: added on top, its additive magenta summed with the image's own labels (an expert's filled ES contour
        read as hot pink, "misalignment", over a cavity that was aligned). The other result layers this run made
        (``before``: those there before it, left where they are) go under another image drawn above this one: added
        on top, a clip's grid and Jacobian were drawn over the echo sample opened after it, as its deformation."""
        layers = self._viewer.layers
        if image is None or image not in layers:
            return
        grey = self._result_layer(L.layer_name(base, L.GREY_FRAME))
        if grey is not None:
            layers.move(layers.index(grey), layers.index(image) + 1)  # before the layer after the image (no-op there)
        warped = self._result_layer(L.layer_name(base, L.WARPED))
        if warped is not None and warped not in before:
            below = grey if grey is not None else image
            layers.move(layers.index(warped), layers.index(below) + 1)
        ours = {ly for x in L.SUFFIXES if (ly := self._result_layer(L.layer_name(base, x))) is not None}
        # the first other image over this one (a hidden colour layer, its own or another's, is no other image: its grey
        # one is; by name, a renamed image's own was taken for another, and its overlays went under it)
        other = next((ly for ly in list(layers)[layers.index(image) + 1:] if isinstance(ly, Image) and ly not in ours
                      and not is_colour_copy(ly)), None)
        # and under the user's points and shapes over the image (their landmarks: the opaque Jacobian hid every pair,
        # still placed by clicks on what could not be seen; napari review)
        marks = next((ly for ly in list(layers)[layers.index(image) + 1:] if isinstance(ly, (Points, Shapes))
                      and not is_result(ly)), None)
        for over in (other, marks):
            if over is None:
                continue
            for x in (x for x in L.SUFFIXES if x not in (L.GREY_FRAME, L.WARPED)):  # in their order, each above the last
                ly = self._result_layer(L.layer_name(base, x))
                if ly is not None and ly not in before and layers.index(ly) > layers.index(over):
                    layers.move(layers.index(ly), layers.index(over))

    def _drop_stale_layers(self, base: str, layer_data: list) -> None:
        """Remove ``base``'s result layers that this run did not make (its propagated labels when this run had
        none): left as they were, they showed the previous run's result beside this one's."""
        made = {kwargs["name"] for _, kwargs, _ in layer_data}
        for suffix in L.SUFFIXES:
            name = L.layer_name(base, suffix)
            layer = self._result_layer(name) if name not in made else None
            if layer is not None and layer.metadata.get(EDITED):  # the user's corrections: theirs, kept
                self._keep_edited(layer)
            elif layer is not None:
                self._viewer.layers.remove(layer)

    def _on_image_renamed(self, old: str, new: str) -> None:
        """An image renamed in the layer list takes its result layers along (a re-run would otherwise add a second
        set under the new name, both drawn)."""
        layers = self._viewer.layers
        if old in self._done_text:
            self._done_text[new] = self._done_text.pop(old)
        for suffix in L.SUFFIXES:
            src, dst = L.layer_name(old, suffix), L.layer_name(new, suffix)
            layer = self._result_layer(src)
            if layer is not None and dst not in layers:
                # (one the user renamed keeps the name they gave it; one napari named "<name> [1]" beside a layer of
                # the user's of its name is renamed as the others: it kept the old image's name and followed the
                # image that took that name next; diff review)
                if layer.name == src or re.fullmatch(re.escape(src) + r" \[\d+\]", layer.name):
                    layer.name = dst
                self._made_as[dst] = self._made_as.pop(src, weakref.ref(layer))
            elif layer is not None:  # the name taken, e.g. by the layers of an image just removed (dropped in a
                self._renamed_over[new] = old  # moment): taken along again then (:meth:`_drop_layers_of_removed`)
        self.results = {((new if i == old else i), m): r for (i, m), r in self.results.items()}
        if self._result_place.get("base") == old:
            self._result_place["base"] = new

    def _upsert(self, data, kwargs: dict, layer_type: str) -> Layer:
        """Update the layer of that name in place (keeping its visibility and opacity), or add it."""
        kwargs = dict(kwargs)
        layers = self._viewer.layers
        base = self._result_place.get("base")
        # the image's pixel size and unit, for napari's File > Save Layers: a map's results were written in mm (10 m
        # pixels as 10 mm), or, at 1 m, with no pixel size at all
        # (and its frame time: a warped reference saved as NIfTI had none)
        size = {k: v for k, v in plugin_info(layers[base]).items()
                if k in ("spacing", "unit", "frame_time_ms", "geotiff", "map_size")} \
            if base in layers else {}
        kwargs["metadata"] = {**kwargs.get("metadata", {}), RESULT_KEY: True, **({"napari_tlreg": size} if size else {})}
        if base in layers and layers[base].ndim == 3:  # drawn as the image is now: rotated, sheared (overlays beside
            # it), at the scale and place it has (one put right since the run: the store's placement follower)
            kwargs.update(transform_of(layers[base]), scale=tuple(layers[base].scale),
                          translate=tuple(layers[base].translate))
            kwargs.update(L.fine_place(kwargs, kwargs["metadata"].get(L.FINE_KEY, 1)))  # the grid: on a finer raster
        name = kwargs["name"]
        # a layer of the user's of that name (their labels saved from a result and opened again) is theirs: never
        # written over nor removed (its paint was wiped, a Points layer removed; napari review); the result goes
        # beside it, napari naming it "<name> [1]"
        existing = self._result_layer(name)
        theirs = layers[name] if name in layers and not is_result(layers[name]) else None
        if existing is not None and is_result(existing) and existing.metadata.get(EDITED):
            self._keep_edited(existing)  # the user's corrections: a re-run wrote over them, and Ctrl+Z did not
            existing = None  # bring them back
        if existing is not None and isinstance(existing, LAYER_TYPES[layer_type]):
            self._made_as[name] = weakref.ref(existing)
            styled = existing.metadata.setdefault(STYLED, {})
            theirs = existing.metadata.setdefault(RESTYLED, [])
            _STYLING.add(id(existing))
            try:
                existing.data = data
                for key, value in kwargs.items():
                    if key in ("name", "visible", "opacity", "metadata"):
                        continue
                    if key in STYLE_KEYS:
                        mine = _fingerprint(value)
                        # the user's setting kept while the plugin would set what it set before (the checkerboard
                        # turned on: its grey tiles); their contrast limits whatever the new result's range
                        if key in theirs and (key == "contrast_limits" or styled.get(key) == mine):
                            continue
                        styled[key] = mine
                        if key in theirs:
                            theirs.remove(key)
                    # an unchanged value is not set again: setting scale/translate, even to the same
                    # numbers, makes napari recompute the dims and refresh every layer (~0.25 s a re-run)
                    now = existing.affine.affine_matrix if key == "affine" else getattr(existing, key, None)
                    if not _same(now, value):
                        setattr(existing, key, value)
            finally:
                _STYLING.discard(id(existing))
            existing.metadata.update(kwargs["metadata"])
            return existing
        if existing is not None:
            layers.remove(existing)
        kwargs["metadata"][STYLED] = {k: _fingerprint(v) for k, v in kwargs.items() if k in STYLE_KEYS}
        kwargs["metadata"][RESTYLED] = []
        after = {k: kwargs.pop(k) for k in SET_AFTER if k in kwargs}  # properties napari's constructors do not take
        layer = made_result(Layer.create(data, kwargs, layer_type))
        for key, value in after.items():
            setattr(layer, key, value)
        _watch_style(layer)
        self._made_as[name] = weakref.ref(layer)
        if isinstance(layer, Labels):  # painted or filled by the user: kept when the next run comes (_keep_edited)
            ref = weakref.ref(layer)
            layer.events.paint.connect(lambda _e=None: (ly := ref()) is not None and ly.metadata.__setitem__(EDITED, True))
        _STYLING.add(id(layer))  # the layer controls napari makes for it set its colormap: not the user
        try:
            self._viewer.add_layer(layer)
        finally:
            _STYLING.discard(id(layer))
        self._in_suffix_order(layer, base)
        if theirs is not None and theirs in layers and layer.name != name:
            show_info(f"Register sequence: '{name}' is a layer of yours, left as it is: the result is '{layer.name}'")
        return layer

    def _in_suffix_order(self, layer: Layer, base: str | None) -> None:
        """A result layer made again (the user removed it) under the image's result layers drawn above it in
        :data:`~.layers.SUFFIXES`' order: added on top, the opaque Jacobian hid the folds and the grid its legend
        points at."""
        name, layers = layer.name, self._viewer.layers
        suffix = name[len(base) + 1:] if base is not None and name.startswith(f"{base} ") else None
        if suffix not in L.SUFFIXES:
            return
        above = [layers.index(ly) for x in L.SUFFIXES[L.SUFFIXES.index(suffix) + 1:]
                 if (ly := self._result_layer(L.layer_name(base, x))) is not None and ly is not layer and ly in layers]
        if above and layers.index(layer) > min(above):
            layers.move(layers.index(layer), min(above))

    def _result_layer(self, name: str) -> Layer | None:
        """The result layer made as ``name``: of that name, or the one made so and renamed since (None: none, or the
        user removed it, or made it theirs)."""
        layers = self._viewer.layers
        if name in layers and is_result(layers[name]):
            return layers[name]
        ref = self._made_as.get(name)
        layer = ref() if ref is not None else None
        return layer if layer is not None and layer in layers and is_result(layer) else None

    def _keep_edited(self, layer: Layer, then: str | None = None) -> None:
        """A result layer the user edited (painted the propagated labels to correct them) stays, theirs, under another
        name; the run's comes beside it (``then``: what happened instead, said)."""
        old, k = layer.name, 1
        new = f"{old} (edited)"
        while new in self._viewer.layers:
            k += 1
            new = f"{old} (edited {k})"
        unmake_result(layer)
        layer.metadata.pop(EDITED, None)
        layer.name = new
        show_warning(f"Register sequence: your edits of '{old}' are kept as '{new}' (a labels layer of yours now); "
                     + (then or f"'{old}' holds the new run's"))

    def _auto_grid_spacing(self) -> int:
        """The spacing "auto" gives the chosen image (8 px without one)."""
        image = self.current_image()
        if image is None:
            return L.GRID_MIN_SPACING
        return L.auto_grid_spacing(frames_shape(image), tuple(image.scale)[-2:])

    def grid_spacing(self) -> int | None:
        """The grid spacing set in the dock, in px; None for "auto" (:func:`~napari_tlreg.display.auto_grid_spacing`)."""
        value = int(self.grid_spin.value())
        return None if value == GRID_AUTO else value

    def _update_grid_layer(self) -> None:
        """The grid at the spin box's spacing, warped in a worker thread (on the GUI thread it froze the viewer for up
        to 1 s at 30x480x640); the layer takes the newest one that is still for the shown result."""
        if self._result is None:
            return
        p, res = self._result_place, self._result
        self._grid_gen += 1
        gen = self._grid_gen
        layers = self._viewer.layers  # the image's scale now: its cells square at a pixel size put right since the run
        scale = tuple(layers[p["base"]].scale) if p["base"] in layers and layers[p["base"]].ndim == 3 else p["scale"]
        worker = create_worker(L.grid_layer, res, p["base"], self.grid_spacing(), scale=scale,
                               translate=p["translate"], region=p["region"], _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda out: self._on_grid_ready(gen, res, out))
        worker.errored.connect(lambda exc: show_error(f"Register sequence: the grid could not be drawn: {exc}"))
        worker.finished.connect(lambda: self._grid_workers.discard(worker))
        self._grid_workers.add(worker)  # held until it ends
        start_held(worker)

    def _on_grid_ready(self, gen: int, res, layer_data) -> None:
        # only into the grid layer still shown: one the user removed (or a cleared viewer) is not brought back
        if gen == self._grid_gen and res is self._result and self._result_layer(layer_data[1]["name"]) is not None:
            self._upsert(*layer_data)

    def _overlay_text(self) -> str:
        """The legend's line on the overlay: the checkerboard's while it is on, else how the frame is drawn."""
        return CHECKER_TEXT if self.checker_box.isChecked() else self._legend_args.get("overlay", OVERLAY_TEXT["green"])

    def _update_warped_layer(self, *_) -> None:
        self.legend.overlay.setText(self._overlay_text())
        if self._result is None:
            return
        p = self._result_place
        if self._result_layer(L.layer_name(p["base"], L.WARPED)) is None:
            return  # removed by the user: the checkerboard box brought it back, over whatever image was chosen then
        checker = self.checker_box.isChecked()
        self._upsert(*L.warped_layer(self._result, p["base"], checker=checker, scale=p["scale"], translate=p["translate"],
                                     region=p["region"]))
        # the grid's lines ran along the tiles' edges, where a misalignment shows: hidden while the checkerboard is on
        grid = self._result_layer(L.layer_name(p["base"], L.GRID))
        if grid is not None:
            if checker:
                self._grid_was_visible, grid.visible = grid.visible, False
            else:
                grid.visible = self._grid_was_visible
