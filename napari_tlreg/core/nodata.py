"""No-data: the constant fill of a scene's footprint or a swath's edge (numpy only).

:func:`data_pixels` finds it the way the pair engines mask it (:func:`napari_tlreg.engines.pairs.nodata_mask`);
:func:`apart_fill` is the part of it whose value no data pixel takes, outside the data's range (a 0 border beside
land at 500-3000, a 65535 fill): the intensity scaling leaves that out of its percentiles.
"""
from __future__ import annotations

import numpy as np

#: the share of an image a no-data region covers at least (smaller: clipped pixels, not a fill)
MIN_FRACTION = 0.002


def data_pixels(images: np.ndarray, min_fraction: float = MIN_FRACTION) -> np.ndarray:
    """``(..., H, W)`` -> bool of the same shape: True where an image is **valid** data.

    No-data = a region of exactly constant value equal to the image's minimum or maximum, that touches the image
    border and covers at least ``min_fraction`` of the image. Dark or saturated pixels inside the scene stay valid.
    """
    from scipy import ndimage

    x = np.asarray(images)
    flat_images = x.reshape(-1, *x.shape[-2:])
    valid = np.ones(flat_images.shape, bool)
    for i, img in enumerate(flat_images):
        for v in (img.min(), img.max()):
            flat = img == v
            if flat.mean() < min_fraction:
                continue
            # a 3x3 constant neighbourhood: not a single clipped pixel in a textured area
            lab, n, edge = _constant_cores(flat)
            if n == 0 or edge.size == 0:
                continue
            region = np.isin(lab, edge)
            region = ndimage.binary_dilation(region, iterations=1) & flat
            if region.mean() >= min_fraction:
                valid[i] &= ~region
    return valid.reshape(x.shape)


#: a frame's no-data is a background, not a fill, where the data are an island in it: they reach less than this share
#: of the frame's edge and the no-data runs round the edge in one piece (a cell on an exact 0, touching the edge or
#: not); a misregistration moves the data over a background, and left out of the comparison, a field 6 px the wrong
#: way read better than none (session 45 review). A scene's footprint reaches the edge along a side (a swath edge, a
#: tile at a scene's corner) or splits its fill into pieces (a rotated scene's four corners).
DATA_ON_THE_EDGE = 0.25


def _constant_cores(flat: np.ndarray, structure=None) -> tuple[np.ndarray, int, np.ndarray]:
    """``(labels, count, the labels touching the frame's border)`` of ``flat``'s (bool) regions eroded once by
    ``structure`` (scipy's cross by default): its constant neighbourhoods, not a single clipped pixel."""
    from scipy import ndimage

    lab, n = ndimage.label(ndimage.binary_erosion(flat, structure, iterations=1, border_value=1))
    edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    return lab, n, edge[edge > 0]


def _island(fill: np.ndarray) -> bool:
    """Whether a frame's data, ``~fill`` ``(H, W)``, are an island in its no-data (:data:`DATA_ON_THE_EDGE`)."""
    rim = np.concatenate([fill[0], fill[1:, -1], fill[-1, -2::-1], fill[-2:0:-1, 0]])  # round the edge, in order
    pieces = int((rim & ~np.roll(rim, 1)).sum())  # runs of no-data along the edge (0: all of it)
    return 1.0 - rim.mean() < DATA_ON_THE_EDGE and pieces <= 1


#: a fill is apart from the data where it lies farther from the data's nearest value than this many of the (median)
#: steps between the data's own levels (a quantised image's dark background, 8 grey levels, lay one level below the
#: rest: it is the image's lowest level, not a fill)
LEVELS_APART = 2.0


