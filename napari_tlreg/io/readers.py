"""Readers: every supported file (or DICOM folder, or bundled sample) -> :class:`Sequence`.

``load_sequence(path)`` picks a reader by suffix (or, for files without a known suffix, by
the file's first bytes). Every reader returns ``frames`` ``(T, H, W)`` float32 in the file's
original intensities (colour converted to grey by Rec. 601 luminance, the colour frames kept
under ``metadata["rgb"]``), ``spacing`` ``(row, col)`` in ``unit`` (mm unless the file says
metres) when the file records it, and ``metadata["source"]``/``metadata["reader"]``.

Axis conventions
----------------
* TIFF / OME-TIFF / npz / npy: the array is already ``(T, H, W)`` (or ``(H, W)``).
* NIfTI: the voxel array ``data[i, j, t]`` or ``data[i, j, 0, t]`` (nibabel order) becomes
  ``frames[t, j, i]``: rows are the second voxel axis (j, "Y"), columns the first (i, "X"),
  i.e. each slice is shown as nibabel's array transposed. The affine is not applied (no
  reorientation); it is kept in ``metadata["affine"]``. ``save_stack`` writes the inverse,
  so a ``.nii``/``.nii.gz`` written here reads back exactly.
* DICOM: ``pixel_array`` rows/cols as stored; frames in time order.

Errors: a missing path raises ``FileNotFoundError``; a file that cannot be read (empty,
truncated, random bytes, unsupported type) raises :class:`SequenceReadError` (a
``ValueError``) whose message starts with the file name and says what is wrong.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import glob
import json
import logging
import math
import os
import re
import threading
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..core.labels import as_label_ids
from .sequence import NotRealFrames, Sequence, not_real_reason
from ..core.notes import user_stacklevel

__all__ = [
    "SequenceReadError",
    "load_sequence",
    "load_stack",
    "samples",
    "to_luminance",
    "SUPPORTED_SUFFIXES",
]

# suffix -> reader kind ("nifti" double suffix handled in _suffix)
SUPPORTED_SUFFIXES = {
    ".tif": "tiff", ".tiff": "tiff", ".ome.tif": "tiff", ".ome.tiff": "tiff",
    ".nii": "nifti", ".nii.gz": "nifti",
    ".dcm": "dicom", ".dicom": "dicom", ".ima": "dicom",
    ".avi": "video", ".mp4": "video", ".mov": "video",
    ".npz": "npz", ".npy": "npz",
    # pictures: one frame a file (a folder of them is a sequence), or an animated GIF's, PNG's or WebP's frames
    ".png": "picture", ".jpg": "picture", ".jpeg": "picture", ".bmp": "picture", ".gif": "picture", ".webp": "picture",
}
_KIND_TEXT = {"tiff": "TIFF", "nifti": "NIfTI", "dicom": "DICOM", "video": "video", "npz": "NumPy", "picture": "picture"}

# mm per unit, for spacing conversion; metres are kept as metres (satellite data).
_MM_PER_UNIT = {
    "nm": 1e-6, "nanometer": 1e-6, "µm": 1e-3, "\u03bcm": 1e-3, "um": 1e-3, "micron": 1e-3,
    "micrometer": 1e-3, "\\u00b5m": 1e-3, "mm": 1.0, "millimeter": 1.0, "cm": 10.0,
    "centimeter": 10.0, "inch": 25.4, "in": 25.4,
    # the plurals and British spellings files write too ("microns" in an npz)
    "nanometers": 1e-6, "microns": 1e-3, "micrometers": 1e-3, "micrometre": 1e-3, "micrometres": 1e-3,
    "millimeters": 1.0, "millimetre": 1.0, "millimetres": 1.0, "centimeters": 10.0, "centimetre": 10.0,
    "centimetres": 10.0, "inches": 25.4,
}


class SequenceReadError(ValueError):
    """A file exists but cannot be read as an image sequence; the message names the file."""


#: A file whose header claims more voxels than this is refused before anything is allocated
#: (2**30 voxels = 4 GiB as float32 frames; ``tl.register`` takes at most ``api.MAX_VOXELS``).
MAX_READ_VOXELS = 2**30


def _check_claim(path: Path, shape, what: str = "image") -> int:
    """Refuse a header that claims more than :data:`MAX_READ_VOXELS` voxels; return the voxel count."""
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        _fail(path, f"{what} header claims a negative size {shape}")
    n = math.prod(shape)
    if n > MAX_READ_VOXELS:
        _fail(path, f"{what} of shape {shape} ({n:,} voxels, {n * 4 / 2**30:,.1f} GiB as float32) is larger "
                    f"than the {MAX_READ_VOXELS:,} voxels napari-tlreg loads; crop, downsample or split it")
    return n


#: the most voxels ``T x H x W`` of one sequence that the caller of :func:`load_sequence` takes (``max_voxels``), or
#: None: what a header claims beyond it is refused before the pixels are read
_SEQUENCE_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar("napari_tlreg_sequence_limit", default=None)


def _check_frames(path: Path, thw, header: bool = True) -> None:
    """Refuse a sequence whose header claims more than ``load_sequence(..., max_voxels=)`` voxels ``T x H x W`` (the
    command line and a batch pass ``api.MAX_VOXELS``: an 8x8192x8192 TIFF was read whole, 2.85 GB and 16 s, only to
    be refused by the registration)."""
    limit = _SEQUENCE_LIMIT.get()
    t, h, w = (int(s) for s in thw)
    if limit is not None and t * h * w > limit:
        _fail(path, f"sequence of {t}x{h}x{w} = {t * h * w:,} voxels exceeds the limit of {limit:,}; crop, downsample "
                    "or split it" + (" (as its header says: nothing was read)" if header else ""))


def _check_stored(path: Path, offset: int, nbytes: int) -> None:
    """Refuse uncompressed data that the header says runs past the end of the file (before reading it)."""
    size = path.stat().st_size
    if offset + nbytes > size:
        _fail(path, f"truncated: the header claims {offset + nbytes:,} bytes of image data, the file holds {size:,}")


def _gz_holds(path: Path, need: int, chunk: int = 1 << 20) -> bool:
    """Whether the gzip file decompresses to at least ``need`` bytes (streamed, never held in memory)."""
    import gzip

    total = 0
    with gzip.open(path, "rb") as g:
        while total < need:
            block = g.read(min(chunk, need - total))
            if not block:
                return False
            total += len(block)
    return True


# --------------------------------------------------------------------------- helpers
def to_luminance(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3 or 4)`` RGB(A) -> ``(...)`` float32 grey, Rec. 601: 0.299 R + 0.587 G + 0.114 B.

    Alpha, if present, is ignored. Values keep the input's scale (0-255 stays 0-255). A sequence ``(T, H, W, 3|4)``
    is converted a frame at a time: all at once, its float32 copy of three channels took 3x the grey result's memory
    on top of it (a 150-frame 640x480 video read peaked at 2.7x what it kept).
    """
    rgb = np.asarray(rgb)
    if rgb.dtype.kind not in "biuf":
        raise NotRealFrames(f"colour {not_real_reason(rgb.dtype)}")
    w = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if rgb.ndim < 4:
        return (rgb[..., :3].astype(np.float32) @ w).astype(np.float32)
    out = np.empty(rgb.shape[:-1], dtype=np.float32)
    for t in range(rgb.shape[0]):
        out[t] = rgb[t, ..., :3].astype(np.float32) @ w
    return out


def samples() -> dict[str, str]:
    """``{name: description}`` of the bundled sample sequences (see ``io/bundled.py``)."""
    from .bundled import samples as _s

    return _s()


def _sample_names() -> dict[str, str]:
    return samples()


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for double in (".nii.gz", ".ome.tif", ".ome.tiff"):
        if name.endswith(double):
            return double
    return path.suffix.lower()


def _stem(path: Path) -> str:
    """File name without its (possibly double) suffix."""
    suf = _suffix(path)
    return path.name[: len(path.name) - len(suf)] if suf else path.name


def _sniff(path: Path) -> str | None:
    """Guess the reader kind from the first bytes (for files without a known suffix)."""
    with open(path, "rb") as f:
        head = f.read(352)
    if len(head) >= 132 and head[128:132] == b"DICM":  # first: a DICOM preamble may be a TIFF header (dual files)
        return "dicom"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:6] == b"\x93NUMPY" or head[:2] == b"PK":
        return "npz"
    if len(head) >= 348 and head[344:347] in (b"n+1", b"ni1"):
        return "nifti"
    if head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff" or head[:6] in (b"GIF87a", b"GIF89a"):
        return "picture"
    return None


