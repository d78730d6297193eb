"""Label ids: the one check every path that takes a segmentation applies (readers, the API, metrics, reports)."""
from __future__ import annotations

import numpy as np

_I32 = np.iinfo(np.int32)


def as_label_ids(labels, what: str = "labels") -> np.ndarray:
    """``labels`` as int32 ids, 0 the background, or a ``ValueError`` that says what is wrong with them.

    Integer (or bool) arrays, and floating ones whose values are all whole numbers, are accepted (any id but 0 is a
    label, negative ones too); NaN, infinities, fractions and ids beyond int32 (they would wrap around onto another
    id) are refused.
    """
    lab = np.asarray(labels)
    if lab.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be integers, got dtype {lab.dtype}")
    if lab.dtype.kind == "f" and not (np.isfinite(lab).all() and np.array_equal(lab, np.round(lab))):
        raise ValueError(f"{what} must be integers (found fractional, NaN or infinite values)")
    if lab.size and lab.dtype.kind != "b":
        lo, hi = float(lab.min()), float(lab.max())  # as Python floats: float32 holds int32.max as 2**31
        if lo < _I32.min or hi > _I32.max:
            raise ValueError(f"label ids must lie in the int32 range (±{_I32.max}), got {lo:.0f}..{hi:.0f}")
    return lab.astype(np.int32, copy=False)


def labelled_frames(labels) -> np.ndarray:
    """The indices of the frames of ``(T, H, W)`` labels that have any label."""
    lab = np.asarray(labels)
    return np.flatnonzero(lab.reshape(len(lab), -1).any(axis=1))


def frames_said(indices, most: int = 8) -> str:
    """Frame indices in words, runs joined (``0–299``; ``3, 9, 12–20``), at most ``most`` pieces then ``...``: a list of
    300 labelled frames made a 1,423-character status line."""
    idx = sorted({int(i) for i in indices})
    runs: list[list[int]] = []
    for i in idx:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    words = [str(a) if a == b else f"{a}, {b}" if b == a + 1 else f"{a}–{b}" for a, b in runs]
    return ", ".join(words[:most]) + (", ..." if len(words) > most else "")


def reference_on_labels(labels, reference: int) -> int | None:
    """The frame with the most labelled pixels where ``(T, H, W)`` labels leave ``reference`` empty but label other
    frames (an expert's end-diastole and end-systole: only the reference's labels are carried to the others, so
    nothing would be); None where the reference has labels, or no frame has."""
    lab = np.asarray(labels)
    counts = np.count_nonzero(lab.reshape(len(lab), -1), axis=1)
    if not 0 <= reference < len(counts) or counts[reference] or not counts.any():
        return None
    return int(np.argmax(counts))


def label_names(names) -> dict[int, str]:
    """``{id: name}`` of a labels layer's, a sequence's or a file's ``label_names`` (ids as ints or as the strings JSON
    keeps); entries whose key is no integer id are left out, and anything but a mapping gives ``{}``."""
    if not isinstance(names, dict):
        return {}
    out = {}
    for k, v in names.items():
        try:
            out[int(k)] = str(v)
        except (TypeError, ValueError):
            continue
    return out
