"""What the viewer shows of a result: ``RegistrationResult`` -> napari layer data, as plain functions (numpy and
napari's transforms: no Qt, no viewer), used by the Register dock and scripts alike.

Each ``*_layer`` function returns a napari ``LayerData`` tuple ``(data, kwargs, layer_type)``
that ``viewer._add_layer_from_data(*t)`` (or ``napari.layers.Layer.create(*t)``) turns into a
layer. The fields, warps and Jacobians come from the public API (:class:`~napari_tlreg.RegistrationResult`,
:func:`napari_tlreg.warp`); this module draws them: the grid's raster, the arrows' length, the colour scales.

``scale`` and ``translate`` are those of the input ``(T, H, W)`` image layer, so the result
layers sit on it in time and space.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

import napari_tlreg as tl
from napari_tlreg._hooks import FINE_KEY, label_colormap  # FINE_KEY: the grid's raster, finer than the frames'
from napari_tlreg.metrics import folds
from napari_tlreg.report import jacobian_limits  # (the montage's scale too)

LayerData = tuple[Any, dict[str, Any], str]

# Suffixes of the result layers' names: "<input name> warped reference", ...
WARPED = "warped reference"
GRID = "grid"
JACOBIAN = "jacobian"
FOLDS = "folds"
DISPLACEMENT = "displacement"
LABELS = "propagated labels"
GREY_FRAME = "grey frame"
NODATA = "no data"
# bottom -> top as first added: the Jacobian (hidden at first) above the warped reference, whose additive magenta
# would otherwise wash its colours out when it is shown; a colour image's grey frame (green) under them all; the
# input's no-data over the overlay, the map and the folds (none of them means anything there)
SUFFIXES = (GREY_FRAME, WARPED, JACOBIAN, FOLDS, NODATA, GRID, DISPLACEMENT, LABELS)

#: Display choices shared with the widget's legend.
WARPED_COLORMAP = "magenta"
GRID_COLOR = "cyan"
#: the grid's colormap: transparent where there is no line, :data:`GRID_COLOR` on one, drawn over the layers below
#: (translucent), so a line keeps its colour over bright tissue and over the Jacobian map (added, cyan vanished into
#: white tissue and tinted the map)
GRID_COLORMAP = {"colors": [[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]], "name": "tlreg grid", "interpolation": "linear"}
#: the grid's spacing "auto": about this many cells across the longer side, lines at least :data:`GRID_MIN_SPACING`
#: px apart (8 px on a 512-px satellite pair drew 64 lines a side, a cyan mesh over a quarter of the map)
GRID_CELLS = 32
GRID_MIN_SPACING = 8
#: the grid of frames under :data:`GRID_RASTER` / 3 px is drawn on a raster 3 or :data:`GRID_FINE` times finer than
#: theirs, of at most :data:`GRID_RASTER` px a side and :data:`GRID_PIXELS` pixels in all (:func:`grid_fineness`), its
#: lines a fine pixel wide: a line a frame's pixel wide, spread to two by the warp, covered a quarter of each 8-px cell
#: of a 64-px frame, a cyan mesh over the heart
GRID_RASTER = 1024
GRID_FINE = 5
GRID_PIXELS = 2 ** 25  # 128 MB of float32: the real echo's 30 x 240 x 320 at 3x
#: the frame under the warped reference once a result is shown: green beside its magenta, so aligned tissue reads
#: white and a misalignment green or magenta (over a grey frame everything read pink)
FRAME_COLORMAP = "green"
# det(I + ∇u) of the pull field is the reference area that one pixel of the frame shows: blue (det < 1) where the
# tissue is larger in the frame than on the reference (it grew), white (1), red (det > 1) where it shrank
JACOBIAN_COLORMAP = "bwr"
FOLD_COLOR = "yellow"
#: where the input held no data (a satellite date's fill): neither the overlay's green nor its magenta, which read as
#: a misalignment there
NODATA_COLOR = "#8c8c8c"
#: the arrows' colour: none of the labels' (orange arrows vanished in the orange LV cavity), the grid's cyan or
#: the folds' yellow
VECTOR_COLOR = "#5c9dff"


def layer_name(base: str, suffix: str) -> str:
    return f"{base} {suffix}"


def _placement(scale: Sequence[float] | None, translate: Sequence[float] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if scale is not None:
        out["scale"] = tuple(float(s) for s in scale)
    if translate is not None:
        out["translate"] = tuple(float(t) for t in translate)
    return out


# ---- arrays -----------------------------------------------------------------------------------
def checkerboard(a: np.ndarray, b: np.ndarray, tile: int) -> np.ndarray:
    """Tiles of ``a`` and ``b`` alternating over the last two axes (``a`` where the tile index sum is even)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"checkerboard needs arrays of one shape, got {a.shape} and {b.shape}")
    tile = max(1, int(tile))
    h, w = a.shape[-2:]
    rows = (np.arange(h) // tile)[:, None]
    cols = (np.arange(w) // tile)[None, :]
    mask = (rows + cols) % 2 == 0
    return np.where(mask, a, b)


def default_tile(shape: Sequence[int]) -> int:
    """A checkerboard tile size giving about 8 tiles across the shorter side."""
    return max(2, int(min(shape[-2:])) // 8)


def _pixel_sizes(pixel: Sequence[float]) -> tuple[float, float, float, float]:
    """``(row, col, finer, coarser)`` sizes of a pixel ``(row, col)`` as the grid takes them (0 counts as 1)."""
    sr, sc = (abs(float(p)) or 1.0 for p in pixel)
    return sr, sc, min(sr, sc), max(sr, sc)


def grid_image(shape: Sequence[int], spacing: int, pixel: Sequence[float] = (1.0, 1.0), fine: int = 1) -> np.ndarray:
    """``(H, W)`` float32 image: 1 on the rows and columns ``0, spacing, 2*spacing, ...`` and on the last ones; 0 elsewhere.
    (Pulled into a frame, :func:`grid_layer` leaves out what comes from beyond the reference's edge.)

    ``pixel``: the pixel's size ``(row, col)`` (the layer's scale). With anisotropic pixels ``spacing`` counts the
    coarser axis's pixels and the other axis gets the step of the same length, so the cells are square on screen; a
    line one coarse pixel wide is drawn fainter by the ratio (at least 0.35), so both directions weigh alike (a 2.0 x 0.5 mm grid's
    rows were 4x the columns' width: bands that hid the image).

    ``fine``: the image is ``(fine * H, fine * W)``, each pixel of ``shape`` ``fine`` x ``fine`` of its pixels, and a
    line one of them wide, in the middle of the pixel of ``shape`` it is on (``fine`` odd: :func:`grid_fineness`)."""
    h, w = (int(s) for s in shape[-2:])
    spacing, fine = max(2, int(spacing)), max(1, int(fine))
    sr, sc, small, coarse = _pixel_sizes(pixel)
    step_r, step_c = (max(2, int(round(spacing * coarse / s))) for s in (sr, sc))
    img = np.zeros((h * fine, w * fine), dtype=np.float32)
    # 1 along the finer axis; at least 0.35 (at 5.0 x 0.5 mm the rows' 0.1 vanished once warped)
    row_ink, col_ink = max(small / sr, 0.35), max(small / sc, 0.35)
    mid = (fine - 1) // 2
    rows = np.unique(np.r_[np.arange(0, h, step_r), h - 1]) * fine + mid
    cols = np.unique(np.r_[np.arange(0, w, step_c), w - 1]) * fine + mid
    img[rows, :] = row_ink
    img[:, cols] = np.maximum(img[:, cols], col_ink)
    return img


def grid_fineness(shape: Sequence[int]) -> int:
    """How many times finer than frames of ``shape`` (``(T, H, W)``) the grid is drawn: an odd number (a line in the
    middle of its pixel's fine pixels), up to :data:`GRID_FINE`, the raster at most :data:`GRID_RASTER` px along the
    longer side and :data:`GRID_PIXELS` in all (1 for frames of a third of that size or larger, or too many)."""
    h, w = (max(1, int(s)) for s in shape[-2:])
    t = max(1, int(shape[0])) if len(shape) >= 3 else 1
    fine = min(GRID_FINE, GRID_RASTER // max(h, w))
    fine -= 1 - fine % 2  # odd
    while fine > 1 and t * h * w * fine * fine > GRID_PIXELS:
        fine -= 2
    return max(1, fine)


def _finer(a: np.ndarray, fine: int) -> np.ndarray:
    """``a`` ``(..., H, W)`` sampled bilinearly at the centres of a raster ``fine`` times finer (the edges repeated)."""
    a = np.asarray(a, dtype=np.float32)
    for axis in (-2, -1):
        n = a.shape[axis]
        pos = np.clip((np.arange(n * fine, dtype=np.float32) + 0.5) / fine - 0.5, 0.0, n - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, n - 1)
        wt = (pos - lo).reshape((-1, 1) if axis == -2 else (-1,))
        a = np.take(a, lo, axis=axis) * (1.0 - wt) + np.take(a, hi, axis=axis) * wt
    return a


def _repeat(mask: np.ndarray, fine: int) -> np.ndarray:
    """``mask`` ``(..., H, W)`` on a raster ``fine`` times finer, each pixel ``fine`` x ``fine`` of it."""
    return np.asarray(mask).repeat(fine, axis=-2).repeat(fine, axis=-1) if fine > 1 else np.asarray(mask)


def fine_place(place: dict[str, Any], fine: int) -> dict[str, Any]:
    """The ``scale`` and ``translate`` that draw a layer ``fine`` times finer than an image drawn with ``place``
    (``scale``, ``translate``, and its ``rotate`` and ``shear`` where given) over that image: its pixels ``1/fine`` of
    the image's, their centres within the image's pixels (the first at ``-0.5 + 0.5 / fine`` of the image's pixel 0).
    The other keys of ``place`` as they are."""
    if fine <= 1:
        return dict(place)
    from napari.utils.transforms import Affine

    scale = np.asarray(place.get("scale", (1.0, 1.0, 1.0)), dtype=float)
    translate = np.asarray(place.get("translate", np.zeros(len(scale))), dtype=float)
    shift = np.zeros(len(scale))
    shift[-2:] = -0.5 + 0.5 / fine  # in the image's pixels
    linear = Affine(scale=scale, rotate=place.get("rotate"), shear=place.get("shear"), ndim=len(scale)).linear_matrix
    finer = scale.copy()
    finer[-2:] /= fine
    return {**place, "scale": tuple(float(s) for s in finer), "translate": tuple(float(t) for t in translate + linear @ shift)}


def displacement_vectors(displacement: np.ndarray, step: int = 8, region: np.ndarray | None = None) -> np.ndarray:
    """``(N, 2, 3)`` napari vectors of the pull fields ``(T, 2, H, W)`` sampled every ``step`` px.

    Each vector is ``[(t, row, col), (0, u_row, u_col)]``: at pixel ``x`` of frame ``t`` it points by
    ``u_t(x)``, to where that pixel's content sits in the reference (``frame_t(x) ≈ ref(x + u_t(x))``).
    ``region`` ``(H, W)`` bool (or ``(T, H, W)``, a frame's own): only the samples inside it.
    """
    u = np.asarray(displacement)
    if u.ndim != 4 or u.shape[1] != 2:
        raise ValueError(f"displacement must be (T, 2, H, W), got {u.shape}")
    step = max(1, int(step))
    t, _, h, w = u.shape
    r0, c0 = (h - 1) % step // 2, (w - 1) % step // 2  # centre the sample grid
    rows = np.arange(r0, h, step)
    cols = np.arange(c0, w, step)
    tt, rr, cc = np.meshgrid(np.arange(t), rows, cols, indexing="ij")
    sub = u[:, :, rows][:, :, :, cols]  # (T, 2, nr, nc)
    if region is None:
        keep = np.ones(tt.shape, bool)
    elif np.ndim(region) == 3 and len(region) == t:
        keep = np.stack([_region(r, (h, w))[np.ix_(rows, cols)] for r in region])
    else:
        keep = np.broadcast_to(_region(region, (h, w))[np.ix_(rows, cols)], tt.shape)
    out = np.zeros((int(keep.sum()), 2, 3), dtype=np.float32)
    out[:, 0, 0] = tt[keep]
    out[:, 0, 1] = rr[keep]
    out[:, 0, 2] = cc[keep]
    out[:, 1, 1] = sub[:, 0][keep]
    out[:, 1, 2] = sub[:, 1][keep]
    return out


def drawn_region(res, region=None) -> np.ndarray | None:
    """Where the grid and arrows are drawn and the Jacobian's colour scale is taken: the region the run was restricted
    to (``res.mask``), else ``region`` (the image's own, e.g. the real echo's sector: outside it a field that no
    tissue constrained, over burned-in text and black), else None (the whole frame)."""
    return res.mask if res.mask is not None else region


def _region(region, shape) -> np.ndarray:
    m = np.asarray(region, dtype=bool)
    if m.shape != tuple(shape):
        raise ValueError(f"region of shape {m.shape} does not match frames of {shape[0]}x{shape[1]}")
    return m


def default_vector_step(shape: Sequence[int]) -> int:
    """About every 8 px, coarser for big frames so a frame holds at most ~64 x 64 arrows."""
    return max(8, int(np.ceil(max(shape[-2:]) / 64)))


#: the arrows' length factors, the largest that keeps most arrows within their spacing (:func:`arrow_length`)
ARROW_LENGTHS = (1, 2, 5, 10, 20, 50, 100)


def arrow_length(vectors: np.ndarray, step: int) -> int:
    """The factor the arrows are drawn at: the largest of :data:`ARROW_LENGTHS` at which the longest arrows (the 95th
    percentile of those that move) reach at most 90 % of the arrows' spacing ``step``; 1 where they reach it already.
    (Drawn at their true length, a satellite pair's 2 px shift made specks on a 512 px frame whose direction could not
    be seen; remote-sensing review.)"""
    lengths = np.hypot(vectors[:, 1, 1], vectors[:, 1, 2]) if len(vectors) else np.zeros(0)
    lengths = lengths[lengths > 1e-3]
    if not len(lengths):
        return 1
    top = float(np.percentile(lengths, 95))
    return max((k for k in ARROW_LENGTHS if k * top <= 0.9 * step), default=1)


# ---- layers -----------------------------------------------------------------------------------
def warped_layer(res, base: str, *, checker: bool = False, tile: int | None = None, scale=None, translate=None,
                 region=None) -> LayerData:
    """The reference warped onto every frame, ``(T, H, W)``.

    Default: magenta, additive, to lay over the (grey/green) input so misalignment shows as colour. Black where a
    pair engine's run compared no data (``res.data_region``: a date's no-data fill, the reference's moved onto a date),
    which read as misalignment. Outside the region the field was fitted in (:func:`drawn_region`) the reference as it
    is, unregistered: the echo's burned-in text, the same in every frame, moved by the field there read as
    misalignment (and blanked, as green, which the legend calls one too); what moves there shows as unregistered.
    ``checker=True``: a checkerboard of that and ``res.frames`` (both normalised to [0, 1]),
    grey and opaque, so edges that do not continue across tiles show misalignment.
    """
    kw = {"name": layer_name(base, WARPED), "contrast_limits": (0.0, 1.0), **_placement(scale, translate)}
    warped = res.warped
    region = drawn_region(res, region)
    if region is not None:
        warped = np.where(_region(region, res.frames.shape[1:]), warped, res.frames[res.reference])
    if res.data_region is not None:
        warped = np.where(res.data_region, warped, 0.0)
    if checker:
        tile = default_tile(res.warped.shape) if tile is None else tile
        data = checkerboard(warped, res.frames, tile).astype(np.float32, copy=False)
        kw.update(colormap="gray", blending="translucent", opacity=1.0)
    else:
        data = np.asarray(warped, dtype=np.float32)
        kw.update(colormap=WARPED_COLORMAP, blending="additive", opacity=1.0)
    return data, kw, "image"


def grey_frame_layer(res, base: str, *, scale=None, translate=None) -> LayerData:
    """The frames as registered (grey, normalised to [0, 1]: ``res.frames``, not a copy), green and opaque: laid over
    a colour (RGB) image, whose colours napari cannot recolour, it gives the overlay the green beside the warped
    reference's magenta that a grey image gets (added to the colours, aligned tissue read pink, not white)."""
    kw = {"name": layer_name(base, GREY_FRAME), "contrast_limits": (0.0, 1.0), "colormap": FRAME_COLORMAP,
          "blending": "translucent_no_depth", "opacity": 1.0, **_placement(scale, translate)}
    return np.asarray(res.frames, dtype=np.float32), kw, "image"


def auto_grid_spacing(shape, pixel: Sequence[float] = (1.0, 1.0)) -> int:
    """The grid spacing "auto" gives frames of ``shape`` (``(..., H, W)``) of pixels ``pixel`` (``(row, col)`` sizes),
    in :func:`grid_image`'s units (pixels of the coarser axis): :data:`GRID_CELLS` cells across the longer side on
    screen, lines at least :data:`GRID_MIN_SPACING` fine pixels apart (square pixels: 8 px up to 256-px frames, 16 at 512)."""
    h, w = (int(s) for s in shape[-2:])
    sr, sc, fine, coarse = _pixel_sizes(pixel)
    return max(2, round(max(h * sr, w * sc) / (GRID_CELLS * coarse)), math.ceil(GRID_MIN_SPACING * fine / coarse - 1e-9))


def grid_layer(res, base: str, spacing: int | None = None, *, scale=None, translate=None, region=None,
               visible: bool = True) -> LayerData:
    """The reference's regular grid (lines every ``spacing`` px, of the coarser axis when ``scale``'s pixels are not
    square: :func:`grid_image`; None: :func:`auto_grid_spacing`) pulled into every frame: ``(T, H, W)``.

    Drawn only inside ``res.mask`` when the run was restricted to a region (e.g. NMSR on the echo
    sector): outside it nothing fitted the field, which is the network's extrapolation there; nor where a pair
    engine's run compared no data (``res.data_region``).
    """
    pixel = (1.0, 1.0) if scale is None else tuple(scale)[-2:]
    fine = grid_fineness(res.frames.shape)  # frames under 512 px: drawn finer, its lines thinner than a pixel
    grid = grid_image(res.frames.shape, auto_grid_spacing(res.frames.shape, pixel) if spacing is None else spacing,
                      pixel, fine)
    data = np.empty((res.n_frames, *grid.shape), np.float32)
    for t in range(res.n_frames):  # a frame at a time: the field on the fine raster is twice the grid's size
        u = res.displacement[t:t + 1]
        u = u if fine == 1 else _finer(u, fine) * np.float32(fine)  # in the fine pixels
        data[t] = np.clip(tl.warp(grid, u)[0], 0.0, 1.0)
        # where a frame shows what lies beyond the reference's edge, the warp repeats the edge (its closing grid
        # line) over |u| px: a solid band that reads as heavy compression; nothing of the grid is there
        data[t] *= _inside_reference(u)[0]
    region = drawn_region(res, region)
    if region is not None:
        data *= _repeat(_region(region, res.frames.shape[1:]), fine)
    if res.data_region is not None:  # not over a date's no-data
        data *= _repeat(res.data_region, fine)
    place = _placement(scale, translate)
    kw = {
        "name": layer_name(base, GRID),
        "colormap": GRID_COLORMAP,
        "blending": "translucent",
        "contrast_limits": (0.0, 0.8),  # bilinear sampling spreads a 1-px line to ~0.5 over 2 px: keep it visible
        "opacity": 0.5,
        "visible": visible,
        "metadata": {FINE_KEY: fine},
        **fine_place(place, fine),
    }
    return data, kw, "image"


def _inside_reference(displacement: np.ndarray) -> np.ndarray:
    """``(T, H, W)`` 1 where ``x + u_t(x)`` falls on the reference image (within half a pixel of its edge), else 0."""
    u = np.asarray(displacement)
    h, w = u.shape[-2:]
    rows = np.arange(h, dtype=np.float32)[None, :, None] + u[:, 0]
    cols = np.arange(w, dtype=np.float32)[None, None, :] + u[:, 1]
    inside = (rows >= -0.5) & (rows <= h - 0.5) & (cols >= -0.5) & (cols <= w - 0.5)
    return inside.astype(np.float32)


def jacobian_layer(res, base: str, *, scale=None, translate=None, visible: bool = True, region=None) -> LayerData:
    """``det(I + ∇u)`` per frame with a diverging colormap centred on 1 (white = no area change); its
    limits from the values inside ``res.mask`` when the run was restricted to a region, and nothing drawn (NaN,
    transparent) outside it: the field there fitted nothing (the echo's black and text were coloured as tissue that
    grew or shrank); nor where a pair engine's run compared no data (``res.data_region``)."""
    data = np.asarray(res.jacobian, dtype=np.float32)
    region = drawn_region(res, region)  # the colour scale spans the field where it was fitted (e.g. the echo sector)
    if region is not None:
        data = np.where(_region(region, data.shape[1:]), data, np.float32(np.nan))
    if res.data_region is not None:  # nor over a date's no-data (nothing constrained the field there)
        data = np.where(res.data_region, data, np.float32(np.nan))
    kw = {
        "name": layer_name(base, JACOBIAN),
        "colormap": JACOBIAN_COLORMAP,
        "contrast_limits": jacobian_limits(data),  # NaN outside the region: left out
        "blending": "translucent",
        "opacity": 1.0,  # the legend's colours as drawn (at 0.7 the magenta overlay below tinted the whole map)
        "visible": visible,
        **_placement(scale, translate),
    }
    return data, kw, "image"


def folds_layer(res, base: str, *, scale=None, translate=None) -> LayerData:
    """Labels ``(T, H, W)``: 1 where the field folds (``det <= 0``, or not finite, as :func:`~napari_tlreg.metrics.
    folded_percent` counts it), drawn in :data:`FOLD_COLOR`, inside the run's mask where it had one: where the folding
    figures count them (the image's own region does not restrict them: a fold the legend counted went undrawn)."""
    mask = None if res.mask is None else _region(res.mask, res.jacobian.shape[1:])
    data = folds(res.jacobian, mask).astype(np.uint8)
    kw = {
        "name": layer_name(base, FOLDS),
        "colormap": {0: "transparent", 1: FOLD_COLOR, None: "transparent"},
        "opacity": 1.0,
        **_placement(scale, translate),
    }
    return data, kw, "labels"


def nodata_layer(res, base: str, *, scale=None, translate=None) -> LayerData | None:
    """Labels ``(T, H, W)``: 1 where nothing was compared (``res.data_region`` false: the input's no-data fill, the
    reference's moved onto a frame), drawn in :data:`NODATA_COLOR`; None where every pixel was compared."""
    if res.data_region is None:
        return None
    kw = {
        "name": layer_name(base, NODATA),
        "colormap": {0: "transparent", 1: NODATA_COLOR, None: "transparent"},
        # opaque: at 0.85 a 65535 fill, the frame's brightest, showed pale green through it (the legend's "misalignment")
        "opacity": 1.0,
        **_placement(scale, translate),
    }
    return (~res.data_region).astype(np.uint8), kw, "labels"


def displacement_layer(res, base: str, step: int | None = None, *, scale=None, translate=None, region=None) -> LayerData:
    """Vectors of the pull displacement ``u_t(x)`` at ``x``, subsampled every ``step`` px (default ~8): each arrow
    goes from a pixel of frame t to where its content is on the reference, so it points against the tissue's motion
    since the reference (the legend says so), drawn :func:`arrow_length` times its length (napari's length control). Inside ``res.mask`` only, when the run was restricted to a region
    (as :func:`grid_layer`)."""
    step = default_vector_step(res.displacement.shape) if step is None else int(step)
    region = drawn_region(res, region)
    if res.data_region is not None:  # not over a date's no-data
        region = res.data_region & (True if region is None else _region(region, res.frames.shape[1:]))
    data = displacement_vectors(res.displacement, step, region)
    kw = {
        "name": layer_name(base, DISPLACEMENT),
        "edge_width": max(0.3, 0.15 * step),
        "edge_color": VECTOR_COLOR,
        "length": float(arrow_length(data, step)),  # the legend says a factor other than 1
        "vector_style": "arrow",
        "opacity": 0.9,
        "visible": False,  # with the grid, warped reference and labels on, arrows crowd the view: opt in
        **_placement(scale, translate),
    }
    return data, kw, "vectors"


def reference_labels(labels: np.ndarray, reference: int, n_frames: int) -> np.ndarray:
    """The ``(H, W)`` labels of the reference frame from a labels array ``(T, H, W)``, ``(H, W)`` or ``(1, H, W)``.

    Raises ``ValueError`` (plain message) when the labels cannot belong to the sequence.
    """
    lab = np.asarray(labels)
    if lab.ndim == 3 and lab.shape[0] == 1 and n_frames > 1:  # one frame, (1, H, W): the reference's (as the CLI's)
        return lab[0]
    if lab.ndim == 3:
        if lab.shape[0] != n_frames:
            raise ValueError(f"labels have {lab.shape[0]} frames but the sequence has {n_frames}")
        return lab[reference]
    if lab.ndim == 2:
        return lab
    raise ValueError(f"labels must be (T, H, W) or (H, W), got shape {lab.shape}")


def labels_layer(res, labels: np.ndarray, base: str, *, scale=None, translate=None, colormap=None,
                 label_names: dict | None = None) -> LayerData:
    """The reference frame's labels propagated to every frame (``res.warp_labels``): Labels ``(T, H, W)``, in
    ``colormap`` (the labels layer's they come from), else the plugin's (:func:`napari_tlreg._hooks.label_colormap`),
    with their ``label_names`` (``{id: name}``: the plots and exports name them so; ``{}`` on a re-run without names).

    Raises ``ValueError`` with a plain message when the labels do not match the frames.
    """
    ref = reference_labels(labels, res.reference, res.n_frames)
    data = res.warp_labels(ref)
    # outlines: the frame's own labels (filled, beneath) and the anatomy stay visible; where the two disagree it shows
    kw = {"name": layer_name(base, LABELS), "opacity": 0.9, "contour": 1,
          "colormap": label_colormap(label_names) if colormap is None else colormap,
          "metadata": {"label_names": dict(label_names or {})}, **_placement(scale, translate)}
    return data, kw, "labels"


def result_layers(
    res,
    base: str,
    labels: np.ndarray | None = None,
    *,
    grid_spacing: int | None = None,
    checker: bool = False,
    scale=None,
    translate=None,
    region=None,
    grey_frame: bool = False,
    labels_colormap=None,
    label_names: dict | None = None,
) -> tuple[list[LayerData], list[str]]:
    """All result layers for one run, bottom to top, and the plain-text warnings of the ones skipped. ``region``: the
    image's own region, where the grid and arrows are drawn when the run had no mask (:func:`drawn_region`).
    ``grey_frame``: the image is in colour; the frames as registered go under the others (:func:`grey_frame_layer`)."""
    place = {"scale": scale, "translate": translate}
    out = [grey_frame_layer(res, base, **place)] if grey_frame else []
    out += [  # in the order of SUFFIXES, bottom to top
        warped_layer(res, base, checker=checker, region=region, **place),
        jacobian_layer(res, base, visible=False, region=region, **place),
        folds_layer(res, base, **place),
        *([nodata] if (nodata := nodata_layer(res, base, **place)) is not None else []),
        grid_layer(res, base, grid_spacing, region=region, visible=not checker, **place),  # not over the tiles' edges
        displacement_layer(res, base, region=region, **place),
    ]
    warnings: list[str] = []
    if labels is not None:
        try:
            out.append(labels_layer(res, labels, base, colormap=labels_colormap, label_names=label_names, **place))
        except ValueError as exc:
            warnings.append(f"labels not propagated: {exc}")
        else:
            from napari_tlreg.report import unannotated_reference

            if np.ndim(labels) == 3 and len(labels) == res.n_frames:  # every frame's (one frame is the reference's)
                warnings += [f"labels: {note}" for note in unannotated_reference(np.asarray(labels), None, res.reference)]
    return out, warnings
