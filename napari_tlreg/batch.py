"""Cohort registration on Dask: one task per sequence, each result folder written atomically.

    from napari_tlreg.batch import run_batch

    if __name__ == "__main__":  # in a script: each Dask worker process imports it again
        rows = run_batch(["cohort/*.nii.gz", "dicom/patient01", "cardiac"], "tlrn", "results/")

* ``inputs``: files, DICOM folders, bundled sample names, or globs of them. A folder that holds
  sequence files (TIFF, NIfTI, video, npz, multi-frame DICOM) or sub-folders is a cohort folder: its sequence
  files and its sub-folders (each read as a DICOM folder) are taken, and the folder itself too when it holds
  single-frame DICOM files (a series). Any other folder is one DICOM series. Files named ``<stem>_labels.<ext>`` are labels of ``<stem>`` (the readers load
  them), not sequences of their own; nor are the batch's output folder and folders napari-tlreg wrote (a result's
  ``result.json``, a batch's ``summary.csv``) inside a cohort.
* One batch at a time writes to ``out``: a second one is refused (:class:`OSError`) before it reads anything.
* Each sequence's results go to ``out/<name>/`` (``report.write``: arrays, metrics, montage),
  moved into place only once complete. ``<name>`` is the file name without its suffix (the
  folder name for DICOM); names that collide get a short hash of their path appended.
* A multi-slice source (a short-axis stack) gives slice position ``slice`` (default 0), or with
  ``slice="all"`` every slice position, each a sequence of its own named ``<name>_slice<k>``.
* A rerun skips every sequence whose folder holds a finished result of the same run (source, slice, method,
  parameters with their defaults, reference and intensity scaling, as its ``metrics.json`` records them:
  :func:`is_finished`); the others are registered again.
* A sequence that fails (unreadable file, bad shape, an engine error, a dead worker) becomes a
  row with ``status="failed"`` and its error message; the others go on.
* ``out/summary.csv`` (one row per sequence: name, slice, status, seconds, frames, key metrics, warning,
  note, error) is written atomically at the start, every row ``pending``, and again as each sequence finishes.

The scheduler is a :class:`distributed.LocalCluster` by default (worker processes,
``threads_per_worker=1``, torch limited to ``cores // n_workers`` threads each), or an existing
cluster given by its address (``tcp://host:8786``) or a :class:`distributed.Client`. With a
remote cluster, every worker must see the input files and ``out`` at the same paths (a shared
file system). No Qt, no napari: safe for headless workers.
"""
from __future__ import annotations

import builtins
import contextlib
import csv
import glob
import hashlib
import io
import json
import logging
import math
import os
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["run_batch", "expand_inputs", "is_finished", "SUMMARY_NAME", "SUMMARY_FIELDS"]

SUMMARY_NAME = "summary.csv"
#: Metric columns copied from each result's ``metrics.json`` summary (means over non-reference frames).
#: each beside its value without registration (``_before``): a cohort's rows said what registration gave, not what
#: it changed
METRIC_KEYS = ("mse", "mse_before", "lncc", "lncc_before", "lncc10", "lncc10_before", "folding_pct", "dice",
               "dice_before", "hd95", "hd95_before", "tre", "tre_before")
#: Distance columns in the sequence's pixel size too (``hd95_mm`` or ``tre_m`` in ``metrics.json``), under one name
#: with the ``unit`` beside them (a cohort's sequences may have different ones; empty for one measured in pixels)
PHYSICAL_KEYS = ("hd95", "hd95_before", "tre", "tre_before")
SUMMARY_FIELDS = ("name", "slice", "status", "seconds", "frames", "height", "width", "method", "runtime_s",
                  *METRIC_KEYS, *(f"{k}_physical" for k in PHYSICAL_KEYS), "unit", "warning", "note", "error", "source",
                  "folder")

_GLOB_CHARS = set("*?[")
#: Python's warnings machinery is the process's: two tasks of a Dask worker with several threads caught each other's
#: reader warnings (the wrong file's in a row of the summary) and, restored out of order, left later ones swallowed
_READ_WARNINGS = threading.Lock()
#: How long to try reaching a scheduler given by its address.
CONNECT_TIMEOUT = "20s"


# --------------------------------------------------------------------------- inputs
def _is_output_folder(folder: Path) -> bool:
    """Whether ``folder`` is what napari-tlreg wrote: a result (``result.json``) or a batch's output (its
    ``summary.csv``), not a DICOM series of a cohort."""
    try:
        return (folder / "result.json").is_file() or (folder / SUMMARY_NAME).is_file()
    except OSError:  # a folder this user may not read: taken as a sequence, whose row says why
        return False


def _sequence_files(folder: Path, skip: Path | None = None) -> list[Path] | None:
    """The sequences of a cohort folder, or ``None`` when ``folder`` is itself a sequence: a DICOM series and nothing
    else, or a folder of frames without sub-folders (one TIFF, NIfTI or picture image a file: ``io.readers.frame_files``).

    Single-frame DICOM files are the slices of a series, which the folder is: with other sequence files or
    sub-folders beside them, the folder is listed too (a preview TIFF beside a series dropped the series). A
    multi-frame DICOM file is a sequence of its own (an echo cohort: a clip per file), and so is a DICOM file that
    cannot be read (a failed row that says why; it was left out without a word). Sub-folders that are ``skip`` (the
    batch's output folder) or an earlier output of napari-tlreg are neither sequences nor a reason to take
    ``folder`` for a cohort. Labels files (``_labels``, ``_gt``) are left out, and so are NIfTI volumes of one time point
    beside sequences (ACDC's ``frameNN.nii.gz`` beside its ``_4d.nii.gz``) and pictures of one image (a figure)."""
    from .io.readers import (SUPPORTED_SUFFIXES, _sniff, _suffix, frame_files, is_labels_file, one_image,
                             without_volumes)

    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    subdirs = [p for p in entries if p.is_dir() and p.resolve() != skip and not _is_output_folder(p)]
    frames = frame_files(folder)
    # a folder of frames (one GeoTIFF a date): a sequence; every file one image, from the headers (a 2-D preview first
    # by name beside cines made the folder a "sequence" of them all)
    # (a frame that cannot be read, half copied, made the folder's other frames sequences of one frame each: it
    # fails the folder's one row, naming the file)
    kinds = [one_image(f) for f in frames or ()]
    if frames and not subdirs and kinds.count(True) >= 2 and False not in kinds:
        return None
    files, unreadable, series = [], [], False
    for p in entries:
        if p.is_symlink() and not p.exists() and _suffix(p) in SUPPORTED_SUFFIXES:
            unreadable.append(p)  # a link to a scan moved away: its own failed row (it was left out without a word)
            continue
        if not p.is_file() or is_labels_file(p):
            continue
        kind = SUPPORTED_SUFFIXES.get(_suffix(p))
        if kind is None and p.stat().st_size and _sniff(p) == "dicom":  # a DICOM file without a suffix (IM0001)
            kind = "dicom"
        if kind == "dicom":
            frames = _dicom_frames(p)
            if frames == 1:
                series = True
            elif frames is None:
                unreadable.append(p)
            else:
                files.append(p)
        elif kind == "picture" and one_image(p):  # a figure beside sequences (an animated GIF is a sequence)
            continue
        elif kind is not None:
            files.append(p)
    if not files and not subdirs:  # a series (its reader skips, and names, the files it cannot read)
        return None
    files = without_volumes(files)
    # beside a series, a file that cannot be read is taken for one of its slices (the series' reader names it)
    return [folder] + files + subdirs if series else files + unreadable + subdirs


