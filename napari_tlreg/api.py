"""``tl.register``: validate, normalise, run an engine, and package the result.

This is the one place where input checks live, so every face (Python, CLI, viewer, Dask
batch) gets the same clear errors.
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .core.arrays import frame_time_ms, plain
from .core.notes import say
from .core.normalize import NORMALIZATIONS, check_mode
from .engines import get_engine
from .engines import methods as _methods
from .engines.base import Cancelled, RunContext
from .io.sequence import MAP_UNIT, Sequence, not_real_reason
from .result import RegistrationResult

__all__ = ["register", "methods", "method_params", "available_devices", "out_of_memory", "Cancelled", "validate_frames", "check_shape", "blank_frames",
           "available_memory", "check_memory",
           "MAX_VOXELS", "DEFAULT_METHOD", "PAIR_METHOD", "suggested_method", "NORMALIZATIONS"]

#: Sequences larger than this many voxels (T*H*W) are refused before anything is allocated
#: (2**27 float32 voxels = 512 MiB per copy; an engine holds several copies).
MAX_VOXELS = 2**27
MIN_SIZE = 8
#: how to mend frames with NaN or infinite values, in Python's words (the Register dock says it in its own)
NONFINITE_HINT = ("fill or mask them first (no-data: fill it with one value, e.g. np.nan_to_num(frames); the pair "
                  "engines' mask_nodata ignores a border filled so)")
DEFAULT_METHOD = "tlrn"
#: the method the viewer starts on for a pair of dates: HSyN, trained on satellite pairs, the closest of the pair
#: engines to the real Sentinel-2 pair's shift and to the semi-synthetic pairs' truth (README, pair engines); the
#: default, trained on cine, gave that pair a field worse than none
PAIR_METHOD = "hsyn"
#: the words before ":" of register's own steps after the engine's (its result warped, measured and checked)
RESULT_STAGE = "checking the result"


def suggested_method(n_frames: int, unit: str | None = None, geotiff: bool = False) -> str:
    """The method to start on for ``n_frames`` frames whose pixel size is in ``unit``: :data:`PAIR_METHOD` for two
    frames of a map (pixels in metres, or ``geotiff``: a GeoTIFF's, one in degrees measured in pixels; a pair of dates), else
    :data:`DEFAULT_METHOD`. Two frames in pixels could be anything: on the 28 Sunnybrook ED/ES pairs given without
    their pixel size HSyN's Dice was 0.8965 against tlrn's 0.9249 (``benchmarks/tlrn_paper.py --sections edpairs``).
    :func:`register`'s own default stays :data:`DEFAULT_METHOD` (the API's)."""
    return PAIR_METHOD if n_frames == 2 and (unit == MAP_UNIT or geotiff) else DEFAULT_METHOD


def methods() -> dict[str, str]:
    """``{name: one-line description}`` of the registration engines."""
    return _methods()


def method_params(name: str) -> dict[str, dict[str, Any]]:
    """The parameters of method ``name``:
    ``{param: {"default": value, "choices": tuple | None, "help": str, "advanced": bool, "region": bool}}``.

    The type of ``default`` is the type :func:`register` accepts for that parameter (see
    ``Engine.validate_params``); ``advanced`` parameters are those few users change (the viewer
    folds them away); ``region`` ones take an ``(H, W)`` mask (the viewer offers Labels layers).
    Unknown names raise ``ValueError`` listing the known ones.
    """
    engine = get_engine(name)
    choices = dict(getattr(engine, "choices", None) or {})
    helps = dict(getattr(engine, "help", None) or {})
    advanced = set(getattr(engine, "advanced", None) or ())
    region = set(getattr(engine, "region_params", None) or ())
    return {
        key: {"default": default, "choices": tuple(choices[key]) if key in choices else None, "help": helps.get(key, ""),
              "advanced": key in advanced, "region": key in region}
        for key, default in dict(engine.defaults).items()
    }


def param_problem(method: str, key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for parameter ``key`` of ``method`` beside the other defaults (the message
    :func:`register` would give), or None: the viewer's form says it as the value is typed, not only at Run."""
    try:
        get_engine(method).validate_params({key: value})
    except ValueError as exc:
        return str(exc)
    return None


#: torch's threads in the process this one was forked from, where that one had more than one (None: not forked)
_FORKED_FROM_THREADS: int | None = None


def _after_fork_in_child() -> None:
    """torch's OpenMP thread pool does not survive ``fork``: a registration in a forked worker (``multiprocessing.Pool``,
    ``ProcessPoolExecutor``: fork is Linux's default before Python 3.14) of a process that had registered on more
    than one thread waited for ever in its first convolution. The child runs torch on one thread instead."""
    global _FORKED_FROM_THREADS
    torch = sys.modules.get("torch")
    if torch is None:
        return
    n = torch.get_num_threads()
    if n > 1:
        torch.set_num_threads(1)
        _FORKED_FROM_THREADS = n


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def fork_message(threads: int) -> str:
    return (f"this process was forked from one that ran torch on {threads} threads: torch runs on 1 thread here (its "
            "thread pool does not survive a fork, and waited for ever); start worker processes with multiprocessing's "
            "'spawn' or 'forkserver' method to use more")