def apart_fill(frames: np.ndarray) -> np.ndarray | None:
    """``(T, H, W)`` bool: the no-data whose value lies outside the range of the sequence's data pixels, or None
    where there is none.

    No-data: :func:`data_pixels`' regions, and the pixels of the same value joined to the image's border through
    pixels of that value (a one-pixel sliver of the fill along an edge, or a one-column gap between the edge and the
    data, which :func:`data_pixels`' erosion keeps as data: taken for data, it set the data's range at the fill's
    value and the fill was "shared"). A fill that data pixels share (the black outside an echo's fan, where the
    tissue is black too) is left in: it changes no percentile the scaling takes by much. One apart from the data is
    what squeezed it: a 0 border beside land at 500-3000 digital numbers put the land at [0.32, 1]; a 65535 fill put
    it at [0, 0.015]. Apart means beyond the data's range by more than :data:`LEVELS_APART` steps between its levels;
    and a frame's fill is none where its data are an island in it (:data:`DATA_ON_THE_EDGE`: a cell on an exact 0).
    """
    from scipy import ndimage

    f = np.asarray(frames)
    found = ~data_pixels(f)
    if not found.any():
        return None
    fill = found.copy()
    for t in range(len(f)):
        for v in np.unique(f[t][found[t]]):  # the fill's values (the frame's minimum, maximum, or both)
            lab, _ = ndimage.label(f[t] == v)
            edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
            fill[t] |= np.isin(lab, edge[edge > 0])
        if fill[t].any() and not fill[t].all() and _island(fill[t]):
            fill[t] = False  # the data an island in it (a cell on an exact 0): a background, not a scene's footprint
    data = f[~fill]
    if data.size == 0:
        return None
    lo, hi = data.min(), data.max()
    levels = np.unique(data[:: max(1, data.size // 2**20)])  # the data's levels, from ~1 M of its pixels
    step = float(np.median(np.diff(levels))) if len(levels) > 1 else np.inf
    apart = np.zeros(f.shape, bool)
    for side, beyond in ((0, fill & (f < lo)), (1, fill & (f > hi))):
        if not beyond.any():
            continue
        gap = float(lo - f[beyond].max()) if side == 0 else float(f[beyond].min() - hi)
        if gap > LEVELS_APART * step:  # not the next level of a quantised image (a dark background at its lowest)
            apart |= beyond
    return apart if apart.any() else None


#: the distinct values a frame's data need for :func:`inner_fill` to judge a block apart from them (a phantom of a
#: background, a wall and a blood pool at 30, 80 and 200 was told to give its blood pool as no-data; diff review)
MANY_LEVELS = 32


def inner_fill(frames: np.ndarray, min_fraction: float = MIN_FRACTION) -> list[tuple[int, float, int]]:
    """``[(frame, value, pixels)]``: blocks of a frame's lowest or highest value, constant and touching no border of the
    frame, of at least ``min_fraction`` of it in all, that :func:`data_pixels` takes for data (a cloud mask's 0s inside
    a Sentinel-2 date: they counted as data, and kept a 0 border beside them in too; remote-sensing review)."""
    from scipy import ndimage

    out = []
    f = np.asarray(frames)
    for t in range(len(f)):
        for v in dict.fromkeys((f[t].min(), f[t].max())):
            flat = f[t] == v
            if flat.mean() < min_fraction:
                continue
            square = np.ones((3, 3), bool)  # (a cross lost a block's four corners)
            lab, n, edge = _constant_cores(flat, square)
            if n == 0:
                continue
            inner = ndimage.binary_dilation((lab > 0) & ~np.isin(lab, edge), square) & flat
            if inner.mean() >= min_fraction and _apart(f[t][~flat], v):
                out.append((t, float(v), int(inner.sum())))
    return out


def _apart(data: np.ndarray, value) -> bool:
    """Whether ``value`` lies beyond the range of ``data`` by more than :data:`LEVELS_APART` steps between its levels,
    as :func:`apart_fill` takes a fill (a dark cavity at 0 in a phantom whose tissue reaches down to it is no hole)."""
    if data.size == 0:
        return False
    data, value = data.astype(np.float64, copy=False), float(value)  # (int16's -32768 overflowed in the gap)
    levels = np.unique(data[:: max(1, data.size // 2**20)])
    if len(levels) < MANY_LEVELS:  # a picture of a few flat regions (a digital phantom): its levels are no scale
        return False
    step = float(np.median(np.diff(levels)))
    gap = data.min() - value if value <= data.min() else value - data.max()
    return gap > LEVELS_APART * step


def inner_fill_message(found: list[tuple[int, float, int]], shape) -> str:
    """What :func:`inner_fill`'s blocks say: taken for data, and how to give them as no-data."""
    t, v, n = max(found, key=lambda f: f[2])
    share = f"{n} px of {v:g}, {100 * n / (shape[-2] * shape[-1]):.1f} % of the frame"
    said = (f"frame {t} holds a block" if len(found) == 1 else
            f"frames {', '.join(str(f[0]) for f in found)} hold blocks") + " of one value inside the image"
    return (f"{said} ({'' if len(found) == 1 else f'frame {t}: '}{share}; a cloud mask?), counted as data, as is a "
            f"border of that value beside them: if it is no-data, give nodata={v:g} (--param nodata={v:g}; the form's "
            "nodata field)")


#: the share of a frame its no-data may take to be left out of a comparison: more is taken for a dark background (a
#: cell on an exact 0, 83 % of the frame: a field that smeared the cell passed the worse-than-none check)
NODATA_AT_MOST = 0.5


def compared_pixels(nodata: np.ndarray, reference: int, warp, declared: bool = False) -> np.ndarray | None:
    """``(T, H, W)`` bool: the pixels of each frame that are data (not ``nodata``, ``(T, H, W)`` bool) in it, in the
    reference and in the reference warped onto it (``warp``: an ``(H, W)`` image on the reference -> its
    ``(T, H, W)`` warps by the result's field: a fill on the reference, moved by the field, was counted), or None
    where every pixel is data or the no-data is a background (more than :data:`NODATA_AT_MOST` of a frame). A no-data
    ``declared`` (the user's value, a file's) is no background however much of a frame it takes (a swath edge's tile,
    60 % fill, was counted whole: "worse than none" on a right field)."""
    valid = ~np.asarray(nodata, bool)
    if valid.all() or (not declared and float((~valid).mean(axis=(1, 2)).max()) > NODATA_AT_MOST):
        return None
    moved = np.asarray(warp(valid[reference].astype(np.float32))) > 0.99
    return valid & valid[reference] & moved