def _dicom_frames(path: Path) -> int | None:
    """The number of frames a DICOM file's header gives (1 without NumberOfFrames), or None when it cannot be read or
    holds no image (no Rows)."""
    try:
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["NumberOfFrames", "Rows"])
        if "Rows" not in ds:
            return None
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except Exception:  # not DICOM, or unreadable: its own row, where the reader says why
        return None


def not_a_sequence(source: str) -> str | None:
    """Why ``source``, a file or folder ``batch`` found, is no sequence it reads (a glob that matched notes and tables, a
    folder of them), or None: a file of a kind it reads (by its suffix, or by its first bytes), a folder that holds one
    or a sub-folder, or a sample's name, which the batch's rows judge."""
    from .io.readers import SUPPORTED_SUFFIXES, _sniff, _suffix

    path = Path(source)

    def readable(p: Path) -> bool:
        try:  # a DICOM file without a suffix (IM0001), a TIFF; unreadable: its row says why
            return _suffix(p) in SUPPORTED_SUFFIXES or (p.stat().st_size > 0 and _sniff(p) is not None)
        except OSError:
            return True

    kinds = "TIFF, NIfTI, DICOM, video, npz/npy or pictures"
    if path.is_dir():  # a folder given itself (a series, frames): one of its files at least (it wrote OUT, exit 1)
        try:
            entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        except OSError:
            return None
        if any(p.is_dir() for p in entries) or any(readable(p) for p in entries if p.is_file()):
            return None
        return f"{source}: holds no file napari-tlreg reads ({kinds})"
    if not path.is_file() or readable(path):
        return None
    return f"{source}: not a file napari-tlreg reads ({kinds})"


def labels_of_a_sequence_beside(path: Path) -> bool:
    """Whether ``path`` is a labels file (``<stem>_labels.*``, ``<stem>_gt.*``) with its sequence ``<stem>.*`` beside it,
    which ``load_sequence`` reads it with: no sequence of its own (a ``<stem>_labels.tif`` alone may be one)."""
    from .io.readers import SUPPORTED_SUFFIXES, _stem, _suffix, is_labels_file

    path = Path(path)
    if not is_labels_file(path):
        return False
    stem = _stem(path).rsplit("_", 1)[0]
    try:  # a file of the sequence, or a folder of that name (left out beside it, as in a folder given; its reader
        # reads no labels beside it: :func:`no_inputs` says so)
        return (path.parent / stem).is_dir() or any(q != path and _stem(q) == stem and _suffix(q) in SUPPORTED_SUFFIXES
                                                    for q in path.parent.glob(f"{glob.escape(stem)}.*"))
    except OSError:
        return False


def _as_inputs(inputs) -> list:
    """``inputs`` as a list of paths, globs or names; ``TypeError`` saying what they are for anything else (frames in
    memory: ``os.fspath``'s bare "expected str, bytes or os.PathLike object, not ndarray")."""
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    for raw in inputs:
        if not isinstance(raw, (str, os.PathLike)):
            raise TypeError(f"a batch's inputs are files, folders, globs or sample names, got {type(raw).__name__}: "
                            "save frames in memory to files first (napari_tlreg.io.save_stack(path, frames)), or "
                            "register them with napari_tlreg.register")
    return inputs


def expand_inputs(inputs: Iterable[str | os.PathLike], exclude: str | os.PathLike | None = None,
                  slice: int | None = None) -> list[dict]:
    """Resolve ``inputs`` into ``[{"name", "source", "error"}]``, one per sequence, in input order.

    An input that matches nothing gives one item with an ``error`` (reported as failed, never
    silently dropped); the same path listed twice is taken once. Paths inside ``exclude`` (the
    batch's output folder) are never taken as inputs. ``slice`` (a slice position) goes into each item
    (``"slice"``) before the names are made unique against ``exclude``: the result of another slice position there is
    another sequence's.
    """
    from .io import samples
    from .io.readers import is_labels_file

    sample_names = None
    items: list[dict] = []
    seen: set[str] = set()

    def add(source: str, name: str, error: str | None = None) -> None:
        if source in seen:
            return
        seen.add(source)
        try:
            source.encode("utf-8")
        except UnicodeEncodeError:  # a byte Linux allows in a name: Dask's messages refused it, failing the batch
            error = error or ("its path is not UTF-8, which the workers' messages cannot carry: rename it, or register "
                              "it with `napari-tlreg register`")
        items.append({"name": name, "source": source, "error": error})

    skip = Path(exclude).expanduser().resolve() if exclude is not None else None

    def add_path(p: Path) -> None:
        from .io.readers import _stem

        p = p.expanduser().resolve()
        if skip is not None and (p == skip or skip in p.parents):
            return
        if p.is_dir():
            try:
                inner = _sequence_files(p, skip)
            except PermissionError:  # its own failed row (the whole batch stopped on Python's "[Errno 13]")
                add(str(p), p.name, f"{p.name}: permission denied: this user may not read the folder")
                return
            if inner is not None:
                for q in inner:
                    if skip is None or (q != skip and skip not in q.parents):
                        add(str(q), q.name if q.is_dir() else _stem(q))
                return
            add(str(p), p.name)
        elif not labels_of_a_sequence_beside(p):  # `batch cohort/*` as the shell gives it: a labels file beside its
            add(str(p), _stem(p))  # sequence is read with it, as in a folder or a quoted pattern (it was registered)

    for raw in _as_inputs(inputs):
        text = os.fspath(raw)
        path = Path(text).expanduser()
        if path.exists():
            add_path(path)
            continue
        if _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(str(path), recursive=True))
            matches = [m for m in matches if not Path(m).name.startswith(".")
                       and not (Path(m).is_file() and is_labels_file(Path(m)))]
            if not matches:
                add(text, _safe_name(text), f"{text}: no file or folder matches this pattern")
            for m in matches:
                add_path(Path(m))
            continue
        if sample_names is None:
            sample_names = samples()
        if text in sample_names:
            add(text, text)
            continue
        from .io.readers import _stem

        add(text, _stem(Path(text)), f"{text}: no such file, folder or sample name")

    for it in items:
        it["name"] = _safe_name(it["name"])
        if slice is not None:
            it["slice"] = int(slice)
    return unique_names(items, skip)


