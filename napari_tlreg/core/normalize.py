"""Intensity normalisation shared by every engine (README: Conventions): per sequence, or per frame where frames
flicker."""
from __future__ import annotations

import warnings

import numpy as np

from .nodata import apart_fill

#: ``tl.register``'s ``normalize`` choices
NORMALIZATIONS = ("auto", "sequence", "frame")
#: ``auto`` normalises each frame on its own where a frame's intensity spread differs from the reference frame's by
#: more than this factor either way ...
FLICKER_GAIN = 1.2
#: ... or its intensities moved by more than this share of the reference's range (a brightness offset)
FLICKER_OFFSET = 0.05
#: ... in a sequence of at least this many frames (the two dates of a satellite pair differ in brightness by nature)
FLICKER_MIN_FRAMES = 3
#: A pair (fewer frames) is normalised frame by frame only for a change no two dates of a scene show: a spread this
#: many times the other's, or intensities moved by more than the reference's whole range (another unit or encoding:
#: digital numbers beside reflectances, 8 bits beside 12)
PAIR_GAIN, PAIR_OFFSET = 4.0, 1.0


#: ``fill=FIND``: a no-data fill found in the frames (:func:`~napari_tlreg.core.nodata.apart_fill`); the default,
#: None, counts every pixel (only the pair engines' runs leave a fill out: ``register``)
FIND = "find"


def _fill(frames: np.ndarray, fill) -> np.ndarray | None:
    return apart_fill(frames) if isinstance(fill, str) and fill == FIND else fill


def intensity_range(frames: np.ndarray, low: float = 1.0, high: float = 99.0, fill=None) -> tuple[float, float]:
    """The intensities :func:`normalize_sequence` maps to 0 and 1: the ``low``/``high`` percentiles, or the minimum and
    maximum where those are equal (equal too: a constant sequence). ``fill``: a no-data fill apart from the data's
    values (a satellite date's 0 border or 65535 fill), ``(T, H, W)`` bool, or :data:`FIND` to find it
    (:func:`~napari_tlreg.core.nodata.apart_fill`), is left out: it falls outside the range and is clipped to 0 or 1."""
    f = np.asarray(frames, dtype=np.float32)
    apart = _fill(f, fill)
    data = f if apart is None or apart.all() else f[~apart]
    lo, hi = (float(v) for v in np.percentile(data, [low, high]))
    if not hi > lo:
        lo, hi = float(data.min()), float(data.max())
    return lo, hi


