"""The registration results of one viewer, shared by its dock widgets (no Qt).

The Register widget publishes every finished run here, keyed by ``(image layer name, method)``
(a re-run of the same method on the same image replaces the previous result); the landmark
and plots widgets read from it and listen to :attr:`ResultStore.changed`. One store per viewer,
found with :func:`store_for`; it goes away with its viewer. Renaming a layer renames its results, and removing
it removes them.
"""
from __future__ import annotations

import weakref

import numpy as np
from napari.layers import Image
from psygnal import Signal

from napari_tlreg._hooks import COLOUR_OF, IN_PIXELS

from .chooser import CONTOURS_OF, frames_shape, is_result, named_after, plugin_info
from napari_tlreg.display import FINE_KEY, fine_place

__all__ = ["ResultStore", "store_for", "unwrap", "fits"]


def fits(result, image) -> bool:
    """Whether ``result`` was made from frames of ``image``'s shape (an Image layer; None: no)."""
    if image is None:
        return False
    return tuple(result.frames.shape) == frames_shape(image)


class ResultStore:
    """``{(image, method): RegistrationResult}`` in insertion order, with a change signal."""

    #: ``changed(image, method)``: a result was added, replaced or removed.
    changed = Signal(str, str)
    #: ``added(image, method)``: a run's result was added (after ``changed``): the docks turn to that image.
    added = Signal(str, str)
    #: ``renamed(old, new)``: a layer of the viewer was renamed (after its results followed it).
    renamed = Signal(str, str)
    #: ``planned(image, reference)``: the reference frame a dock set for an image before it is registered; the other
    #: docks take it (the Register dock moved to the frame with labels, 18, the Landmarks dock stayed on 0, and the
    #: pairs placed on 0 were dropped from the TRE after the run without a word)
    planned = Signal(str, int)
    #: ``chosen(image)``: the user chose an image in a dock; the other docks turn to it (slice 6 chosen in the Register
    #: dock, the Landmarks and plots docks stayed on slice 0, its curves drawn under slice 6 until a run)
    chosen = Signal(str)
    #: ``running(image, reference)``: a registration of ``image`` to ``reference`` started, or ended (-1): the
    #: Landmarks dock holds its reference there meanwhile (one changed during the run was ignored by it, and the pairs
    #: placed on it were dropped, or read backwards, when the result came)
    running = Signal(str, int)

    def __init__(self) -> None:
        self._results: dict[tuple[str, str], object] = {}
        self._planned: dict[str, int] = {}
        self._chosen: str | None = None
        self._running: dict[str, int] = {}
        self._labels: dict[str, str] = {}
        self._dock_state: dict | None = None
        #: Landmarks docks open: while none is, the store takes an image's landmark layers along when it is renamed
        self.landmark_docks = 0

    def keep_dock_state(self, state: dict) -> None:
        """What a closed Register dock leaves for the next one opened in this viewer (napari makes a new widget)."""
        self._dock_state = dict(state)

    def take_dock_state(self) -> dict | None:
        state, self._dock_state = self._dock_state, None
        return state

    def use_labels(self, image: str, labels: str | None) -> None:
        """The labels layer ``image`` was last run with in the Register dock (None: none): the plots dock scores its
        results with it where it has none chosen (they stayed on "none", Dice None, beside a run that had labels)."""
        if labels is None:
            self._labels.pop(str(image), None)
        else:
            self._labels[str(image)] = str(labels)

    def labels_used(self, image: str) -> str | None:
        return self._labels.get(str(image))

    def begin(self, image: str, reference: int) -> None:
        self._running[str(image)] = int(reference)
        self.running.emit(str(image), int(reference))

    def end(self, image: str) -> None:
        if self._running.pop(str(image), None) is not None:
            self.running.emit(str(image), -1)

    def running_reference(self, image: str) -> int | None:
        """The reference ``image`` is being registered to now (None: it is not)."""
        return self._running.get(str(image))

    def choose(self, image: str) -> None:
        """The user chose ``image`` in a dock: every dock turns to it (and a dock opened later starts on it)."""
        self._chosen = str(image)
        self.chosen.emit(str(image))

    def chosen_image(self) -> str | None:
        """The image last chosen in a dock or last registered (None: none yet, or it is gone)."""
        return self._chosen

    def plan(self, image: str, reference: int) -> None:
        """``image``'s reference frame as a dock now has it (said once per change)."""
        if self._planned.get(str(image)) != int(reference):
            self._planned[str(image)] = int(reference)
            self.planned.emit(str(image), int(reference))

    def planned_reference(self, image: str) -> int | None:
        return self._planned.get(str(image))

    def add(self, image: str, method: str, result, turn: bool = True) -> None:
        """A run's ``result`` for ``image``; with ``turn`` the docks turn to that image (not when the user chose another
        while it ran)."""
        key = (str(image), str(method))
        self._results.pop(key, None)  # a re-run moves to the end (the latest)
        self._results[key] = result
        if turn:
            self._chosen = key[0]  # the docks turn to it (added)
        self.changed.emit(*key)
        if turn:
            self.added.emit(*key)

    def get(self, image: str, method: str):
        return self._results.get((image, method))

    def remove(self, image: str, method: str | None = None) -> None:
        if method is None:  # the image is gone (or its data replaced): its planned reference with it
            self._planned.pop(str(image), None)
            self._labels.pop(str(image), None)
            if self._chosen == str(image):  # a dock opened later started on a new layer of that name
                self._chosen = None
        keys = [k for k in self._results if k[0] == image and (method is None or k[1] == method)]
        for k in keys:
            del self._results[k]
            self.changed.emit(*k)

    def rename(self, old: str, new: str) -> None:
        """The image layer ``old`` is now called ``new``: its results, and its planned reference, follow it."""
        for held in (self._planned, self._labels):
            if old != new and old in held:
                held[new] = held.pop(old)
        if old != new and self._chosen == old:
            self._chosen = new
        if old != new and old in self._running:
            self._running[new] = self._running.pop(old)
        if old == new or not any(i == old for i, _ in self._results):
            return
        self._results = {((new if i == old else i), m): r for (i, m), r in self._results.items()}
        for i, m in list(self._results):
            if i == new:
                self.changed.emit(i, m)

    def for_image(self, image: str) -> dict[str, object]:
        """``{method: result}`` of one image, oldest first."""
        return {m: r for (i, m), r in self._results.items() if i == image}

    def items(self) -> list[tuple[tuple[str, str], object]]:
        """``[((image, method), result), ...]``, oldest first."""
        return list(self._results.items())

    def images(self) -> list[str]:
        return list(dict.fromkeys(i for i, _ in self._results))

    def __len__(self) -> int:
        return len(self._results)