def _recorded_source(folder: Path) -> tuple[str, int | None] | None:
    """The source (and slice) a finished result folder was made from, as its ``metrics.json`` records them."""
    from .report import recorded

    source, kept = recorded(folder)
    run = kept.get("batch")
    if isinstance(run, dict) and isinstance(run.get("source"), str):
        return run["source"], run.get("slice")
    return None if source is None else (source, kept.get("slice"))  # register --slice K records its K


def _slice_key(value) -> int:
    """A recorded slice position: the default (None) is slice 0, as ``load_sequence`` reads it."""
    return 0 if value is None else int(value)


def _same_source(made: tuple[str, int | None] | None, item: dict) -> bool | None:
    """Whether a recorded ``(source, slice)`` (:func:`_recorded_source`) is ``item``'s (None: nothing recorded)."""
    if made is None:
        return None
    return made[0] == item["source"] and _slice_key(made[1]) == _slice_key(item.get("slice"))


def _made_from(folder: Path, item: dict) -> bool | None:
    """Whether the result in ``folder`` was made from ``item``'s source and slice (None: no recorded result there)."""
    return _same_source(_recorded_source(folder), item)


def _someone_elses(path: Path) -> bool:
    """Whether ``path`` is taken by what napari-tlreg did not write: a file, or a folder with files and no result (the
    user's notes in ``OUT/<name>``: the sequence was registered, then refused at saving, its work lost)."""
    if path.is_file():
        return True
    return path.is_dir() and not (path / "result.json").is_file() and any(path.iterdir())


def _hashed(item: dict) -> str:
    """``<name>-<hash>``, of the source and its slice position (slice 0 as none: the same sequence, :func:`_slice_key`)."""
    k = _slice_key(item.get("slice"))
    tag = item["source"] + ("" if k == 0 else f"#slice{k}")
    return f"{item['name'] or 'sequence'}-{hashlib.sha1(tag.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def unique_names(items: list[dict], out: Path | None = None) -> list[dict]:
    """Folder names unique (case-insensitively): a colliding name gets a short hash of its source (and slice). Where
    ``out/<name>`` already holds the result of one of the colliding sources, that one keeps the plain name, so a
    rerun with more inputs finds it (not a second copy under a hashed name). Names are unique against ``out`` too:
    a name whose folder holds another source's result (an earlier run on other inputs) takes the hashed name rather
    than replace that result, and a sequence an earlier run stored under its hashed name finds it there again."""
    groups: dict[str, list[dict]] = {}
    for it in items:
        groups.setdefault(it["name"].lower(), []).append(it)
    for key, group in groups.items():
        if len(group) == 1 and group[0]["name"] and key != SUMMARY_NAME:
            it = group[0]
            if out is not None:
                here = _made_from(Path(out) / it["name"], it)
                if here is False or (here is None and (_made_from(Path(out) / _hashed(it), it)
                                                       or _someone_elses(Path(out) / it["name"]))):
                    it["name"] = _hashed(it)
            continue
        keep = None
        if out is not None and group[0]["name"] and key != SUMMARY_NAME:
            made = _recorded_source(Path(out) / group[0]["name"])  # read once for the whole group
            keep = next((it for it in group if _same_source(made, it)), None)
        for it in group:
            if it is not keep:
                it["name"] = _hashed(it)
    return items


def _safe_name(text: str) -> str:
    bad = '<>:"/\\|?*\0'
    name = "".join("_" if (c in bad or ord(c) < 32) else c for c in str(text)).strip(" .")
    return name[:120]


def is_finished(folder: str | os.PathLike, run: dict | None = None) -> bool:
    """A result folder a rerun can skip: it holds ``result.json`` and ``metrics.json`` and, with ``run`` (what the
    batch would register: source, slice, method, parameters, reference, intensity scaling), was made by that
    same run (``metrics.json``'s ``batch`` record): another source under the same name, or another method or
    parameters, is registered again."""
    folder = Path(folder)
    if not ((folder / "result.json").is_file() and (folder / "metrics.json").is_file()):
        return False
    if run is None:
        return True
    try:
        doc = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    made = doc.get("batch") if isinstance(doc, dict) else None
    for key in ("stamp", "software"):  # made before records had the files' stamps, or the software: by the rest
        if isinstance(made, dict) and key not in made:
            run = {k: v for k, v in run.items() if k != key}
    stamp = made.get("stamp") if isinstance(made, dict) else None
    if isinstance(stamp, dict) and stamp.get("weights") is None and isinstance(run.get("stamp"), dict):
        # made before a shipped model was stamped by its sha256 (a file's stamp was all there was): by the rest
        run = {**run, "stamp": {**run["stamp"], "weights": None}}
    if isinstance(made, dict) and made.get("reference") != run.get("reference"):  # -1 and 11 of 12 frames: one run
        try:
            n = int(json.loads((folder / "result.json").read_text())["shape"][0])
            refs = (made["reference"], run["reference"])  # both of its frames (5 of 3 frames is no run: it fails)
            if all(-n <= r < n for r in refs) and refs[0] % n == refs[1] % n:
                run = {**run, "reference": made["reference"]}
        except (OSError, ValueError, TypeError, KeyError, IndexError, ZeroDivisionError):
            pass
    return made == run


