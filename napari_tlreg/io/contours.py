"""Expert contours as labels: the Sunnybrook Cardiac Data's text files (no Qt, no napari).

A contour file ``IM-0001-0048-icontour-manual.txt`` holds one closed polygon, an ``x y`` pair (column, row, in
pixels of the DICOM image) a line, drawn on the image whose InstanceNumber is the name's third number (48).
``i`` is the endocardium, ``o`` the epicardium, ``p`` a papillary muscle (not a label here). Filled as the
dataset's own masks are (the polygon and its outline, PIL's rasteriser: the masks of the Sunnybrook ``.npz`` files,
pixel for pixel), they give the labels :data:`LV_CAVITY` (inside the endocardium) and :data:`MYOCARDIUM` (between the
epicardium and the endocardium), on the frames of a DICOM sequence that hold those images
(``metadata["instance_numbers"]``, which the DICOM folder reader records).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .readers import SequenceReadError
from ..core.notes import user_stacklevel

#: label values: the left-ventricular cavity (inside the endocardial contour) and the myocardium (inside the
#: epicardial contour, outside the endocardial one)
LV_CAVITY, MYOCARDIUM = 1, 2
#: their names, as the plots show them
LABEL_NAMES = {LV_CAVITY: "LV cavity", MYOCARDIUM: "myocardium"}
CONTOUR_FILE = re.compile(r"^IM-\d+-(\d+)-([iop])contour-[A-Za-z]+\.txt$")


def contour_files(path) -> list[Path]:
    """The contour files in ``path`` (a folder, searched with its subfolders ``i-contours``, ``o-contours``...) or
    ``[path]`` when it is one; ``[]`` when it holds none."""
    path = Path(path)
    found = [path] if path.is_file() else sorted(path.rglob("*contour*.txt")) if path.is_dir() else []
    return [f for f in found if CONTOUR_FILE.match(f.name)]


def is_contour_source(path) -> bool:
    """Whether ``path`` is a contour file or a folder of them (rather than a labels image)."""
    return bool(contour_files(path))


def _polygon(path: Path) -> np.ndarray:
    try:
        xy = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise SequenceReadError(f"{path.name}: not a contour file (an 'x y' pair a line): {exc}") from None
    if xy.shape[1] != 2 or len(xy) < 3 or not np.isfinite(xy).all():
        raise SequenceReadError(f"{path.name}: not a contour (needs 3 or more finite 'x y' points, "
                                f"has {len(xy)} rows of {xy.shape[1]})")
    return xy


def fill_polygon(xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` bool: the polygon of ``(x, y) = (col, row)`` vertices, filled with its outline."""
    from PIL import Image, ImageDraw

    h, w = shape
    im = Image.new("1", (int(w), int(h)), 0)
    ImageDraw.Draw(im).polygon([(float(x), float(y)) for x, y in xy], fill=1, outline=1)
    return np.array(im, dtype=bool)


def load_contours(path, sequence) -> np.ndarray:
    """Labels ``(T, H, W)`` int32 of ``sequence`` (a DICOM folder's :class:`~napari_tlreg.io.Sequence`) from the
    contour files in ``path``: :data:`LV_CAVITY` and :data:`MYOCARDIUM` on the frames whose images were contoured, 0
    elsewhere. A frame with an endocardium and no epicardium (Sunnybrook's end-systole) has the cavity only, so the
    myocardium is not scored there (:func:`napari_tlreg.metrics.evaluate`).

    Raises :class:`SequenceReadError` when ``path`` holds no contour file, when the sequence does not say which
    image each frame is, or when no contour is of its frames (then it names the slice position that has them:
    ``load_sequence(folder, slice=k)``, ``--slice k``).
    """
    meta = sequence.metadata or {}
    return contour_labels(path, meta.get("instance_numbers"), sequence.shape, meta.get("slice_instance_numbers"),
                          name=sequence.name, cut_from=meta.get("slice") if meta.get("frames") else None)


def contour_labels(path, instance_numbers, shape, slice_instance_numbers=None, name: str = "",
                   cut_from: int | None = None) -> np.ndarray:
    """:func:`load_contours` for frames of ``shape`` ``(T, H, W)`` that are the DICOM images ``instance_numbers``
    (one a frame); ``slice_instance_numbers`` (each slice position's) names the position the contours are of when
    they are of none of these frames."""
    path = Path(path)
    shape = tuple(int(s) for s in shape)
    files = contour_files(path)
    if not files:
        raise SequenceReadError(f"{path.name}: holds no contour files (IM-0001-NNNN-icontour-manual.txt and the like)")
    numbers = list(instance_numbers or [])
    if len(numbers) != shape[0] or None in numbers:
        raise SequenceReadError(f"{path.name}: contours name DICOM images by number, and these frames "
                                f"({name or 'the sequence'}) are not a DICOM folder's that records them")
    frame_of = {int(n): t for t, n in enumerate(numbers)}
    drawn: dict[tuple[int, str], np.ndarray] = {}
    elsewhere: list[int] = []
    for f in files:
        number, kind = CONTOUR_FILE.match(f.name).groups()
        t = frame_of.get(int(number))
        if kind == "p":  # a papillary muscle: not a label here
            continue
        if t is None:
            elsewhere.append(int(number))
        else:
            drawn[(t, kind)] = drawn.get((t, kind), False) | fill_polygon(_polygon(f), shape[1:])
    if not drawn:
        raise SequenceReadError(f"{path.name}: no contour is of these frames (images {min(numbers)}-{max(numbers)}); "
                                + _where(slice_instance_numbers or [], elsewhere, cut_from))
    labels = np.zeros(shape, np.int32)
    for (t, kind), mask in sorted(drawn.items(), key=lambda item: item[0][1] == "i"):  # epicardium first
        labels[t][mask] = MYOCARDIUM if kind == "o" else LV_CAVITY
    return labels


