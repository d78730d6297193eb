"""Landmark bookkeeping: ids, pairs with the reference, TRE tables, tracking, and an undoable model.

Pure numpy (no Qt, no napari): the landmark widget is a face on this module, and scripts get
the same numbers. Conventions (README: Conventions):

* a landmark table is ``(N, 4)`` float rows ``(id, t, row, col)`` (the CSV format); an id appears
  at most once per frame; napari Points are the ``(t, row, col)`` columns with the ids in
  ``features["id"]``;
* a **pair** is an id present on the reference frame (position ``p``) and on another frame ``t``
  (position ``q``); an id may have partners on several frames (one pair per frame);
* a point ``q`` of frame ``t`` maps to ``q + u_t(q)`` in the reference (bilinear sample of the pull
  field); TRE compares that with ``p``, "before" compares ``q`` itself with ``p``;
* tracking a reference point ``p`` to frame ``t`` uses the inverse field: ``p + inv(u_t)(p)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import metrics as M
from .core.arrays import plain

__all__ = [
    "point_size",
    "as_table",
    "Pairs",
    "match_pairs",
    "pair_errors",
    "tre_table",
    "tre_summary",
    "tracked_points",
    "LandmarkModel",
    "Placement",
    "STATS",
]

#: The statistics of a TRE row, in the order the tables show them (the multistep paper's dx, dy, ds).
STATS = ("mean", "std", "max", "dx", "dy", "ds")


# --------------------------------------------------------------------------- tables and pairs
def point_size(shape) -> float:
    """The size (px) landmark points are drawn at on frames of ``shape`` (``(..., H, W)``): about 1/40 of the longer
    side, at least 3 (the Landmarks dock's points, its tracked points and a read sequence's landmarks alike)."""
    return max(3.0, round(max(shape[-2:]) / 40))


def landmark_rows(landmarks) -> np.ndarray:
    """``landmarks`` as a new ``(N, 4)`` float64 array of finite rows ``(id, t, row, col)``, or a ``ValueError``."""
    lm = np.array(landmarks, dtype=np.float64)
    if lm.size == 0:
        return np.zeros((0, 4))
    if lm.ndim != 2 or lm.shape[1] != 4:
        raise ValueError(f"landmarks must be (N, 4) rows (id, t, row, col), got shape {lm.shape}")
    if not np.isfinite(lm).all():
        raise ValueError("landmarks contain NaN or infinite values")
    return lm


def as_table(landmarks, n_frames: int | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
    """Validate landmarks -> ``(N, 4)`` float64 rows ``(id, t, row, col)`` with integral ids and times.

    Raises ``ValueError`` for a wrong shape, NaN/inf, non-integer ids or times, a time outside ``[0, n_frames)``
    (when given), a position off frames of ``size`` ``(H, W)`` (when given: pixel centres ``0 .. H-1``, half a pixel
    of margin; a point 500 px off a 32x32 image gave a TRE of 484 px) or an id repeated within one frame. The one
    check of the API's, the CLI's and the docks' landmarks (:func:`metrics.evaluate`, :func:`tre_table`,
    :func:`~napari_tlreg.report.check_annotations`).
    """
    lm = landmark_rows(landmarks)
    if not len(lm):
        return lm
    ids = np.rint(lm[:, 0])
    if np.any(np.abs(ids - lm[:, 0]) > 1e-6):
        raise ValueError(f"landmark ids must be integers, got {lm[np.abs(ids - lm[:, 0]) > 1e-6, 0][0]:g}")
    lm[:, 0] = ids
    for pid, tt in lm[:, :2]:
        if abs(tt - round(tt)) > 1e-6:
            raise ValueError(f"landmark id {pid:g}: frame {tt:g} is not a frame index (a whole number)")
        if n_frames is not None and not 0 <= round(tt) < n_frames:
            raise ValueError(f"landmark id {pid:g}: frame {tt:g} is out of range for {n_frames} frames "
                             f"[0, {n_frames - 1}]")
    lm[:, 1] = np.rint(lm[:, 1])
    if size is not None and not (inside := M.landmarks_inside(lm, size)).all():
        pid, tt, r, c = lm[np.flatnonzero(~inside)[0]]
        raise ValueError(f"landmark id {pid:g} in frame {tt:g} at (row {r:g}, col {c:g}) lies outside the "
                         f"{size[0]}x{size[1]} image")
    seen: set[tuple[float, float]] = set()
    for pid, tt in lm[:, :2]:
        if (pid, tt) in seen:
            raise ValueError(f"landmark id {pid:g} appears twice in frame {tt:g}")
        seen.add((pid, tt))
    return lm


@dataclass
class Pairs:
    """Landmarks matched by id with the reference frame.

    ids ``(M,)``; moving ``(M, 3)`` ``(t, row, col)`` on non-reference frames; target ``(M, 2)``
    the same ids' ``(row, col)`` on the reference. ``reference_only``: ids on the reference with no
    partner; ``orphans``: ``(K, 4)`` rows on other frames whose id is not on the reference.
    Pairs are sorted by ``(t, id)``.
    """

    reference: int
    ids: np.ndarray
    moving: np.ndarray
    target: np.ndarray
    reference_only: np.ndarray
    orphans: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def frames(self) -> np.ndarray:
        """Sorted frame indices that hold at least one pair."""
        return np.unique(self.moving[:, 0]).astype(int)

    def select(self, t: int | None) -> "Pairs":
        """The pairs on frame ``t`` only (``None``: all)."""
        if t is None:
            return self
        sel = self.moving[:, 0] == int(t)
        return Pairs(self.reference, self.ids[sel], self.moving[sel], self.target[sel], self.reference_only, self.orphans)


def match_pairs(landmarks, reference: int, n_frames: int | None = None, size: tuple[int, int] | None = None) -> Pairs:
    """Match landmarks by id with the reference frame (see :class:`Pairs`), checked by :func:`as_table` on
    ``n_frames`` frames of ``size`` ``(H, W)`` where given."""
    lm = as_table(landmarks, n_frames, size)
    if isinstance(reference, bool) or not float(reference).is_integer():  # 2.7 was taken as frame 2
        raise ValueError(f"the reference must be a frame index, got {reference!r}")
    ref = int(reference)
    if n_frames is not None and not 0 <= ref < n_frames:  # no pairs, and no word of why
        raise ValueError(f"reference {ref} is out of range for {n_frames} frames")
    on_ref = lm[lm[:, 1] == ref]
    ref_pos = {int(r[0]): r[2:4] for r in on_ref}
    other = lm[lm[:, 1] != ref]
    matched = np.array([int(i) in ref_pos for i in other[:, 0]], dtype=bool)
    pm = other[matched]
    order = np.lexsort((pm[:, 0], pm[:, 1])) if len(pm) else np.zeros(0, int)
    pm = pm[order]
    target = np.array([ref_pos[int(i)] for i in pm[:, 0]]).reshape(-1, 2)
    partnered = {int(i) for i in pm[:, 0]}
    reference_only = np.array(sorted(i for i in ref_pos if i not in partnered), dtype=np.int64)
    return Pairs(
        reference=ref,
        ids=pm[:, 0].astype(np.int64),
        moving=pm[:, 1:4].copy(),
        target=target.astype(np.float64),
        reference_only=reference_only,
        orphans=other[~matched],
    )


def _spacing(spacing):
    return M.check_spacing(spacing, 2)


def pair_errors(pairs: Pairs, displacement=None, spacing=None) -> list[dict[str, Any]]:
    """One row per pair: where ``q`` maps in the reference and the error before/after registration.

    Keys: ``id, t, row, col, ref_row, ref_col, mapped_row, mapped_col, error_before, error_after,
    d_row, d_col`` (pixels; ``d = mapped - ref``), and ``error_before_mm``, ``error_after_mm`` with
    ``spacing``. Without a displacement ``mapped`` is ``q`` and the "after" values are NaN.
    """
    sp = _spacing(spacing)
    mapped = M.map_points(displacement, pairs.moving) if displacement is not None and len(pairs) else pairs.moving[:, 1:3]
    rows = []
    for i in range(len(pairs)):
        q, p, m = pairs.moving[i, 1:3], pairs.target[i], mapped[i]
        row = {
            "id": int(pairs.ids[i]), "t": int(pairs.moving[i, 0]),
            "row": float(q[0]), "col": float(q[1]), "ref_row": float(p[0]), "ref_col": float(p[1]),
            "mapped_row": float(m[0]) if displacement is not None else math.nan,
            "mapped_col": float(m[1]) if displacement is not None else math.nan,
            "error_before": float(np.hypot(*(q - p))),
            "error_after": float(np.hypot(*(m - p))) if displacement is not None else math.nan,
            "d_row": float(m[0] - p[0]) if displacement is not None else math.nan,
            "d_col": float(m[1] - p[1]) if displacement is not None else math.nan,
        }
        if sp is not None:
            s = np.asarray(sp)
            row["error_before_mm"] = float(np.hypot(*((q - p) * s)))
            row["error_after_mm"] = float(np.hypot(*((m - p) * s))) if displacement is not None else math.nan
        rows.append(row)
    return rows


def _stats(moved: np.ndarray, target: np.ndarray, sp, prefix: str) -> dict[str, float]:
    """``{prefix}_{stat}`` in pixels and ``{prefix}_{stat}_mm`` with spacing, via :func:`metrics.tre`."""
    r = M.tre(moved, target, spacing=sp)
    sfx = "_px" if sp is not None else ""
    out = {f"{prefix}_{k}": r[k + sfx] for k in STATS}
    if sp is not None:
        out.update({f"{prefix}_{k}_mm": r[k] for k in STATS})
    return out


def tre_table(landmarks, reference: int, displacement=None, spacing=None, n_frames: int | None = None) -> list[dict]:
    """TRE per frame and overall, before and after registration.

    One row per frame holding pairs (``t`` an int) and a last row ``t = "all"`` pooling every pair of
    every frame. Keys: ``t``, ``n``, ``before_<stat>``, ``after_<stat>`` for ``stat`` in :data:`STATS`
    (pixels; ``mean``/``std``/``max`` of the Euclidean error, ``dx`` mean |Δcol|, ``dy`` mean |Δrow|,
    ``ds`` mean Euclidean), and the same suffixed ``_mm`` when ``spacing`` is given. ``after_*`` are
    NaN without a displacement. No pairs: only the ``all`` row with ``n = 0`` and NaNs.
    """
    sp = _spacing(spacing)
    size = None
    if displacement is not None:  # its frames: a landmark off them is refused (its TRE would be the border's field's)
        n_frames = int(np.shape(displacement)[0]) if n_frames is None else n_frames
        size = tuple(int(n) for n in np.shape(displacement)[-2:])
    pairs = match_pairs(landmarks, reference, n_frames, size)
    mapped = M.map_points(displacement, pairs.moving) if displacement is not None and len(pairs) else None
    rows = []
    groups = [(int(t), pairs.moving[:, 0] == t) for t in pairs.frames] + [("all", np.ones(len(pairs), bool))]
    for t, sel in groups:
        row: dict[str, Any] = {"t": t, "n": int(sel.sum())}
        row.update(_stats(pairs.moving[sel, 1:3], pairs.target[sel], sp, "before"))
        if mapped is not None:
            row.update(_stats(mapped[sel], pairs.target[sel], sp, "after"))
        else:
            row.update({k.replace("before", "after", 1): math.nan for k in list(row) if k.startswith("before")})
        rows.append(row)
    return rows


def tre_summary(landmarks, reference: int, displacement=None, spacing=None, frame: int | None = None) -> dict:
    """The :func:`tre_table` row of one frame (``frame``) or the pooled ``all`` row (``None``).

    A frame without pairs gives a row with ``n = 0`` and NaNs.
    """
    rows = tre_table(landmarks, reference, displacement, spacing)
    want = "all" if frame is None else int(frame)
    for r in rows:
        if r["t"] == want:
            return r
    empty = {k: (math.nan if k not in ("t", "n") else v) for k, v in rows[-1].items()}
    empty.update(t=want, n=0)
    return empty


def tracked_points(result, points, ids=None, on_warning=None) -> tuple[np.ndarray, np.ndarray]:
    """Follow reference points through every frame with ``result.track_points``.

    points ``(N, 2)`` ``(row, col)`` on the reference; returns ``data (T*N, 3)`` rows ``(t, row, col)``
    (frame-major) and ``ids (T*N,)`` (``ids`` or ``0..N-1`` repeated per frame), ready for a napari
    Points layer with ``features={"id": ids}``. ``on_warning(message)``: the tracking's warnings (else warned).
    """
    pts = plain(points, "points", np.float64)
    if pts.size == 0:
        pts = pts.reshape(0, 2)
    if pts.ndim != 2 or pts.shape[1] != 2:  # napari's (t, row, col) rows were read as 1.5 points each
        raise ValueError(f"points must be (N, 2) rows (row, col) on the reference, got shape {pts.shape}")
    n = len(pts)
    ids = np.arange(n) if ids is None else np.asarray(ids).reshape(-1)
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} points")
    pos = result.track_points(pts, ids=ids, on_warning=on_warning) if n else np.zeros((result.n_frames, 0, 2))
    T = pos.shape[0]
    data = np.column_stack([np.repeat(np.arange(T), n), pos.reshape(-1, 2)]) if n else np.zeros((0, 3))
    return data, np.tile(ids.astype(np.int64), T)


# --------------------------------------------------------------------------- the editing model
@dataclass
class Placement:
    """What :meth:`LandmarkModel.place` did: ``action`` is ``"added"`` or ``"moved"``."""

    action: str
    id: int
    t: int


@dataclass
class LandmarkModel:
    """An editable landmark table with pairing rules and undo (the landmark widget's state).

    Pairing: a click on the reference frame starts a new landmark (next id) and makes it active
    (a second click on the reference before any partner re-places it); a click on another frame
    puts the active landmark's partner there (or moves it). :meth:`next_landmark` ends the active
    one so the next click on the reference starts the next id. Every change can be undone.
    """

    reference: int = 0
    table: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    active_id: int | None = None
    max_undo: int = 200
    _undo: list = field(default_factory=list, repr=False)

    def __post_init__(self):
        self.table = as_table(self.table)

    # -- queries
    @property
    def ids(self) -> np.ndarray:
        return self.table[:, 0].astype(np.int64)

    @property
    def points(self) -> np.ndarray:
        """``(N, 3)`` ``(t, row, col)`` for a napari Points layer."""
        return self.table[:, 1:4].copy()

    def __len__(self) -> int:
        return int(self.table.shape[0])

    def next_id(self) -> int:
        return int(self.table[:, 0].max()) + 1 if len(self) else 0

    def position(self, pid: int, t: int) -> np.ndarray | None:
        sel = (self.table[:, 0] == pid) & (self.table[:, 1] == t)
        return self.table[sel, 2:4][0].copy() if sel.any() else None

    def frames_of(self, pid: int) -> list[int]:
        return sorted(int(t) for t in self.table[self.table[:, 0] == pid, 1])

    def pairs(self, n_frames: int | None = None) -> Pairs:
        return match_pairs(self.table, self.reference, n_frames)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    # -- edits (each undoable)
    def _snapshot(self) -> None:
        self._undo.append((self.table.copy(), self.active_id))
        del self._undo[: max(0, len(self._undo) - self.max_undo)]

    def _put(self, pid: int, t: int, row: float, col: float) -> str:
        sel = (self.table[:, 0] == pid) & (self.table[:, 1] == t)
        if sel.any():
            self.table[sel, 2:4] = (row, col)
            return "moved"
        self.table = np.vstack([self.table, [[pid, t, row, col]]])
        return "added"

    def add(self, pid: int, t: int, row: float, col: float) -> Placement:
        """Put landmark ``pid`` on frame ``t`` (moving it if it is already there)."""
        if not (math.isfinite(row) and math.isfinite(col)):
            raise ValueError("landmark position must be finite")
        self._snapshot()
        return Placement(self._put(int(pid), int(t), float(row), float(col)), int(pid), int(t))

    def place(self, t: int, row: float, col: float) -> Placement:
        """One click of the pairing mode at ``(t, row, col)`` (see the class doc).

        Raises ``ValueError`` (plain message, nothing changed) for a click on another frame
        while no landmark is active on the reference.
        """
        t = int(t)
        if t == self.reference:
            a = self.active_id
            # the active landmark takes this click when it is new, only on the reference (moved), or has partners
            # but lost its reference point (otherwise those could never be paired again)
            if a is not None and (self.position(a, self.reference) is None or self.frames_of(a) == [self.reference]):
                p = self.add(a, t, row, col)
            else:
                p = self.add(self.next_id(), t, row, col)
            self.active_id = p.id
            return p
        a = self.active_id
        if a is None or self.position(a, self.reference) is None:
            raise ValueError(f"click on the reference frame (t={self.reference}) first to start a landmark")
        return self.add(a, t, row, col)

    def next_landmark(self) -> None:
        """End the active landmark: the next click on the reference starts a new id."""
        self.active_id = None

    def select(self, pid: int | None) -> None:
        self.active_id = None if pid is None else int(pid)

    def remove(self, pid: int, t: int | None = None) -> int:
        """Remove landmark ``pid`` on frame ``t`` (all frames if ``None``); the number of points removed."""
        sel = self.table[:, 0] == pid
        if t is not None:
            sel &= self.table[:, 1] == t
        n = int(sel.sum())
        if n:
            self._snapshot()
            self.table = self.table[~sel]
            if self.active_id == pid and not (self.table[:, 0] == pid).any():
                self.active_id = None
        return n

    def set_table(self, landmarks, undoable: bool = True) -> np.ndarray:
        """Replace every landmark (a loaded CSV, or edits made in the Points layer); returns the table kept.

        A repeated ``(id, t)`` keeps its first row and gives the others fresh ids (never loses a point).
        """
        lm = landmark_rows(landmarks)
        if len(lm):
            lm[:, :2] = np.rint(lm[:, :2])
            seen: set = set()
            nxt = int(lm[:, 0].max()) + 1
            for i in range(len(lm)):
                key = (int(lm[i, 0]), int(lm[i, 1]))
                if key in seen:
                    lm[i, 0] = nxt
                    key = (nxt, key[1])
                    nxt += 1
                seen.add(key)
        lm = as_table(lm)
        if undoable:
            self._snapshot()
        else:
            self._undo.clear()
        self.table = lm
        if self.active_id is not None and not (lm[:, 0] == self.active_id).any():
            self.active_id = None
        return lm.copy()

    def undo(self) -> bool:
        """Revert the last change; ``False`` when there is nothing to undo."""
        if not self._undo:
            return False
        self.table, self.active_id = self._undo.pop()
        return True