def _stamp(path) -> str | None:
    """Size and modification time of a file and of the labels file read with it (``<stem>_labels.tif``...), or of each
    file of a folder (a DICOM series) but the hidden ones: a source rewritten in place, under the same name, is another
    source. ``None`` for what is no path (a bundled sample). (The labels beside a file were left out: edited, a rerun
    skipped the sequence and kept the old Dice; a ``.DS_Store`` written into a series registered it again.)"""
    from .io.readers import sibling_labels_paths

    if not isinstance(path, (str, os.PathLike)) or not Path(path).exists():
        return None
    p = Path(path)
    if p.is_file():
        files = [p, *sibling_labels_paths(p)]
    else:
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
    text = ";".join(f"{f.name}:{st.st_size}:{st.st_mtime_ns}" for f in files for st in (f.stat(),))
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _sample_weights(source: str, method: str) -> str | None:
    """The model a bundled sample named ``source`` registers with under ``method`` (the lemniscate's), else None (a
    record of the run was made with the method's default: a re-run with weights= given empty was skipped; diff review)."""
    from .io.bundled import sample_models

    return sample_models(source).get(method)


def run_record(item: dict, method: str, params: dict, reference: int, normalize: str, slice: int | None) -> dict:
    """What decides a batch result (:func:`is_finished`), as ``metrics.json`` records it under ``batch``: the
    method's parameters with their defaults filled in (``gain=1.0`` given or not is the same run), and the stamps
    (:func:`_stamp`) of the source's files and of a weights file, as JSON."""
    from .engines import get_engine
    from .engines.base import Engine

    from .result import core_versions

    engine = get_engine(method)
    params = dict(params or {})
    own = _sample_weights(item["source"], method)
    if own is not None and "weights" not in params and "weights" in engine.defaults:
        params["weights"] = own  # the run takes the sample's model (api.own_region_params): recorded as it ran
    full = engine.validate_params(params)
    weights = _stamp(full.get("weights") or None)
    if weights is None and "weights" in full and getattr(engine, "default_model", None):
        from .engines.weights import identify  # a shipped model: its sha256 (a new one under the same name re-runs)

        weights = identify(str(full["weights"]), engine.default_model)["sha256"][:16]
    record = {"source": item["source"], "slice": _slice_key(item.get("slice", slice)),
              **({"frames": item["frames"]} if item.get("frames") is not None else {}),  # a sub-clip: another run
              "method": method, "params": full,
              "reference": reference, "normalize": normalize,
              "stamp": {"source": _stamp(item["source"]), "weights": weights},
              # another napari-tlreg or torch registers again (a re-run skipped results of older versions, mixed in
              # one summary without a word)
              "software": {k: v for k, v in core_versions().items() if k in ("napari_tlreg", "torch")},
              # a method that scales the intensities inside its region (NMSR's mask: the sequence's own, or given) since
              # 2026-12-07: its earlier results, scaled on the whole frame, are registered again (a re-run skipped them,
              # rows of both scales in one summary; diff review)
              **({"intensity_scale": "in the region"} if type(engine).scaling_region is not Engine.scaling_region else {})}
    return json.loads(json.dumps(record, default=str))


# --------------------------------------------------------------------------- one task
def _count_workers(client) -> int:
    """The workers of a cluster not started here (distributed 2025.4 and later listed 5 at most by default)."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # a distributed before that argument: every worker
        info = client.scheduler_info()
    return len(info.get("workers", {}))


def _frames_record(frames) -> list | None:
    """``run_batch``'s ``frames`` (a ``slice``) as recorded, ``[start, stop, step]`` (``None`` where not given)."""
    if frames is None:
        return None
    if not isinstance(frames, builtins.slice) or not all(
            v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (frames.start, frames.stop, frames.step)):
        raise ValueError(f"frames must be a slice of the frames, slice(start, stop), got {frames!r}")
    if frames.step is not None and frames.step < 1:
        raise ValueError(f"frames: a step of 1 or more, got {frames.step}")
    # as the frames it takes, where that does not depend on the sequence: 1:4 and 1:4:1 are one run, 0: is every frame
    start, stop, step = (0 if frames.start is None else frames.start), frames.stop, frames.step or 1
    return None if (start, stop, step) == (0, None, 1) else [start, stop, step]


def _frames_text(frames: list) -> str:
    """``[start, stop, step]`` as the CLI's ``--frames`` writes it (``10:16``)."""
    start, stop, step = ("" if v is None else str(v) for v in frames)
    return f"{start}:{stop}" + (f":{step}" if step not in ("", "1") else "")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    name = type(exc).__name__
    if isinstance(exc, (ValueError, OSError)) and first:
        return first[:500]
    return f"{name}: {first}"[:500] if first else name


#: the library that reads a file of each ending (imported lazily by the readers: a worker's first NIfTI took 0.8 s more
#: than the next, a corrupt one "failed in 2.6 s"; cohort review)
READER_MODULES = {".nii": "nibabel", ".nii.gz": "nibabel", ".tif": "tifffile", ".tiff": "tifffile", ".dcm": "pydicom",
                  ".dicom": "pydicom", ".ima": "pydicom", ".avi": "imageio", ".mp4": "imageio", ".mov": "imageio"}


def _import_reader_of(source: str) -> None:
    """Import the library that reads ``source`` (a folder: a DICOM series'), before its time is taken."""
    import importlib

    from .io.readers import _suffix

    path = Path(source)
    name = "pydicom" if path.is_dir() else READER_MODULES.get(_suffix(path))
    if name is not None:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _row(item: dict, **values) -> dict:
    row = {k: None for k in SUMMARY_FIELDS}
    row.update(name=item["name"], slice=item.get("slice"), source=item["source"])
    row.update(values)
    return row


def _said_stale(row: dict, out: Path) -> dict:
    """``row``, a failed one whose folder still holds an earlier result (of this source as it was then, or of
    another run) with that said in its note: the folder is left as it was, and ``evaluate OUT/*/`` would score it."""
    folder = out / row["name"]
    if row["status"] == "failed" and (folder / "result.json").is_file():
        said = f"an earlier result is left in {folder}: not this run's"
        row["note"] = f"{row['note']}; {said}" if row.get("note") else said
    return row


def _metrics_of(folder: Path) -> dict:
    """Frames, size, runtime and the key metrics recorded in a finished result folder."""
    out: dict[str, Any] = {}
    try:
        doc = json.loads((folder / "metrics.json").read_text())
        summary = doc.get("summary") or {}
        out["runtime_s"] = doc.get("runtime_s")
        out["method"] = doc.get("method")
        for key, column in (("warnings", "warning"), ("notes", "note")):  # what the run said (a rerun that skips
            if doc.get(key):  # it says it again)
                out[column] = "; ".join(str(w) for w in doc[key])
        unit = doc.get("unit")
        physical = unit not in (None, "px") and doc.get("spacing") is not None
        if physical:
            out["unit"] = unit
        for key in METRIC_KEYS + tuple(f"{k}_{unit}" for k in PHYSICAL_KEYS if physical):
            value = summary.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                out[key if key in METRIC_KEYS else f"{key[:-len(unit) - 1]}_physical"] = float(value)
        made = json.loads((folder / "result.json").read_text())
        shape = made.get("shape")
        if shape and len(shape) == 3:
            out["frames"], out["height"], out["width"] = (int(s) for s in shape)
        prov = made.get("provenance") or {}
        if isinstance(prov.get("n_slices"), int) and prov["n_slices"] > 1 and isinstance(prov.get("slice"), int):
            out["slice"] = prov["slice"]  # the position registered, --slice or not (a 9-slice file's row had none)
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    return out