_STORES: dict[int, ResultStore] = {}


def unwrap(obj):
    """The object behind napari's ``PublicOnlyProxy`` (a plugin widget's viewer), or ``obj`` itself.

    Through the proxy every attribute access returns a new proxy, so identity checks and ``id()``
    keys on layers would not hold; the landmark and plots widgets keep the real viewer.
    """
    while hasattr(obj, "__wrapped__"):
        obj = obj.__wrapped__
    return obj


#: how napari draws a layer in the world: what the layers drawn on an image take from it (:func:`placement`)
PLACEMENT = ("scale", "translate", "rotate", "shear", "affine", "units")


def placement(layer) -> dict:
    """``layer``'s :data:`PLACEMENT`, as values to compare and to set on another layer."""
    return {"scale": np.asarray(layer.scale, float), "translate": np.asarray(layer.translate, float),
            "rotate": np.asarray(layer.rotate, float), "shear": np.asarray(layer.shear, float),
            "affine": np.asarray(layer.affine.affine_matrix, float), "units": tuple(getattr(layer, "units", ()) or ())}


def _finer_placement(place: dict, fine: int) -> dict:
    """:func:`placement` ``place`` of an image as a layer drawn ``fine`` times finer over it takes it
    (:func:`napari_tlreg.display.fine_place`)."""
    out = fine_place(place, fine)
    return {**out, "scale": np.asarray(out["scale"], float), "translate": np.asarray(out["translate"], float)}