def own_region_params(method: str, sequence, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with each region parameter of ``method`` (nmsr ``mask``) the caller left unset filled
    with ``sequence``'s own region (``metadata["mask"]``, e.g. the bundled echo's sector), as the
    viewer's form starts on it and as a sequence's own labels are used; an empty value (``mask=""``)
    asks for the whole frame. The CLI's ``register`` and ``batch`` use this, and :func:`register` when
    it is given a sequence rather than frames. Likewise a file's own no-data value (``metadata["nodata"]``, a GeoTIFF's
    GDAL_NODATA tag) fills a pair engine's ``nodata``, and a sample's model (``metadata["weights"]``: ``{method: name}``,
    the lemniscate's) the method's ``weights`` (:func:`own_param_note` says each)."""
    meta = getattr(sequence, "metadata", None) or {}
    own = meta.get("mask")
    out = dict(params)
    weights = (meta.get("weights") or {}).get(method) if isinstance(meta.get("weights"), dict) else None
    if weights and "weights" in method_params(method) and "weights" not in out:
        out["weights"] = str(weights)
    # a file's own no-data value (a GeoTIFF's GDAL_NODATA) for a method that takes one, unless the user said otherwise
    # (and some pixel holds it: a full tile of a file that declares 0 was told "no pixel equals the no-data value")
    if meta.get("nodata") is not None and "nodata" in method_params(method) and "nodata" not in out \
            and bool(out.get("mask_nodata", True)) and given_nodata(sequence.frames, meta["nodata"]).any():
        out["nodata"] = float(meta["nodata"])
    if own is None or np.ndim(own) != 2:
        return out
    frames = np.shape(getattr(sequence, "frames", ()))[-2:]
    for key, spec in method_params(method).items():
        if spec.get("region") and key not in out:
            if len(frames) == 2 and np.shape(own) != frames:  # a sequence cropped without its mask: said as such
                raise ValueError(f"{method}: the sequence's own region (metadata['mask'], "
                                 f"{'x'.join(map(str, np.shape(own)))}) does not fit its frames "
                                 f"({'x'.join(map(str, frames))}): crop it with the frames, or pass {key}=''")
            out[key] = np.asarray(own, bool)
    return out


def own_region(sequence) -> np.ndarray | None:
    """A sequence's own region (``metadata["mask"]``, e.g. the real echo's sector) as an ``(H, W)`` bool array when it
    fits the frames, else None: where a run without a mask of its own is drawn (the montage, as the viewer)."""
    own = (getattr(sequence, "metadata", None) or {}).get("mask")
    frames = np.shape(getattr(sequence, "frames", ()))[-2:]
    return np.asarray(own, bool) if own is not None and np.ndim(own) == 2 and np.shape(own) == frames else None


def own_param_note(key: str, value, python: bool = False) -> str:
    """What the CLI and ``batch`` say of a parameter :func:`own_region_params` filled from the sequence itself
    (``python``: :func:`register`'s note, in its own words)."""
    if key == "weights":
        return (f"weights = {value}, the model trained for this sample ("
                + ("weights=''" if python else "--param weights=") + " for the method's default)")
    if key == "nodata":
        return (f"nodata = the file's no-data value, {float(value):g} (--param nodata=VALUE for another, "
                "--param nodata= to find it by the rule, --param mask_nodata=false for none)")
    return f"{key} = the sequence's own region ({int(np.sum(value))} px); --param {key}= for the whole frame"


def physical_size(sequence) -> tuple[tuple[float, float] | None, str | None]:
    """``(spacing, unit)`` of a :class:`Sequence` as :func:`register` takes them: none for one in pixels (a sample
    without a pixel size, a bare TIFF: its nominal 1 x 1 is no physical size)."""
    return (None, None) if sequence.unit == "px" else (sequence.spacing, sequence.unit)


def check_unit(unit, spacing) -> str:
    """``unit`` (None: mm) as :func:`register` takes it: a length unit's name (mm, m, um, cm, ...), or ``"px"`` with no
    spacing; a clear ``ValueError`` otherwise. Unchecked, ``unit="px"`` with a spacing gave ``*_mm`` columns of
    values scaled by it under a result that said pixels, ``""`` columns named ``hd_``, and an unknown unit results
    whose images were saved without their pixel size."""
    from .io.readers import _unit_scale

    if unit is None:
        return "mm"
    if not isinstance(unit, str):
        raise ValueError(f"unit must be a length unit's name, such as 'mm' or 'm', got {unit!r}")
    if unit == "px":
        if spacing is not None:
            raise ValueError("unit 'px' is no physical size: give spacing=None to measure in pixels, or the spacing's "
                             "length unit ('mm', 'm', ...)")
        return unit
    if _unit_scale(unit) is None:
        raise ValueError(f"unit {unit!r} is not a length unit napari-tlreg knows: mm, m, km, cm, um, nm, in "
                         "(or their names, 'millimeter'...)")
    return unit


def run_params(method: str, params: dict[str, Any], shape, spacing=None, unit: str | None = None) -> dict[str, Any]:
    """``method``'s parameters as a run on frames of ``shape`` takes them: validated, and the choices that depend on
    the frames made (tlrn's scale from their pixel size; ``unit`` None: mm)."""
    engine = get_engine(method)
    return engine.for_frames(engine.validate_params(params), tuple(shape), spacing, "mm" if unit is None else str(unit))


#: MSE (frames normalised to [0, 1]) by which a warped reference must match worse than the reference as it is to be
#: called worse: an RMS difference of 0.3 % of the range. Without it, a date repeated, which the pair engines return
#: as (nearly) no motion, was "worse" by 1.6e-12 (a resampling at 1e-6 px) and the user told the field did not fit.
WORSE_TOLERANCE = 1e-5


def _match(frames, warped, reference: int, valid=None):
    """``(frames, MSE after, MSE before)``: the frames other than the reference, the (normalised) frames' MSE against
    the warped reference and against the reference left as it is (tensors), over ``valid`` where given."""
    import torch

    # a frame with nothing to compare (all no-data) is left out: compared whole it was "worse" by its fill's values
    others = [t for t in range(frames.shape[0]) if t != reference and (valid is None or bool(valid[t].any()))]
    ref = frames[reference].float()

    def mse(a, t):
        sq = (a - frames[t].float()) ** 2
        return sq[valid[t]].mean() if valid is not None and bool(valid[t].any()) else sq.mean()

    if not others:
        return others, torch.zeros(0), torch.zeros(0)
    # frame by frame: no copies of the whole sequence beside the run's own arrays (0.5 GB each at MAX_VOXELS)
    after = torch.stack([mse(warped[t].float(), t) for t in others])
    before = torch.stack([mse(ref, t) for t in others])
    return others, after, before


def worse_than_none(frames, warped, reference: int, valid=None) -> tuple[float, float, int, int] | None:
    """``(MSE after, MSE before, frames worse, frames)`` when the warped reference matches the (normalised) frames
    worse, on the mean over the frames other than the reference, than the reference left as it is (by more than
    :data:`WORSE_TOLERANCE`); else None. ``valid`` ``(T, H, W)`` bool: the pixels each frame's MSE is taken over (the
    pair engines' no-data left out, :func:`_valid_pixels`: a fill at 65535 on one date, which no field can match, said
    a right field "does not fit")."""
    others, after, before = _match(frames, warped, reference, valid)
    if not others or float(after.mean()) <= float(before.mean()) + WORSE_TOLERANCE:
        return None
    return float(after.mean()), float(before.mean()), int((after > before + WORSE_TOLERANCE).sum()), len(others)


def worse_frames(frames, warped, reference: int, valid=None) -> list[tuple[int, float, float]]:
    """``[(t, MSE after, MSE before), ...]``: the frames the warped reference matches worse than the reference left as
    it is (by more than :data:`WORSE_TOLERANCE`), as :func:`worse_than_none` takes them one by one. For the engines that
    register each frame on its own (:attr:`~napari_tlreg.engines.base.Engine.pairwise`): one of four dates 25.9 px off,
    its MSE up 0.7 %, was not said while the mean over the dates was lower."""
    others, after, before = _match(frames, warped, reference, valid)
    return [(t, float(a), float(b)) for t, a, b in zip(others, after, before) if float(a) > float(b) + WORSE_TOLERANCE]


def _inner_fill_of(raw) -> list:
    """:func:`~napari_tlreg.core.nodata.inner_fill` of the frames as given, where they are a raster's digital numbers:
    integers (read as float32 too; not booleans); a float image's dark cavity at 0 (the synthetic echo's) is no cloud
    mask."""
    from .core.nodata import inner_fill

    values = np.asarray(plain(raw, "frames"))
    sample = values.reshape(-1)[:: max(1, values.size // 2**16)]
    return inner_fill(values) if values.dtype != bool and np.array_equal(sample, np.round(sample)) else []


#: ``suggested`` for two frames not known to be a map's (:func:`_another_method`)
TWO_FRAMES = "two frames"


def _another_method(method: str, suggested: str | None) -> str:
    """What a warning that a field does not fit suggests: the other pair engine for a map's dates (``suggested``:
    :func:`suggested_method`'s choice; nmsr was named to a Sentinel-2 pair: satellite review), else nmsr."""
    if suggested == PAIR_METHOD:
        return f" ({'multistep' if method == PAIR_METHOD else PAIR_METHOD}, for dates of a map)"
    if suggested == TWO_FRAMES:  # two frames in pixels, a map's or not: both (the CLI's first line named hsyn, this
        # nmsr, for a pair of plain TIFFs; remote-sensing review)
        said = ["nmsr fits the pair in front of it"] * (method != "nmsr") + [
            f"{PAIR_METHOD if method != PAIR_METHOD else 'multistep'} for dates of a map"]
        return f" ({'; '.join(said)})"
    return " (nmsr fits the sequence in front of it)" if method != "nmsr" else ""


def worse_frames_message(method: str, frames: list[tuple[int, float, float]], n: int, suggested: str | None = None) -> str:
    listed = ", ".join(f"{t} ({a:.3g} against {b:.3g})" for t, a, b in frames[:5]) + (" ..." if len(frames) > 5 else "")
    one = len(frames) == 1
    return (f"{method}: on {len(frames)} of {n} frames the warped reference matches the frame worse than the reference "
            f"left as it is (MSE, frame: {listed}): {'its field does' if one else 'their fields do'} not fit "
            f"{'that frame' if one else 'those frames'} (each frame is registered on its own); check "
            f"{'it' if one else 'them'}, or try another method" + _another_method(method, suggested))


def worse_frames_note(method: str, frames: list[tuple[int, float, float]]) -> str:
    """What a sequence engine's frames worse than none are (:func:`worse_frames`), said as a note of the run: the mean
    over the frames is better (else :func:`worse_message` warns), and the model's field, fitted to the sequence as a
    whole, can miss a frame that hardly moves (tlrn left the real echo's frame 1 at an MSE of 0.0023 against 0.0016
    unregistered, without a word)."""
    one = len(frames) == 1
    t, a, b = max(frames, key=lambda f: f[1] - f[2])  # the worst
    which = f"frame {t}" if one else f"{len(frames)} frames ({', '.join(str(f[0]) for f in frames[:5])}" + (
        " ...)" if len(frames) > 5 else ")")
    # short: the dock's status line holds it (six lines of it hid the form at 1280x720)
    return (f"{method}: {which} match{'es' if one else ''} the warped reference worse than the reference left as it "
            f"is (MSE {a:.3g} against {b:.3g}{'' if one else f' at frame {t}'}), though better on the mean"
            + ("" if method == "nmsr" else "; nmsr fits each frame"))


def provenance(engine, params: dict[str, Any], sequence=None) -> dict[str, Any]:
    """What made a result, for its ``result.json``: the software's versions, the weights (name and sha256) when the
    method used any, and the source of a :class:`Sequence` given (its file and slice position). A record of
    ``weights: ""`` and the parameters alone did not say which network, nor which code, made a result."""
    from .result import core_versions

    out: dict[str, Any] = {"versions": core_versions()}
    default = getattr(engine, "default_model", None)
    if default and "weights" in params and "pretrained" in str(params.get("init", "pretrained")):  # nmsr's warm start
        from .engines.weights import identify

        out["weights"] = identify(str(params["weights"]), default)
    meta = getattr(sequence, "metadata", None) or {}
    if meta.get("reader") == "napari_tlreg.io.bundled" and getattr(sequence, "name", ""):
        out["source"] = str(sequence.name)  # a sample by its name: its stored file holds other values than it gives
    elif meta.get("source") is not None:
        out["source"] = recorded_source(meta["source"])
        if int(meta.get("n_slices", 1)) > 1:
            out["slice"], out["n_slices"] = int(meta.get("slice", 0)), int(meta["n_slices"])
        if int(meta.get("n_series", 1)) > 1:  # a DICOM folder of several series: which one (its SeriesInstanceUID)
            out["series"] = str(meta["series_uid"])
    if isinstance(meta.get("frames"), list) and "source" in out:  # a sub-clip (Sequence[start:stop]): which frames
        out["frames"] = [int(v) for v in meta["frames"]]
    if (ms := frame_time_ms(meta)) is not None:  # the reader's (a DICOM's FrameTime): the reports' time column
        out["frame_time_ms"] = ms
    return out


def recorded_source(source) -> str:
    """A sequence's source as a result records it: a file or folder by its absolute path (found again from anywhere),
    anything else as given."""
    src = Path(str(source)).expanduser()
    return str(src.resolve()) if src.exists() else str(source)


#: a frame whose no-data takes more than this share of it is said: its field is mostly extrapolated
NODATA_SAID_ABOVE = 0.9


def nodata_frames_message(nodata: np.ndarray, declared: bool) -> str | None:
    """What ``register`` says of the frames that are mostly no-data (:data:`NODATA_SAID_ABOVE`), or None. ``declared``:
    the no-data is the user's (or the file's) value, left out of the figures however much it takes; a fill found by
    the rule over half a frame is counted (:func:`napari_tlreg.core.nodata.compared_pixels`)."""
    share = nodata.mean(axis=(1, 2))
    mostly = [(t, float(s)) for t, s in enumerate(share) if s > NODATA_SAID_ABOVE]
    if not mostly:
        return None
    listed = ", ".join(f"{t} ({100 * s:.1f} %)" for t, s in mostly[:8]) + (", ..." if len(mostly) > 8 else "")
    said = (f"frame{'s' if len(mostly) > 1 else ''} {listed} {'are' if len(mostly) > 1 else 'is'} mostly no-data: the "
            "field there is extrapolated from the few data pixels (none: the method's guess)")
    return said + (", and its figures are taken on those alone" if declared else
                   "; its figures count the whole frame (give nodata=VALUE to leave the fill out)")


def without_far_fill(frames, nodata: np.ndarray, arr: np.ndarray, reference: int) -> tuple[np.ndarray, int]:
    """:func:`validate_frames`' ``(arr, reference)`` of ``frames`` again with their no-data (``nodata``, the pixels of a
    value given) at the data's lowest value, where that function maps the frames' min..max onto [0, 1] (float64,
    wide integers): with a far fill in that range (GDAL's float no-data, -3.4e38) the data kept one level of float32.
    Else ``(arr, reference)`` as they are. :func:`register` and the viewer's opening of a result folder scale alike."""
    if not nodata.any() or nodata.all() or not rescaled_to_float32((data := plain(frames, "frames")).dtype):
        return arr, reference
    return validate_frames(np.where(nodata, data[~nodata].min(), data), reference)


def scaled_apart(nodata: np.ndarray | None, region: np.ndarray | None, shape) -> np.ndarray | None:
    """``(T, H, W)`` bool: the pixels left out of the intensities' scale (clipped to 0 or 1 with it): the no-data
    fill, and what lies outside the engine's region (:meth:`~napari_tlreg.engines.base.Engine.scaling_region`)."""
    if region is None or region.all():
        return nodata
    outside = np.broadcast_to(~region, shape)
    return outside if nodata is None else nodata | outside


def given_nodata(frames, value: float) -> np.ndarray:
    """``(T, H, W)`` bool: where ``frames`` (as given, before :func:`validate_frames` rescales float64 and wide integers)
    equal the no-data ``value``."""
    return np.asarray(plain(frames, "frames") == value)


def _valid_pixels(frames, reference: int, u, nodata=None):
    """``(T, H, W)`` bool tensor: the pixels the pair engines' worse-than-none check compares (their ``mask_nodata``):
    :func:`napari_tlreg.core.nodata.compared_pixels` of the (normalised) ``frames``' no-data
    (:func:`~napari_tlreg.core.nodata.data_pixels`, the engines' own mask; ``nodata`` ``(T, H, W)`` bool where the
    user's value gave it) and the field ``u`` (tensors), or None."""
    import torch

    from .core import fields as F
    from .core.nodata import compared_pixels, data_pixels

    def warp(image):
        moving = torch.from_numpy(image).to(u.device)[None, None].expand(len(u), 1, -1, -1)
        return F.warp(moving, u)[:, 0].cpu().numpy()

    found = ~data_pixels(frames.cpu().numpy()) if nodata is None else nodata
    valid = compared_pixels(found, reference, warp, declared=nodata is not None)
    return None if valid is None else torch.from_numpy(valid).to(frames.device)


#: the correlation below which a frame is said to be of inverted contrast: every engine's inverted frames of the regimes
#: benchmark's case came to -0.61 or less (a check run by hand); the tests' frames of noise to -0.01 to -0.23, called
#: inverted at 0 (a false alarm)
INVERTED_BELOW = -0.3


def inverted_frames(frames, warped, reference: int) -> list[tuple[int, float]]:
    """``[(t, r), ...]``: the frames whose correlation ``r`` with the reference warped onto them is below
    :data:`INVERTED_BELOW`: their contrast is inverted against the reference (every other frame inverted: tlrn's fields
    5 px off where the motion was under 1 px, with no word: a wrong field lowers their MSE too, so
    :func:`worse_than_none` is blind to it)."""
    import torch

    from .engines.pairs import weighted_ncc

    out = []
    for t in range(frames.shape[0]):  # frame by frame, as worse_than_none: no copy of the sequence
        if t == reference:
            continue
        a, b = warped[t][None, None].float(), frames[t][None, None].float()
        r = float(weighted_ncc(a, b, torch.ones_like(a))[0][0])
        if r < INVERTED_BELOW:
            out.append((t, r))
    return out


def inverted_message(method: str, frames: list[tuple[int, float]]) -> str:
    listed = ", ".join(f"{t} ({r:+.2f})" for t, r in frames[:5]) + (" ..." if len(frames) > 5 else "")
    return (f"{method}: {len(frames)} frame(s) correlate negatively with the reference warped onto them: {listed}: "
            "their contrast looks inverted against the reference; " + (
                "nmsr matches by local correlation, which an inversion does not mislead, but check them"
                if method == "nmsr" else "the engine matches intensities, so their fields are likely wrong: invert "
                "those frames first, or use nmsr (it matches by local correlation)"))


def worse_message(method: str, after: float, before: float, worse: int, n: int, suggested: str | None = None) -> str:
    """``suggested``: the method :func:`suggested_method` gives these frames (:func:`_another_method`)."""
    other = _another_method(method, suggested)
    return (f"{method}: the warped reference matches the frames worse than the reference left as it is (mean MSE "
            f"{after:.3g} against {before:.3g}; worse on {worse} of {n} frames): this field does not fit these frames; "
            "try another method" + other)


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the host or a GPU running out of memory (``MemoryError``, ``torch.OutOfMemoryError``: a
    ``RuntimeError`` that the CLI printed as a traceback and the viewer as a bug); a GPU's cached blocks are given back
    to the device when it is."""
    if isinstance(exc, MemoryError):
        return True
    import torch

    if not isinstance(exc, torch.OutOfMemoryError):
        return False
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return True


def available_devices() -> dict[str, bool]:
    """``{"auto": True, "cpu": True, "cuda": <a CUDA GPU is usable>}``: the ``device`` values :func:`register` can run on now."""
    import torch

    return {"auto": True, "cpu": True, "cuda": bool(torch.cuda.is_available())}


def check_shape(shape) -> tuple[int, int, int]:
    """The checks of :func:`validate_frames` that need only the shape ``(T, H, W)`` (before any copy is made)."""
    if len(shape) != 3:
        raise ValueError(f"frames must be a (T, H, W) sequence, got shape {tuple(shape)}")
    t, h, w = (int(s) for s in shape)
    if t < 2:
        raise ValueError(f"a sequence needs at least 2 frames to register, got {t}")
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ValueError(f"frames of {h}x{w} pixels are too small (minimum {MIN_SIZE}x{MIN_SIZE})"
                         + (f"; frames {tuple(shape)} given (H, W, T)? pass np.moveaxis(frames, -1, 0)"
                            if t >= MIN_SIZE and h >= MIN_SIZE and w < MIN_SIZE else ""))
    if t * h * w > MAX_VOXELS:
        raise ValueError(
            f"sequence of {t}x{h}x{w} = {t * h * w:,} voxels exceeds the limit of {MAX_VOXELS:,}; "
            "crop, downsample or split it"
        )
    return t, h, w


def check_reference(reference, n_frames: int) -> int:
    """``reference`` as a frame index in ``[0, n_frames)`` (negative ones count from the end), or ``ValueError``."""
    if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)):
        raise ValueError(f"reference must be an integer frame index, got {reference!r}")
    if not -n_frames <= int(reference) < n_frames:
        raise ValueError(f"reference {reference} is out of range for {n_frames} frames")
    return int(reference) % n_frames


def validate_frames(frames, reference: int = 0) -> tuple[np.ndarray, int]:
    """Check a sequence and a reference index; return frames as float32 ``(T, H, W)`` and ``reference`` in ``[0, T)``.

    Raises ``ValueError`` with a plain message for anything an engine cannot use (a constant sequence, or a constant
    reference frame, included: nothing in it can be matched).
    """
    if isinstance(frames, (str, os.PathLike)):  # was "must be a (T, H, W) sequence, got shape ()"
        raise ValueError(f"frames must be an array (T, H, W) or a Sequence, not a file or sample name ({str(frames)!r}): "
                         "load it first, tl.register(tl.load_sequence(...))")
    shape = tuple(getattr(frames, "shape", ()))
    if not shape and isinstance(frames, (list, tuple)) and len(frames) and hasattr(frames[0], "shape"):
        if any(f is None for f in frames):  # (its size said as "")
            raise ValueError(f"frame {next(i for i, f in enumerate(frames) if f is None)} is None, not an image")
        sizes = sorted({tuple(np.shape(f)) for f in frames})
        if len(sizes) > 1:  # (a small first frame said "too small", a later one numpy's "inhomogeneous shape")
            raise ValueError(f"frames of different sizes ({', '.join('x'.join(map(str, s)) for s in sizes[:4])}"
                             f"{', ...' if len(sizes) > 4 else ''}): every frame must have one size")
        shape = (len(frames), *sizes[0])  # checked before the copy (10 of 4096² took 738 MB to refuse)
        if len(shape) == 3:
            check_shape(shape)
    if not shape or isinstance(frames, (list, tuple)):
        frames = np.asarray(frames)
        shape = frames.shape
    if len(shape) == 4 and shape[-1] in (3, 4):
        raise ValueError(
            f"frames look like colour (T, H, W, {shape[-1]}); convert to grey first "
            "(tl.load_sequence does, by luminance)"
        )
    t, _, _ = check_shape(shape)
    arr = plain(frames, "frames")  # a masked array refused, a tensor (bfloat16 too) and another byte order taken
    if arr.dtype.kind not in "uif b":  # the readers' words: "numeric" refused complex numbers
        raise ValueError(not_real_reason(arr.dtype))
    given = arr
    if rescaled_to_float32(arr.dtype):
        arr = _exact_to_float32(arr)
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        per_frame = (~np.isfinite(arr)).reshape(len(arr), -1).sum(1)
        ts = np.flatnonzero(per_frame)
        which = ("every frame" if len(ts) == len(arr) else f"frame {ts[0]}" if len(ts) == 1 else
                 f"frames {', '.join(map(str, ts[:10]))}" + (f" and {len(ts) - 10} more" if len(ts) > 10 else ""))
        raise ValueError(f"frames contain {int(per_frame.sum())} NaN or infinite value(s), in {which}; {NONFINITE_HINT}")
    ref = check_reference(reference, t)
    # a constant image has no structure to match: every engine would return its own bias as a motion
    lo, hi = arr.min(), arr.max()
    if lo == hi:
        raise ValueError(f"every frame is the same constant image ({float(lo):g} everywhere): there is no motion to register")
    if arr[ref].min() == arr[ref].max():
        raise ValueError(f"the reference frame {ref} is constant ({given[ref, 0, 0]:g} everywhere): "
                         "choose a frame with image content as the reference")
    return arr, ref


def rescaled_to_float32(dtype) -> bool:
    """Whether :func:`validate_frames` maps frames of ``dtype`` onto [0, 1] (float64, integers of 4 bytes or more);
    others keep their values as float32."""
    dtype = np.dtype(dtype)
    return dtype.itemsize > 4 or (dtype.kind in "iu" and dtype.itemsize == 4)


def _exact_to_float32(arr: np.ndarray) -> np.ndarray:
    """``arr`` (float64, or integers float32 cannot hold exactly) mapped onto [0, 1] in float64, ready for the cast
    to float32: every method is blind to a positive gain and an offset (the sequence is normalised to [0, 1] by
    percentiles), but the cast is not. Values beyond float32's range would turn inf or 0, and a small variation on a
    large offset (1000 + 1e-5 noise; 16777217 next to 16777216) would round away into a "constant" sequence. Values
    that are not finite, and a truly constant sequence, are left for the checks that follow."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return arr
    lo, hi = arr.min(), arr.max()
    if lo == hi:
        return arr
    if arr.dtype.kind in "iu":  # the differences from the least value, exact (modular arithmetic, read unsigned)
        diff = (arr - lo).view(np.dtype(f"u{arr.dtype.itemsize}"))
        return diff.astype(np.float64) / float(int(hi) - int(lo))
    lo, hi = float(lo), float(hi)
    span = hi - lo
    if not np.isfinite(span):  # e.g. -1e308 and 1e308: scale first, then shift
        scaled = arr / max(abs(lo), abs(hi))
        return (scaled - scaled.min()) / (scaled.max() - scaled.min())
    return (arr - lo) / span


def available_memory() -> int | None:
    """Bytes a new allocation can still get without the system (or this process's cgroup, as in a container) running
    out: the least of Linux's ``MemAvailable`` and the cgroup's limit minus its usage; elsewhere psutil's available
    memory; None where none of these is known."""
    found = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit) as fl, open(usage) as fu:
                lim, use = fl.read().strip(), fu.read().strip()
            if lim != "max" and int(lim) < 2**60:  # cgroup v1 writes "no limit" as a huge number
                found.append(max(0, int(lim) - int(use)))
        except (OSError, ValueError):
            pass
    if not found:  # macOS, Windows: psutil (napari depends on it), where installed
        try:
            import psutil

            found.append(int(psutil.virtual_memory().available))
        except (ImportError, OSError, AttributeError):
            pass
    return min(found) if found else None


def check_memory(method: str, shape: tuple[int, int, int], params: dict[str, Any], limit: int | None = None,
                 where: str = "") -> None:
    """Refuse a CPU run that would not fit in :func:`available_memory` (the engine's :meth:`~Engine.peak_bytes`), before it
    starts: the operating system would otherwise kill the whole process (a viewer, with its unsaved work) part-way.
    ``limit``: bytes the caller's own budget leaves (e.g. a Dask worker's), named ``where`` in the message."""
    need = get_engine(method).peak_bytes(tuple(shape), params)
    avail = available_memory()
    if limit is not None and (avail is None or limit < avail):
        avail = max(0, limit)
    else:
        where = ""
    if need is None or avail is None or need <= avail:
        return
    t, h, w = shape
    raise ValueError(f"{method} on {t} frames of {h}x{w} needs about {_size(need)} of memory and {_size(avail)} is "
                     f"available{where}: crop, downsample or split the sequence, or close other programs")


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


#: a frame is blank (:func:`blank_frames`) with this many pixels off its value at most (or 0.01 % of it), isolated
BLANK_ISOLATED_PIXELS = 16


def blank_frames(frames: np.ndarray) -> list[int]:
    """Indices of the frames of ``(T, H, W)`` ``frames`` that are constant (e.g. dropped frames of a video), but for a
    few isolated pixels: nothing in them can be matched, so their fields are the engine's guess (``register`` warns
    of them). A few: at most :data:`BLANK_ISOLATED_PIXELS` or 0.01 % of the frame; isolated: no 3x3 window (edges
    replicated) holds 5 of them, so a 3x3 median removes them (a camera's hot pixels, up to 2x2 of them, show in its
    dropped frames too; a dropped frame of zeros with 3 saturated pixels was taken for a frame and given a 12 px
    field). A frame of 1-px lines or dots is not blank."""
    arr = np.asarray(frames)
    flat = arr.reshape(len(arr), -1)
    blank = flat.min(1) == flat.max(1)
    n = flat.shape[1]
    most_off = max(BLANK_ISOLATED_PIXELS, round(1e-4 * n))  # pixels off the frame's value: no more, and isolated
    for i in np.flatnonzero(~blank):
        # one value in all but a few pixels, which one of 9 pixels spread over the frame then has too (and 95 % of
        # some 4096: a frame of texture is passed over at once)
        values = np.unique(flat[i][np.linspace(0, n - 1, 9).astype(np.int64)])
        some = flat[i][::max(1, n // 4096)]
        values = [v for v in values if np.count_nonzero(some == v) >= 0.95 * len(some)]
        for v in values:
            off = np.flatnonzero(flat[i] != v)
            if len(off) <= most_off:
                blank[i] = _isolated(off, arr.shape[1:])
                break
    return [int(i) for i in np.flatnonzero(blank)]


def _isolated(off: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether no 3x3 window of a frame of ``shape`` (edges replicated) holds 5 of the pixels at flat indices ``off``
    (a few: only the windows around them are counted)."""
    h, w = shape
    rows, cols = np.divmod(off, w)
    marked = set(zip(rows.tolist(), cols.tolist()))
    for r, c in marked:
        for cr in range(max(r - 1, 0), min(r + 2, h)):
            for cc in range(max(c - 1, 0), min(c + 2, w)):
                inside = sum((min(max(cr + dr, 0), h - 1), min(max(cc + dc, 0), w - 1)) in marked
                             for dr in (-1, 0, 1) for dc in (-1, 0, 1))
                if inside >= 5:
                    return False
    return True


def blank_frames_message(blank: list[int], chained: str | None = None) -> str:
    """The warning for :func:`blank_frames`' indices (at most 10 named). ``chained``: the method's name where a
    frame's field depends on the frames between it and the reference (:meth:`Engine.chains_frames`)."""
    shown = ", ".join(str(i) for i in blank[:10]) + (f" and {len(blank) - 10} more" if len(blank) > 10 else "")
    if len(blank) == 1:
        text = f"frame {shown} is constant (blank): nothing in it can be matched, so its field is the method's guess"
    else:
        text = f"frames {shown} are constant (blank): nothing in them can be matched, so their fields are the method's guess"
    if chained:
        text += (f"; {chained} carries each frame on to the next one away from the reference, so the frames beyond "
                 f"{'it' if len(blank) == 1 else 'them'} are less accurate too")
    return text


def _keeps_torch_rng(fn):
    """``fn`` with the caller's torch (CPU) random stream as it was, on return and on any exception: a notebook that
    seeds its own work drew other numbers after a registration (the networks' default initialisation, before their
    weights are loaded, draws from torch's one global generator)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import torch

        global _RNG_HELD, _RNG_STATE
        # one saved state for the runs going on at once (threads): each saving and putting back its own, a run that
        # began while another had drawn put that draw's state back last (the caller's stream changed)
        with _RNG_LOCK:
            if _RNG_HELD == 0:
                _RNG_STATE = torch.random.get_rng_state()
            _RNG_HELD += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with _RNG_LOCK:
                _RNG_HELD -= 1
                if _RNG_HELD == 0:
                    torch.random.set_rng_state(_RNG_STATE)

    return wrapper


_RNG_LOCK = threading.Lock()
_RNG_HELD = 0  # registrations going on now (:func:`_keeps_torch_rng`)
_RNG_STATE = None


@_keeps_torch_rng
def register(
    frames,
    method: str = DEFAULT_METHOD,
    reference: int = 0,
    device: str = "auto",
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Any = None,
    spacing: tuple[float, float] | None = None,
    on_warning: Callable[[str], None] | None = None,
    normalize: str = "auto",
    unit: str | None = None,
    **params,
) -> RegistrationResult:
    """Register every frame of ``frames`` (``(T, H, W)``, T >= 2) to ``frames[reference]``.

    ``frames`` may also be a :class:`~napari_tlreg.io.Sequence` (``load_sequence``): its frames, its
    spacing (unless ``spacing`` is given), its GeoTIFF georeferencing (``RegistrationResult.geotiff``: the saved
    images carry it) and its own region as the mask of a method that takes one
    (:func:`own_region_params`; ``mask=None`` for the whole frame), as the CLI and the viewer do.
    method: one of :func:`methods`. device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    progress: ``callable(done, total, message)``; what it returns is ignored (to stop, set ``cancel``, or raise: the
    exception comes out of ``register`` as it is). cancel: ``threading.Event`` or ``callable() -> bool``,
    checked between steps; when set, :class:`Cancelled` is raised and nothing is returned.
    spacing: ``(row, col)`` pixel size, carried into the result for physical-unit reporting.
    unit: the spacing's length unit (``"mm"``, ``"m"``, ...: ``RegistrationResult.unit``); default the Sequence's
    (metres for satellite data), else mm.
    on_warning: ``callable(message)`` for what does not stop the run but makes part of it a guess (constant,
    blank frames: :func:`blank_frames`; frames normalised one by one), e.g. a viewer's notifications; None:
    ``warnings.warn`` (UserWarning).
    normalize: how intensities are scaled to [0, 1] before the engine sees them: ``"sequence"`` (one scale for
    all frames), ``"frame"`` (each frame its own: a flickering video's gain and offset do not reach the engine) or
    ``"auto"`` (the default: per frame where some frame's brightness differs from the reference's beyond what motion
    does, :func:`napari_tlreg.core.normalize.flicker`, and then ``on_warning`` says so; else per sequence).
    ``RegistrationResult.normalization`` says which was used. The scale is the 1st-99th percentiles of the pixels
    the engine sees: with NMSR's ``mask``, those inside it (a caption outside an echo's fan changes nothing).
    A constant sequence, or a constant reference frame, is an error: nothing in it can be matched.
    ``params`` are the method's own parameters (see each engine's ``defaults``).
    Returns a :class:`RegistrationResult` whose displacements are pull fields in pixels.
    """
    import torch

    from .core import fields as F
    from .core.nodata import apart_fill, inner_fill_message
    from .core.normalize import flicker_message
    from .core.normalize import normalize as scale_intensities
    from .core.ops import resolve_device
    from .metrics import check_spacing

    engine = get_engine(method)
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be a function progress(done, total, message), got {progress!r}")
    if cancel is not None and not (callable(getattr(cancel, "is_set", None)) or callable(cancel)):
        raise ValueError(f"cancel must be a threading.Event or a function returning True to stop, got {cancel!r}")
    geotiff, own_spacing, sample_notes = None, None, []
    sequence = frames if isinstance(frames, Sequence) else None  # its source goes into the result's provenance
    given_unit = unit  # checked below; a Sequence's own is its reader's, kept as the file says it
    if isinstance(frames, Sequence):
        given_params, params = params, own_region_params(method, frames, params)
        if "weights" in params and "weights" not in given_params:  # a sample's own model, said as the CLI says it
            sample_notes.append(own_param_note("weights", params["weights"], python=True))
        own_spacing, own_unit = physical_size(frames)
        # unit="px" alone: measured in pixels (its own spacing was taken, then refused with "give spacing=None")
        spacing = own_spacing if spacing is None and given_unit != "px" else spacing
        unit = own_unit if unit is None else unit
        geotiff = (frames.metadata or {}).get("geotiff") or None  # the results' images go where the frames lie
        frames = frames.frames
    arr, ref = validate_frames(frames, reference)
    raw = frames
    spacing = check_spacing(spacing, 2)  # before the run: a bad one would fail only when the result is measured
    unit = check_unit(unit, spacing) if given_unit is not None else ("mm" if unit is None else str(unit))
    if geotiff is not None and not ((spacing is None and own_spacing is None) or (
            spacing is not None and own_spacing is not None and unit == own_unit and np.allclose(spacing, own_spacing))):
        geotiff = None  # another pixel size given: the map's would place the results at the wrong scale
    checked = run_params(method, params, arr.shape, spacing, unit)
    if isinstance(checked.get("weights"), str) and checked["weights"]:
        from .engines.weights import is_path

        if is_path(checked["weights"]):  # recorded as it ran: a relative path failed a re-run from elsewhere
            checked["weights"] = str(Path(checked["weights"]).expanduser().resolve())
    check_mode(normalize)
    declared = checked.get("nodata") is not None
    given = given_nodata(raw, checked["nodata"]) if declared else None  # in the values given (not those rescaled)
    if declared:
        arr, ref = without_far_fill(raw, given, arr, ref)
    dev = resolve_device(device)
    if dev.type == "cpu":  # a GPU that runs out raises a clear error of its own; the CPU's is the OOM killer
        check_memory(method, arr.shape, checked)

    said: list[str] = []  # kept in the result's provenance: a folder reopened says them again (it lost "worse than none")

    def warn(message: str) -> None:
        said.append(str(message))
        say(on_warning, message)

    if _FORKED_FROM_THREADS and dev.type == "cpu":
        warn(fork_message(_FORKED_FROM_THREADS))
    # the pair engines' (mask_nodata): a no-data fill apart from the data, out of the scaling, the metrics, the overlay
    # (and of the engines' losses); the user's nodata value, where given, is the fill
    nodata = (given if given.any() else None) if declared else apart_fill(arr) if checked.get("mask_nodata") else None
    if not declared and checked.get("mask_nodata") and (inner := _inner_fill_of(raw)):
        warn(inner_fill_message(inner, arr.shape))  # the rule finds a border's fill, not a hole's
    if arr.shape[0] == arr.shape[1] and 2 * arr.shape[2] < arr.shape[0]:  # (API review: (48, 48, 20) ran as 48 frames)
        warn(f"frames of shape {tuple(arr.shape)} are taken as {arr.shape[0]} frames of {arr.shape[1]}x{arr.shape[2]}"
             " (T, H, W): if the last axis is time, pass np.moveaxis(frames, -1, 0)")
    blank = blank_frames(arr)  # the run goes on, but says so (after every error)
    if blank:
        warn(blank_frames_message(blank, method if engine.chains_frames(checked) else None))
    if declared and not given.any():
        warn(f"no pixel of the frames equals the no-data value {checked['nodata']:g}: every pixel is counted")
    if nodata is not None and (sparse := nodata_frames_message(nodata, declared)):
        warn(sparse)
    for note in engine.notes(checked, len(arr), ref):
        warn(note)
    t0 = time.perf_counter()
    ctx = RunContext(progress=progress, cancel=cancel)
    ctx.notes.extend(sample_notes)  # (diff review: the API took the lemniscate's model without a word)
    ctx.check()  # a cancel during the checks is taken before the intensities are scaled (seconds on 8x4000x4000)
    if declared:  # the user's value is the fill, for the engines too (none where no pixel holds it)
        ctx.nodata = torch.from_numpy(given).to(dev)
    region = engine.scaling_region(checked)  # NMSR's mask: its scale, and the frames compared after the run
    norm, normalization, flickering = scale_intensities(arr, ref, normalize, skip=blank,
                                                        fill=scaled_apart(nodata, region, arr.shape))
    if flickering:
        warn(flicker_message(flickering))
    ctx.check()
    x = torch.from_numpy(norm).to(dev)
    # before the run: the weights file hashed as it is loaded (after, a file replaced or deleted during the run was
    # recorded for the network the run did not use, or lost the result)
    record = provenance(engine, checked, sequence)
    with torch.random.fork_rng(devices=[dev]) if dev.type == "cuda" else contextlib.nullcontext():  # (the CPU's:
        u = engine.run(x, ref, checked, ctx)  # _keeps_torch_rng)
    ctx.check()
    if tuple(u.shape) != (arr.shape[0], 2, *arr.shape[1:]):
        raise RuntimeError(f"engine {method!r} returned a field of shape {tuple(u.shape)} for frames {arr.shape}")
    if not bool(torch.isfinite(u).all()):  # never a result whose warps and measures are quietly wrong
        raise ValueError(f"{method}: the registration gave NaN or infinite displacements; nothing is returned")
    # the result's own stage, said and cancellable (on 32x2048x2048 it took 19-37 s after the engine's last word, the
    # bar at 100 % and Cancel taken only at its end; large-data review)
    ctx.report(0, 3, f"{RESULT_STAGE}: warping the reference")
    with torch.no_grad():
        u = u.detach().float()
        u[ref] = 0.0
        warped = F.warp(x[ref][None, None], u)[:, 0]
        warped[ref] = x[ref]  # the reference itself (resampled at no displacement: an MSE of 1e-13, not 0)
        ctx.check()
        ctx.report(1, 3, f"{RESULT_STAGE}: Jacobian determinant")
        jac = F.jacobian_determinant(u)
        inv = ctx.inverse
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    runtime = time.perf_counter() - t0
    ctx.check()
    ctx.report(2, 3, f"{RESULT_STAGE}: against the frames")
    valid = _valid_pixels(x, ref, u, given) if checked.get("mask_nodata") else None  # the engines' no-data left out
    if region is not None and not region.all():  # NMSR's mask: the frames compared where the run fitted them, as the
        # metrics are (the echo's caption outside its fan, which no field moves, made frames "worse")
        inside = torch.from_numpy(np.ascontiguousarray(region)).to(x.device).expand(x.shape)
        valid = inside if valid is None else valid & inside
    worse = worse_than_none(x, warped, ref, valid)
    ctx.check()
    inverted = inverted_frames(x, warped, ref)
    # a map's dates (in metres, or a GeoTIFF's) are pointed to the pair engines, other frames to nmsr
    suggested = PAIR_METHOD if unit == MAP_UNIT or geotiff is not None else TWO_FRAMES if len(x) == 2 and spacing is None else None
    if worse:
        warn(worse_message(method, *worse, suggested=suggested))
    elif bad := [b for b in worse_frames(x, warped, ref, valid) if b[0] not in dict(inverted)]:
        if engine.pairwise:
            warn(worse_frames_message(method, bad, len(x) - 1, suggested))  # the mean hid one date's failure (inverted: below)
        else:  # a sequence engine's frames next to the reference, where little moves (tlrn on the echo sample's
            ctx.notes.append(worse_frames_note(method, bad))  # frames 1 and 23): said, not warned of
    if inverted:
        warn(inverted_message(method, inverted))
    if ctx.notes:  # what the engine decided (multistep: pairs that kept the affine alone): said, not warned of
        record["notes"] = list(ctx.notes)
    if said:
        record["warnings"] = list(said)
    ctx.report(1, 1, "done")
    ctx.check()  # a cancel set in the last call too: API.md, "when set, register raises tl.Cancelled"
    return RegistrationResult(
        frames=norm,
        warped=warped.cpu().numpy(),
        displacement=u.cpu().numpy(),
        jacobian=jac.cpu().numpy(),
        method=method,
        params=checked,
        reference=ref,
        device=str(dev),
        runtime_s=runtime,
        spacing=spacing,
        inverse=None if inv is None else inv.detach().float().cpu().numpy(),
        normalization=normalization,
        unit=unit,
        geotiff=geotiff,
        provenance=record,
        nodata=nodata,
    )