def _worker_memory_left() -> int | None:
    """Bytes this Dask worker may still take before its nanny terminates it (``distributed.worker.memory.terminate`` of
    its memory limit, less what it holds now); None outside a worker or without a limit."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    limit = getattr(getattr(worker, "memory_manager", None), "memory_limit", None)
    if not limit:
        return None
    import dask
    import psutil

    fraction = dask.config.get("distributed.worker.memory.terminate") or 1.0
    return int(limit * fraction) - psutil.Process().memory_info().rss


def register_one(item: dict, method: str, out: str, *, reference: int = 0, device: str = "auto",
                 montage: bool = True, params: dict | None = None, engine_entry: tuple[str, str] | None = None,
                 torch_threads: int | None = None, normalize: str = "auto", slice: int | None = None) -> dict:
    """Load, register and write one sequence into ``out/<name>/``; never raises for a bad sequence.

    Runs on a Dask worker (or anywhere). ``engine_entry`` (``(target, description)`` from the
    submitting process's registry) makes an engine added at run time known in the worker too.
    """
    folder = Path(out) / item["name"]
    notes: list[str] = []  # the reader's and the run's warnings: in the summary, a failed row's too
    # and what register says plainly, not as a warning (the slice position registered, the parameters the sequence
    # itself gave): its own column (it flagged every echo's and GeoTIFF's row among the real warnings)
    said: list[str] = []
    if item.get("error"):
        return _row(item, status="failed", seconds=0.0, method=method, error=item["error"])
    t0 = time.perf_counter()
    size: dict = {}  # the frames' count and size, once read: a failed row says them too (a one-frame file's said none)
    try:
        from . import api, report
        from .core.ops import resolve_device
        from .engines import add_engine, methods
        from .io import load_sequence

        _import_reader_of(item["source"])
        t0 = time.perf_counter()  # the sequence's time, from here: a worker's first imports (torch: 12-18 s) are not
        if engine_entry is not None and method not in methods():
            add_engine(method, *engine_entry)
        if torch_threads:
            import torch

            if torch.get_num_threads() != torch_threads:
                torch.set_num_threads(torch_threads)
        with _READ_WARNINGS, warnings.catch_warnings(record=True) as caught:  # what the reader warns of (several series, a
            warnings.simplefilter("always")  # folder's skipped files) goes in the summary with the run's own
            seq = load_sequence(item["source"], slice=slice, max_voxels=api.MAX_VOXELS)  # refused before it is read
        notes += [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        if item.get("frames") is not None:  # a sub-clip of each sequence (batch --frames), as register --frames cuts it
            n_source = seq.shape[0]
            try:
                seq = seq[builtins.slice(*item["frames"])]
            except ValueError as exc:
                raise ValueError(f"frames {_frames_text(item['frames'])}: {str(exc).split(': ', 1)[-1]}") from None
            first, _, step = seq.metadata["frames"]
            if seq.shape[0] < 2:  # (validate_frames' "at least 2 frames, got 1" did not say the cut made it one)
                raise ValueError(f"frames {_frames_text(item['frames'])} leave frame {first} alone of its {n_source}: "
                                 "a sequence needs at least 2 frames to register")
            said.append(f"frames {first}-{first + step * (seq.shape[0] - 1)}{f' every {step}' if step > 1 else ''} of "
                        f"its {n_source}")
        if len(shape := tuple(getattr(seq.frames, "shape", ()))) == 3:
            size = dict(zip(("frames", "height", "width"), (int(n) for n in shape)))
        n_slices = int(seq.metadata.get("n_slices", 1))
        if n_slices > 1 and slice is None:  # as register says it: the other slice positions are not registered
            said.append(f"{n_slices} slice positions; slice 0 registered (--slice K, or all, for the others)")
        api.validate_frames(seq.frames, reference)  # cheap checks first, before the registration
        left = _worker_memory_left()
        if left is not None and resolve_device(device).type == "cpu":  # the worker's own budget: its nanny would kill it
            # the parameters as the run takes them (tlrn's scale from the pixel size, none for a sequence in pixels)
            checked = api.run_params(method, params or {}, seq.frames.shape, *api.physical_size(seq))
            api.check_memory(method, seq.frames.shape, checked, limit=left, where=" to this Dask worker (its memory limit)")
        labels, landmarks = report.check_annotations(seq.shape, seq.labels, seq.landmarks, reference)
        notes += report.unannotated_reference(labels, landmarks, reference % seq.shape[0])
        said += report.reference_only(labels, landmarks, reference % seq.shape[0])
        # the sequence itself: its spacing, and its own region as the mask of a method that takes one (said in the
        # summary, as register says it) and the registration's (e.g. blank frames): the run goes on, the summary says so
        for key, region in api.own_region_params(method, seq, params or {}).items():
            if key not in (params or {}) and key != "weights":  # a sample's model: register notes it itself
                said.append(api.own_param_note(key, region))
        call = dict(params or {})
        if torch_threads and "threads" in api.method_params(method) and not call.get("threads"):
            # the threads it runs on, in its recorded parameters: NMSR's result depends on them (the same numbers
            # from `register --param threads=N`), and "0: leave as is" recorded none
            call["threads"] = int(torch_threads)
        res = api.register(seq, method=method, reference=reference, device=device, on_warning=notes.append,
                           normalize=normalize, **call)
        said += res.provenance.get("notes", [])  # what the run decided (multistep: a pair kept the affine alone)
        run = run_record(item, method, params or {}, reference, normalize, slice)
        report.write(res, folder, labels=labels, landmarks=landmarks, montage=montage, source=item["source"],
                     region=api.own_region(seq),
                     extra={"batch": run, "warnings": notes, "notes": said,
                            **({"label_names": report.names_of_labels(seq.metadata.get("label_names"))}
                               if labels is not None and seq.metadata.get("label_names") else {})})
    except Exception as exc:  # a bad sequence is reported, never stops the cohort
        return _row(item, status="failed", seconds=round(time.perf_counter() - t0, 3), method=method,
                    error=_one_line(exc), warning="; ".join(notes) or None, note="; ".join(said) or None, **size)
    row = _row(item, status="ok", seconds=round(time.perf_counter() - t0, 3), method=method, folder=str(folder),
               warning="; ".join(notes) or None, note="; ".join(said) or None)
    row.update(_metrics_of(folder))
    return row


def _count_slices(source: str) -> int:
    """Slice positions of ``source`` (on a worker); 1 where it cannot be read (its own task then says why)."""
    try:
        from .io import count_slices

        with warnings.catch_warnings():  # the reader's warnings: register_one gives them, in the summary
            warnings.simplefilter("ignore")
            return count_slices(source)
    except Exception:  # noqa: BLE001 - a bad source is reported by register_one, with its reason
        return 1


def _every_slice(items: list[dict], counts: list[int]) -> list[dict]:
    """``items`` with each multi-slice source split into one item per slice position, ``"<name>_slice<k>"``."""
    out = []
    for item, n in zip(items, counts):
        if n > 1:
            out += [{**item, "name": f"{item['name']}_slice{k}", "slice": k} for k in range(n)]
        else:
            out.append(item)
    return out


# --------------------------------------------------------------------------- the batch
#: a cgroup v2 CPU quota: "max 100000" (none) or "200000 100000" (2 cores)
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus() -> int:
    """The cores this process may run on: its CPU affinity (``taskset``, a SLURM allocation; ``os.cpu_count`` counts
    the machine's, and 2 workers on 4 cores of a 64-core node took 32 torch threads each), capped by a cgroup v2
    quota (a container's ``--cpus``)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def _client(scheduler, n_workers: int):
    """``(client, cluster, owns_client)`` for ``scheduler``: None/"local", an address, a cluster or a Client.

    ``cluster`` is the LocalCluster started here (to be closed by the caller), else ``None``.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None and not isinstance(scheduler, (str, os.PathLike)):
        if isinstance(scheduler, Client):
            return scheduler, None, False
        if hasattr(scheduler, "scheduler_address"):  # a cluster object
            return Client(scheduler), None, True
        raise ValueError(f"scheduler must be 'local', an address or a distributed.Client, got {type(scheduler).__name__}")
    if scheduler is None or str(scheduler) == "local":
        try:
            cluster = _quiet_on_ctrl_c(lambda: LocalCluster(
                n_workers=int(n_workers), threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.CRITICAL, scheduler_kwargs={"dashboard_address": ":0"}))  # no dashboard; any port
        except RuntimeError as exc:  # its workers failed to start: most often a script without the main guard
            raise RuntimeError(f"the local Dask cluster's workers failed to start ({exc}); if a script started it "
                               "without `if __name__ == \"__main__\":`, call run_batch under it (each worker "
                               "imports the script again)") from None
        try:
            return Client(cluster), cluster, True
        except BaseException:
            cluster.close()
            raise
    return _connect(str(scheduler)), None, True


def _quiet_on_ctrl_c(start: Callable):
    """``start()`` with SIGINT ignored, so that the worker processes it starts inherit that (Python leaves an ignored
    SIGINT ignored): Ctrl-C in a terminal reaches the whole process group, and each worker printed pages of
    KeyboardInterrupt tracebacks; the batch itself stops them (it closes its cluster) and says "interrupted".
    A Ctrl-C while the cluster starts is lost with it (holding it, SIGINT blocked as well, works only where the
    process has no other thread: numpy's BLAS threads took it and dropped it)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return start()
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return start()
    finally:  # None: a handler not installed from Python (an embedding application): the default then
        signal.signal(signal.SIGINT, signal.SIG_DFL if before is None else before)


@contextlib.contextmanager
def _interrupts_held():
    """SIGINT and SIGTERM ignored while the block runs (in the main thread): an interrupted batch stops its cluster
    and writes its last summary. A second Ctrl-C there (or ``timeout``'s signal, sent to the batch and then to its
    process group) escaped the clean-up: the cluster was left to finish results after the summary had called them
    "pending", and the exit waited 10 s for its workers."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def _connect(address: str):
    """A ``Client`` of the scheduler at ``address``, or ``OSError`` within :data:`CONNECT_TIMEOUT` (and a few
    seconds): Dask's own timeout does not cover a port that accepts the connection and never answers (it waited
    for ever), and a service of another kind there (an SSH banner read as a message length: "out of memory")."""
    import threading

    import dask
    from distributed import Client

    seconds = dask.utils.parse_timedelta(CONNECT_TIMEOUT)
    box: dict = {}

    def connect() -> None:
        try:
            box["client"] = Client(address, timeout=CONNECT_TIMEOUT)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=connect, name="napari-tlreg-connect", daemon=True)  # daemon: may never return
    worker.start()
    worker.join(1.5 * seconds + 2)  # Dask gets its own timeout, and a little more, first
    if "client" in box:
        return box["client"]
    if worker.is_alive():
        raise OSError(f"cannot reach the Dask scheduler at {address}: no answer in {seconds:g} s")
    exc = box["error"]
    if isinstance(exc, (OSError, TimeoutError)):
        raise OSError(f"cannot reach the Dask scheduler at {address}: {_one_line(exc)}") from None
    raise OSError(f"{address} does not answer as a Dask scheduler ({type(exc).__name__})") from None


def write_summary(rows: list[dict], out: str | os.PathLike) -> Path:
    """Write ``out/summary.csv`` atomically; returns its path."""
    from .io.writers import atomic_path, spreadsheet_text

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if row.get(k) is None else spreadsheet_text(row.get(k))) for k in SUMMARY_FIELDS})
    path = Path(out) / SUMMARY_NAME
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8", errors="surrogateescape")  # a name's bytes as they are
    return path


def require_dask() -> None:
    """A clear ``ImportError`` when Dask's ``distributed`` (the ``dask`` extra) is not installed: napari brings
    ``dask`` but not its scheduler."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise ImportError('batch registration runs on Dask\'s distributed scheduler, which is not installed: '
                          'pip install "napari-tlreg[dask]"')


def run_batch(inputs, method: str, out, scheduler=None, n_workers: int = 2, *, reference: int = 0,
              device: str = "auto", montage: bool = True, on_row: Callable[[dict], None] | None = None,
              normalize: str = "auto", slice: int | None = None, frames: builtins.slice | None = None,
              on_start: Callable[[dict], None] | None = None, **params) -> list[dict]:
    """Register every sequence of ``inputs`` with ``method`` on Dask; one folder per sequence under ``out``.

    scheduler: ``None`` or ``"local"`` (a LocalCluster of ``n_workers`` processes, started and
        stopped here), a scheduler address (``"tcp://host:8786"``), or a ``distributed.Client``.
    reference, device, normalize, params: as for :func:`napari_tlreg.register` (same for every sequence).
    slice: the slice position of each multi-slice source (``load_sequence``'s ``slice``; default 0), or ``"all"``:
        every slice position, each its own sequence ``"<name>_slice<k>"`` (counted on the workers first).
    frames: a sub-clip of every sequence, ``slice(start, stop)`` (a step too) of its frames, as ``seq[start:stop]``
        cuts it (with its labels, landmarks and region); recorded, and a sequence too short for it fails its row.
    on_row: called with each row as its sequence finishes (in completion order).
    on_start: called once the sequences are sent to the workers, with ``{"sequences": N sent, "workers": W, "threads":
        each local worker's torch threads (None on a cluster not started here), "local": bool}`` (not called when
        every sequence is finished or failed already).
    Returns one row per sequence, in input order: ``name``, ``status`` (``ok``/``skipped``/
    ``failed``), ``seconds``, ``frames``, key metrics, ``error``, ...; the same rows are written
    to ``out/summary.csv``. An unknown method or bad parameters raise ``ValueError`` before any
    work starts.
    """
    from .engines import get_engine

    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):  # a new worker process importing the script
        raise RuntimeError(UNGUARDED)  # (as multiprocessing's own check; it went on into a batch of its own)
    require_dask()
    inputs = _as_inputs(inputs)  # before OUT is made
    engine = get_engine(method)  # unknown method -> ValueError now, not once per sequence
    checked = engine.validate_params(params)
    given = {k: checked[k] for k in params}
    from .core.normalize import check_mode

    check_mode(normalize)
    if not (slice is None or slice == "all" or (isinstance(slice, int) and not isinstance(slice, bool) and slice >= 0)):
        raise ValueError(f"slice must be a slice position (an integer >= 0) or 'all', got {slice!r}")
    cut = _frames_record(frames)
    if scheduler is None or str(scheduler) == "local":
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be an integer >= 1, got {n_workers!r}")
        from .core.ops import resolve_device

        resolve_device(device)  # the workers are this machine's: "no CUDA GPU" once, not a failed row a sequence
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    for marker, kind in (("result.json", "a result"), ("report.json", "a report"), ("itk.json", "an ITK export")):
        if (out / marker).is_file():  # a cohort's folders and summary went into it (register refuses the reverse)
            raise FileExistsError(f"{out}: {kind} folder napari-tlreg wrote, not a batch's: name another folder")
    from .io.writers import check_place

    check_place(out / SUMMARY_NAME)  # a read-only OUT said "[Errno 30] Read-only file system: '.../.summary.csv.tmp-...'"
    out.mkdir(parents=True, exist_ok=True)
    with _only_batch_in(out):
        return _run_batch(inputs, method, out, scheduler, n_workers, reference=reference, device=device,
                          montage=montage, on_row=on_row, normalize=normalize, slice=slice, given=given,
                          on_start=on_start, frames=cut)


#: what a batch started from a script without ``if __name__ == "__main__":`` says
UNGUARDED = ("run_batch: a local Dask cluster's worker processes import the script that starts it again: call "
             "run_batch under `if __name__ == \"__main__\":`")


@contextlib.contextmanager
def _only_batch_in(out: Path):
    """Hold ``out`` for this batch: a second batch into the same folder (another terminal, a job array) is refused
    with :class:`OSError` before it reads anything, rather than registering the same sequences again, clearing the
    first one's half-written results as an interrupted run's leftovers and writing its own summary over the first's.
    An advisory ``flock`` on the folder itself (no lock file to leave behind; the system drops it with the process)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError(f"{out}: another napari-tlreg batch is writing to this folder; wait for it to finish "
                          "or give another output folder") from None
        except OSError:  # a file system without locks (some network mounts): run unguarded, as before
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


class _QuietDistributed:
    """distributed's INFO lines in this process (the workers' are silenced at start) kept quiet while any batch runs a
    local cluster: each batch set the level and put back the one it found, so of two batches in threads the first to
    end made the other's loud, and the last left the process quiet for good."""

    def __init__(self):
        self._lock = threading.Lock()
        self._batches = 0
        self._level = logging.NOTSET

    def enter(self) -> None:
        log = logging.getLogger("distributed")
        with self._lock:
            if not self._batches:
                self._level = log.level
                log.setLevel(max(self._level, logging.ERROR))
            self._batches += 1

    def leave(self) -> None:
        with self._lock:
            self._batches -= 1
            if not self._batches:
                logging.getLogger("distributed").setLevel(self._level)