def normalize_sequence(frames: np.ndarray, low: float = 1.0, high: float = 99.0, fill=None) -> np.ndarray:
    """Robust per-sequence scaling to [0, 1]: the ``low``/``high`` percentiles map to 0/1, then clip.

    frames: ``(T, H, W)`` (any real dtype) -> float32 of the same shape. A constant sequence maps to 0. ``fill``: as
    :func:`intensity_range`.
    """
    f = np.asarray(frames, dtype=np.float32)
    lo, hi = intensity_range(f, low, high, fill)
    if not hi > lo:
        return np.zeros_like(f)
    return np.clip((f - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def normalize_frames(frames: np.ndarray, low: float = 1.0, high: float = 99.0, fill=None) -> np.ndarray:
    """:func:`normalize_sequence` of each frame on its own: a frame's gain and offset do not reach the engines.
    ``fill``: as :func:`intensity_range` (a given one: each frame's own part of it)."""
    f = np.asarray(frames)
    per = [FIND] * len(f) if isinstance(fill, str) else [None if fill is None else fill[t][None] for t in range(len(f))]
    return np.stack([normalize_sequence(x[None], low, high, m)[0] for x, m in zip(f, per)])


#: quantile pairs whose spread (upper minus lower) measures a frame's gain, and lower quantiles whose move measures its
#: offset: a change of brightness moves them all; motion (a bright object entering the view, a dark border) moves a few
RANGES = ((1.0, 99.0), (5.0, 95.0), (10.0, 90.0), (25.0, 75.0))
LEVELS = (1.0, 5.0, 10.0, 25.0, 50.0)
#: pixels per frame the percentiles are taken on at most (every k-th pixel of a larger frame; 512x512 frames: all)
SAMPLES = 2**18


def brightness_changes(frames: np.ndarray, reference: int = 0, skip=(), fill=None) -> dict[int, tuple[float, float]]:
    """How each frame's brightness differs from the reference frame's: ``{t: (factor, shift)}``.

    ``factor`` (>= 1): the spread between the quantiles of each pair of :data:`RANGES` in the frame over the same in
    the reference, taken the larger way round, and the least of these over the pairs; ``shift``: the move of each
    quantile of :data:`LEVELS` over the reference's 1st-99th percentile range, the least over the quantiles. A gain
    or an offset of the whole frame moves every one of them; motion moves some (a bright object that enters the view
    moves the top quantiles, a dark border the bottom ones, a contracting heart the middle ones), and the least is what
    all agree on: a lower bound of the frame's change (motion can also hide part of a gain), which motion alone keeps
    small. Frames in ``skip``, constant frames and quantile pairs with no spread in the reference are left out (a
    constant reference: ``{}``), and so is a no-data fill apart from the data (``fill``: as :func:`intensity_range`).
    """
    f = np.asarray(frames, dtype=np.float32)
    apart = _fill(f, fill)  # a fill apart from the data (a 65535 strip on one date) is no change of brightness
    f = f.reshape(len(f), -1) if apart is None else np.where(apart, np.nan, f).reshape(len(f), -1)
    f = f[:, :: max(1, f.shape[1] // SAMPLES)]  # large frames: a regular subsample is plenty for percentiles
    qs = sorted({q for pair in RANGES for q in pair} | set(LEVELS))
    if apart is None:
        table = dict(zip(qs, np.percentile(f, qs, axis=1)))
    else:  # a frame all fill (blank, or no data among the samples) has NaN quantiles: skipped below, unsaid
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            table = dict(zip(qs, np.nanpercentile(f, qs, axis=1)))
    full = table[99.0] - table[1.0]
    if not full[reference] > 0:
        return {}
    out = {}
    for t in range(len(f)):
        if t == reference or t in skip or not full[t] > 0:
            continue
        logs = [abs(np.log((table[hi][t] - table[lo][t]) / (table[hi][reference] - table[lo][reference])))
                for lo, hi in RANGES if table[hi][reference] > table[lo][reference] and table[hi][t] > table[lo][t]]
        shift = min(abs(table[q][t] - table[q][reference]) for q in LEVELS) / full[reference]
        out[t] = (float(np.exp(min(logs))), float(shift))
    return out


def flicker(frames: np.ndarray, reference: int = 0, skip=(), fill=None) -> dict[int, float]:
    """Frames whose brightness differs from the reference frame's beyond what motion does (a camera's auto-exposure,
    frames windowed one by one on export): ``{t: change}``, ``change`` the larger of the range factor less 1 and the
    shift (:func:`brightness_changes`).

    Flagged: a factor over :data:`FLICKER_GAIN` or a shift over :data:`FLICKER_OFFSET`. Motion alone stays well inside
    (``benchmarks/flicker.py``, natural section: factors up to 1.11 and shifts under 0.005 on the cine MRI, echo and
    phantoms of the benchmarks). Frames in ``skip`` (blank ones) are not judged, and sequences of fewer than
    :data:`FLICKER_MIN_FRAMES` frames (a pair of dates) by :data:`PAIR_GAIN` and :data:`PAIR_OFFSET` only.
    """
    gain, offset = (FLICKER_GAIN, FLICKER_OFFSET) if len(frames) >= FLICKER_MIN_FRAMES else (PAIR_GAIN, PAIR_OFFSET)
    return {t: max(factor - 1.0, shift) for t, (factor, shift) in brightness_changes(frames, reference, skip, fill).items()
            if factor > gain or shift > offset}


#: how to keep one scale where ``auto`` took each frame's own, in Python's words (the Register dock says it in its own)
ONE_SCALE_HINT = "normalize='sequence' to keep one scale for all"


def flicker_message(changed: dict[int, float]) -> str:
    """What ``register`` says when ``normalize="auto"`` normalised each frame on its own (at most 10 frames named; the
    change quoted is the least of theirs, and each measure is a lower bound: :func:`brightness_changes`)."""
    ts = sorted(changed)
    shown = ", ".join(str(t) for t in ts[:10]) + (f" and {len(ts) - 10} more" if len(ts) > 10 else "")
    which = f"frame {shown} differs" if len(ts) == 1 else f"frames {shown} differ"
    least = min(changed.values())
    by = f"{100 * least:.0f} % or more (flicker?)" if least < PAIR_GAIN - 1 else \
        f"{least + 1:,.0f}x or more (another unit or encoding?)"
    return f"{which} in brightness from the reference by {by}: each frame was normalised on its own ({ONE_SCALE_HINT})"


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`NORMALIZATIONS`, else a ``ValueError`` that lists them."""
    if mode not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {mode!r}")
    return mode


def normalize(frames: np.ndarray, reference: int = 0, mode: str = "auto", skip=(), fill=None) -> tuple[np.ndarray, str, dict[int, float]]:
    """The frames scaled to [0, 1] as ``mode`` says: ``(normalised, "sequence" | "frame", flickering frames)``.

    ``sequence``: one scale for all (:func:`normalize_sequence`); ``frame``: each its own (:func:`normalize_frames`);
    ``auto``: per frame where :func:`flicker` finds frames whose brightness changed, else per sequence (then the
    result is exactly ``sequence``'s). ``fill``: a no-data fill apart from the data, ``(T, H, W)`` bool, or None (as
    :func:`intensity_range`; found once here for the three uses).
    """
    check_mode(mode)
    fill = _fill(np.asarray(frames), fill)
    changed = flicker(frames, reference, skip, fill) if mode == "auto" else {}
    per_frame = mode == "frame" or bool(changed)
    scaled = normalize_frames(frames, fill=fill) if per_frame else normalize_sequence(frames, fill=fill)
    return scaled, ("frame" if per_frame else "sequence"), changed