def _where(slices: list, numbers: list[int], cut_from: int | None = None) -> str:
    """Which slice position (``slices``: each one's image numbers) holds the contoured images ``numbers``;
    ``cut_from``: the slice position the frames were cut from (a sub-clip), whose other frames may hold them."""
    if not numbers:  # papillary muscles alone
        return "its files of them draw no endocardium (i) or epicardium (o)"
    if not slices:  # the caller did not say which images each slice position holds
        return f"they name images {min(numbers)}-{max(numbers)}, another slice position's (slice_instance_numbers names it)"
    held = sorted({k for k, ns in enumerate(slices) for n in numbers if n in set(ns)})
    if cut_from is not None and cut_from in held:  # (it sent the user to --slice, the slice position chosen)
        return "they are of this slice position's frames left out (--frames)"
    if held:
        return f"they are of slice position{'s' if len(held) > 1 else ''} {', '.join(map(str, held))} (slice=, --slice)"
    return f"they name images {min(numbers)}-{max(numbers)}, which the folder does not hold"


#: an expert's masks in an ``.npz`` beside its frames: ``endo``, ``epi``, ``myo`` (each of the frames' shape) with
#: ``has_endo``/``has_epi`` saying which frames were drawn, or one frame's ``endo_ed``, ``myo_es``... with ``ed_index``,
#: ``es_index`` (the Sunnybrook crops' two layouts)
MASKS = ("endo", "epi", "myo")
MASK_KEY = re.compile(rf"^({'|'.join(MASKS)})(?:_([A-Za-z]+))?$")


def is_mask_key(key: str) -> bool:
    """Whether an ``.npz`` member named ``key`` is an expert's mask (:func:`mask_labels`) or its frame flags."""
    return bool(MASK_KEY.match(key)) or key in ("has_endo", "has_epi")


def mask_labels(z, shape) -> np.ndarray | None:
    """Labels of frames of ``shape`` (``(T, H, W)``, or ``(S, T, H, W)`` for slice positions) from the expert's masks
    in ``z`` (a mapping of ``.npz`` members; :data:`MASKS`), as :func:`load_contours` makes them from contour files:
    :data:`LV_CAVITY` inside the endocardium, :data:`MYOCARDIUM` in ``myo`` (or the epicardium outside the
    endocardium), on the frames that were drawn, 0 elsewhere. ``None`` when ``z`` holds no mask.

    A member named like a mask that is no image of the frames' size (contour points, a scalar), or a one-frame mask
    whose ``<phase>_index`` is no whole frame number, is left out with a warning. Raises :class:`SequenceReadError`
    when a mask of the frames' size is not of their shape (another number of frames), or its flags are not one a frame.
    """
    import warnings

    shape = tuple(int(s) for s in shape)
    drawn: dict[str, np.ndarray] = {}  # kind -> masks of the frames' shape, empty where not drawn

    def skip(key: str, why: str) -> None:
        warnings.warn(f"'{key}' left out of the labels: {why}", stacklevel=user_stacklevel())

    for key in z:
        m = MASK_KEY.match(key)
        if m is None:
            continue
        kind, phase = m.groups()
        mask = np.asarray(z[key])
        if mask.ndim < 2 or mask.shape[-2:] != shape[-2:]:
            skip(key, f"shape {mask.shape} is no mask of the {shape[-2]}x{shape[-1]} frames")
            continue
        mask = mask.astype(bool)
        if phase is None:
            if mask.shape != shape:
                raise SequenceReadError(f"mask '{key}' has shape {mask.shape}; the frames are {shape}")
            flags = z.get(f"has_{kind}") if kind != "myo" else z.get("has_epi")
            if flags is not None:
                flags = np.asarray(flags).astype(bool)
                if flags.shape != shape[:-2]:
                    raise SequenceReadError(f"'has_{kind}' has shape {flags.shape}; expected one flag a frame "
                                            f"{shape[:-2]}")
                mask = mask & flags[..., None, None]
        else:  # one frame's: ``endo_ed`` on frame ``ed_index``
            index = z.get(f"{phase}_index")
            if index is None:
                continue
            index = np.asarray(index)
            if index.ndim or index.dtype.kind not in "iuf" or not np.isfinite(index) or float(index) != int(index):
                skip(key, f"{phase}_index is {index.tolist()!r}, not one frame number")
                continue
            t = int(index)
            if len(shape) != 3 or mask.shape != shape[1:] or not -shape[0] <= t < shape[0]:
                raise SequenceReadError(f"mask '{key}' {mask.shape} on frame {phase}_index={t} does not fit the "
                                        f"frames {shape}")
            frame_mask = np.zeros(shape, bool)
            frame_mask[t] = mask
            mask = frame_mask
        drawn[kind] = drawn[kind] | mask if kind in drawn else mask
    if not drawn:
        return None
    labels = np.zeros(shape, np.int32)
    if "myo" in drawn:
        labels[drawn["myo"]] = MYOCARDIUM
    elif "epi" in drawn:
        labels[drawn["epi"]] = MYOCARDIUM
    if "endo" in drawn:
        labels[drawn["endo"]] = LV_CAVITY
    return labels