_QUIET = _QuietDistributed()


def no_inputs(inputs, out) -> ValueError:
    """The error of ``inputs`` that give no sequence (:func:`expand_inputs` found none), saying why where it can."""
    listed = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    inside = [p for p in listed if Path(p).expanduser().exists()
              and Path(out).resolve() in (Path(p).expanduser().resolve(), *Path(p).expanduser().resolve().parents)]
    if inside:  # it said "no input sequences given" to `batch cohort --out cohort`
        return ValueError(f"{os.fspath(inside[0])} is the output folder {out} or lies inside it, whose results are "
                          "no inputs: name another folder for --out")
    labels = [p for p in listed if Path(p).expanduser().is_file() and labels_of_a_sequence_beside(Path(p).expanduser())]
    if labels:  # (diff review) a labels file alone was "no input sequences given"
        first = Path(labels[0]).expanduser()
        from .io.readers import _stem

        folder = first.parent / _stem(first).rsplit("_", 1)[0]
        if folder.is_dir():
            return ValueError(f"{os.fspath(labels[0])} is named as the labels of the folder {folder.name} beside it, "
                              "which is no sequence file (its reader reads no labels beside it): register the folder "
                              f"with `napari-tlreg register {folder.name} --labels {first.name}`")
        return ValueError(f"{os.fspath(labels[0])} is the labels of the sequence beside it, read with that sequence: "
                          "give the sequence instead")
    return ValueError("no input sequences given")