def _reason(exc: BaseException) -> str:
    """First line of an exception message, short, for wrapping library errors."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _damaged(exc: BaseException) -> str:
    """Why a file could not be read, for "not a readable ... (<this>)": "truncated or corrupt: <the library's reason>",
    or that this user may not read it (a permission refused read as damage, sending the user looking for one)."""
    seen, e = set(), exc
    while e is not None and id(e) not in seen:
        if isinstance(e, PermissionError):
            return "permission denied: this user may not read it"
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return f"truncated or corrupt: {_reason(exc)}"


def checked_spacing(spacing, what: str) -> tuple[float, float] | None:
    """``spacing`` as ``(row, col)`` floats, or ``None`` with a warning naming ``what`` when it is not two positive
    finite numbers (a header's bad pixel size: the sequence is still usable, measured in pixels)."""
    if spacing is None:
        return None
    try:
        sp = np.asarray(spacing, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        sp = np.array([np.nan])
    if sp.size != 2 or not (np.isfinite(sp).all() and (sp > 0).all()):
        warnings.warn(f"{what}: ignoring pixel spacing {tuple(sp.tolist())} (not two positive finite numbers); "
                      "measuring in pixels", stacklevel=user_stacklevel())
        return None
    return float(sp[0]), float(sp[1])


def _fail(path: Path, what: str):
    raise SequenceReadError(f"{path.name}: {what}")


def _unit_scale(unit: str | None) -> tuple[float, str] | None:
    """Factor and unit to express a length unit in mm (or m for metres); None if unknown."""
    if unit is None:
        return None
    u = str(unit).strip().lower()
    if u in ("m", "meter", "metre", "meters", "metres"):
        return 1.0, "m"
    if u in ("km", "kilometer"):
        return 1000.0, "m"
    if u in _MM_PER_UNIT:
        return _MM_PER_UNIT[u], "mm"
    return None


def _split_rgb(arr: np.ndarray, rgb_last: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (grey, original colour or None); colour when the last axis holds 3/4 samples."""
    if rgb_last and arr.shape[-1] in (3, 4):
        return to_luminance(arr), arr
    return arr, None


def _as_thw(arr: np.ndarray, path: Path, what: str = "image") -> np.ndarray:
    """``(H, W)`` -> ``(1, H, W)``; drop singleton leading axes; refuse anything else."""
    arr = np.asarray(arr)
    if arr.ndim < 2:
        _fail(path, f"{what} has shape {arr.shape}; expected (T, H, W) or (H, W)")
    lead = [s for s in arr.shape[:-2] if s != 1]
    if len(lead) > 1:
        _fail(path, f"{what} has shape {arr.shape}; expected (T, H, W) (a 2-D+time sequence)")
    return arr.reshape((lead[0] if lead else 1, *arr.shape[-2:]))


#: the endings of a labels file's name: the package's own, and the ground truth of ACDC, M&Ms and CAMUS
LABELS_ENDINGS = ("_labels", "_gt")


def is_labels_file(path: Path) -> bool:
    """Whether ``path`` is a sequence's labels (loaded with that sequence, not as one): ``<stem>_labels.<suffix>``, or
    ``<stem>_gt.<suffix>`` beside a file ``<stem>.*`` (a sequence named ``site_gt.tif`` alone is one)."""
    path = Path(path)
    stem = _stem(path)
    if stem.endswith("_labels"):
        return True
    if not stem.endswith("_gt"):
        return False
    try:
        # an image or sequence file (site.csv, notes beside a sequence site_gt.tif made it labels)
        return any(q != path and _stem(q) == stem[:-3] and _suffix(q) in SUPPORTED_SUFFIXES
                   for q in path.parent.glob(f"{glob.escape(stem[:-3])}.*"))
    except OSError:
        return False


def holds_integers(path) -> bool:
    """Whether a TIFF or NIfTI file stores integers, from its header (a labels file's ids, not an image's values)."""
    path = Path(path)
    kind = SUPPORTED_SUFFIXES.get(_suffix(path)) if path.is_file() else None
    try:
        if kind == "tiff":
            import tifffile

            with _caught_tiff_log(), tifffile.TiffFile(path) as tif:
                return np.dtype(tif.series[0].dtype).kind in "iub"
        if kind == "nifti":
            import nibabel as nib

            return np.dtype(nib.load(path).header.get_data_dtype()).kind in "iub"
    except Exception:  # unreadable: the reader gives the error
        return False
    return False


def named_frame(path) -> int | None:
    """The frame an ACDC-style name gives (``patient001_frame12_gt.nii.gz``: frame 12, 1-based as ACDC counts: 11),
    or ``None``."""
    m = re.search(r"frame[_-]?(\d+)(_gt)?$", _stem(Path(path)), re.IGNORECASE)
    return int(m.group(1)) - 1 if m and int(m.group(1)) > 0 else None


def frame_of_volume(path, n_frames: int) -> int | None:
    """The frame an ACDC-style labels volume's name gives (:func:`named_frame`), or ``None``; refused where the
    sequence has no such frame (the reader's rule for the siblings and ``load_labels``' for ``--labels``)."""
    t = named_frame(path)
    if t is not None and t >= n_frames:
        _fail(Path(path), f"its name gives frame {t + 1} (1-based), and the sequence has {n_frames} frames")
    return t


def sibling_labels_paths(path) -> list[Path]:
    """The labels files beside ``path``: ``<stem>_labels`` or ``<stem>_gt`` (.tif/.tiff/.nii.gz/.nii/.npy), the first
    there is; else, beside ACDC's ``patientNNN_4d.nii.gz``, its volumes of one time point ``patientNNN_frameMM_gt``
    (by frame). A name the file system cannot hold is no file there: a 249-byte file name made a 263-byte labels
    name, whose "File name too long" refused the sequence itself as "truncated or corrupt"."""
    path = Path(path)
    stem = _stem(path)
    for end in LABELS_ENDINGS:
        for suf in (".tif", ".tiff", ".nii.gz", ".nii", ".npy"):
            cand = path.with_name(f"{stem}{end}{suf}")
            try:
                if cand.is_file() and cand != path:
                    return [cand]
            except OSError:
                continue
    if stem.lower().endswith("_4d") and SUPPORTED_SUFFIXES.get(_suffix(path)) == "nifti":
        try:
            found = [q for q in path.parent.glob(f"{glob.escape(stem[:-3])}_frame*_gt.nii*")
                     if q.is_file() and _suffix(q) in (".nii", ".nii.gz") and named_frame(q) is not None]
        except OSError:
            return []
        return sorted(found, key=named_frame)
    return []


def volume_plane(path: Path, lab: np.ndarray, slice: int | None, n_slices: int | None) -> np.ndarray:
    """Plane ``slice`` (default 0) of ``lab``, the ``(Z, H, W)`` labels volume of one time point read from ``path``,
    whose ``Z`` must be the frames' ``n_slices`` (when known)."""
    planes = lab.shape[0]
    if n_slices and planes != n_slices:
        _fail(path, f"a labels volume of {planes} slice positions, the frames' source has {n_slices}")
    k = slice or 0
    if not 0 <= k < planes:
        _fail(path, f"a labels volume of {planes} slice positions has no slice {k}")
    return lab[k]


def _labels_at(cand: Path, shape: tuple, slice: int | None, n_slices: int, read: dict | None = None) -> np.ndarray:
    """The labels ``cand`` holds for frames of ``shape`` at slice position ``slice`` of ``n_slices``: a 4-D NIfTI
    of as many slice positions (M&Ms' ``_sa_gt``) gives that position, an ACDC volume of one time point its plane on
    the frame its name gives, an (S, T, H, W) array its position ``slice``; anything else (an (X, Y, 1, T) one too)
    as stored. ``read``: the files read whole, kept
    for the next slice position (every slice of a 256² x 12 x 30 cine decompressed its labels 12 times)."""
    if SUPPORTED_SUFFIXES.get(_suffix(cand)) == "nifti" and n_slices > 1:
        planes = nifti_volume_slices(cand)
        if planes:  # (X, Y, Z) of one time point
            t = frame_of_volume(cand, shape[0])
            if t is None:
                _fail(cand, "a labels volume of one time point whose name gives no frame (ACDC's frameNN)")
            lab = np.zeros(shape, np.int64)
            lab[t] = volume_plane(cand, _once(read, cand, lambda: load_stack(cand)[0]), slice, n_slices)
            return lab
        try:
            data = _once(read, cand, lambda: _nifti_array(cand, slice or 0, lazy=read is None)[0])
            if len(data.shape) == 4 and data.shape[2] > 1:  # (X, Y, Z, T): the frames' slice position
                frames, held = _nifti_to_napari(data, cand, slice or 0)
                if held != n_slices:
                    _fail(cand, f"labels of {held} slice positions, the frames' source has {n_slices}")
                return frames
        except SequenceReadError:
            raise
        except Exception as e:  # as load_stack says it (a corrupt labels file refused the cine beside it)
            raise SequenceReadError(f"{cand.name}: not a readable NIfTI file ({_damaged(e)})") from e
    if n_slices > 1 and SUPPORTED_SUFFIXES.get(_suffix(cand)) != "nifti":  # an (S, T, H, W) array beside an
        # (S, T, H, W) .npy: the frames' position (one of (T, H, W) went on every slice position; one of theirs was
        # refused); a NIfTI (X, Y, 1, T), as this package writes labels, stays as stored
        lab = _once(read, cand, lambda: load_stack(cand)[0])
        if lab.ndim != 4 or lab.shape[0] != n_slices:
            held = f"{lab.shape[0]} slice positions" if lab.ndim == 4 else f"shape {lab.shape}"
            _fail(cand, f"labels of {held}, the frames' source has {n_slices} slice positions (labels (S, T, H, W))")
        return lab[slice or 0]
    return load_stack(cand)[0]


def _once(read: dict | None, key, load):
    """``load()``, kept in ``read`` (where there is one) for the next slice position that asks for ``key``."""
    if read is None:
        return load()
    if key not in read:
        read[key] = load()
    return read[key]


def _sibling_labels(path: Path, shape: tuple, slice: int | None = None, n_slices: int = 1,
                    read: dict | None = None) -> tuple[np.ndarray | None, str | list[str] | None]:
    """Load the labels beside ``path`` (:func:`sibling_labels_paths`) if their shape matches, at slice position
    ``slice`` of a multi-slice source; ACDC's volumes, each on its own frame, in one. ``read``: as
    :func:`_labels_at`'s."""
    found = sibling_labels_paths(path)
    if not found:
        return None, None
    parts = {}
    for q in found:  # each on its own: one of ACDC's volumes that does not fit left the patient's others out
        try:
            parts[q] = _as_thw(_labels_at(q, shape, slice, n_slices, read), q, "labels")
        except (SequenceReadError, OSError) as e:
            warnings.warn(f"ignoring labels {q.name}: {e}", stacklevel=user_stacklevel())
    if not parts:
        return None, None
    found, parts = list(parts), list(parts.values())
    names = ", ".join(q.name for q in found)
    lab = parts[0]
    for one in parts[1:]:  # ACDC's volumes, each on its own frame of the sequence's shape (_labels_at)
        lab = np.where(one != 0, one, lab)
    if lab.shape != tuple(shape):
        warnings.warn(f"ignoring labels {names}: shape {lab.shape} does not match frames {tuple(shape)}",
                      stacklevel=user_stacklevel())
        return None, None
    try:
        # the file, or the files (ACDC's volumes: a path list; joined, a comma in a path could not be told apart)
        return as_label_ids(lab), (str(found[0]) if len(found) == 1 else [str(q) for q in found])
    except ValueError as e:
        warnings.warn(f"ignoring labels {names}: {e}", stacklevel=user_stacklevel())
        return None, None


# --------------------------------------------------------------------------- public
def load_sequence(source, *, slice: int | None = None, series: int | str | None = None,
                  max_voxels: int | None = None) -> Sequence:
    """Load an image sequence from a file, a DICOM folder, or a bundled sample name.

    source: path to ``.tif/.tiff/.ome.tif``, ``.nii/.nii.gz``, ``.dcm`` (or a suffix-less
        DICOM file), a folder of DICOM files, ``.avi/.mp4/.mov``, ``.npz/.npy``; or a key of
        :func:`samples`. A folder of TIFF / NIfTI files holding one image each (a satellite pair as one GeoTIFF a
        date), or a list of such files, is one sequence, a frame a file (:func:`stack_files`).
    slice: which slice position to return when the source holds several (a DICOM folder of
        a multi-slice cine, a 4-D NIfTI ``(X, Y, Z, T)``, an npz ``(S, T, H, W)`` array).
        Default 0. For DICOM folders, slice positions are ordered by acquisition (the lowest
        InstanceNumber in each position); ``metadata["slice_locations"]`` lists them.
    series: for a DICOM folder holding several series, the SeriesInstanceUID or the index in
        the order of SeriesNumber; default the series with the most images.

    max_voxels: refuse (:class:`SequenceReadError`) a sequence of more voxels ``T x H x W`` before its pixels are
        read, as its header claims them (``api.MAX_VOXELS``: what ``tl.register`` takes).

    Returns a :class:`Sequence` with frames ``(T, H, W)`` float32 (``T`` may be 1).
    """
    token = _SEQUENCE_LIMIT.set(None if max_voxels is None else int(max_voxels))
    try:
        return _load(source, slice, series)
    finally:
        _SEQUENCE_LIMIT.reset(token)


def _load(source, slice, series):
    """:func:`load_sequence`'s work; with ``slice=EVERY`` a builder per slice position (read once: :func:`load_slices`)."""
    if isinstance(source, (list, tuple)):  # files, one image each (napari's "Open Files as Stack")
        if slice not in (None, 0, EVERY):
            raise SequenceReadError(f"slice={slice} is out of range: stacked files have 1 slice position")
        seq = stack_files(source)
        return [lambda: seq] if slice is EVERY else seq
    if isinstance(source, str) and not Path(source).exists():
        names = _sample_names()
        if source in names:
            from .bundled import load_sample

            seq = load_sample(source)
            _check_frames(Path(source), seq.frames.shape, header=False)  # max_voxels= holds for samples too
            if slice is not EVERY and slice not in (None, 0):
                raise SequenceReadError(f"{source}: slice={slice} is out of range: the sample has 1 slice position")
            return [lambda: seq] if slice is EVERY else seq
    path = Path(source).expanduser()
    if not path.exists() and path.is_symlink():  # not "no such file ... (and not a sample name)"
        raise FileNotFoundError(f"{source}: a symbolic link to nothing (its target is missing, or links loop)")
    if not path.exists():
        hint = ""
        if isinstance(source, str):
            names = _sample_names()
            if names:
                hint = f" (and not a sample name; samples: {', '.join(sorted(names))})"
        raise FileNotFoundError(f"{source}: no such file or folder{hint}")

    if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):  # ("[Errno 13] Permission denied: .../result.json",
        _fail(path, "permission denied: this user may not read the folder")  # which named no file of the user's)
    if path.is_dir() and (path / "result.json").is_file():  # was "folder holds no readable DICOM image files"
        _fail(path, "is a napari-tlreg result folder, not a sequence: its frames, scaled to [0, 1], are "
                    f"{path.name}/frames.tif, and its record (result.json, provenance) names the sequence it was made "
                    "from; RegistrationResult.load reads it whole")
    if path.is_dir():
        files = frame_files(path)
        own = None if files is not None else sequence_files_in(path)
        if own is not None and len(own) == 1:  # a folder of one clip (and notes, labels, a preview): that clip
            return _load(str(own[0]), slice, series)
        if own:  # clips side by side (a cohort): one of them was read, or none ("no readable DICOM image files")
            names = ", ".join(p.name for p in own[:4]) + (f" and {len(own) - 4} more" if len(own) > 4 else "")
            _fail(path, f"holds {len(own)} sequences of their own ({names}), not one: open one of them "
                        "(`napari-tlreg batch FOLDER` registers each)")
        if files is not None and len(files) == 1:  # a folder of one file: that file's sequence
            return _load(str(files[0]), slice, series)
        if files is not None:  # one image a file: a satellite pair as one GeoTIFF a date
            kind = "stack"
            if left := sequence_files_in(path):  # said: a clip beside frames is not read (diff review: silent)
                names = ", ".join(p.name for p in left[:4]) + (" ..." if len(left) > 4 else "")
                warnings.warn(f"{path.name}: read as a folder of {len(files)} frames, one picture a file; {names} "
                              f"beside them {'is' if len(left) == 1 else 'are'} left out (open "
                              f"{'it' if len(left) == 1 else 'one'} on its own)", stacklevel=user_stacklevel())

            def reader(path, slice=None, series=None):
                return stack_files(files, name=path.name, source=path)
        else:
            kind = "dicom"
            reader = _read_dicom_folder
    else:
        if path.stat().st_size == 0:
            _fail(path, "file is empty")
        kind = SUPPORTED_SUFFIXES.get(_suffix(path)) or _sniff(path)
        if kind is None:
            _fail(
                path,
                f"unsupported file type {_suffix(path) or '(no suffix)'!r}; supported: "
                + ", ".join(sorted(SUPPORTED_SUFFIXES)) + ", or a folder of DICOM files",
            )
        reader = _READERS[kind]

    def guarded(read):
        try:
            with warnings.catch_warnings():  # pydicom warns on every non-conformant UID; not useful here
                warnings.filterwarnings("ignore", message="Invalid value for VR", category=UserWarning)
                seq = read()
        except (SequenceReadError, FileNotFoundError):
            raise
        except MemoryError:
            raise SequenceReadError(f"{path.name}: too large to load into memory; crop, downsample or split it") from None
        except NotRealFrames as e:  # readable, but not frames to register: not "truncated or corrupt"
            raise SequenceReadError(f"{path.name}: {str(e).split(': ', 1)[-1]}") from None
        except UndecodablePixels as e:  # a sound file whose compression no installed decoder reads
            raise SequenceReadError(f"{path.name}: {e}") from None
        except Exception as e:  # wrap library errors (struct.error, KeyError, TiffFileError, ...)
            what = {"dicom": "folder of DICOM files", "stack": "folder of frames"}[kind] if path.is_dir() \
                else f"{_KIND_TEXT[kind]} file"
            raise SequenceReadError(
                f"{path.name}: not a readable {what} ({_damaged(e)})"
            ) from e
        if isinstance(seq, list):  # the builders of every slice position (slice=EVERY)
            return seq
        seq.metadata.setdefault("source", str(path))
        seq.metadata.setdefault("reader", kind)
        if not seq.name:
            seq.name = _stem(path)
        k = seq.metadata.get("slice")
        if int(seq.metadata.get("n_slices", 1)) > 1 and k is not None and not seq.name.endswith(f"_slice{k}"):
            seq.name = f"{seq.name}_slice{k}"  # as a DICOM folder's, and load_slices' (a 4-D NIfTI's and an npz's
        return seq  # slice 3 were named as the file, the name of its slice 0 too)

    if series is not None and kind != "dicom":  # (ignored before: the default image registered without a word)
        what = "folder of frames" if kind == "stack" else f"{_KIND_TEXT.get(kind, kind)} file"
        _fail(path, f"series={series!r} chooses one series of a DICOM folder; a {what} holds no series to choose")
    got = guarded(lambda: reader(path, slice=slice, series=series))
    if slice is not EVERY:
        if slice not in (None, 0) and int(got.metadata.get("n_slices", 1)) <= 1:
            _fail(path, f"slice={slice} is out of range: the source has 1 slice position")
        return got
    if not isinstance(got, list):  # a reader of single-slice sources
        return [lambda: got]
    return [functools.partial(guarded, build) for build in got]


#: the files of which a folder of frames is made (or napari's "Open Files as Stack"), one image a file
FRAME_FILE_KINDS = ("tiff", "nifti", "picture")


def _files_in(folder) -> list[Path] | None:
    """The files of ``folder`` (not hidden), in natural name order (``date2`` before ``date10``); None where it cannot
    be listed."""
    try:
        return sorted((p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".")),
                      key=lambda p: _natural_key(p.name))
    except OSError:
        return None


def sequence_files_in(folder) -> list[Path] | None:
    """The files of ``folder`` that are sequences by their kind (videos, NumPy arrays; labels files left out), in
    natural name order; ``None`` where it holds none, or holds a DICOM file (a series: its reader takes the folder)."""
    entries = _files_in(folder)
    if entries is None:
        return None
    kinds = {p: SUPPORTED_SUFFIXES.get(_suffix(p)) for p in entries if not is_labels_file(p)}
    if not any(k in ("video", "npz") for k in kinds.values()):
        return None
    if any(k == "dicom" or (k is None and p.stat().st_size and _sniff(p) == "dicom") for p, k in kinds.items()):
        return None
    return [p for p, k in kinds.items() if k in ("video", "npz")]


def frame_files(folder) -> list[Path] | None:
    """The files of a folder of frames, in natural name order (``date2`` before ``date10``): one TIFF, NIfTI or picture
    (PNG, JPEG, ...) image a time point, e.g. a bi-temporal satellite pair as one GeoTIFF a date, a clip exported as
    PNG frames. ``None`` when the folder is something else: it holds a DICOM file (one without a suffix too: a DICOM
    series folder), or no more such files than sequences of another kind (videos, NumPy arrays: clips of a cohort
    beside a preview picture were taken for one frame of it), it is a result folder (``result.json``), or it holds no
    TIFF, NIfTI or picture file. Labels files (``<stem>_labels.*``, ``<stem>_gt.*``), other files (notes, CSV)
    and NIfTI volumes beside sequences (:func:`without_volumes`) are left out.
    """
    folder = Path(folder)
    entries = _files_in(folder)
    if entries is None or (folder / "result.json").is_file():
        return None
    files, clips = [], 0
    for p in entries:
        kind = SUPPORTED_SUFFIXES.get(_suffix(p))
        # a DICOM file by its header whatever its suffix: scanners name them IM0001, or by UID (1.3.12.2.1107.5.2.0)
        if kind == "dicom" or (kind is None and p.stat().st_size and _sniff(p) == "dicom"):
            return None
        clips += kind in ("video", "npz") and not is_labels_file(p)
        if kind in FRAME_FILE_KINDS and not is_labels_file(p):
            files.append(p)
    files = without_volumes(files)
    # a picture or two beside as many clips is no folder of frames (a cohort's preview); frames beside a stray array
    # (a flow, a mask saved with them) still are
    return None if clips and len(files) <= max(clips, 1) else files or None


#: the endings of a multi-slice cine's name beside its volumes of one time point: ACDC's ``patient001_4d``, M&Ms-2's
#: ``001_SA_CINE``
CINE_ENDINGS = ("_4d", "_cine")


def without_volumes(files: list[Path]) -> list[Path]:
    """``files`` less the NIfTI volumes (or single images) of one time point beside their cine, whose name is the
    cine's less its ending (:data:`CINE_ENDINGS`) and more: ACDC's ``patient001_frame01.nii.gz`` beside
    ``patient001_4d.nii.gz`` (the folder was a "stack" of them all, and a cohort's rows sequences of 10 "frames" of
    slices), M&Ms-2's ``001_LA_ED.nii.gz`` (one plane) beside ``001_LA_CINE.nii.gz`` (a batch row failed on each,
    "needs at least 2 frames"). Only the headers of such files are read (a folder of 2000 frames read 2000)."""
    nifti = [p for p in files if SUPPORTED_SUFFIXES.get(_suffix(p)) == "nifti"]
    bases = [_stem(p)[: -len(end)] for p in nifti for end in CINE_ENDINGS  # a cine of frames (echo_cine_1 beside
             if _stem(p).lower().endswith(end) and not one_image(p)]  # an image echo_cine: frames all, none dropped)
    drop = {p for p in nifti for base in bases
            if _stem(p).startswith(base + "_") and _stem(p)[len(base):].lower() not in CINE_ENDINGS
            and (nifti_volume_slices(p) or one_image(p))}  # M&Ms-2's long axis: 001_LA_ED, one plane of one time point
    return [p for p in files if p not in drop]


def one_image(path) -> bool | None:
    """Whether a TIFF, NIfTI or picture file holds one 2-D image, from its header (the pixels are not read): a frame
    of a folder of frames rather than a sequence of its own (an animated GIF is a sequence). None where the header
    cannot be read (empty, cut short, not readable by this user): neither, its reader says why."""
    path = Path(path)
    kind = SUPPORTED_SUFFIXES.get(_suffix(path))
    try:
        if kind == "tiff":
            import tifffile

            with _caught_tiff_log(), tifffile.TiffFile(path) as tif:  # a corrupt file: its reader says why, once
                s = tif.series[0]
                return _tiff_frames(s.shape, s.axes)[0] == 1
        if kind == "nifti":
            import nibabel

            return math.prod(nibabel.load(path).shape[2:]) == 1
        if kind == "picture":
            return _picture_header(path)[0] == 1
    except Exception:  # unreadable: its reader says why
        return None
    return False


def stack_files(paths, *, name: str | None = None, source=None) -> Sequence:
    """Files of one image each -> the frames of one sequence, in the order given (a folder of frames:
    :func:`frame_files`; napari's "Open Files as Stack" gives the files picked).

    Every file must hold one frame of one size; the spacing, unit and other metadata are the first file's (a file
    whose spacing differs is warned of). Colour frames are kept (``metadata["rgb"]``) when every file is in colour.
    ``metadata["files"]`` lists the files; ``source`` (default: the first file) is recorded as the source.
    """
    paths = [Path(p).expanduser() for p in paths]
    if not paths:
        raise SequenceReadError("no files to stack")
    seen: dict = {}
    for k, p in enumerate(paths):  # a date given twice registered as two (said only as "worse than none")
        first = seen.setdefault(p.resolve(), k)
        if first != k:
            warnings.warn(f"{p} is given twice, as frames {first} and {k}: the same file, registered against itself",
                          stacklevel=user_stacklevel())
    limit = _SEQUENCE_LIMIT.get()
    seqs: list[Sequence] = []
    for p in paths:
        seq = load_sequence(p, max_voxels=limit)
        t, h, w = seq.frames.shape
        if t != 1 or int(seq.metadata.get("n_slices", 1)) > 1:
            where = f" at {seq.metadata['n_slices']} slice positions" if int(seq.metadata.get("n_slices", 1)) > 1 else ""
            if source is not None and Path(source).is_dir() and not seqs and len(paths) > 1 and not one_image(paths[1]):
                # M&Ms-2's subject: its SA and LA cines side by side (one such file among frames: that file is said)
                _fail(Path(source), f"holds sequences of their own ({p.name}: {t} frames{where}), not one image a "
                                    "file to stack: open one of them (batch registers each of a folder's)")
            _fail(p, f"holds {t} frames{where}; files are stacked one image a file (open it on its own)")
        if seqs:
            first = seqs[0]
            if seq.frames.shape[1:] != first.frames.shape[1:]:
                _fail(p, f"is {h}x{w}, but {paths[0].name} is {first.frames.shape[1]}x{first.frames.shape[2]}: "
                         "files are stacked as frames of one size (crop or resample them to one grid)")
            if (seq.spacing is None) != (first.spacing is None) or seq.unit != first.unit or (
                    seq.spacing is not None and not np.allclose(seq.spacing, first.spacing, rtol=1e-6)):
                warnings.warn(f"{p.name}: pixel size {seq.spacing or 'not recorded'} {seq.unit} differs from "
                              f"{paths[0].name}'s ({first.spacing or 'not recorded'} {first.unit}); "
                              f"{paths[0].name}'s is used", stacklevel=user_stacklevel())
        else:
            _check_frames(p, (len(paths), h, w), header=False)  # the stack as a whole, before the others are read
        seqs.append(seq)
    first = seqs[0]
    meta = {k: v for k, v in first.metadata.items() if k not in ("rgb", "source", "reader", "labels_source")}
    placed = [p.name for p, s in zip(paths, seqs) if s.metadata.get("geotiff") != first.metadata.get("geotiff")]
    if placed:  # one map grid for every frame, or none
        meta.pop("geotiff", None)
        crs = [geotiff_crs(s.metadata.get("geotiff")) for s in seqs]
        other = next((k for k, c in enumerate(crs) if k and c != crs[0] and c is not None), None)
        why = (f"another coordinate system, {crs[other]} against {crs[0]}: reproject one date onto the other's grid "
               "first" if other is not None and crs[0] is not None else "another place or pixel grid")  # satellite review
        if other is not None and crs[0] is not None:  # the file in the other system named (diff review)
            placed = [paths[other].name] + [name for name in placed if name != paths[other].name]
        warnings.warn(f"{placed[0]}: its georeferencing differs from {paths[0].name}'s ({why}"
                      f"{f', {len(placed)} files' if len(placed) > 1 else ''}): the frames are registered pixel for "
                      "pixel, and the results carry no georeferencing", stacklevel=user_stacklevel())
    values = [s.metadata.get("nodata") for s in seqs]
    if all(s.metadata.get("nodata_nan") for s in seqs) and len(set(values)) > 1:
        # dates whose files say NaN: one fill below every date's data (each file's own was set by its own range)
        common = nan_fill_value(np.concatenate([np.ravel(s.frames[s.frames != v]) for s, v in zip(seqs, values)]))
        for s, v in zip(seqs, values):
            s.frames[s.frames == v] = common
        values = [common] * len(seqs)
        meta["nodata"] = common
        warnings.warn(f"the files' NaN no-data is read as {common:g} in every one of them (one value below every "
                      "date's data; each file read alone takes its own)", stacklevel=user_stacklevel())
    if any(v is not None for v in values) and len(set(values)) > 1:
        meta.pop("nodata", None)  # one no-data value for every frame, or none given (found, as for a file without one)
        said = ", ".join(f"{'none' if v is None else f'{v:g}'} in {p.name}" for p, v in list(zip(paths, values))[:4])
        warnings.warn(f"the files' no-data values differ ({said}{', ...' if len(paths) > 4 else ''}): none is taken "
                      "from them (the pair engines find each date's fill by their rule)", stacklevel=user_stacklevel())
    rgbs = [s.metadata.get("rgb") for s in seqs]
    if len({np.shape(r)[-1] for r in rgbs if r is not None}) > 1:  # RGB beside RGBA: the colour, alpha dropped
        rgbs = [r if r is None else r[..., :3] for r in rgbs]
    shapes = {np.shape(r) for r in rgbs if r is not None}
    if len(shapes) == 1 and (like := next(r for r in rgbs if r is not None)).shape[-1] == 3:
        # a grey picture among colour ones of its depth (a colour file whose channels are equal: an echo export's
        # frames without Doppler) is grey in the colour layer too: the colour of every frame was dropped for it
        colour_bits = next(s.metadata.get("bits") for r, s in zip(rgbs, seqs) if r is not None)
        rgbs = [np.repeat(s.frames[..., None], 3, axis=-1).astype(like.dtype)
                if r is None and colour_bits is not None and s.metadata.get("bits") == colour_bits else r
                for r, s in zip(rgbs, seqs)]
    if all(r is not None for r in rgbs) and len({np.shape(r) for r in rgbs}) == 1:
        meta["rgb"] = np.concatenate(rgbs)
    elif any(r is not None for r in rgbs):  # (diff review) channels of another count dropped the colour unsaid
        # each kind named with its files (a grey first date beside a colour one: the first was said to differ from
        # itself; satellite review)
        kinds: dict[str, list[str]] = {}
        for p, r in zip(paths, rgbs):
            kinds.setdefault("grey" if r is None else {3: "RGB", 4: "RGBA"}.get(np.shape(r)[-1], "colour"),
                             []).append(p.name)
        said = "; ".join(f"{kind}: {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"
                         for kind, names in kinds.items())
        warnings.warn(f"the files' colour differs ({said}): the frames are shown grey, with no colour layer",
                      stacklevel=user_stacklevel())
    bits = [s.metadata.get("bits") for s in seqs]
    if len(set(bits) - {None}) > 1:  # a 16-bit frame beside 8-bit ones (grey or colour): values of another scale
        meta.pop("bits", None)
        firsts: dict = {}  # one file of each depth
        for f, b in zip(paths, bits):
            firsts.setdefault(b, f.name)
        said = ", ".join(f"{b}-bit {name}" for b, name in firsts.items() if b is not None)
        ranges = " beside ".join(f"0-{2 ** b - 1}" for b in sorted(b for b in firsts if b is not None))
        warnings.warn(f"the pictures' grey values are of different bit depths ({said}): their values are on other "
                      f"scales ({ranges}), registered as they are; convert them to one depth",
                      stacklevel=user_stacklevel())
    meta.update(source=str(source if source is not None else paths[0]), reader="stack", files=[str(p) for p in paths])
    # named for the files it holds: the first file's name alone named the stack of both dates after one of them
    name = name or (first.name if len(seqs) == 1 else f"{first.name}..{seqs[-1].name}")
    return Sequence(np.concatenate([s.frames for s in seqs]), spacing=first.spacing, unit=first.unit, name=name,
                    metadata=meta)


def count_slices(source, *, series: int | str | None = None) -> int:
    """How many slice positions ``source`` holds (1 for a single-slice source): what :func:`load_slices` would give,
    with the source read once and no slice built."""
    return len(_load(source, EVERY, series))


def load_slices(source, *, series: int | str | None = None, max_voxels: int = MAX_READ_VOXELS) -> list[Sequence]:
    """Every slice position of ``source`` as a :class:`Sequence` of its own, in :func:`load_sequence`'s order (one
    item for a single-slice source): a multi-slice cine (a DICOM folder of a short-axis stack, a 4-D NIfTI, an npz
    ``(S, T, H, W)``) is one time series per slice. Each is named ``"<name>_slice<k>"``.

    The source is read once (a DICOM folder's headers, a NIfTI or npz file), then each slice is built from it.
    Slices beyond ``max_voxels`` voxels in all are left out, with a warning that names the first one left out
    (``load_sequence(source, slice=k)`` loads any one).
    """
    builders = _load(source, EVERY, series)  # the source read (a DICOM folder indexed) once
    n = len(builders)
    if n == 1:
        return [builders[0]()]
    out: list[tuple[int, Sequence]] = []
    failed: list[tuple[int, SequenceReadError]] = []
    total, cut = 0, None
    for k, build in enumerate(builders):
        if out and total + out[0][1].frames.size > max_voxels:  # a slice like the first would not fit: not read at all
            cut = k
            break
        try:
            seq = build()
        except SequenceReadError as exc:  # one damaged file of a stack: that slice left out, said (the whole folder
            failed.append((k, exc))  # was refused in napari, where the command line registers the others)
            continue
        if total + seq.frames.size > max_voxels:  # slices of a stack can differ in frames
            cut = k
            break
        total += seq.frames.size
        out.append((k, seq))
    if not out:
        raise failed[0][1]
    k0, first = out[0]
    base = first.name[: -len(f"_slice{k0}")] if first.name.endswith(f"_slice{k0}") else first.name
    for k, seq in out:
        seq.name = f"{base}_slice{k}"
    if failed:
        said = "; ".join(f"slice {k}: {exc}" for k, exc in failed[:3]) + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
        warnings.warn(f"{base}: {len(failed)} of {n} slices left out, not readable ({said})", stacklevel=user_stacklevel())
    if cut is not None:
        warnings.warn(f"{base}: loaded slices {out[0][0]}-{out[-1][0]} of {n}; the others would pass {max_voxels:,} "
                      f"voxels in all (load_sequence(..., slice={cut}) loads one on its own)",
                      stacklevel=user_stacklevel())
    return [seq for _, seq in out]


def is_labels_stack(path) -> bool:
    """Whether ``path`` is a segmentation saved as one (``save_stack(..., labels=True)``: a TIFF whose JSON
    description says ``"labels": true``, a NIfTI of intent ``label``); reads the header only."""
    path = Path(path)
    kind = SUPPORTED_SUFFIXES.get(_suffix(path)) if path.is_file() else None
    try:
        if kind == "tiff":
            import tifffile

            # its log lines too: a truncated TIFF printed tifffile's "<tifffile.TiffPages @8> invalid page offset"
            # before the reader's one line (napari's File > Open and `view` ask this first)
            with _caught_tiff_log(), tifffile.TiffFile(path) as tif:
                shaped = tif.shaped_metadata
                if shaped and shaped[0].get("labels") is True:
                    return True
            # a result folder's, saved before labels were marked (2026-12-04)
            return path.name in RESULT_LABELS and (path.parent / "result.json").is_file()
        if kind == "nifti":
            import nibabel as nib

            return nib.load(path).header.get_intent()[0] == "label"
    except Exception:  # unreadable: not ours to say; the reader gives the error
        return False
    return False


def load_stack(path) -> tuple[np.ndarray, tuple[float, float] | None, str]:
    """Read an array exactly as :func:`~napari_tlreg.io.writers.save_stack` wrote it.

    Returns ``(array, spacing, unit)``: the array with its stored dtype and shape (TIFF: as
    stored, e.g. ``(T, H, W)`` or ``(T, 2, H, W)``; NIfTI: ``(T, H, W)`` or ``(H, W)`` by the
    module's axis convention; ``.npy``: as stored), spacing ``(row, col)`` or ``None``.
    Raises ``FileNotFoundError`` or :class:`SequenceReadError`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        _fail(path, "file is empty")
    kind = SUPPORTED_SUFFIXES.get(_suffix(path)) or _sniff(path)
    try:
        if kind == "tiff":
            arr, _axes, spacing, unit, _meta = _tiff_array(path)
        elif kind == "nifti":
            arr, spacing, unit, _meta = _nifti_array(path)
            if arr.ndim == 4 and arr.shape[2] != 1:
                _fail(path, f"NIfTI image has {arr.shape[2]} slices; expected (X, Y, 1, T)")
            arr = _nifti_to_napari(arr, path, None)[0] if arr.ndim > 2 else arr.T
        elif kind == "npz" and _suffix(path) == ".npy":
            arr, spacing, unit = np.load(path, allow_pickle=False), None, "px"
        else:
            _fail(path, f"unsupported stack type {_suffix(path)!r}; use .tif, .tiff, .nii, .nii.gz or .npy")
    except SequenceReadError:
        raise
    except MemoryError:
        raise SequenceReadError(f"{path.name}: too large to load into memory; crop, downsample or split it") from None
    except Exception as e:
        raise SequenceReadError(
            f"{path.name}: not a readable {_KIND_TEXT.get(kind, kind)} file ({_damaged(e)})"
        ) from e
    return arr, spacing, unit


# --------------------------------------------------------------------------- TIFF
class _TiffLog(logging.Filter):
    """tifffile's log records in the threads reading a TIFF now (:func:`_caught_tiff_log`): kept for the reader to
    turn into its error, not passed on as a log line as well; other threads' records pass. (Switching the logger's
    propagation off and on per read left it off for good when threads read at once: a Dask worker's.)"""

    def __init__(self):
        super().__init__()
        self.caught: dict[int, list[str]] = {}

    def filter(self, record) -> bool:
        messages = self.caught.get(record.thread)
        if messages is None:
            return True
        if record.levelno >= logging.WARNING:
            messages.append(record.getMessage())
        return False


_TIFF_LOG = _TiffLog()


@contextlib.contextmanager
def _caught_tiff_log():
    """The warnings tifffile logs in this thread inside the block (a list, filled as they come)."""
    log = logging.getLogger("tifffile")
    if _TIFF_LOG not in log.filters:
        log.addFilter(_TIFF_LOG)
    me = threading.get_ident()
    outer = _TIFF_LOG.caught.get(me)
    messages: list[str] = []
    _TIFF_LOG.caught[me] = messages
    try:
        yield messages
    finally:
        if outer is None:
            _TIFF_LOG.caught.pop(me, None)
        else:
            _TIFF_LOG.caught[me] = outer


_CORRUPT = re.compile(r"corrupt|invalid page offset|truncat|invalid offset|eof|out of range|failed", re.I)


def _tiff_array(path: Path):
    """-> (array, axes, spacing, unit, metadata) of the first series; raises on truncation."""
    import tifffile

    with _caught_tiff_log() as messages, tifffile.TiffFile(path) as tif:  # what it logs is the error below
        series = _frame_series(tif.series, path)
        for s in series:
            _check_tiff_series(path, s)
        t, h, w = _tiff_frames(series[0].shape, series[0].axes)
        _check_frames(path, (t * len(series), h, w))
        if len(series) == 1:
            arr, axes = series[0].asarray(), series[0].axes
        else:  # one series per page (TiffWriter.write in a loop): one frame each
            _check_claim(path, (len(series), *series[0].shape), "TIFF image")
            arr, axes = np.stack([s.asarray() for s in series]), "T" + series[0].axes
        spacing, unit = _tiff_spacing(tif, path)
        photometric = series[0].keyframe.photometric  # an int for a value tifffile does not name
        meta = {"tiff_axes": axes, "dtype": str(arr.dtype), "photometric": getattr(photometric, "name", str(photometric)),
                # what the samples beside the colour or grey ones are: alpha, or bands of their own (0, unspecified)
                "extrasamples": [int(e) for e in (series[0].keyframe.extrasamples or ())]}
        geo = geotiff_tags(tif.pages[0])
        if geo:
            meta["geotiff"] = geo
        nodata = gdal_nodata(tif.pages[0])
        if nodata is not None:
            meta["nodata"] = nodata
        elif gdal_nodata_is_nan(tif.pages[0]) and arr.dtype.kind == "f":
            n = int(np.isnan(arr).sum())
            try:
                arr, meta["nodata"] = _nan_filled(arr)
            except SequenceReadError as exc:
                _fail(path, str(exc))
            meta["nodata_nan"] = True  # (dates stacked: one fill for all, :func:`stack_files`)
            if n:
                warnings.warn(f"{path.name}: its no-data value is NaN (GDAL_NODATA); its {n} NaN pixels are read as "
                              f"{meta['nodata']:g}, a value no data pixel takes, which the pair engines leave out as "
                              "no-data", stacklevel=user_stacklevel())
        finterval = (tif.imagej_metadata or {}).get("finterval")  # ImageJ's frame interval, in seconds
        if isinstance(finterval, (int, float)) and math.isfinite(finterval) and finterval > 0 and t > 1:
            meta["frame_time_ms"] = 1000.0 * float(finterval)
        elif t > 1 and "T" in axes and (ms := _ome_frame_time_ms(tif)) is not None:  # (a z-stack's is no frame time)
            meta["frame_time_ms"] = ms
        elif t > 1 and (ms := _shaped_frame_time_ms(tif)) is not None:  # save_stack's colour TIFF
            meta["frame_time_ms"] = ms
    bad = [m for m in messages if _CORRUPT.search(m)]
    if bad:
        _fail(path, f"not a readable TIFF file (truncated or corrupt: {bad[0].splitlines()[0][:120]})")
    return arr, axes, spacing, unit, meta


#: picture files a folder may hold that the readers do not take (said as such)
_RASTER_SUFFIXES = {".tga", ".ico", ".jp2", ".j2k", ".heic", ".avif", ".ppm", ".pgm", ".pnm"}
#: OME's time units, in milliseconds (TimeIncrementUnit; the schema's default is seconds)
_OME_TIME_MS = {"s": 1000.0, "ms": 1.0, "µs": 1e-3, "\u03bcs": 1e-3, "us": 1e-3, "ns": 1e-6, "min": 60_000.0,
                "h": 3_600_000.0}


def _shaped_frame_time_ms(tif) -> float | None:
    """The frame time ``save_stack`` writes into a colour TIFF's JSON description (ImageJ's ``finterval`` has no RGB
    stack to go with), or None."""
    shaped = getattr(tif, "shaped_metadata", None)
    ms = (shaped[0] or {}).get("frame_time_ms") if shaped else None
    return float(ms) if isinstance(ms, (int, float)) and math.isfinite(ms) and ms > 0 else None


def _ome_frame_time_ms(tif) -> float | None:
    """An OME-TIFF's frame time (``Pixels@TimeIncrement`` in its unit) in ms, or None (none, or not a time)."""
    if not (tif.is_ome and tif.ome_metadata):
        return None
    try:
        root = ET.fromstring(tif.ome_metadata)
    except ET.ParseError:
        return None
    pix = next((e for e in root.iter() if e.tag.endswith("Pixels")), None)
    try:
        ms = float(pix.get("TimeIncrement")) * _OME_TIME_MS[pix.get("TimeIncrementUnit", "s")]
    except (AttributeError, TypeError, ValueError, KeyError):
        return None
    return ms if math.isfinite(ms) and ms > 0 else None


def _frame_series(series: list, path: Path) -> list:
    """The series that hold the frames: the first, or every series when each is one 2-D image (or one RGB image) of
    the same shape and type, as ``tifffile.TiffWriter.write`` called once a frame writes them (a series per page).
    Files whose later series differ (thumbnails, pyramid levels, a label mask) give their first series only."""
    first = series[0]
    if len(series) > 1 and first.axes in ("YX", "YXS") and all(
            s.shape == first.shape and s.dtype == first.dtype and s.axes == first.axes for s in series[1:]):
        return list(series)
    images = [s for s in series if s.axes == first.axes and len(s.shape) == len(first.shape)]
    other = [s for s in images[1:] if s.shape[:2] != first.shape[:2]]
    if first.axes in ("YX", "YXS") and any(  # another date of another size, not a mask, thumbnail or pyramid level
            min(s.shape[0] / first.shape[0], s.shape[1] / first.shape[1]) > 0.6 for s in other):
        sizes = ", ".join(f"{s.shape[0]}x{s.shape[1]}" for s in images[:4]) + (", ..." if len(images) > 4 else "")
        warnings.warn(f"{path.name}: its images differ in size ({sizes}): read the first only; resample the frames "
                      "onto one grid to register them together", stacklevel=user_stacklevel())
    elif first.axes in ("YX", "YXS") and other:  # one image, and smaller ones: a thumbnail, or a 20 m date by a 10 m one
        sizes = ", ".join(f"{s.shape[0]}x{s.shape[1]}" for s in other[:3]) + (", ..." if len(other) > 3 else "")
        warnings.warn(f"{path.name}: read its first image only ({first.shape[0]}x{first.shape[1]}), one frame; it "
                      f"also holds {sizes}, taken for a thumbnail or pyramid level (if a frame, resample it onto the "
                      "first's grid)", stacklevel=user_stacklevel())
    elif first.axes not in ("YX", "YXS") and len(images) > 1:  # stacks (README review: the second dropped silently;
        # a thumbnail after a stack, of other axes, is nothing to say)
        shapes = ", ".join("x".join(map(str, s.shape)) for s in images[1:4]) + (", ..." if len(images) > 4 else "")
        warnings.warn(f"{path.name}: read its first series only ({'x'.join(map(str, first.shape))}); it also holds "
                      f"{shapes}, left out (one sequence a file: save the others apart)", stacklevel=user_stacklevel())
    elif first.axes in ("YX", "YXS") and (stacks := [s for s in series[1:] if s.axes not in ("YX", "YXS")
                                                      and len(s.shape) > len(first.shape)]):
        shapes = ", ".join("x".join(map(str, s.shape)) for s in stacks[:3]) + (", ..." if len(stacks) > 3 else "")
        warnings.warn(f"{path.name}: read its first image only ({first.shape[0]}x{first.shape[1]}), one frame; it "
                      f"also holds {shapes}, left out (one sequence a file: save the others apart)",
                      stacklevel=user_stacklevel())
    return [first]


def _tiff_frames(shape, axes: str) -> tuple[int, int, int]:
    """``(T, H, W)`` that a TIFF series of ``shape`` and ``axes`` reads as (samples per pixel are colour)."""
    dims = [int(n) for n, a in zip(shape, axes) if a != "S"]
    if "S" not in axes and len(dims) == 4 and dims[-1] in (3, 4):  # colour, unlabelled
        dims = dims[:-1]
    if len(dims) < 2:
        return 1, 1, math.prod(dims)
    return math.prod(dims[:-2]), dims[-2], dims[-1]


def _check_tiff_series(path: Path, s) -> None:
    """Before reading: the claimed size is within limits and uncompressed data lies inside the file."""
    if 0 in tuple(s.shape):  # was "truncated: image data runs past the end of the file"
        _fail(path, f"holds no image data (shape {tuple(int(n) for n in s.shape)})")
    _check_claim(path, s.shape, "TIFF image")
    size = path.stat().st_size
    truncated = "not a readable TIFF file (truncated: image data runs past the end of the file)"
    if s.dataoffset is not None:  # one contiguous block of uncompressed data
        if s.dataoffset + s.nbytes > size:
            _fail(path, truncated)
        return
    for page in s.pages:
        if page is None:
            continue
        offs = getattr(page, "dataoffsets", ()) or ()
        counts = getattr(page, "databytecounts", ()) or ()
        if any(o + c > size for o, c in zip(offs, counts)):
            _fail(path, truncated)
        key = getattr(page, "keyframe", None) or page
        if int(key.compression) == 1 and int(key.bitspersample) in (8, 16, 32, 64) and sum(counts) < key.nbytes:
            _fail(path, f"not a readable TIFF file (corrupt: the header claims {key.nbytes:,} bytes per page, "
                        f"the page holds {sum(counts):,})")


#: GeoTIFF ProjLinearUnitsGeoKey codes -> metres
_GEO_LINEAR_M = {9001: 1.0, 9002: 0.3048, 9003: 1200 / 3937, 9036: 1000.0}


#: the TIFF tags that place an image on the Earth: ModelPixelScale, ModelTiepoint, ModelTransformation,
#: GeoKeyDirectory, GeoDoubleParams, GeoAsciiParams (written back into a result's images)
GEOTIFF_TAGS = (33550, 33922, 34264, 34735, 34736, 34737)


def geotiff_tags(page) -> list[list]:
    """A TIFF page's georeferencing tags as JSON values, ``[[code, datatype, count, value], ...]`` (value a list of
    numbers, or a string), as ``tifffile.imwrite(extratags=...)`` writes them again; ``[]`` for an image that has
    none."""
    out = []
    for code in GEOTIFF_TAGS:
        tag = page.tags.get(code)
        if tag is None:
            continue
        value = tag.value
        value = value if isinstance(value, str) else [v.item() if hasattr(v, "item") else v
                                                      for v in np.ravel(np.asarray(value))]
        out.append([int(code), int(tag.dtype), int(tag.count), value])
    return out


def geotiff_crs(tags) -> str | None:
    """``"EPSG:<code>"`` of a map's coordinate system from its :func:`geotiff_tags` (the GeoKeyDirectory's
    ProjectedCSTypeGeoKey, else its GeographicTypeGeoKey), or None where it names none (or a user-defined one)."""
    keys = next((value for code, _, _, value in tags or () if code == 34735 and not isinstance(value, str)), None)
    if not keys or len(keys) < 4:
        return None
    found = {int(keys[k]): keys[k + 3] for k in range(4, 4 + 4 * int(keys[3]), 4)
             if k + 3 < len(keys) and int(keys[k + 1]) == 0}  # a value held in the directory itself
    code = found.get(3072) or found.get(2048)
    return f"EPSG:{int(code)}" if code and int(code) != 32767 else None


#: GDAL's no-data tag (ASCII: the value of the pixels that hold no data, e.g. "0" or "-9999")
GDAL_NODATA = 42113


def gdal_nodata(page) -> float | None:
    """A TIFF page's no-data value (:data:`GDAL_NODATA`, as GDAL and rasterio write it), or None (none, "nan", or
    not a number: frames with NaN are refused anyway)."""
    try:
        value = float(_gdal_nodata_text(page))
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _gdal_nodata_text(page) -> str | None:
    """The text of a TIFF page's :data:`GDAL_NODATA` tag (ASCII, NUL-terminated), or None."""
    tag = page.tags.get(GDAL_NODATA)
    return None if tag is None else str(tag.value).strip().strip("\x00")


def gdal_nodata_is_nan(page) -> bool:
    """Whether a TIFF page's :data:`GDAL_NODATA` says NaN (a float raster's usual no-data: rasterio's, GDAL's warp)."""
    return (_gdal_nodata_text(page) or "").lower() in ("nan", "-nan", "+nan")


#: the value a float raster's NaN no-data is read as (GDAL's usual fill), where it lies well below the data
NAN_FILL = -9999.0


def nan_fill_value(data: np.ndarray) -> float:
    """A value well apart from ``data``'s finite range, below it (the rule of
    :func:`napari_tlreg.core.nodata.apart_fill`): :data:`NAN_FILL`, or the data's span twice below their least value
    where they reach down to it, within float32 (the frames' type)."""
    finite = data[np.isfinite(data)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    span = max(hi - lo, 1.0)
    fill = NAN_FILL if NAN_FILL < lo - span else float(np.floor(lo - 2 * span))
    least = float(np.finfo(np.float32).min)
    if fill < least:  # (data reaching -1e38: -inf, which every method refuses)
        fill = least
    if fill >= lo:
        raise SequenceReadError(f"its data reach float32's least value ({lo:g}): no value below them is left for its "
                                "NaN no-data")
    return fill


def _nan_filled(arr: np.ndarray) -> tuple[np.ndarray, float]:
    """``arr`` (float) as float32 with its NaN set to one value no data pixel takes (:func:`nan_fill_value`), and that
    value. Every method refuses NaN; a fill value is what they leave out. (float16 could not hold the fill: -inf.)"""
    out = np.array(arr, dtype=np.float32, copy=True)
    fill = nan_fill_value(out)
    out[np.isnan(out)] = fill
    return out, fill


def _geotiff_spacing(tif, path: Path) -> tuple[tuple[float, float], str] | None:
    """``(row, col)`` in metres from a GeoTIFF's ModelPixelScale (a projected model, e.g. UTM: a satellite tile's
    10 m), or None (no GeoTIFF, or a geographic model, whose pixels are degrees: warned, measured in pixels)."""
    if not getattr(tif, "is_geotiff", False):
        return None
    try:
        md = tif.geotiff_metadata or {}
        if md.get("ModelPixelScale") is not None:
            sx, sy = (abs(float(v)) for v in md["ModelPixelScale"][:2])
        else:  # a 4x4 model transformation (row-major): the columns' and the rows' steps in the model
            m = [float(v) for v in np.ravel(md["ModelTransformation"])]  # tifffile gives it as 4 rows
            sx, sy = math.hypot(m[0], m[4]), math.hypot(m[1], m[5])
    except (TypeError, ValueError, KeyError, IndexError):
        return None
    model = int(md.get("GTModelTypeGeoKey", 1) or 1)
    linear = int(md.get("ProjLinearUnitsGeoKey", 9001) or 9001)
    if model != 1 or linear not in _GEO_LINEAR_M:  # degrees, or a unit we do not know: no length
        warnings.warn(f"{path.name}: its GeoTIFF pixel size ({sy:g}, {sx:g}) is not in a known "
                      "length unit (a geographic model's degrees?); measuring in pixels", stacklevel=user_stacklevel())
        return None
    return (sy * _GEO_LINEAR_M[linear], sx * _GEO_LINEAR_M[linear]), "m"


def _tiff_spacing(tif, path: Path) -> tuple[tuple[float, float] | None, str]:
    """Pixel spacing ``(row, col)`` from our own JSON metadata, OME, GeoTIFF, ImageJ or resolution tags."""
    # 1. tifffile "shaped" JSON description written by save_stack (exact floats)
    shaped = getattr(tif, "shaped_metadata", None)
    if shaped:
        md = shaped[0]
        if md.get("spacing") is not None:
            r, c = md["spacing"]
            scale = _unit_scale(md.get("unit", "mm"))
            if scale is not None:
                return (float(r) * scale[0], float(c) * scale[0]), scale[1]
    # 2. OME PhysicalSizeX/Y (default unit micrometre)
    if tif.is_ome and tif.ome_metadata:
        try:
            root = ET.fromstring(tif.ome_metadata)
        except ET.ParseError:
            root = None
        pix = None if root is None else next((e for e in root.iter() if e.tag.endswith("Pixels")), None)
        if pix is not None and pix.get("PhysicalSizeX") and pix.get("PhysicalSizeY"):
            sx = _unit_scale(pix.get("PhysicalSizeXUnit", "µm"))
            sy = _unit_scale(pix.get("PhysicalSizeYUnit", "µm"))
            if sx and sy and sx[1] == sy[1]:
                return (float(pix.get("PhysicalSizeY")) * sy[0], float(pix.get("PhysicalSizeX")) * sx[0]), sx[1]
    # 3. GeoTIFF: the model's pixel size, in the projection's linear unit (metres unless it says otherwise)
    geo = _geotiff_spacing(tif, path)
    if geo is not None:
        return geo
    # 4. ImageJ unit or TIFF ResolutionUnit with X/YResolution (pixels per unit)
    page = tif.pages[0]
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return None, "px"
    try:
        xn, xd = tags["XResolution"].value
        yn, yd = tags["YResolution"].value
        xres, yres = xn / xd, yn / yd
    except (TypeError, ValueError, ZeroDivisionError):
        return None, "px"
    if xres <= 0 or yres <= 0:
        return None, "px"
    unit = None
    ij = tif.imagej_metadata or {}
    if ij.get("unit"):
        unit = ij["unit"]
    else:
        ru = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
        unit = {2: "inch", 3: "cm"}.get(ru)
        if unit == "inch" and xres == yres and xres in (1.0, 72.0, 96.0, 300.0):
            return None, "px"  # default screen resolution, not a physical size
    scale = _unit_scale(unit)
    if scale is None:
        return None, "px"
    # a TIFF rational holds ~9 significant digits: 1 / (1/2.3) read back as 2.3000000000000003 is 2.3
    return (float(f"{scale[0] / yres:.9g}"), float(f"{scale[0] / xres:.9g}")), scale[1]


#: a reader's ``slice`` for every slice position at once (:func:`load_slices`): the reader then reads the source once
#: and returns one builder (a function of no arguments giving that slice's Sequence) per slice position
EVERY = object()


def _per_slice(slice, n: int, one):
    """``one(k)`` for the slice a caller asked for, or with :data:`EVERY` a builder per slice position ``0..n-1``."""
    if slice is EVERY:
        return [functools.partial(one, k) for k in range(n)]
    return one(slice)


#: how to make a multispectral GeoTIFF one image a file, in a GIS user's words
ONE_BAND_HINT = "save one band a file (gdal_translate -b N) and the dates in one folder"


def _read_tiff(path: Path, **_) -> Sequence:
    arr, axes, spacing, unit, meta = _tiff_array(path)
    photometric, extra = meta.get("photometric", "RGB"), meta.pop("extrasamples", [])
    if "S" in axes and len(axes) == arr.ndim and (n := arr.shape[axes.index("S")]) > 4:  # (a 6-band GeoTIFF was read
        # as 512 frames of 512x6 pixels; satellite review)
        _fail(path, f"holds {n} bands of each pixel (a multispectral image), which is no sequence of frames: "
                    + ONE_BAND_HINT)
    if photometric == "SEPARATED" and "S" in axes:  # CMYK ink planes (a print file): no bands of a scene
        warnings.warn(f"{path.name}: a CMYK image, registered on its first 3 ink planes taken as red, green, blue (their "
                      "brightness inverted): save it as RGB or grey", stacklevel=user_stacklevel())
    elif axes.endswith("YXS") and arr.shape[-1] in (3, 4) and photometric not in ("RGB", "YCBCR", "PALETTE"):
        n = arr.shape[-1]  # GDAL's pixel-interleaved bands: said as the band-separate ones are (it was silent)
        warnings.warn(f"{path.name}: read as {'one frame' if arr.ndim == 3 else 'frames'} of {n} bands (a "
                      "multispectral image), registered on their luminance as if the first 3 were red, green, blue "
                      f"(Sentinel-2's B2, B3, B4 are blue, green, red); for one band, {ONE_BAND_HINT}",
                      stacklevel=user_stacklevel())
    if axes == "SYX" and arr.shape[0] in (3, 4):  # tifffile's default for a (3|4, H, W) array before 2025
        n = arr.shape[0]
        if meta.pop("photometric", "RGB") == "RGB":
            warnings.warn(f"{path.name}: read as one colour frame (the file stores {n} planes as RGB"
                          f"{'A' if n == 4 else ''}); if they are {n} frames, save them with "
                          "photometric='minisblack'", stacklevel=user_stacklevel())
        else:  # minisblack with extra samples: the bands of one multispectral image (a GeoTIFF), not RGB
            warnings.warn(f"{path.name}: read as one frame of {n} bands (the file stores them as samples of each "
                          "pixel), registered on their luminance as if the first 3 were red, green, blue; if they are "
                          f"{n} frames, save them without planarconfig='separate'; for one band, {ONE_BAND_HINT}",
                          stacklevel=user_stacklevel())
    meta.pop("photometric", None)
    if "S" in axes and len(axes) == arr.ndim:  # samples per pixel: colour, or grey with alpha
        arr = np.moveaxis(arr, axes.index("S"), -1)
        axes = axes.replace("S", "") + "S"
        if arr.shape[-1] == 2:  # grey + alpha: the grey
            if extra == [0]:  # two bands of their own (a radar's VV and VH): said (it was silent)
                warnings.warn(f"{path.name}: holds 2 bands of each pixel; the first is read (for the other, "
                              f"{ONE_BAND_HINT})", stacklevel=user_stacklevel())
            arr, axes = arr[..., 0], axes[:-1]
    rgb_last = axes.endswith("S") or (arr.ndim == 4 and arr.shape[-1] in (3, 4))
    grey, rgb = _split_rgb(arr, rgb_last)
    plain = axes.replace("S", "")
    many = [f"{a}={n}" for a, n in zip(plain[:-2], grey.shape[:-2]) if n > 1]
    if len(many) > 1 and len(plain) == grey.ndim:  # e.g. TZYX or TCYX: which of them are the frames?
        _fail(path, f"image has axes {plain} of shape {grey.shape} ({', '.join(many)}); expected (T, H, W), one axis "
                    "of frames: save one channel or z-plane a file")
    if many and many[0].startswith("Z="):  # an ImageJ stack of slices (no time axis): read as frames
        warnings.warn(f"{path.name}: its {many[0][2:]} z-slices (axes {plain}, no time axis) are read as the frames "
                      "of a sequence; a volume's slices are no sequence to register (an ImageJ stack of frames is "
                      "saved with frames=, not slices=)", stacklevel=user_stacklevel())
    frames = _as_thw(grey, path)
    if rgb is not None:
        meta["rgb"] = rgb.reshape(frames.shape + rgb.shape[-1:])
    labels, lab_src = _sibling_labels(path, frames.shape)
    if lab_src:
        meta["labels_source"] = lab_src
    spacing = checked_spacing(spacing, path.name)
    if spacing is None:  # an image of a result folder: its spacing is in the folder's result.json
        spacing, unit = _result_folder_spacing(path)
    return Sequence(frames, labels=labels, spacing=spacing, unit=unit if spacing else "px", metadata=meta)


#: the images of a result folder (``RegistrationResult.save``), whose TIFFs hold no spacing of their own
RESULT_IMAGES = ("frames.tif", "warped.tif", "jacobian.tif")
#: a result folder's labels: written without the labels mark and spacing before 2026-12-04 (opened as an image at
#: scale 1 over frames at 1.5 mm)
RESULT_LABELS = ("labels.tif", "propagated_labels.tif")


def _result_folder_spacing(path: Path) -> tuple[tuple[float, float] | None, str]:
    """``(spacing, unit)`` of a result folder's image or labels from the folder's ``result.json`` (``(None, "px")``
    otherwise: not such a file, or no spacing recorded), so that it overlays the folder's other files."""
    meta_path = path.parent / "result.json"
    if path.name not in RESULT_IMAGES + RESULT_LABELS or not meta_path.is_file():
        return None, "px"
    try:
        meta = json.loads(meta_path.read_text())
        spacing = checked_spacing(meta.get("spacing"), meta_path.name) if isinstance(meta, dict) else None
    except (OSError, ValueError, TypeError):
        return None, "px"
    return (spacing, result_unit(path.parent, meta)) if spacing is not None else (None, "px")


#: the most voxels of a legacy result's source read whole to learn its unit (:func:`result_unit`), where its header
#: alone does not say it (a TIFF's or an npz's does)
RESULT_SOURCE_VOXELS = 2**24


def _source_unit(source: str) -> str:
    """The unit ``source`` is read in, from its header where that says it (a TIFF's tags, an npz's keys: a 3000² map
    pair), else by reading it if small (a source of 30000² took 44 s and 4.3 GB to load a 16x16 result)."""
    path = Path(source)
    first = path
    if path.is_dir():
        files = frame_files(path)
        first = files[0] if files else path
    if first.is_file() and _suffix(first) in (".tif", ".tiff", ".ome.tif", ".ome.tiff"):
        import tifffile

        with tifffile.TiffFile(first) as tif:
            spacing, unit = _tiff_spacing(tif, first)
        return unit if spacing is not None else "px"
    if path.is_file() and _suffix(path) == ".npz":
        with np.load(path, allow_pickle=False) as z:  # as _read_numpy takes it
            skey = next((k for k in _SPACING_KEYS if k in z.files), None)
            unit = "m" if skey is not None and skey.endswith("_m") else "mm"
            if "unit" in z.files:
                unit = str(_read_member(z, "unit", path))
            return unit if skey is not None else "px"
    return load_sequence(source, max_voxels=RESULT_SOURCE_VOXELS).unit


def result_unit(folder: Path, meta: dict) -> str:
    """The length unit of a result folder's spacing: its ``result.json``'s (``meta``). A folder saved before the unit
    was recorded (2026-12-04): the unit its recorded source is read in now (``metrics.json``'s ``source``), else mm,
    with a warning (a map's 10 m pixels were read as 10 mm: its TRE 1000x off, under "mm")."""
    unit = meta.get("unit")
    if unit:
        return str(unit)
    try:
        source = json.loads((folder / "metrics.json").read_text()).get("source")
        if isinstance(source, str) and source and (Path(source).exists() or source in samples()):
            unit = _source_unit(source)
            return unit if unit != "px" else "mm"  # a pixel size given by hand: mm, as the API took it then
    except Exception:  # the source unreadable now: said below
        pass
    warnings.warn(f"{folder.name}: its result.json records no length unit (saved by napari-tlreg before 2026-12-04) "
                  "and its source cannot be read: its pixel size is taken as mm", stacklevel=user_stacklevel())
    return "mm"


# --------------------------------------------------------------------------- NIfTI
def _nifti_array(path: Path, slice=None, lazy: bool = False):
    """-> (voxel array in nibabel order, spacing (row, col), unit, metadata). ``lazy``: nibabel's proxy, read where
    :func:`_nifti_to_napari` indexes it; a 4-D image is then claimed (:func:`_check_claim`) for the one slice position
    ``slice`` that will be read (with :data:`EVERY`, every one: all are kept). A cine of 40 slices x 128 frames of
    512² was refused for its 5 GiB when one slice of it, 128 MiB, was asked for, and a slice of a smaller one read the
    whole volume first (20x the slice's memory)."""
    import nibabel as nib

    img = nib.load(str(path))
    shape = tuple(int(s) for s in img.header.get_data_shape())
    dims = list(shape)
    while len(dims) > 4 and dims[-1] == 1:  # (X, Y, Z, T, 1, ...): trailing axes of one
        dims.pop()
    if len(dims) > 4:  # a vector image (ITK's displacement field, (X, Y, Z, T, 2)): it was "truncated or corrupt"
        intent = int(img.header.get("intent_code", 0)) if hasattr(img.header, "get") else 0
        values = math.prod(dims[4:])
        _fail(path, f"holds {values} values a voxel (shape {tuple(shape)})"
                    + (": a displacement (vector) field" if intent == 1007 else "") + ", not an image sequence of one "
                    "value a pixel; napari-tlreg reads its own results from their folder (RegistrationResult.load, "
                    "the Register dock's open result…)")
    one_slice = lazy and len(dims) == 4 and slice is not EVERY
    _check_claim(path, (dims[0], dims[1], dims[3]) if one_slice else shape, "NIfTI image")
    n = math.prod(shape)
    dims = dims[:4] + [1] * max(0, 2 - len(dims))  # (X, Y[, Z][, T]): the frames are (T, Y, X)
    _check_frames(path, (dims[3] if len(dims) == 4 else dims[2] if len(dims) == 3 else 1, dims[1], dims[0]))
    offset = int(img.dataobj.offset) if hasattr(img.dataobj, "offset") else int(img.header["vox_offset"])
    need = offset + n * img.header.get_data_dtype().itemsize
    if path.name.lower().endswith(".gz"):
        if not _gz_holds(path, need):
            _fail(path, f"truncated: the header claims {need:,} bytes, the file decompresses to fewer")
    else:
        _check_stored(path, 0, need)
    data = img.dataobj
    if len(shape) > 4 and len(dims) == 4:
        data = data.reshape(tuple(dims))
    if not lazy:
        data = _nifti_voxels(data)
    zooms = [float(z) for z in img.header.get_zooms()]
    space_unit, time_unit = img.header.get_xyzt_units()
    spacing, unit = None, "px"
    if len(zooms) >= 2:
        scale = _unit_scale({"meter": "m", "micron": "um", "mm": "mm"}.get(space_unit))
        if scale is None and not (zooms[0] == 1.0 and zooms[1] == 1.0):
            scale = (1.0, "mm")  # unknown unit: NIfTI tools assume mm
        if scale is not None:
            spacing, unit = (zooms[1] * scale[0], zooms[0] * scale[0]), scale[1]
    dtype = img.header.get_data_dtype()
    meta = {"affine": np.asarray(img.affine).tolist(), "zooms": zooms,
            "dtype": str(np.dtype(np.float32) if dtype.names else dtype)}
    # a frame time in ms or µs (napari-tlreg writes ms: 1 ms frames were lost); 1 s is many tools' placeholder
    if len(zooms) >= 4 and time_unit in ("sec", "msec", "usec") and zooms[3] > 0 and not (
            zooms[3] == 1.0 and time_unit == "sec"):
        meta["frame_time_ms"] = zooms[3] * {"sec": 1000.0, "msec": 1.0, "usec": 1e-3}[time_unit]
    return data, spacing, unit, meta


def _nifti_voxels(data) -> np.ndarray:
    """Voxels read (from nibabel's proxy, or a part of it), RGB24 / RGBA32 structured voxels as their luminance."""
    data = np.asanyarray(data)
    if data.dtype.names:
        data = to_luminance(np.stack([data[n] for n in data.dtype.names[:3]], axis=-1))
    return data


def _nifti_to_napari(data, path: Path, slice: int | None):
    """Voxel array (X, Y[, Z][, T]), or nibabel's proxy of one (only what is returned is read) -> ``(T, H, W)`` =
    data[x, y, t] -> out[t, y, x]."""
    while data.ndim > 4 and data.shape[-1] == 1:
        data = data[..., 0]
    n_slices = 1
    if data.ndim == 2:
        return _nifti_voxels(data).T[None], n_slices
    if data.ndim == 3:  # (X, Y, T)
        return np.transpose(_nifti_voxels(data), (2, 1, 0)), n_slices
    if data.ndim == 4:  # (X, Y, Z, T)
        n_slices = data.shape[2]
        k = 0 if slice is None else int(slice)
        if not 0 <= k < n_slices:
            _fail(path, f"slice={k} is out of range: the image has {n_slices} slice(s)")
        return np.transpose(_nifti_voxels(data[:, :, k, :]), (2, 1, 0)), n_slices
    _fail(path, f"NIfTI image has shape {data.shape}; expected (X, Y, T) or (X, Y, Z, T)")


def _is_volume(shape, zooms) -> bool:
    """Whether a NIfTI image of voxel ``shape`` and ``zooms`` is (X, Y, Z), a volume, as NIfTI has it: a third axis
    stepping a slice's thickness or more (a frame time, 0.03, is no slice; CAMUS's sequences step 1)."""
    step = zooms[2] if len(zooms) == 3 else 0.0
    return len(shape) == 3 and shape[2] > 1 and step not in (0.0, 1.0) and step >= min(zooms[:2]) > 0


def nifti_volume_slices(path) -> int | None:
    """The slice positions of a NIfTI file that holds one volume (X, Y, Z), such as ACDC's ``frameNN_gt`` labels
    of one time point, from its header; ``None`` for any other file."""
    path = Path(path)
    try:  # a folder (of frames, a DICOM series) is none; nor is what cannot be read: the reader says why
        if not path.is_file() or (SUPPORTED_SUFFIXES.get(_suffix(path)) or _sniff(path)) != "nifti":
            return None
        import nibabel as nib

        header = nib.load(str(path)).header
        shape = tuple(int(s) for s in header.get_data_shape())
        zooms = [float(z) for z in header.get_zooms()]
    except Exception:
        return None
    return shape[2] if _is_volume(shape, zooms) else None


def _read_nifti(path: Path, slice: int | None = None, **_) -> Sequence:
    # one slice position: read alone; every one: the volume decoded once (a .nii.gz read per slice is decompressed
    # up to it each time)
    data, spacing, unit, meta0 = _nifti_array(path, slice, lazy=slice is not EVERY)
    spacing = checked_spacing(spacing, path.name)
    unit = unit if spacing else "px"
    zooms = meta0["zooms"]
    if _is_volume(data.shape, zooms):
        step = zooms[2]
        shown = step * spacing[1] / zooms[0] if spacing else step  # in the spacing's unit (a file in microns: mm)
        warnings.warn(f"{path.name}: its third axis steps {shown:g}{f' {unit}' if spacing else ''}, as a volume's "
                      f"slices do (NIfTI keeps time on the fourth): read its {data.shape[2]} planes as the frames of "
                      "a sequence; slices of one time point are no sequence to register (a cine is (X, Y, T), or "
                      "(X, Y, Z, T))", stacklevel=user_stacklevel())

    read = {} if slice is EVERY else None  # labels files read once for every slice position

    def one(k):
        frames, n_slices = _nifti_to_napari(data, path, k)
        meta = dict(meta0)
        if n_slices > 1:
            meta.update(n_slices=n_slices, slice=int(k or 0))
        labels, lab_src = _sibling_labels(path, frames.shape, k, n_slices, read)
        if lab_src:
            meta["labels_source"] = lab_src
        return Sequence(frames, labels=labels, spacing=spacing, unit=unit, metadata=meta)

    return _per_slice(slice, data.shape[2] if data.ndim == 4 else 1, one)


# --------------------------------------------------------------------------- DICOM
def _dcmread(path: Path, **kw):
    import pydicom

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Invalid value for VR", category=UserWarning)
        return pydicom.dcmread(str(path), **kw)


class UndecodablePixels(Exception):
    """A DICOM file's compressed pixel data that no installed decoder reads (not a damaged file)."""


def _decoded(ds) -> np.ndarray:
    """``ds.pixel_array``; a compression no installed decoder takes raises :class:`UndecodablePixels` with pydicom's
    whole reason (the packages that would read it): it was "truncated or corrupt: Unable to decompress 'JPEG-LS
    Lossless Image Compression' pixel data because all plugins are missing dependencies:", cut at its colon."""
    try:
        return ds.pixel_array
    except (RuntimeError, NotImplementedError) as exc:
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        # a decoder missing, or one that does not take this variant (Pillow and 12-bit JPEG); a decoder that tried and
        # failed ("cannot identify image file") read a damaged file: "truncated or corrupt", as before
        if not any(k in text for k in ("missing dependencies", "no pixel data handlers", "does not support")):
            raise
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(ts, "name", None) or "compressed"
        raise UndecodablePixels(f"its {name} pixel data cannot be decoded with the packages installed ({text}); "
                                "install a decoder that takes it (e.g. pip install pylibjpeg pylibjpeg-libjpeg "
                                "pylibjpeg-openjpeg, or python-gdcm), or convert the file") from None


def _frame_rescales(ds, n: int) -> list[tuple[float, float]] | None:
    """Each frame's ``(slope, intercept)`` of an enhanced multi-frame file, which keeps them in its functional groups
    (pydicom's ``apply_rescale`` reads the top level only: an MR of per-frame slopes 1 to 6 was read with 1, a CT's
    -1024 HU intercept left out); None when the top level has them, or none does."""
    if "RescaleSlope" in ds or "RescaleIntercept" in ds or "ModalityLUTSequence" in ds:
        return None

    def of(item):
        seq = item.get("PixelValueTransformationSequence") if item is not None else None
        if not seq:
            return None
        t = seq[0]
        return float(_num(t.get("RescaleSlope", 1), 1.0)), float(_num(t.get("RescaleIntercept", 0), 0.0))

    shared = ds.get("SharedFunctionalGroupsSequence")
    per = ds.get("PerFrameFunctionalGroupsSequence")
    base = of(shared[0]) if shared else None
    out = [of(per[t]) if per is not None and t < len(per) else None for t in range(n)]
    out = [o if o is not None else base for o in out]
    if all(o is None for o in out):
        return None
    return [o if o is not None else (1.0, 0.0) for o in out]


def _dicom_pixels(ds) -> tuple[np.ndarray, np.ndarray | None]:
    """``(T, H, W)`` float32 grey (modality LUT applied; MONOCHROME1 inverted) and RGB or None.

    pydicom >= 3 returns YBR_FULL/YBR_FULL_422 pixel data already converted to RGB.
    """
    from pydicom.pixels import apply_rescale

    _check_dicom_claim(ds)
    arr = _decoded(ds)
    nframes = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if spp >= 3:  # pydicom >= 3 (as_rgb=True) already converted YBR_FULL(_422) to RGB
        if arr.ndim == 3:
            arr = arr[None]
        return to_luminance(arr), arr
    if nframes == 1 or arr.ndim == 2:
        arr = arr.reshape((-1, *arr.shape[-2:]))
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric == "PALETTE COLOR":  # indices into the file's colour table
        from pydicom.pixels import apply_color_lut

        rgb = np.asarray(apply_color_lut(arr, ds))
        return to_luminance(rgb), rgb
    rescaled = True
    per_frame = _frame_rescales(ds, len(arr))
    try:
        if per_frame is not None:
            grey = np.stack([f.astype(np.float32) * np.float32(a) + np.float32(b) for f, (a, b) in zip(arr, per_frame)])
        else:
            grey = np.asarray(apply_rescale(arr, ds), dtype=np.float32)
    except Exception:  # no or unusual modality LUT: keep stored values
        grey, rescaled = arr.astype(np.float32), False
    if photometric == "MONOCHROME1":  # the lowest value is white: flipped within the range the pixel data can
        ends = _stored_range(ds, arr.dtype)  # store, which every file of a series shares (its own values' would not)
        if per_frame is not None and rescaled:  # each frame's range rescaled as the frame is
            for t, (a, b) in enumerate(per_frame):
                e = ends.astype(np.float64) * a + b
                grey[t] = np.float32(e.min() + e.max()) - grey[t]
            return grey, None
        try:
            ends = np.asarray(apply_rescale(ends, ds) if rescaled else ends, dtype=np.float64)
        except Exception:  # a modality LUT that cannot take the range's ends: the file's own values
            ends = np.array([grey.min(), grey.max()], dtype=np.float64)
        grey = np.float32(ends.min() + ends.max()) - grey
    return grey, None


def _stored_range(ds, dtype) -> np.ndarray:
    """The lowest and highest value the pixel data can store (BitsStored, PixelRepresentation), in ``dtype``."""
    bits = int(_num(ds.get("BitsStored") or ds.get("BitsAllocated") or 16, 16))
    if int(_num(ds.get("PixelRepresentation", 0) or 0, 0)) == 1:
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2**bits - 1
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = max(lo, int(info.min)), min(hi, int(info.max))
    return np.array([lo, hi], dtype=dtype)


def _check_dicom_claim(ds, n_files: int = 1) -> None:
    """Refuse Rows x Columns x frames (x samples, x files) beyond :data:`MAX_READ_VOXELS` before decoding."""
    shape = (n_files * int(_num(ds.get("NumberOfFrames", 1) or 1, 1)), int(_num(ds.get("Rows"), 0)),
             int(_num(ds.get("Columns"), 0)), int(_num(ds.get("SamplesPerPixel", 1) or 1, 1)))
    path = Path(str(getattr(ds, "filename", "") or "DICOM"))
    _check_claim(path, shape, "DICOM image")
    _check_frames(path, shape[:3])


#: how to choose another series, in Python's words (the CLI says its --series)
SERIES_HINT = "; series=K (0-based, in SeriesNumber order) or series=UID chooses another"


def _series_said(k: int, items: list) -> str:
    """Series ``k`` of a folder, for a message: its number, its description and its count of files."""
    ds = items[0][1]
    number, what = ds.get("SeriesNumber"), str(ds.get("SeriesDescription", "") or "").strip()
    return (f"{k}: {len(items)} file{'s' if len(items) != 1 else ''}" + (f", SeriesNumber {number}" if number not in (None, "") else "")
            + (f", {what!r}" if what else ""))


def _dicom_pixel_spacing(ds):
    """The PixelSpacing element's value: the image's own, the imager's, or an enhanced multi-frame file's functional
    groups' (shared by the frames, or else the first frame's: some write it per frame only); None where there is none."""
    ps = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        if ps is not None:
            break
        try:
            ps = getattr(ds, groups)[0].PixelMeasuresSequence[0].PixelSpacing
        except (AttributeError, IndexError, KeyError, TypeError):
            ps = None
    return ps


#: how to give a sequence of no pixel size one, in Python's words (the CLI has no flag for it: it leaves it out)
#: (said in napari too: the layer's scale, which the docks measure in, is the viewer's way; clinician review)
PIXEL_SIZE_HINT = ("; in napari, the layer's scale gives it one (its console: layer.scale = (1, row_mm, col_mm)), from "
                   "Python register(..., spacing=(row_mm, col_mm))")


def _dicom_spacing(ds, what: str | None = None) -> tuple[float, float] | None:
    """``(row, col)`` in mm from PixelSpacing, functional groups, or ultrasound regions. A PixelSpacing that is not two
    positive numbers is said and left out (one value was read as a corrupt file; 0 or NaN dropped without a word)."""
    ps = _dicom_pixel_spacing(ds)
    if ps is not None:
        name = Path(str(getattr(ds, "filename", "") or "DICOM")).name
        values = [ps] if isinstance(ps, (int, float, str, bytes)) else list(ps)  # one value: a DSfloat
        sp = checked_spacing([_num(v, float("nan")) for v in values], f"{name}: DICOM PixelSpacing")
        if sp is not None:
            return sp
    factor, region = ultrasound_region_scale(ds)
    # PhysicalUnits 3 = cm; deltas are cm per pixel of the region's grid (maybe finer than the stored pixels)
    if region is not None and int(region.get("PhysicalUnitsXDirection", 0)) == 3 and int(region.get("PhysicalUnitsYDirection", 0)) == 3:
        dx, dy = float(region.PhysicalDeltaX), float(region.PhysicalDeltaY)
        if dx > 0 and dy > 0:
            return dy * 10.0 * factor, dx * 10.0 * factor
    if ps is not None:  # a PixelSpacing that is not two positive numbers: said above, with "measuring in pixels"
        return None
    name = what or Path(str(getattr(ds, "filename", "") or "DICOM")).name  # a folder's name, not its first file's
    warnings.warn(f"{name}: the DICOM records no pixel size (no PixelSpacing, ImagerPixelSpacing or ultrasound "
                  "region in cm): it is read in pixels, and distances (TRE, Hausdorff) are measured in pixels"
                  + PIXEL_SIZE_HINT, stacklevel=user_stacklevel())
    return None


def ultrasound_region_scale(ds) -> tuple[int, object]:
    """(factor, region): the clip's 2-D image region (:func:`ultrasound_region`) and how much the stored pixels were
    reduced relative to the region's grid.

    pydicom's ``ybr_color`` example holds 320x240 pixels while its SequenceOfUltrasoundRegions
    (location up to x=595, y=414, PhysicalDelta 0.0510 cm) describe the original 640x480 grid,
    so the pixels are 2x larger than PhysicalDelta says. ``factor`` is the smallest integer with
    the region inside the stored image once divided by it (1 for a consistent file, and for one whose region ends a
    pixel past the image, as exporters that write the end exclusive do: 0..Columns).
    """
    reg = ultrasound_region(ds)
    if reg is None:
        return 1, None
    x1, y1 = int(reg.get("RegionLocationMaxX1", 0)), int(reg.get("RegionLocationMaxY1", 0))
    factor = 1
    while x1 > factor * int(ds.Columns) or y1 > factor * int(ds.Rows):
        factor += 1
    return factor, reg


def ultrasound_region(ds):
    """The largest region of the clip's SequenceOfUltrasoundRegions that is a 2-D image (RegionSpatialFormat 1, or
    not given): not a spectral Doppler or M-mode strip beside it, nor a colour-flow box inside it. None without one."""
    def area(r) -> int:
        return ((int(r.get("RegionLocationMaxX1", 0)) - int(r.get("RegionLocationMinX0", 0)))
                * (int(r.get("RegionLocationMaxY1", 0)) - int(r.get("RegionLocationMinY0", 0))))

    def two_d(r) -> bool:  # 1: a 2-D image; 0 none, 2 M-mode, 3 spectral, 4 waveform...; not given: taken as 2-D
        fmt = r.get("RegionSpatialFormat")
        return fmt in (None, "") or int(fmt) == 1

    regions = [r for r in ds.get("SequenceOfUltrasoundRegions") or [] if two_d(r)]
    return max(regions, key=area) if regions else None


def ultrasound_region_box(ds) -> list[int] | None:
    """``[row0, row1, col0, col1]``: the first and last row and column of the 2-D ultrasound region, in stored pixels
    (None without one)."""
    factor, reg = ultrasound_region_scale(ds)
    if reg is None or not all(reg.get(k) is not None for k in ("RegionLocationMinY0", "RegionLocationMaxY1",
                                                                 "RegionLocationMinX0", "RegionLocationMaxX1")):
        return None
    return [int(reg.RegionLocationMinY0) // factor, min(int(reg.RegionLocationMaxY1) // factor, int(ds.Rows) - 1),
            int(reg.RegionLocationMinX0) // factor, min(int(reg.RegionLocationMaxX1) // factor, int(ds.Columns) - 1)]


def ultrasound_mask(frames: np.ndarray, ds) -> np.ndarray | None:
    """The fan of an ultrasound clip (:func:`~napari_tlreg.core.region.signal_region` inside its imaging
    region): NMSR's mask by default in the viewer and the CLI. None for other modalities or single frames."""
    from ..core.region import signal_region

    if str(ds.get("Modality", "")) != "US" or frames.ndim != 3 or frames.shape[0] < 2:
        return None
    return signal_region(frames, ultrasound_region_box(ds))


def _dicom_frame_time(ds) -> float | None:
    """Milliseconds between frames from FrameTime, FrameTimeVector, CineRate or display rate."""
    for key in ("FrameTime",):
        if ds.get(key) not in (None, ""):
            return float(ds.get(key))
    ftv = ds.get("FrameTimeVector")
    if ftv is not None and len(ftv) > 1:
        return float(np.median([float(v) for v in list(ftv)[1:]]))
    for key in ("CineRate", "RecommendedDisplayFrameRate"):
        if ds.get(key) not in (None, "") and float(ds.get(key)) > 0:
            return 1000.0 / float(ds.get(key))
    return None


def _enhanced_positions(ds, n: int) -> list[list[int]] | None:
    """The frames of each slice position of an enhanced multi-frame file (its per-frame ImagePositionPatient), in
    the order they first come, each in temporal order (TemporalPositionIndex); None for one position, none recorded,
    or one frame a position (a volume's slices, no time: read as before). A file of 2 positions x 3 phases was one
    cine of 6 frames, jumping between the slices."""
    per = ds.get("PerFrameFunctionalGroupsSequence")
    if per is None or len(per) != n:
        return None
    keys = []
    for item in per:
        plane = item.get("PlanePositionSequence")
        pos = plane[0].get("ImagePositionPatient") if plane else None
        content = item.get("FrameContentSequence")
        when = _num(content[0].get("TemporalPositionIndex"), math.inf) if content else math.inf
        keys.append((None if pos is None else tuple(round(float(v), 3) for v in pos), when))
    positions = list(dict.fromkeys(p for p, _ in keys))
    if len(positions) < 2 or None in positions:
        return None
    groups = [sorted((t for t in range(n) if keys[t][0] == p), key=lambda t: (keys[t][1], t)) for p in positions]
    return groups if max(len(g) for g in groups) > 1 else None


def _sop_kind(ds) -> str:
    """What a DICOM object says it is (its SOP class's name, "MR Image Storage"), from its meta header if it has one."""
    file_meta = getattr(ds, "file_meta", None)
    sop = (file_meta.get("MediaStorageSOPClassUID") if file_meta is not None else None) or ds.get("SOPClassUID")
    return str(getattr(sop, "name", "") or "")


def _read_dicom(path: Path, slice: int | None = None, **_) -> Sequence:
    import pydicom.errors

    try:
        with warnings.catch_warnings(record=True) as caught:  # pydicom warns of a cut-off file, then returns what it read
            warnings.simplefilter("always")
            ds = _dcmread(path)
    except pydicom.errors.InvalidDicomError:
        _fail(path, "not a DICOM file (no DICOM header found)")
    cut = [str(w.message) for w in caught if "end of file" in str(w.message).lower()]
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        if cut or "Rows" in ds:  # an image's header without its pixels: the file ends early
            _fail(path, "not a readable DICOM file (truncated: " + ("it ends inside its data" if cut else
                        f"the header describes a {ds.get('Rows')}x{ds.get('Columns')} image, the pixel data is missing")
                  + ")")
        kind = _sop_kind(ds)
        if "Image Storage" in kind:  # cut off before its first image attribute: the meta header says what it was
            _fail(path, f"not a readable DICOM file (truncated: it says it is an {kind} object, and ends before "
                        "its image)")
        _fail(path, "DICOM file holds no image (no pixel data)")
    for message in (str(w.message) for w in caught if not str(w.message).startswith("Invalid value for VR")):
        warnings.warn(f"{path.name}: {message}", stacklevel=user_stacklevel())
    grey, rgb = _dicom_pixels(ds)
    meta = {"modality": str(ds.get("Modality", "")), "photometric": str(ds.get("PhotometricInterpretation", ""))}
    ft = _dicom_frame_time(ds)
    if ft is not None:
        meta["frame_time_ms"] = ft
    if rgb is not None:
        meta["rgb"] = rgb
    fan = ultrasound_mask(grey, ds)
    if fan is not None:
        meta["mask"] = fan
    spacing = checked_spacing(_dicom_spacing(ds), path.name)
    positions = _enhanced_positions(ds, len(grey))
    if positions is None:  # (a slice asked beyond 0: refused by _load, which reads n_slices)
        return Sequence(grey, spacing=spacing, unit="mm" if spacing else "px", metadata=meta)

    def one(k):
        k = 0 if k is None else int(k)
        if not 0 <= k < len(positions):
            _fail(path, f"slice={k} is out of range: the file has {len(positions)} slice positions")
        idx = positions[k]
        m = {**meta, "slice": k, "n_slices": len(positions), "frames_of_file": idx}
        if rgb is not None:
            m["rgb"] = rgb[idx]
        return Sequence(grey[idx], spacing=spacing, unit="mm" if spacing else "px", name=f"{_stem(path)}_slice{k}",
                        metadata=m)

    return _per_slice(slice, len(positions), one)


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _num(value, default=math.inf) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _slice_key(ds):
    """A hashable slice position: SliceLocation, else position along the slice normal."""
    if ds.get("SliceLocation") not in (None, ""):
        return round(float(ds.SliceLocation), 3)
    ipp, iop = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    if ipp is not None and iop is not None and len(iop) == 6:
        normal = np.cross(np.array(iop[:3], float), np.array(iop[3:], float))
        return round(float(np.dot(normal, np.array(ipp, float))), 3)
    return None


def _read_dicom_folder(path: Path, slice: int | None = None, series: int | str | None = None, **_) -> Sequence:
    """A folder of DICOM files -> one slice position of one series, frames ordered in time.

    Files that are not DICOM are skipped with a warning. Files are grouped by
    SeriesInstanceUID, then by slice position (SliceLocation, else ImagePositionPatient along
    the slice normal). Slice positions are numbered in acquisition order (lowest
    InstanceNumber first); ``slice`` picks one (default 0). Frames within a position are
    ordered by TriggerTime, then InstanceNumber, then file name.
    """
    import pydicom.errors

    files = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: _natural_key(p.name))
    headers, skipped, cut = [], [], []
    for f in files:
        try:
            ds = _dcmread(f, stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:  # pydicom's words ended "Use force=True", which no user can set
            skipped.append(f"{f.name} (not DICOM)")
            continue
        except (OSError, ValueError, EOFError) as e:
            skipped.append(f"{f.name} ({_reason(e)})")
            continue
        if "Rows" not in ds:
            if "Image Storage" in (kind := _sop_kind(ds)):  # an image cut off in its header: it was skipped, the cine
                # registered a phase short (one cut in its pixels failed it; DICOM review). Its series and place come
                # before its image's attributes: the slice it belongs to fails (_dicom_slice), not the others
                cut.append((f, kind, str(ds.get("SeriesInstanceUID", "")) or None, _slice_key(ds)))
                continue
            skipped.append(f"{f.name} (no image)")
            continue
        headers.append((f, ds))
    if not headers:
        from .contours import is_contour_source

        if is_contour_source(path):  # said before a page of "skipped" for every text file
            _fail(path, "holds expert contour files, which are labels of a DICOM sequence, not images: give them "
                        "with `register DICOM_FOLDER --labels` or napari_tlreg.io.load_contours")
    if skipped:
        warnings.warn(
            f"{path.name}: skipped {len(skipped)} non-DICOM or image-less file(s): "
            + ", ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else ""),
            stacklevel=user_stacklevel(),
        )
    if not files:  # "no readable DICOM image files" left out the folders of frames a folder can also be
        subs = sorted((p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_natural_key)
        if subs:  # a patient's folder of series folders
            _fail(path, f"holds no image files, only folders ({', '.join(subs[:5])}{' ...' if len(subs) > 5 else ''}):"
                        " open one of them")
        _fail(path, "the folder is empty (a sequence folder holds DICOM files, or one TIFF, NIfTI or picture image a frame)")
    if not headers and cut:  # every image cut off in its header
        _fail(path, f"{cut[0][0].name} is not readable (truncated: it says it is an {cut[0][1]} object, and ends before "
                    "its image)")
    if not headers:
        # a folder of PNG or JPEG frames (a common export) was told of DICOM files alone
        kinds = sorted({f.suffix.lower() for f in files} & _RASTER_SUFFIXES)  # (a DICOM UID's ".100" is no kind)
        _fail(path, "folder holds no readable DICOM image files"
              + (f", and its {', '.join(kinds)} files are pictures napari-tlreg does not read (a folder of frames "
                 "holds one TIFF, NIfTI, PNG, JPEG, BMP, GIF or WebP image a file)" if kinds else ""))

    # series
    by_series: dict[str, list] = {}
    for f, ds in headers:
        by_series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((f, ds))
    uids = sorted(by_series, key=lambda u: (_num(by_series[u][0][1].get("SeriesNumber")), u))
    if series is None:
        uid = max(uids, key=lambda u: len(by_series[u]))  # of as many files: the lower SeriesNumber (uids' order)
        if len(uids) > 1:
            warnings.warn(f"{path.name}: {len(uids)} series found ({'; '.join(_series_said(k, by_series[u]) for k, u in enumerate(uids))}); "
                          f"using series {uids.index(uid)}, of the most files{SERIES_HINT}",
                          stacklevel=user_stacklevel())
    elif isinstance(series, str):
        if series not in by_series:
            _fail(path, f"series {series!r} not found; series in folder: {', '.join(uids)}")
        uid = series
    else:
        if not 0 <= int(series) < len(uids):
            _fail(path, f"series={series} is out of range: the folder has {len(uids)} series")
        uid = uids[int(series)]
    items = by_series[uid]

    # slice positions, in acquisition order
    groups: dict = {}
    for f, ds in items:
        groups.setdefault(_slice_key(ds), []).append((f, ds))

    def time_key(item):
        f, ds = item
        return (_num(ds.get("TriggerTime"), 0.0), _num(ds.get("InstanceNumber")), _natural_key(f.name))

    order = sorted(groups, key=lambda k: min(time_key(it)[1:] for it in groups[k]))
    return _per_slice(slice, len(order), functools.partial(_dicom_slice, path, uid, uids, order, groups, time_key, skipped,
                                                           cut))


def _instance(ds) -> int | None:
    """A DICOM header's InstanceNumber (the image number), or None."""
    n = _num(ds.get("InstanceNumber"), math.nan)
    return int(n) if math.isfinite(n) else None


def _dicom_slice(path: Path, uid: str, uids: list, order: list, groups: dict, time_key, skipped: list, cut: list,
                 slice: int | None) -> Sequence:
    """Slice position ``slice`` (default 0) of a DICOM folder that :func:`_read_dicom_folder` indexed; ``cut``: its
    image files cut off in their headers, ``(file, kind, series, slice key)``, which fail the slice they may be of."""
    k = 0 if slice is None else int(slice)
    for f, kind, series, key in cut:  # its place unknown, or none of the series' (keyed otherwise): every slice's
        if series in (None, uid) and (key is None or key not in order or 0 <= k < len(order) and key == order[k]):
            _fail(path, f"{f.name} is not readable (truncated: it says it is an {kind} object, and ends before its "
                        "image)")
    if not 0 <= k < len(order):
        _fail(path, f"slice={k} is out of range: the folder has {len(order)} slice position(s)")
    members = groups[order[k]]
    timed = [math.isfinite(_num(ds.get("TriggerTime"), math.nan)) for _, ds in members]
    if all(timed):
        chosen = sorted(members, key=time_key)
    else:  # a file without its time sorted first as time 0 and became the reference (phase 10 of 20; DICOM review)
        chosen = sorted(members, key=lambda item: time_key(item)[1:])
        if any(timed):
            untimed = sorted((f.name for (f, _), t in zip(members, timed) if not t), key=_natural_key)
            warnings.warn(f"{path.name}: {len(untimed)} of the {len(members)} files of slice position {k} have no "
                          f"TriggerTime ({', '.join(untimed[:3])}{', ...' if len(untimed) > 3 else ''}): its frames "
                          "are ordered by their InstanceNumber", stacklevel=user_stacklevel())
    clips = [f.name for f, ds in chosen if int(_num(ds.get("NumberOfFrames", 1) or 1, 1)) > 1]
    if len(clips) > 1:  # each a cine of its own (an echo series stores a clip a file): they were glued into one
        _fail(path, f"holds {len(clips)} multi-frame clips of one series ({', '.join(clips[:4])}"
                    + (", ..." if len(clips) > 4 else "") + "): each is a sequence of its own; open one file, or "
                    "give the folder to `napari-tlreg batch` (a clip a sequence)")
    try:
        _check_dicom_claim(chosen[0][1], n_files=len(chosen))
    except SequenceReadError as exc:
        _fail(path, str(exc).split(": ", 1)[-1])

    greys, rgbs = [], []
    for f, _ds in chosen:
        try:
            g, c = _dicom_pixels(_dcmread(f))
        except (SequenceReadError, MemoryError):
            raise
        except UndecodablePixels as e:
            _fail(path, f"{f.name}: {e}")
        except Exception as e:  # one damaged file of the series: say which
            _fail(path, f"{f.name} is not readable ({_damaged(e)})")
        if greys and g.shape[1:] != greys[0].shape[1:]:
            _fail(path, f"{f.name} has size {g.shape[1:]} but earlier frames have {greys[0].shape[1:]}")
        greys.append(g)
        if c is not None:
            rgbs.append(c)
    frames = np.concatenate(greys, axis=0)
    first = chosen[0][1]
    trig = [_num(ds.get("TriggerTime"), math.nan) for _, ds in chosen]
    meta = {
        "modality": str(first.get("Modality", "")),
        "series_uid": uid,
        "n_series": len(uids),
        "slice": k,
        "n_slices": len(order),
        "slice_locations": [None if key is None else float(key) for key in order],
        "files": [f.name for f, _ in chosen],
        "skipped_files": skipped,
        # each frame's InstanceNumber, and every slice position's: what contour files name (load_contours)
        "instance_numbers": [_instance(ds) for _, ds in chosen],
        "slice_instance_numbers": [sorted(n for _, ds in groups[key] if (n := _instance(ds)) is not None)
                                   for key in order],
    }
    if all(np.isfinite(trig)):
        meta["trigger_times_ms"] = trig
        if len(trig) > 1:
            meta["frame_time_ms"] = float(np.median(np.diff(trig)))
    elif (ft := _dicom_frame_time(first)) is not None:
        meta["frame_time_ms"] = ft
    if rgbs and len(rgbs) == len(greys):
        meta["rgb"] = np.concatenate(rgbs, axis=0)
    spacing = checked_spacing(_dicom_spacing(first, path.name), path.name)
    name = path.name if len(order) == 1 else f"{path.name}_slice{k}"
    return Sequence(frames, spacing=spacing, unit="mm" if spacing else "px", name=name, metadata=meta)


# --------------------------------------------------------------------------- video
def _read_video(path: Path, **_) -> Sequence:
    """Video via imageio's FFMPEG plugin (pyav as fallback): RGB -> luminance, fps kept."""
    import imageio.v3 as iio

    _check_video_container(path)
    try:
        meta_in = iio.immeta(path, plugin="FFMPEG")
        plugin = "FFMPEG"
    except ImportError:
        meta_in = iio.immeta(path, plugin="pyav")
        plugin = "pyav"
    size = meta_in.get("size") or meta_in.get("shape")
    n_frames = _num(meta_in.get("nframes"), math.nan)
    if not math.isfinite(n_frames):
        n_frames = _num(meta_in.get("duration"), 0.0) * _num(meta_in.get("fps"), 0.0)
    if size is not None and len(size) >= 2 and math.isfinite(n_frames):
        _check_claim(path, (max(1, math.ceil(n_frames)), int(size[1]), int(size[0]), 3), "video")
        _check_frames(path, (max(1, math.ceil(n_frames)), int(size[1]), int(size[0])))
    # the frames as the file holds them: at ffmpeg's default constant rate, a variable-rate clip of 24 frames came back
    # as 40, 16 of them copies of the frame before, registered as cardiac phases
    arr = iio.imread(path, plugin=plugin, **({"output_params": ["-fps_mode", "passthrough"]} if plugin == "FFMPEG" else {}))
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] not in (3, 4):  # (T, H, W) grey
        grey, rgb = arr.astype(np.float32), None
    else:
        if arr.ndim == 3:
            arr = arr[None]
        if _grey_channels(arr):  # a grey clip, decoded as rgb24: no colour layer beside it
            grey, rgb = arr[..., :3].astype(np.float32).mean(axis=-1), None
        else:
            grey, rgb = _split_rgb(arr, True)
    if grey.size == 0 or grey.ndim != 3:
        _fail(path, "video holds no frames")
    meta = {"rgb": rgb} if rgb is not None else {}
    timed = _video_times(path) if plugin == "FFMPEG" else None
    times, tick = timed if timed is not None else (None, 0.0)
    if times is not None and len(times) > len(grey):  # the decoder dropped what it could not decode, without a word
        lost = len(times) - len(grey)
        warnings.warn(f"{path.name}: {lost} of its {len(times)} frames could not be decoded and {'is' if lost == 1 else 'are'}"
                      f" left out (the file may be damaged): {len(grey)} frames read", stacklevel=user_stacklevel())
    fps = meta_in.get("fps")
    steps = np.diff(times) if times is not None and len(times) == len(grey) and len(times) > 2 else None
    # more than a tick of the stream's clock apart (240 fps at a 1/600 s clock steps 2 and 3 ticks: even)
    if steps is not None and steps.max() - steps.min() > max(VIDEO_UNEVEN * np.median(steps), 1.01 * tick):
        meta["trigger_times_ms"] = [float(1000.0 * (t - times[0])) for t in times]
        meta["frame_time_ms"] = float(1000.0 * np.median(steps))
        warnings.warn(f"{path.name}: its frames are not evenly spaced in time (a variable frame rate: "
                      f"{1000 * steps.min():.1f} to {1000 * steps.max():.1f} ms apart); each frame is read as recorded, "
                      "their times kept (trigger_times_ms)", stacklevel=user_stacklevel())
    elif fps and math.isfinite(float(fps)) and float(fps) > 0:
        meta["fps"] = float(fps)
        meta["frame_time_ms"] = 1000.0 / float(fps)
    return Sequence(grey, metadata=meta)


def _grey_channels(arr: np.ndarray) -> bool:
    """Whether ``(T, H, W, 3|4)`` colour frames are grey: red, green and blue equal in every pixel (ffmpeg decodes a
    grey clip to rgb24; it got a hidden colour layer, and the overlay's grey frame layer under it). A frame at a time."""
    # within 2 levels of 8 bits: an MJPEG clip's YUV -> RGB leaves green 1-2 levels off its red (README review)
    tol = 2 if arr.dtype == np.uint8 else 2 / 255 * (np.iinfo(arr.dtype).max if arr.dtype.kind in "iu" else 1.0)

    def near(a, b) -> bool:
        return bool(np.abs(a.astype(np.float32) - b.astype(np.float32)).max() <= tol)

    return all(near(f[..., 0], f[..., 1]) and near(f[..., 0], f[..., 2]) for f in arr)


#: a video's frames are said to be unevenly spaced in time when their intervals differ by more than this share of the
#: median interval
VIDEO_UNEVEN = 0.25


def _video_times(path: Path) -> tuple[np.ndarray, float] | None:
    """The presentation times (s, sorted) of the first video stream's packets, read by ffmpeg without decoding them
    (the stream copied into ``framemd5``), and the stream's time base (s); None where ffmpeg cannot say."""
    import subprocess

    try:
        import imageio_ffmpeg

        out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path),
                              "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        base = re.search(r"^#tb 0: (\d+)/(\d+)", out, re.M)
        rows = [line.split(",") for line in out.splitlines() if line and not line.startswith("#")]
        dts, pts = [int(r[1]) for r in rows], [int(r[2]) for r in rows]
    except (ImportError, OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None
    if base is None or not rows or int(base.group(2)) == 0:
        return None
    # an AVI's packets may have no presentation time (ffmpeg's NOPTS, -2**63, read as a time: 3.7e20 ms apart): their
    # decoding times, one a frame, else nothing to say
    stamps = pts if NO_TIME not in pts else dts if NO_TIME not in dts else None
    if stamps is None:
        return None
    t = np.sort(np.asarray(stamps, np.float64))
    t = t[t >= 0]  # the packets an edit list skips (a trimmed MP4) come before its start: no frames, not lost ones
    if len(t) == 0 or len(np.unique(t)) != len(t):
        return None
    tick = int(base.group(1)) / int(base.group(2))
    return t * tick, tick


#: ffmpeg's "no timestamp"
NO_TIME = -(2**63)


def _check_video_container(path: Path) -> None:
    """Refuse truncated AVI (RIFF) and MP4/MOV (ISO-BMFF) files, which ffmpeg reads partly."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] == b"RIFF":
            riff = int.from_bytes(head[4:8], "little")
            if riff + 8 > size:
                _fail(path, f"not a readable video file (truncated: {size} of {riff + 8} bytes)")
            return
        if head[4:8] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
            return  # unknown container: leave it to ffmpeg
        pos = 0
        while pos < size:  # walk the top-level boxes
            f.seek(pos)
            hdr = f.read(16)
            if len(hdr) < 8:
                _fail(path, "not a readable video file (truncated inside a box header)")
            box = int.from_bytes(hdr[:4], "big")
            if box == 1:
                box = int.from_bytes(hdr[8:16], "big")
            elif box == 0:
                return  # box extends to the end of the file
            if box < 8 or pos + box > size:
                _fail(path, f"not a readable video file (truncated: box {hdr[4:8]!r} runs past the end)")
            pos += box


# --------------------------------------------------------------------------- NumPy
_FRAME_KEYS = ("frames", "cine", "images", "image", "data")
_SPACING_KEYS = ("spacing", "pixel_spacing_mm", "pixel_spacing", "pixel_size_mm", "pixel_size_m")
#: an npz's members that are no frames
_NOT_FRAMES = ("labels", "landmarks", "unit", "mask", *_SPACING_KEYS)


def _pick_slice(arr: np.ndarray, path: Path, slice: int | None, what: str) -> tuple[np.ndarray, int]:
    """``(S, T, H, W)`` -> ``(T, H, W)`` at ``slice`` (default 0); 3-D and 2-D pass through."""
    if arr.ndim != 4:
        return arr, 1
    k = 0 if slice is None else int(slice)
    if not 0 <= k < arr.shape[0]:
        _fail(path, f"slice={k} is out of range: {what} has {arr.shape[0]} slice(s)")
    return arr[k], arr.shape[0]


def _numpy_frames(shape) -> tuple[int, int, int]:
    """``(T, H, W)`` of one sequence that an array of ``shape`` reads as (:func:`_read_numpy`: colour last, slices
    first)."""
    dims = [int(n) for n in shape]
    if len(dims) in (3, 4) and dims[-1] in (3, 4) and dims[-2] > 4:
        dims = dims[:-1]
    if len(dims) == 4:  # (S, T, H, W): one slice position
        dims = dims[1:]
    if len(dims) < 2:
        return 1, 1, math.prod(dims)
    return math.prod(dims[:-2]), dims[-2], dims[-1]


def _npy_header(fp) -> tuple[tuple, np.dtype]:
    """``(shape, dtype)`` from an ``.npy`` header, reading nothing else."""
    fmt = np.lib.format
    version = fmt.read_magic(fp)
    reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _fortran, dtype = reader(fp)
    return tuple(shape), np.dtype(dtype)


def _npz_member_shape(z, key: str, path: Path) -> tuple:
    """Shape of one npz member from its header, after checking its claimed size (nothing allocated)."""
    info = z.zip.getinfo(_npz_member(z, key))
    shape, dtype = _npz_header(z, key)
    n = _check_claim(path, shape, f"array {key!r}")
    if n * dtype.itemsize > info.file_size:
        _fail(path, f"truncated: array {key!r} claims {n * dtype.itemsize:,} bytes, its zip entry holds {info.file_size:,}")
    return shape


#: the most bytes an npz member that holds no numbers (a unit's text) may claim
MAX_TEXT_BYTES = 2**20


def _check_npy_dtype(path: Path, dtype: np.dtype, n: int, what: str) -> None:
    """Refuse from its header an array that holds no numbers and is not small text: a 4 MB npz of four 1 GiB void
    items took 6.2 GB and 39 s to be refused after numpy decompressed it (the voxels counted 4)."""
    if dtype.kind in "biufc" and dtype.itemsize <= 16:
        return
    if dtype.kind in "US" and n * dtype.itemsize <= MAX_TEXT_BYTES:
        return
    _fail(path, f"{what} has dtype {dtype} ({n * dtype.itemsize:,} bytes): expected numbers")


def _npz_member(z, key: str) -> str:
    """The zip entry of npz member ``key``."""
    return key + ".npy" if key + ".npy" in z.zip.namelist() else key


def _npz_header(z, key: str) -> tuple[tuple, np.dtype]:
    """``(shape, dtype)`` of an npz member, from its header (nothing else read)."""
    with z.zip.open(_npz_member(z, key)) as fp:
        return _npy_header(fp)


def _read_member(z, key: str, path: Path) -> np.ndarray:
    """An npz member the reader uses (frames, labels, landmarks, spacing, unit), its header checked before numpy
    decompresses it; the members it does not use (a ``meta`` dict, dates, file names) are never read."""
    _check_member(z, key, path)
    return z[key]


def _check_member(z, key: str, path: Path) -> None:
    shape, dtype = _npz_header(z, key)
    _check_npy_dtype(path, dtype, _check_claim(path, shape, f"array {key!r}"), f"array {key!r}")


def _numpy_colour(arr: np.ndarray) -> bool:
    """Whether an array read from ``.npy``/``.npz`` holds colour frames: 3 or 4 samples on its last axis, ``(H, W, C)``
    or ``(T, H, W, C)``."""
    return _colour_shape(arr.shape, (3, 4))


def _colour_shape(shape: tuple, ndims=(3,)) -> bool:
    """Whether arrays of ``shape`` are colour: 3 or 4 samples on the last axis, of ``ndims`` dimensions."""
    return len(shape) in ndims and shape[-1] in (3, 4) and shape[-2] > 4


#: the words of an npz member's name that say it holds no frame (a date's cloud or quality mask, coordinates, elevation,
#: a quick-look), as whole words of the name (``cloud_2016``, ``lat``; not ``latest``, ``demo``, ``invalid``)
_AUXILIARY_WORDS = frozenset({"mask", "masks", "cloud", "clouds", "cloudmask", "qa", "quality", "valid", "validity",
                              "lat", "lon", "latitude", "longitude", "dem", "elev", "elevation", "quicklook", "ql",
                              "preview", "thumb", "thumbnail", "scl"})


def _auxiliary(key: str) -> bool:
    """Whether an npz member's name says it holds no frame (:data:`_AUXILIARY_WORDS`; ``x``, ``y``: grids)."""
    words = [w for w in re.split(r"[^a-z]+", key.lower()) if w]
    return key.lower() in ("x", "y", "xx", "yy") or any(w in _AUXILIARY_WORDS for w in words)


def _npz_frames_keys(z, keys: list[str], path: Path) -> tuple[str | None, list[str]]:
    """``(key, [])`` of the npz member holding the frames (``frames``, ``cine``, ... or the first stack of 3 or more
    dimensions), or ``(None, images)``: its images of one size and type, each a frame in the order stored (a
    bi-temporal pair saved as ``ref=``, ``tgt=``: 2-D, or colour ``(H, W, 3)`` dates). Images of other sizes or types
    beside them are left out, and so are images named as no frame (:func:`_auxiliary`: cloud masks, coordinate grids,
    elevation, quick-looks); several sets are asked which. Else a clear error naming what the file holds."""
    from .contours import is_mask_key

    def shape(k):
        return _npz_member_shape(z, k, path)

    def kind(k):
        return shape(k), _npz_header(z, k)[1]

    def said(ks):
        return ", ".join(f"{k} {'x'.join(map(str, shape(k)))} {_npz_header(z, k)[1]}" for k in ks)

    key = next((k for k in _FRAME_KEYS if k in keys), None)
    if key is not None:
        return key, []
    candidates = [k for k in keys if k not in _NOT_FRAMES and not is_mask_key(k)]
    stacks = [k for k in candidates if len(shape(k)) >= 3 and not _colour_shape(shape(k))]
    if len(stacks) > 1:  # (fuzzing review) the first was taken without a word
        warnings.warn(f"{path.name}: npz holds several stacks ({said(stacks)}): registering {stacks[0]!r}, the first; "
                      "save the frames as 'frames' to choose", stacklevel=user_stacklevel())
    if stacks:
        return stacks[0], []  # a (T, H, W) stack (or (S, T, H, W), (T, H, W, C))
    images = [k for k in candidates if _colour_shape(shape(k)) or (len(shape(k)) == 2 and min(shape(k)) > 4)]
    # named as what no frame is (clouds, grids, a DEM, quick-looks): left out, said where they are of the frames' kind
    left_out = [k for k in images if _auxiliary(k)]
    images = [k for k in images if not _auxiliary(k)]
    sets: dict = {}
    for k in images:
        sets.setdefault(kind(k), []).append(k)
    dates = [ks for ks in sets.values() if len(ks) >= 2]
    if len(dates) == 1:
        alike = [k for k in left_out if kind(k) == kind(dates[0][0])]
        if alike:  # (a float64 pair beside float64 lat/lon grids: 4 frames, the grids registered as dates)
            warnings.warn(f"{path.name}: {', '.join(alike)} left out of the frames (named as masks, grids or "
                          f"quick-looks); the frames: {', '.join(dates[0])}", stacklevel=user_stacklevel())
        return None, dates[0]
    if len(dates) > 1:
        _fail(path, f"npz holds several sets of images ({'; '.join(said(ks) for ks in dates)}): which are the frames? "
                    "save them as 'frames' with shape (T, H, W)")
    if not images:
        _fail(path, f"npz holds no image array (keys: {', '.join(keys) or 'none'}); "
                    "expected 'frames' with shape (T, H, W), or 2-D images of one size")
    if len(images) == 1:
        if _colour_shape(shape(images[0])):
            return images[0], []  # one colour image: one frame (register refuses it, saying so)
        _fail(path, f"npz holds one image ({said(images)}): a sequence needs at least 2 frames (save them as "
                    "'frames' with shape (T, H, W), or as 2-D images of one size)")
    if len({(len(shape(k)), _npz_header(z, k)[1]) for k in images}) == 1:  # of one type, all grey or all colour
        _fail(path, f"npz's images differ in size ({said(images)}): crop or resample them to one size")
    _fail(path, f"npz's images differ in type or size ({said(images)}): the frames are images of one size and "
                "type (all grey or all colour); save them so")
    raise AssertionError("unreachable")


#: the members that make an npz one of the package's own (:func:`~napari_tlreg.io.bundled.pack_sequence`: a sample's)
PACKED_KEYS = ("frames", "frame_levels", "metadata_json", "spacing", "unit", "name")


def _read_packed(z, keys: list[str], path: Path) -> Sequence:
    """An npz in the package's own format (a sample's file opened by its path) read as the sample is, with its sector
    mask, label names, reference frame and true field: read as any npz, the bundled echo lost its mask, so NMSR
    registered (and scored) it over the whole frame, with another λ, without a word."""
    from .bundled import unpack_sequence

    for k in keys:
        _check_member(z, k, path)
    shape = _npz_member_shape(z, "frames", path)
    if len(shape) != 3:
        _fail(path, f"frames {shape}: expected (T, H, W)")
    _check_frames(path, shape)
    for k, want in (("labels", shape), ("mask", shape[1:]), ("displacement", (shape[0], 2, *shape[1:]))):
        if k in keys and _npz_member_shape(z, k, path) != want:
            _fail(path, f"{k} {_npz_member_shape(z, k, path)} does not match frames {shape}")
    levels = np.asarray(z["frame_levels"], np.float64)
    if levels.size != 1 or not np.isfinite(levels).all() or float(levels.ravel()[0]) <= 0:
        _fail(path, f"frame_levels {levels.ravel()[:3].tolist()}: expected one positive number (the frames' full scale)")
    try:
        seq = unpack_sequence(z, source=str(path))
    except json.JSONDecodeError as e:  # said as they are, not "truncated or corrupt"
        _fail(path, f"its metadata_json is no JSON ({e})")
    except (ValueError, TypeError) as e:  # labels that are no ids (the Sequence's own words, less the sample's name)
        _fail(path, str(e).split(": ", 1)[-1])
    seq.name = _stem(path)
    seq.spacing = checked_spacing(seq.spacing, path.name)  # a bad pixel size: said, measured in pixels
    if seq.spacing is None:
        seq.unit = "px"
    return seq


def _read_numpy(path: Path, slice: int | None = None, **_) -> Sequence:
    """``.npy`` (one array) or ``.npz`` with ``frames`` (or ``cine``, or the first >=3-D array, or else its 2-D images of
    one size, in the order stored: a pair saved as ``ref=``, ``tgt=``), optional ``labels`` (or an expert's masks,
    ``endo``, ``epi``, ``myo`` and their frame flags: :func:`~napari_tlreg.io.contours.mask_labels`), ``spacing``
    ``(row, col)`` (unit ``unit`` key, default mm; ``pixel_size_m``: metres), ``landmarks``. A sample's file (the
    package's own format, :data:`PACKED_KEYS`) is read as that sample, its region ``mask`` with it."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:4] == b"PK\x05\x06":  # a zip's end record first: np.savez with no arrays
        _fail(path, "npz holds no arrays")
    if magic != b"\x93NUMPY" and magic[:4] != b"PK\x03\x04":
        _fail(path, "not a NumPy .npy/.npz file (unrecognised header)")
    if magic == b"\x93NUMPY":  # check the header's claim before numpy allocates it
        with open(path, "rb") as f:
            shape, dtype = _npy_header(f)
            offset = f.tell()
        n = _check_claim(path, shape, "array")
        _check_npy_dtype(path, dtype, n, "array")
        _check_stored(path, offset, n * dtype.itemsize)
        _check_frames(path, _numpy_frames(shape))
    from .contours import LABEL_NAMES, is_mask_key, mask_labels

    loaded = np.load(path, allow_pickle=False)
    labels = landmarks = spacing = None
    unit = "mm"
    meta: dict = {}
    if isinstance(loaded, np.ndarray):
        arr = loaded
    else:
        with loaded as z:
            keys = list(z.files)
            if set(PACKED_KEYS) <= set(keys):
                return _read_packed(z, keys, path)
            key, planes = _npz_frames_keys(z, keys, path)
            if "labels" in keys:
                _npz_member_shape(z, "labels", path)
            if key is None:
                _check_frames(path, _numpy_frames((len(planes), *_npz_member_shape(z, planes[0], path))))
                arr = np.stack([_read_member(z, k, path) for k in planes])
                meta["npz_keys"] = planes
            else:
                _check_frames(path, _numpy_frames(_npz_member_shape(z, key, path)))
                arr = _read_member(z, key, path)
                meta["npz_key"] = key
            if "labels" in keys:
                labels = _read_member(z, "labels", path)
            elif any(is_mask_key(k) for k in keys):  # an expert's masks: the Sunnybrook crops' endo, myo...
                for k in keys:
                    if is_mask_key(k):
                        _check_member(z, k, path)  # (mask_labels reads it)
                try:  # of the grey frames' shape
                    labels = mask_labels(z, arr.shape[:-1] if _numpy_colour(arr) else arr.shape)
                except SequenceReadError as exc:
                    _fail(path, str(exc))
                if labels is not None:
                    meta["label_names"] = dict(LABEL_NAMES)
            if "landmarks" in keys:
                landmarks = np.asarray(_read_member(z, "landmarks", path), dtype=np.float64)
            skey = next((k for k in _SPACING_KEYS if k in keys), None)
            if skey is not None:
                s = np.asarray(_read_member(z, skey, path), dtype=np.float64).ravel()
                spacing = (s[0], s[0]) if s.size == 1 else (s[-2], s[-1])
                if skey.endswith("_m"):
                    unit = "m"
            if "unit" in keys:
                unit = str(_read_member(z, "unit", path))
    if arr.dtype.kind not in "biuf":
        _fail(path, f"array has dtype {arr.dtype}; expected numbers")
    spacing = checked_spacing(spacing, path.name)
    rgb = None
    if _numpy_colour(arr):
        arr, rgb = _split_rgb(arr, True)

    def one(k):
        a, n_slices = _pick_slice(arr, path, k, "the array")
        m = dict(meta)
        if n_slices > 1:
            m.update(slice=int(k or 0), n_slices=n_slices)
        frames = _as_thw(a, path)
        if rgb is not None:
            m["rgb"] = rgb.reshape(frames.shape + rgb.shape[-1:])  # colour comes as (T, H, W, C): one slice
        lab = None
        if labels is not None:
            lab, _ = _pick_slice(np.asarray(labels), path, k, "labels")
            lab = _as_thw(lab, path, "labels")
            if lab.shape != frames.shape:
                _fail(path, f"labels {lab.shape} do not match frames {frames.shape}")
            try:
                lab = as_label_ids(lab)
            except ValueError as e:
                _fail(path, str(e))
        else:  # none of its own: <stem>_labels.* beside it, as a TIFF's or NIfTI's (a .npy's were never read)
            lab, src = _sibling_labels(path, frames.shape, k, n_slices)
            if src:
                m["labels_source"] = src
        return Sequence(frames, labels=lab, spacing=spacing, unit=unit if spacing else "px",
                        landmarks=landmarks, metadata=m)

    return _per_slice(slice, arr.shape[0] if arr.ndim == 4 else 1, one)


# --------------------------------------------------------------------------- pictures
#: Pillow's modes read as they are: grey of 1 bit (bool), 8, 16 and 32 bits, and float; RGB. Any other (palette, CMYK,
#: YCbCr, LAB, with alpha) is converted to RGB first (a CMYK JPEG's four channels were taken for RGBA: grey 94 for 161)
_PICTURE_AS_IS = ("1", "L", "I;16", "I;16L", "I;16B", "I", "F", "RGB")
#: the bits of a grey mode's values (a folder mixing them stacks values of other scales: said)
_PICTURE_BITS = {"1": 1, "L": 8, "LA": 8, "P": 8, "PA": 8, "I;16": 16, "I;16L": 16, "I;16B": 16, "I": 32, "F": 32}


def _picture_header(path: Path) -> tuple[int, int, int, str]:
    """``(frames, height, width, mode)`` of a picture file, from its header (Pillow opens lazily: the pixels are not
    decoded)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # a large scan is no attack; said below
        try:
            with Image.open(path) as im:
                return int(getattr(im, "n_frames", 1) or 1), im.size[1], im.size[0], im.mode
        except Image.DecompressionBombError as e:  # over twice Pillow's MAX_IMAGE_PIXELS (~179 M pixels a picture)
            _fail(path, f"picture too large for Pillow to decode ({_reason(e).split(',')[0]}): convert it to TIFF, or "
                        "crop or downsample it")


def _read_picture(path: Path, **_) -> Sequence:
    """A picture via Pillow: PNG (1, 8 or 16 bits), JPEG (CMYK too), BMP, WebP or GIF. One frame (a folder of them is
    a sequence: :func:`frame_files`), or an animated GIF's, PNG's or WebP's frames (an echo clip saved for slides),
    their interval kept (``frame_time_ms``; frames of uneven durations: their times, ``trigger_times_ms``, said).
    Colour -> luminance, the colour kept; colour whose channels are equal (a GIF's grey palette) is grey; alpha is
    dropped. No pixel size: a picture's dots per inch are a printer's, not a scan's. ``metadata["bits"]``: the bits of
    its values, a channel's for colour (see :func:`stack_files`)."""
    from PIL import Image, ImageSequence

    n, h, w, mode = _picture_header(path)
    _check_claim(path, (n, h, w), "picture")
    _check_frames(path, (n, h, w))
    frames, durations = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            for frame in ImageSequence.Iterator(im):
                frame.load()  # (WebP gives a frame's duration once it is decoded)
                durations.append(frame.info.get("duration"))
                if frame.mode == "LA":
                    frame = frame.convert("L")
                elif frame.mode not in _PICTURE_AS_IS:
                    frame = frame.convert("RGB")
                frames.append(np.asarray(frame))
    if len(frames) != n or any(f.shape[:2] != (h, w) for f in frames):
        _fail(path, f"picture decoded as {len(frames)} frame(s) of {frames[0].shape[:2] if frames else '?'}, its header "
                    f"says {n} of {h}x{w}")
    if any(f.ndim == 3 for f in frames):  # grey frames among colour ones (an animated GIF's): as colour
        frames = [f if f.ndim == 3 else np.repeat(f[..., None], 3, axis=-1) for f in frames]
    arr = np.stack(frames)
    if arr.ndim == 4 and _grey_channels(arr):
        grey, rgb = arr[..., 0].astype(np.float32), None
    elif arr.ndim == 4:
        grey, rgb = _split_rgb(arr, True)
    else:
        grey, rgb = arr.astype(np.float32), None
    meta: dict = {"rgb": rgb} if rgb is not None else {}
    # a grey picture's bits by its mode, a colour one's by its values' type (Pillow's colour is 8 bits a channel)
    meta["bits"] = _PICTURE_BITS.get(mode, 8) if rgb is None else 8 * rgb.dtype.itemsize
    ms = [float(d) for d in durations if d]
    if n > 1 and len(ms) == n and min(ms) > 0:
        gaps = ms[:-1]  # the last frame's duration is a loop's hold, no interval between two frames
        if max(gaps) - min(gaps) > VIDEO_UNEVEN * float(np.median(gaps)):  # as a video's
            meta["trigger_times_ms"] = [0.0, *np.cumsum(ms[:-1]).tolist()]
            meta["frame_time_ms"] = float(np.median(gaps))
            warnings.warn(f"{path.name}: its frames are not evenly spaced in time ({min(gaps):g} to {max(gaps):g} "
                          "ms apart); each frame is read as recorded, their times kept (trigger_times_ms)",
                          stacklevel=user_stacklevel())
        else:
            meta["frame_time_ms"] = float(np.median(gaps))
    return Sequence(grey, metadata=meta)


_READERS = {
    "tiff": _read_tiff,
    "nifti": _read_nifti,
    "dicom": _read_dicom,
    "video": _read_video,
    "npz": _read_numpy,
    "picture": _read_picture,
}