def drawn_on(layer, image) -> bool:
    """Whether ``layer`` is one the plugin draws on ``image`` (a result, landmarks or tracks in its pixels, its colour
    copy, labels of its DICOM contours), not another of the user's named after it ("cells 2" beside "cells")."""
    info = plugin_info(layer)
    return (is_result(layer) or bool(layer.metadata.get(IN_PIXELS)) or info.get(COLOUR_OF) == image.name
            or CONTOURS_OF in info)


def same_placement(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] if k == "units" else (a[k].shape == b[k].shape and np.allclose(a[k], b[k])) for k in a)


def store_for(viewer) -> ResultStore:
    """The result store of ``viewer`` (created on first use, dropped when the viewer is collected).

    napari hands each plugin widget its own proxy of the viewer: the store is keyed by the viewer itself.
    """
    viewer = unwrap(viewer)
    key = id(viewer)
    store = _STORES.get(key)
    if store is None:
        store = _STORES[key] = ResultStore()
        weakref.finalize(viewer, _STORES.pop, key, None)
        _follow_renames(viewer, store)
    return store


def _follow_renames(viewer, store: ResultStore) -> None:
    """Keep the store's image names in step with the viewer's layers when one is renamed, and tell
    the docks (:attr:`ResultStore.renamed`): one place knows a layer's previous name. A removed image's
    results are dropped, and so are an image's whose data is replaced."""
    layers = getattr(viewer, "layers", None)
    if layers is None:
        return
    names: dict[int, str] = {}

    placed: dict[int, dict] = {}

    def track(layer) -> None:
        names[id(layer)] = layer.name
        layer.events.name.connect(lambda _event=None, ly=layer: renamed(ly))
        if isinstance(layer, Image):  # new pixels: the results no longer describe them (TRE, tracking, reports)
            layer.events.data.connect(lambda _event=None, ly=layer: store.remove(ly.name))
            placed[id(layer)] = placement(layer)
            for key in PLACEMENT:
                getattr(layer.events, key).connect(lambda _event=None, ly=layer: moved(ly))

    def moved(image) -> None:
        """The layers drawn as ``image`` was, named after it (its results, landmarks, tracks, contours' labels, colour
        copy), are drawn as it is now: a pixel size put right after a run left the overlays at the old size beside the
        image (the landmarks too), without a word."""
        old, now = placed.get(id(image)), placement(image)
        placed[id(image)] = now
        if old is None or same_placement(old, now):
            return
        for layer in list(layers):
            if layer is image or layer.ndim != image.ndim or not drawn_on(layer, image):
                continue
            mine, fine = placement(layer), int(layer.metadata.get(FINE_KEY, 1))  # (the grid: on a finer raster)
            was, will = (old, now) if fine == 1 else (_finer_placement(old, fine), _finer_placement(now, fine))
            if named_after(layer, layers) is image and same_placement(mine, was):
                for key in PLACEMENT:
                    if not same_placement({key: mine[key]}, {key: will[key]}):  # only what changed (napari redraws)
                        setattr(layer, key, will[key])

    def renamed(layer) -> None:
        old = names.get(id(layer))
        names[id(layer)] = layer.name
        if old is not None and old != layer.name:
            store.rename(old, layer.name)
            if not store.landmark_docks and isinstance(layer, Image):
                from .chooser import is_result
                from .landmarks import follow_image_name

                if not is_result(layer):
                    follow_image_name(layers, old, layer.name)
            store.renamed.emit(old, layer.name)

    def removed(layer) -> None:
        # the image is gone: its results go too (another sequence opened under the same name must not inherit them)
        names.pop(id(layer), None)
        placed.pop(id(layer), None)
        if not any(ly.name == layer.name for ly in layers):
            store.remove(layer.name)

    for layer in layers:
        track(layer)
    layers.events.inserted.connect(lambda event: track(event.value))
    layers.events.removed.connect(lambda event: removed(event.value))