def _run_batch(inputs, method, out, scheduler, n_workers, *, reference, device, montage, on_row, normalize, slice,
               given, on_start=None, frames: list | None = None) -> list[dict]:
    """:func:`run_batch`'s work, with the arguments checked and ``out`` held."""
    items = expand_inputs(inputs, exclude=out, slice=None if slice == "all" else slice)
    if frames is not None:  # each sequence's sub-clip, decided with its item (recorded, compared by a rerun)
        items = [{**it, "frames": frames} for it in items]
    if not items:
        raise no_inputs(inputs, out)
    session: list = []  # (client, cluster, owns_client), started on first need

    def client():
        """The Dask client (started on first call) and whether its cluster is the local one started here."""
        if not session:
            session.append(_client(scheduler, n_workers))
            if session[0][1] is not None:
                # the local cluster's comms, closed under workers a SIGTERM to the process group ended, logged
                # tracebacks at INFO around the batch's one line ("Batched Comm Closed")
                _QUIET.enter()
        return session[0][0], session[0][1] is not None

    def stop() -> None:
        """Close what was started here (the client, the local cluster: its workers stop)."""
        if session:
            c, cluster, owns_client = session.pop()
            if owns_client:
                c.close()
            if cluster is not None:
                cluster.close()
                _QUIET.leave()

    try:
        if slice == "all":  # every slice position of each source: count them on the workers first
            c, _ = client()
            counts = iter(c.gather(c.map(_count_slices, [it["source"] for it in items if not it.get("error")],
                                         pure=False)))
            items = unique_names(_every_slice(items, [1 if it.get("error") else next(counts) for it in items]), out)
        return _register_items(items, client, method, out, reference=reference, device=device,
                               montage=montage, on_row=on_row, normalize=normalize,
                               slice=None if slice == "all" else slice, given=given, n_workers=n_workers, stop=stop,
                               on_start=on_start)
    finally:
        stop()


def _register_items(items, client, method, out, *, reference, device, montage, on_row, normalize, slice,
                    given, n_workers, stop: Callable[[], None] = lambda: None, on_start=None) -> list[dict]:
    """:func:`run_batch`'s work on resolved ``items``: skip the finished, register the others on Dask (``client()``
    starts the session: ``(client, local)``; ``stop()`` ends it), write the summary."""
    from .engines import _REGISTRY
    from .io.writers import remove_leftovers

    rows: dict[int, dict] = {}
    todo: list[int] = []
    for left in out.glob(f".{SUMMARY_NAME}.tmp-*"):  # a summary being written when a run was killed
        if left.is_file() and not left.is_symlink():
            left.unlink(missing_ok=True)
    for i, item in enumerate(items):
        folder = out / item["name"]
        remove_leftovers(folder, "result.json")  # a worker stopped with its cluster never ran atomic_dir's clean-up
        run = run_record(item, method, given, reference, normalize, slice)
        if item.get("error"):  # failed here, not sent to a worker (a path Dask cannot carry failed the batch)
            rows[i] = _said_stale(_row(item, status="failed", seconds=0.0, method=method, error=item["error"]), out)
            if on_row is not None:
                on_row(rows[i])
        elif is_finished(folder, run):
            rows[i] = _row(item, status="skipped", seconds=0.0, folder=str(folder), **_metrics_of(folder))
            if on_row is not None:
                on_row(rows[i])
        else:
            todo.append(i)

    if todo:
        from distributed import as_completed

        c, local = client()
        threads = max(1, usable_cpus() // int(n_workers)) if local else None
        entry = _REGISTRY.get(method)
        futures = {}
        for i in todo:
            fut = c.submit(register_one, items[i], method, str(out), reference=reference, device=device,
                           montage=montage, params=given, engine_entry=entry, torch_threads=threads,
                           normalize=normalize, slice=items[i].get("slice", slice),
                           key=f"napari-tlreg-{items[i]['name']}-{uuid.uuid4().hex[:12]}", pure=False)
            futures[fut] = i
        # the summary says at every moment what the folders hold: an interrupted run leaves "pending" rows, not
        # the previous run's figures for results it has since replaced
        for i in todo:
            rows[i] = _row(items[i], status="pending", method=method, folder=str(out / items[i]["name"]))
        write_summary([rows[i] for i in range(len(items))], out)
        try:
            if on_start is not None:  # a long cohort said nothing until its first sequence ended (in the try: a Ctrl-C
                on_start({"sequences": len(todo), "workers": n_workers if local else _count_workers(c),  # here is one
                          "threads": threads, "local": local})  # as any other)
            for fut in as_completed(list(futures)):
                i = futures[fut]
                try:
                    row = fut.result()
                except Exception as exc:  # the worker died (KilledWorker), a pickling error, ...
                    row = _row(items[i], status="failed", method=method, error=f"task failed: {_one_line(exc)}")
                rows[i] = row = _said_stale(row, out)
                write_summary([rows[k] for k in range(len(items))], out)
                if on_row is not None:
                    on_row(row)
        except BaseException:  # Ctrl-C: a result a worker finished before its row came back is not "pending"
            with _interrupts_held():  # a second Ctrl-C (or timeout's signal to the group) cut this short
                with contextlib.suppress(Exception):
                    stop()  # first: a worker still running would finish a result after the summary called it pending
                finished = []
                for i in todo:
                    folder = out / items[i]["name"]
                    if rows[i]["status"] == "pending" and is_finished(
                            folder, run_record(items[i], method, given, reference, normalize, slice)):
                        # said as every row is (it was "ok" in summary.csv, never printed; its seconds unknown here)
                        done = _metrics_of(folder)
                        said = "finished as the batch was interrupted (its seconds not measured)"
                        done["note"] = f"{done['note']}; {said}" if done.get("note") else said
                        rows[i] = _row(items[i], status="ok", folder=str(folder), **done)
                        finished.append(rows[i])
                    with contextlib.suppress(OSError):  # a worker stopped mid-write left its full-size hidden copy
                        remove_leftovers(folder, "result.json")
                    if not local and rows[i]["status"] == "pending":  # a cluster not started here runs its tasks
                        # to their end (Dask stops no task once started): the result lands after this summary
                        rows[i]["note"] = ("interrupted: a task running on the cluster may still write its result; "
                                           "run the batch again to collect it")
                write_summary([rows[k] for k in range(len(items))], out)
                for row in finished if on_row is not None else ():  # after the summary: nothing said cuts it short
                    with contextlib.suppress(Exception, KeyboardInterrupt):
                        on_row(row)
            raise

    ordered = [rows[i] for i in range(len(items))]
    write_summary(ordered, out)
    return ordered
