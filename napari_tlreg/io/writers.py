"""Atomic writers: stacks (TIFF, OME-TIFF, NIfTI) and landmark CSVs.

Every writer goes through :func:`atomic_path`: the data is written to a temporary sibling
``.<name>.tmp-<random>``, flushed to disk (fsync), then moved onto the target with
``os.replace``. If anything fails, the temporary file is deleted and the exception re-raised;
a file already at the target is left untouched. :func:`atomic_dir` does the same for whole
result folders.
"""
from __future__ import annotations

import csv
import errno
import glob
import gzip
import io
import math
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..core.notes import say

__all__ = ["atomic_path", "atomic_dir", "save_stack", "save_points_csv", "load_points_csv"]

POINTS_HEADER = ("id", "t", "row", "col")
#: the names napari-tlreg writes into each kind of output folder, by the file that marks it: replacing such a folder
#: replaces these and keeps whatever else the user put there (a segmentation saved beside warped.tif, notes), which
#: was deleted; a name of another kind's (a labels.tif in a report folder) is the user's there
OUTPUT_FILES = {
    "result.json": frozenset({
        "result.json", "frames.tif", "warped.tif", "displacement.tif", "jacobian.tif", "inverse.tif", "nodata.tif",
        "metrics.json", "metrics.csv", "montage.png", "plots.png", "labels.tif", "propagated_labels.tif",
        "landmarks.csv", "tre.csv", "landmark_pairs.csv", ".metrics-tmp"}),
    "report.json": frozenset({
        "report.json", "per_frame.csv", "summary.csv", "plots.png", "landmarks.csv", "tre.csv", "landmark_pairs.csv"}),
    "itk.json": frozenset({"itk.json", "reference.nii.gz"}),
}
#: the per-frame files of an ITK export (:meth:`RegistrationResult.save_itk`)
_NUMBERED_OUTPUT = re.compile(r"(frame|displacement)_\d{3,}\.nii\.gz")


def is_output_file(name: str, replaces: str) -> bool:
    """A name napari-tlreg writes into the output folder that ``replaces`` marks (:data:`OUTPUT_FILES`)."""
    return name in OUTPUT_FILES.get(replaces, ()) or (
        replaces == "itk.json" and _NUMBERED_OUTPUT.fullmatch(name) is not None)


def _say(on_warning, message: str) -> None:
    say(on_warning, message)  # the user's line, through atomic_dir's frames


def _left_behind(target: Path, old: Path, left: list[str]) -> str:
    return (f"{target}: {', '.join(left[:5])}{', ...' if len(left) > 5 else ''}, kept in it before, could not be moved "
            f"into it (a name it holds now, a mount point, a permission): they are in {old}")


def _salvage(old: Path, target: Path, replaces: str) -> list[str]:
    """Move what the user kept in an output folder being replaced (``old``, moved aside) into its replacement
    ``target``; returns the names that could not be moved (a mount point, a name the new folder holds), or what stopped
    its listing."""
    try:
        names = os.listdir(old)
    except OSError as exc:
        return [f"what it held ({exc.strerror or exc})"]
    left = []
    for e in names:
        if is_output_file(e, replaces):
            continue
        try:
            if (target / e).exists() or (target / e).is_symlink():
                raise FileExistsError(e)
            os.rename(old / e, target / e)
        except OSError:
            left.append(e)
    return left


# --------------------------------------------------------------------------- atomicity
def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (POSIX); silently skipped where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _final_target(target) -> Path:
    """The absolute path a write lands on, links followed: a link to a folder (or file) elsewhere has what it points
    to replaced and stays a link (renaming onto the link itself replaced the link and left the old folder behind)."""
    return Path(os.path.realpath(Path(target).expanduser()))


def _disk_full(exc: BaseException, target: Path, inside: Path | None = None) -> OSError | None:
    """A plain "no space left" error naming ``target``, the output the user named, for a full disk or quota (tifffile
    reports a short write as "N requested and M written", without an errno; others named no path, or the hidden
    temporary one, gone by then). ``inside``: the temporary folder of an :func:`atomic_dir` write, whose file that
    failed is named relative to it."""
    if not isinstance(exc, OSError):
        return None
    short = exc.errno is None and "requested and" in str(exc) and "written" in str(exc)
    if not short and exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    where = ""
    failed = getattr(exc, "output", None) or exc.filename  # (an inner atomic_path's own error names its output)
    failed = Path(failed) if isinstance(failed, (str, os.PathLike)) else None
    if inside is not None and failed is not None and inside in failed.parents:
        where = f" (its {failed.relative_to(inside)})"
    quota = exc.errno == errno.EDQUOT  # a quota's own words: df shows free space
    said = OSError(errno.EDQUOT if quota else errno.ENOSPC,
                   f"{'disk quota exceeded' if quota else 'no space left on the device'} while writing {target}{where}")
    said.output = str(target)
    return said


#: bytes a file name may have (Linux, macOS, Windows: 255); a sibling's ``.``, ``.tmp-`` and 8 hex digits take 14
_NAME_MAX = 255


def _sibling_prefix(target: Path, tag: str) -> str:
    """``.<name>.<tag>-``, ``<name>`` cut to what fits beside 8 hex digits in one file name (an output named with 242
    to 255 bytes was refused with its temporary sibling's "File name too long"); a name that is not UTF-8 (a byte
    0xff, which Linux allows) as it is (it failed with a codec error after the whole run)."""
    room = _NAME_MAX - len(f"..{tag}-") - 8
    raw = os.fsencode(target.name)  # the name's bytes, as the file system has them (Linux allows any but / and NUL)
    cut = raw[:room]
    while cut and len(cut) < len(raw) and raw[len(cut)] & 0xC0 == 0x80:  # not through a UTF-8 character
        cut = cut[:-1]
    return f".{os.fsdecode(cut)}.{tag}-"


def _raise_if_full(exc: BaseException, target: Path, inside: Path | None = None) -> None:
    """Raise :func:`_disk_full`'s plain error for ``exc`` (from it) when it is a full disk or quota; else return, for
    the caller to re-raise ``exc`` as it is."""
    full = _disk_full(exc, target, inside)
    if full is not None:
        raise full from exc


def _tmp_sibling(target: Path, tag: str) -> Path:
    return target.with_name(_sibling_prefix(target, tag) + secrets.token_hex(4))


@contextmanager
def atomic_path(target):
    """Yield a temporary path next to ``target``; on success move it onto ``target``.

    Usage::

        with atomic_path("out.tif") as tmp:
            tifffile.imwrite(tmp, data)

    The parent folder is created if needed. On an exception inside the block (or if the
    block wrote nothing), the temporary file is removed, the target is unchanged, and the
    exception propagates.
    """
    target = _final_target(target)
    if target.is_dir():
        raise IsADirectoryError(f"{target}: is a folder, expected a file path")
    if target.exists() and not target.is_file():  # replaced by a plain file: /dev/null became a 1.4 MB checkpoint
        raise FileExistsError(f"{target}: is not a file (a device, a pipe or a socket) and is not replaced; write to a "
                              "file's path")
    check_place(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_file_leftovers(target)
    tmp = _tmp_sibling(target, "tmp")
    lock = None
    try:
        # made and locked first (the block writes into it): a killed write's file is a leftover the next write to
        # the target removes (each kill left a full-size hidden copy for good), one being written is not
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        lock = _lock_fd(fd)
        made = os.fstat(fd).st_mtime_ns
        yield tmp
        if not tmp.is_file() or (tmp.stat().st_size == 0 and tmp.stat().st_mtime_ns == made):
            raise OSError(f"{target.name}: nothing was written")
        _fsync_file(tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException as exc:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        _raise_if_full(exc, target)
        raise
    finally:
        _release(lock)


def _lock_fd(fd: int) -> int:
    """``fd`` with an advisory lock taken on it (:func:`_lock`'s, for a file already open); returned for
    :func:`_release`."""
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (ImportError, OSError):
        pass
    return fd


def _remove_file_leftovers(target: Path) -> None:
    """The temporary files (``.<name>.tmp-<8 hex>``) an :func:`atomic_path` write of ``target`` left when its process
    was killed: no write holds their lock. None is touched where there are no flock locks."""
    prefix = _sibling_prefix(target, "tmp")
    try:
        names = [n for n in os.listdir(target.parent) if n.startswith(prefix)
                 and re.fullmatch(r"[0-9a-f]{8}", n[len(prefix):])]
    except OSError:
        return
    for name in names:
        path = target.parent / name
        if not path.is_file() or path.is_symlink():
            continue
        fd, held = _lock(path)
        if fd is None:  # held by a write going on, or no locks here
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            _release(fd)


def _writable(folder: Path) -> bool:
    """Whether a file can be made in ``folder`` (a read-only mount or a pseudo file system such as /proc says yes to
    ``os.access`` as root, and no to a file)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


#: the files that mark the folders napari-tlreg writes, and what each folder is (said where another kind is asked for)
_OUTPUT_MARKS = {"result.json": "a napari-tlreg result", "report.json": "a napari-tlreg evaluation report",
                 "itk.json": "a napari-tlreg ITK export",
                 "summary.csv": "a napari-tlreg batch's output (summary.csv)"}  # last: a report writes one too


def check_replaceable(target, replaces: str | None = None, kind: str = "output", inputs=()) -> None:
    """Raise ``FileExistsError`` unless :func:`atomic_dir` may replace ``target``: it is missing, an empty folder,
    or (with ``replaces``) a folder holding that file, and holds none of ``inputs`` (the run's own files: an input
    copied into an earlier result folder was deleted by the result written there, and its record named a file gone).
    Callers run it early too, before a long computation."""
    target = _final_target(target)
    here = Path.cwd().resolve()
    if target == here or target in here.parents:  # replacing it would move the folder the user is in aside
        raise FileExistsError(f"{target}: is the current folder or holds it; name a new folder for the output")
    for given in inputs:
        if given is None or not Path(given).expanduser().exists():
            continue
        # the file itself and the path given (a link in the folder to a file elsewhere: the link would go)
        for p in (_final_target(given), Path(os.path.abspath(Path(given).expanduser()))):
            if p != target and target in p.parents:
                raise FileExistsError(f"{target}: holds {p.relative_to(target)}, read by this run; writing the "
                                      "output there would delete it: name another folder for the output")
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target}: exists and is not a folder")
    if target.is_dir() and os.path.ismount(target):  # (a Docker volume, a drive): found after the run, as "Device
        # or resource busy: '/out' -> '/.out.old-12c3a78d'" when the folder was moved aside to be replaced
        raise FileExistsError(f"{target}: is a mount point, which cannot be replaced as a whole: name a folder "
                              f"inside it for the output ({target / kind})")
    if replaces is not None and target.is_dir() and any(target.iterdir()) and not (target / replaces).is_file():
        other = next((what for name, what in _OUTPUT_MARKS.items() if (target / name).is_file()), None)
        if other is not None:  # ours, of another kind: "is not a napari-tlreg ... folder" said of a batch's own output
            asked = {"itk": "an ITK export", "output": "an output"}.get(kind, f"a {kind}")
            raise FileExistsError(f"{target}: is {other}, not {asked} folder (no {replaces}); writing there would "
                                  "delete what it holds: choose a new or empty folder")
        raise FileExistsError(f"{target}: exists and is not a napari-tlreg {kind} folder (no {replaces}); writing "
                              "there would delete what it holds: choose a new or empty folder")
    check_place(target)


def check_place(target: Path) -> None:
    """Raise unless ``target`` can be made: the nearest folder above it that exists must be a folder that lets us
    write (found only after a long run, or when the file is saved, with the hidden temporary file's name: "No such
    file or directory: '/proc/.x.tmp-836c677f'", "File exists: '/etc/passwd'")."""
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise FileExistsError(f"{target}: cannot be made: {parent} is not a folder")
    if not _writable(parent):
        raise PermissionError(f"{target}: cannot be written: {parent} does not let us write")


@contextmanager
def atomic_dir(target, *, replaces: str | None = None, kind: str = "output", on_warning=None):
    """Yield a temporary folder next to ``target``; on success it replaces ``target``.

    If ``target`` already exists (a folder), it is moved aside, the new folder renamed into
    place, then the old one deleted; if the final rename fails the old folder is restored.
    On an exception inside the block the temporary folder is deleted and the exception
    propagates, leaving ``target`` as it was. With ``replaces``, what the old folder holds that napari-tlreg does not
    write there (:data:`OUTPUT_FILES`: a segmentation or notes the user saved) goes into the new one, once it is in
    place; what cannot be moved stays in the old folder, which is then kept beside it and said (a warning), and a write
    killed before the move leaves the old folder, whose files the next write salvages (:func:`remove_leftovers`).
    ``on_warning(message)``: where that is said (default: ``warnings.warn``; the viewer's workers pass their own, as a
    worker thread's warnings reach no one).
    ``replaces``: a file name that marks an earlier output of the same kind (``result.json``); a
    non-empty folder without it is refused before anything is written (``FileExistsError``, naming
    ``kind``), as replacing it would delete whatever else the user kept there.
    """
    target = _final_target(target)
    remove_leftovers(target, replaces, on_warning)
    check_replaceable(target, replaces, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(target, "tmp")
    tmp.mkdir()
    lock = _hold(tmp)
    try:
        yield tmp
        for root, _dirs, files in os.walk(tmp):
            for name in files:
                _fsync_file(Path(root) / name)
        if target.exists():
            # held while it is moved aside and emptied: another write's remove_leftovers passes it by (it salvaged
            # from it, or deleted it, half-way through this one)
            held = _hold(target)
            try:
                old = _tmp_sibling(target, "old")
                os.rename(target, old)
                try:
                    os.rename(tmp, target)
                except BaseException:
                    os.rename(old, target)
                    raise
                # the user's, into it (the new output is in place: what cannot be moved is said, not raised)
                left = _salvage(old, target, replaces) if replaces is not None else []
                if left:
                    _say(on_warning, _left_behind(target, old, left))
                else:
                    shutil.rmtree(old, ignore_errors=True)
            finally:
                _release(held)
        else:
            os.rename(tmp, target)
        _fsync_dir(target.parent)
        # what was left beside a missing target is replaced by it now (what stays was said above: not twice)
        remove_leftovers(target, replaces, on_warning=lambda _message: None)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _raise_if_full(exc, target, inside=tmp)
        raise
    finally:
        _release(lock)


def _lock(folder: Path) -> tuple[int | None, bool]:
    """``(descriptor, held)``: an advisory lock taken on ``folder`` (None where it cannot be: no flock locks, no
    folder), and whether another write holds it."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        return None, False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        return None, isinstance(exc, BlockingIOError)
    return fd, False


@contextmanager
def staged_files(folder, remove=()):
    """Yield a temporary folder inside ``folder``: the files written into it are moved into ``folder`` together once
    the block ends (each a rename), and the names in ``remove`` are then removed from it. A failure in the block
    leaves ``folder`` as it was: an ``evaluate`` that failed at its plots had replaced ``metrics.json`` and the
    labels before, two evaluations mixed in one folder."""
    folder = _final_target(folder)
    mark = folder / "staged"  # the stage is ".staged.tmp-<8 hex>": a killed write's is a leftover of the next
    check_place(mark)
    remove_leftovers(mark)
    stage = _tmp_sibling(mark, "tmp")
    stage.mkdir()
    lock = _hold(stage)
    try:
        yield stage
        made = sorted((p for p in stage.iterdir() if p.is_file()), key=lambda p: (p.name == "metrics.json", p.name))
        for p in made:
            _fsync_file(p)
        for p in made:  # metrics.json, the evaluation's record, last
            os.replace(p, folder / p.name)
        for name in remove:
            (folder / name).unlink(missing_ok=True)
        _fsync_dir(folder)
    except BaseException as exc:
        _raise_if_full(exc, folder, inside=stage)
        raise
    finally:
        _release(lock)
        shutil.rmtree(stage, ignore_errors=True)


def _hold(folder: Path) -> int | None:
    """An advisory lock on a folder being written (its descriptor; None where there are no flock locks), so that
    another write of the same output passes it by as no leftover: a second ``register --out`` to one folder deleted
    the first's folder in the making, which then failed after its run. The lock goes with the process, so a killed
    write's folder is a leftover again."""
    return _lock(folder)[0]


def _release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def _being_written(folder: Path) -> bool:
    """Whether a write going on (of this process or another) holds ``folder`` (:func:`_hold`)."""
    fd, held = _lock(folder)
    _release(fd)
    return held


def remove_leftovers(target, replaces: str | None = None, on_warning=None) -> None:
    """The temporary siblings (``.<name>.tmp-*``, ``.<name>.old-*``) of an output folder that an earlier write left
    when its process was killed (SIGKILL, a power cut: :func:`atomic_dir`'s clean-up never ran; each kill left a
    full-size hidden copy). With ``target`` missing, a folder moved aside whose replacement never arrived was what
    ``target`` held: the newest that holds ``replaces`` (a whole output of this kind) is put back first. The
    ``.tmp-*`` are removed; the ``.old-*`` once ``target`` is there (each was replaced by it); with ``target`` still
    missing they are left as they are (one killed while it was deleted, or another kind's output: put back, it was
    refused after the run). A folder another write is making now is left to it (:func:`_hold`): of two writes
    into one folder at once, the one that ends last is what the folder holds."""
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return
    def leftovers(tag: str) -> list[Path]:
        # its own only: ".a.tmp-*" matched ".a.tmp-1.tmp-0f3c9a2b", the folder being written for an output "a.tmp-1"
        prefix = _sibling_prefix(target, tag)
        return [p for p in parent.glob(glob.escape(prefix) + "*") if p.is_dir() and not p.is_symlink()
                and re.fullmatch(r"[0-9a-f]{8}", p.name[len(prefix):])]

    if not target.exists():  # stopped between atomic_dir's two renames: the moved-aside folder is the only copy
        whole = [p for p in leftovers("old") if replaces is None or (p / replaces).is_file()]
        if whole:
            os.rename(max(whole, key=lambda p: p.stat().st_mtime), target)
    for left in leftovers("tmp") + (leftovers("old") if target.exists() else []):
        if _being_written(left):  # another write's, going on now
            continue
        if left.name.startswith(_sibling_prefix(target, "old")) and replaces is not None and target.is_dir() \
                and (left / replaces).is_file():  # a write killed before it moved the user's files over
            stuck = _salvage(left, target, replaces)
            if stuck:  # what could not be moved stays, with its folder, and is said at every write
                _say(on_warning, _left_behind(target, left, stuck))
                continue
        shutil.rmtree(left, ignore_errors=True)


# --------------------------------------------------------------------------- stacks
def _stack_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".ome.tif", ".ome.tiff")):
        return "ome"
    if name.endswith((".tif", ".tiff")):
        return "tiff"
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    raise ValueError(f"{path.name}: unsupported file type for a stack; use .tif, .tiff, .ome.tif, .nii or .nii.gz")


_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)
_AXES = {2: "YX", 3: "TYX", 4: "TCYX"}


def save_stack(path, array, spacing=None, *, unit: str = "mm", rgb: bool = False, labels: bool = False,
               geotiff: list | None = None, frame_time_ms: float | None = None, values: str | None = None) -> Path:
    """Write an array atomically, format chosen by suffix; returns the path.

    array: ``(H, W)``, ``(T, H, W)`` (TIFF also ``(T, C, H, W)`` or any N-D). Values and dtype
        are kept exactly (bool is stored as uint8; NIfTI and OME-TIFF refuse float16, OME-TIFF axes of length 1). Read back with ``load_stack``.
    spacing: ``(row, col)`` pixel size in ``unit`` (default mm), or ``None``. Any length unit the readers know
        (``um``, ``µm``, ``cm``, ``inch``, ...) is stored as mm, metres and km as m, as the readers give them back;
        an unknown unit is refused.
    rgb: the last axis (3 or 4 samples) is colour: ``(H, W, 3)`` or ``(T, H, W, 3)``, stored as an RGB(A) TIFF
        (the readers take its luminance as the frames and keep the colour). TIFF only.
    geotiff: georeferencing tags ``[[code, datatype, count, value], ...]`` (``readers.geotiff_tags`` of the source),
        written into a plain or ImageJ TIFF so that a GIS places the image where its source lies.
    frame_time_ms: milliseconds between the frames of a ``(T, H, W)`` (or ``(T, C, H, W)``) stack, kept where the format has a place the
        readers read it back from: NIfTI's pixdim[4] (in msec), an ImageJ hyperstack's ``finterval`` (ITK, Fiji
        and the readers give the frame time; it was 1 with no unit) and an OME-TIFF's ``TimeIncrement``. Ignored elsewhere.
    labels: an integer segmentation, marked as one in the file (TIFF: ``"labels": true`` in its JSON description,
        always a plain TIFF; NIfTI: intent ``label``) so that the plugin's reader opens it as a Labels layer
        (:func:`~napari_tlreg.io.readers.is_labels_stack`).
    values: what the values are, in words (a displacement's "in pixels"), written into a TIFF's description (``values``:
        a line of an ImageJ hyperstack's, a key of a plain TIFF's JSON; GDAL shows it as TIFFTAG_IMAGEDESCRIPTION,
        Fiji under Image > Show Info): the pixel size the file carries says nothing of its values. TIFF only.

    ``.tif/.tiff``: ImageJ-compatible hyperstack for uint8/uint16/float32 without axes of length 1 (spacing as
    ImageJ resolution + unit), otherwise a plain TIFF with spacing in its JSON description and, for
    mm, the resolution tags (pixels per cm). ``.ome.tif``: OME-TIFF with PhysicalSizeX/Y.
    ``.nii/.nii.gz``: NIfTI-1, ``(T, H, W)`` stored as voxel array ``(W, H, 1, T)`` (``(H, W)``
    as ``(W, H)``), zooms ``(col, row, 1, 1)``; see the reader's axis convention.
    """
    path = Path(path)
    kind = _stack_kind(path)
    arr = np.asarray(array)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.ndim < 2:
        raise ValueError(f"{path.name}: expected an image array of at least 2 dimensions, got shape {arr.shape}")
    if arr.dtype.kind not in "biufc":  # tifffile's KeyError: 'O' for an object array
        raise ValueError(f"{path.name}: expected an array of numbers, got {arr.dtype} values")
    if kind == "ome" and arr.dtype.kind in "iu" and arr.dtype.itemsize > 4:
        raise ValueError(f"{path.name}: OME-TIFF cannot store {arr.dtype}; use .tif")
    if kind == "nifti" and arr.ndim > 3:
        raise ValueError(f"{path.name}: NIfTI stacks must be (H, W) or (T, H, W), got {arr.shape}; use .tif")
    if kind == "ome" and 1 in arr.shape:  # OME-TIFF's readers squeeze every axis of length 1 away
        raise ValueError(f"{path.name}: OME-TIFF cannot keep the axes of length 1 of {arr.shape}; use .tif")
    if kind in ("nifti", "ome") and arr.dtype == np.float16:
        raise ValueError(f"{path.name}: {'NIfTI' if kind == 'nifti' else 'OME-TIFF'} cannot store float16; use .tif "
                         "or convert to float32")
    if geotiff and (rgb or kind != "tiff"):
        raise ValueError(f"{path.name}: georeferencing (geotiff=) is kept in a grey .tif, not in "
                         f"{'colour' if rgb else {'ome': 'an OME-TIFF', 'nifti': 'NIfTI'}.get(kind, kind)}")
    extratags = _geotiff_extratags(geotiff, path.name)  # checked before anything is written
    if labels and (rgb or kind == "ome" or arr.dtype.kind not in "iu"):
        raise ValueError(f"{path.name}: labels are an integer array stored as .tif or .nii(.gz), got {arr.dtype}"
                         f"{' as colour' if rgb else ''} for {path.suffix or 'no suffix'}")
    if rgb:
        if kind != "tiff" or arr.ndim not in (3, 4) or arr.shape[-1] not in (3, 4):
            raise ValueError(f"{path.name}: colour is stored as .tif, (H, W, 3|4) or (T, H, W, 3|4); got "
                             f"{arr.shape} for {path.suffix or 'no suffix'}")
        if arr.dtype not in (np.uint8, np.uint16, np.float32):
            arr = arr.astype(np.float32)
    if frame_time_ms is not None:
        ft = float(frame_time_ms)
        if not (math.isfinite(ft) and ft > 0):
            raise ValueError(f"{path.name}: frame_time_ms must be a positive number, got {frame_time_ms!r}")
        # (T, H, W), (T, 2, H, W) fields, and (T, H, W, C) colour (a colour layer saved lost its frame time)
        frame_time_ms = ft if arr.ndim in (3, 4) and not rgb or rgb and arr.ndim == 4 else None
    if spacing is not None:
        spacing = (float(spacing[0]), float(spacing[1]))
        if not all(math.isfinite(s) and s > 0 for s in spacing):
            raise ValueError(f"{path.name}: spacing must be two positive numbers, got {spacing}")
        spacing, unit = _canonical_spacing(path, spacing, unit)
    with atomic_path(path) as tmp:
        if rgb:
            _write_rgb_tiff(tmp, arr, spacing, unit, frame_time_ms)
        elif kind == "nifti":
            _write_nifti(tmp, arr, spacing, unit, gz=path.name.lower().endswith(".gz"), labels=labels,
                         frame_time_ms=frame_time_ms)
        else:
            _write_tiff(tmp, arr, spacing, unit, ome=(kind == "ome"), labels=labels, extratags=extratags,
                        frame_time_ms=frame_time_ms, values=None if kind == "ome" else values)
    return path


def _canonical_spacing(path: Path, spacing: tuple[float, float], unit: str) -> tuple[tuple[float, float], str]:
    """``spacing`` in mm (or m), as every reader gives it back: ImageJ's unit must be ASCII and NIfTI knows mm,
    m and micron only, so ``cm`` or ``µm`` stored as they are would read back wrong or not be written at all."""
    from .readers import _unit_scale

    scale = _unit_scale(unit)
    if scale is None:
        raise ValueError(f"{path.name}: unknown length unit {unit!r}; use mm, um, cm, m or another the readers know")
    return (spacing[0] * scale[0], spacing[1] * scale[0]), scale[1]


def _write_rgb_tiff(tmp: Path, arr: np.ndarray, spacing, unit: str, frame_time_ms: float | None = None) -> None:
    """``(H, W, 3|4)`` or ``(T, H, W, 3|4)`` as an RGB(A) TIFF (spacing and the frame time in its JSON description)."""
    import tifffile

    md: dict = {"axes": "YXS" if arr.ndim == 3 else "TYXS"}
    if spacing is not None:
        md.update(spacing=list(spacing), unit=unit)
    if frame_time_ms is not None:
        md["frame_time_ms"] = float(frame_time_ms)
    extra = {"extrasamples": ["unassalpha"]} if arr.shape[-1] == 4 else {}
    tifffile.imwrite(tmp, arr, imagej=False, ome=False, metadata=md, photometric="rgb", **extra)


def _write_tiff(tmp: Path, arr: np.ndarray, spacing, unit: str, ome: bool, labels: bool = False,
                extratags: list | None = None, frame_time_ms: float | None = None, values: str | None = None) -> None:
    import tifffile

    extratags = extratags or []

    axes = _AXES.get(arr.ndim)
    if ome:
        md: dict = {"axes": axes} if axes else {}
        if spacing is not None:
            md.update(PhysicalSizeY=spacing[0], PhysicalSizeYUnit=unit,
                      PhysicalSizeX=spacing[1], PhysicalSizeXUnit=unit)
        if frame_time_ms is not None and axes and axes[0] == "T":  # a sequence's frame time (it was lost in OME)
            md.update(TimeIncrement=float(frame_time_ms), TimeIncrementUnit="ms")
        tifffile.imwrite(tmp, arr, ome=True, metadata=md)
        return
    # ImageJ hyperstacks read back with their axes of length 1 squeezed away ((1, 2, H, W) as (2, H, W): one frame of
    # a displacement as two frames): such arrays go to the plain TIFF, whose shape tifffile stores exactly
    if arr.dtype.type in _IMAGEJ_DTYPES and axes is not None and 1 not in arr.shape and not labels:
        kw = {}
        md = {"axes": axes}
        if spacing is not None:
            kw["resolution"] = (1.0 / spacing[1], 1.0 / spacing[0])
            md["unit"] = unit
        if frame_time_ms is not None and axes in ("TYX", "TCYX"):
            md["finterval"] = frame_time_ms / 1000.0  # ImageJ's, in seconds
        if values:
            md["values"] = " ".join(values.split())  # a line of ImageJ's description
        tifffile.imwrite(tmp, arr, imagej=True, metadata=md, extratags=extratags, **kw)
        return
    md = {"axes": axes} if axes else {}
    if labels:
        md["labels"] = True
    if values:
        md["values"] = values
    kw = {}
    if spacing is not None:
        md.update(spacing=list(spacing), unit=unit)
        if unit == "mm":
            kw = {"resolution": (10.0 / spacing[1], 10.0 / spacing[0]), "resolutionunit": "CENTIMETER"}
    tifffile.imwrite(tmp, arr, imagej=False, ome=False, metadata=md, photometric="minisblack", extratags=extratags,
                     **kw)


#: TIFF datatypes the GeoTIFF tags use: ASCII, SHORT, LONG, DOUBLE, LONG8
_GEO_DATATYPES = (2, 3, 4, 12, 16)


def _geotiff_extratags(geotiff, name: str) -> list[tuple]:
    """``save_stack``'s ``geotiff=`` as tifffile's ``extratags``, checked (a malformed list raised struct.error from
    inside tifffile, or was dropped with a log line); text as 7-bit ASCII, as TIFF requires (a GeoAsciiParams of
    "Réseau" failed the save after the whole run)."""
    from .readers import GEOTIFF_TAGS

    if geotiff is not None and not isinstance(geotiff, (list, tuple)):
        raise ValueError(f"{name}: geotiff= must be [[code, datatype, count, value], ...] (readers.geotiff_tags), "
                         f"got {type(geotiff).__name__}")
    out = []
    for entry in geotiff or []:
        try:
            code, dtype, count, value = entry
            code, dtype, count = int(code), int(dtype), int(count)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: geotiff= must be [[code, datatype, count, value], ...] "
                             f"(readers.geotiff_tags), got {entry!r}") from None
        if code not in GEOTIFF_TAGS or dtype not in _GEO_DATATYPES:
            raise ValueError(f"{name}: geotiff= holds tag {code} of datatype {dtype}: not a GeoTIFF tag "
                             f"({', '.join(map(str, GEOTIFF_TAGS))})")
        if dtype == 2:
            if not isinstance(value, str):
                raise ValueError(f"{name}: geotiff= tag {code} is text, got {value!r}")
            value = value.encode("ascii", "replace").decode("ascii")
            count = len(value) + 1
        else:
            try:
                value = tuple(float(v) if dtype == 12 else int(v) for v in value)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: geotiff= tag {code} holds numbers, got {value!r}") from None
            if len(value) != count:
                raise ValueError(f"{name}: geotiff= tag {code} says {count} values and holds {len(value)}")
        out.append((code, dtype, count, value, True))
    return out


def _write_nifti(tmp: Path, arr: np.ndarray, spacing, unit: str, gz: bool, labels: bool = False,
                 frame_time_ms: float | None = None) -> None:
    import nibabel as nib

    if arr.ndim == 2:
        data = arr.T
    elif arr.ndim == 3:
        data = np.transpose(arr, (2, 1, 0))[:, :, None, :]  # (T,H,W) -> (W,H,1,T)
    else:  # checked by save_stack
        raise ValueError(f"NIfTI writer takes (H, W) or (T, H, W), got {arr.shape}")
    sr, sc = spacing if spacing is not None else (1.0, 1.0)
    # ITK's identity direction (LPS), as NIfTI's RAS affine: the file lies where ITK writes its own. The RAS identity
    # written before put it mirrored through the origin for ITK and ITK-SNAP (a labels file and an image ITK wrote
    # of the same frame did not overlap: 0 of 2,925 labelled pixels left after resampling one onto the other)
    affine = np.diag([-sc, -sr, 1.0, 1.0])
    img = nib.Nifti1Image(np.ascontiguousarray(data), affine, dtype=data.dtype)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    zooms = (sc, sr) + (1.0,) * (data.ndim - 2)
    timed = frame_time_ms is not None and data.ndim == 4
    if timed:
        zooms = zooms[:3] + (frame_time_ms,)
    img.header.set_zooms(zooms)
    nifti_unit = {"mm": "mm", "m": "meter", "um": "micron", "µm": "micron"}.get(unit, "unknown")
    img.header.set_xyzt_units(nifti_unit if spacing is not None else "unknown", "msec" if timed else "unknown")
    if labels:
        img.header.set_intent("label")
    _nifti_bytes(tmp, img, gz)


def _nifti_bytes(tmp: Path, img, gz: bool) -> None:
    """A nibabel image into ``tmp``, gzipped with no time stamp (the same array, the same bytes)."""
    raw = img.to_bytes()
    with open(tmp, "wb") as f:
        if gz:
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
                g.write(raw)
        else:
            f.write(raw)


def save_itk_displacement(path, field, spacing=None, *, unit: str = "mm") -> Path:
    """Write one pull field ``(2, H, W)`` (pixels, channels (row, col)) as the displacement field ITK and ANTs read
    (``antsApplyTransforms -t``, ``itk.DisplacementFieldTransform``), atomically: a NIfTI vector image
    ``(W, H, 1, 1, 2)``, intent VECTOR (1007) as ANTs writes its warps, on the grid :func:`save_stack` gives a
    NIfTI image (ITK's identity direction, origin 0), its vectors ``(x, y) = (col, row) * spacing`` in ITK's
    physical (LPS) space, as ITK reads them (not flipped like the grid's RAS affine). A point ``p`` of the frame maps
    to ``p + d(p)`` on the reference: ``antsApplyTransforms -i reference -r frame -t this`` gives the frame's warped
    reference."""
    import nibabel as nib

    path = Path(path)
    u = np.asarray(field, dtype=np.float64)
    if u.ndim != 3 or u.shape[0] != 2:
        raise ValueError(f"{path.name}: expected one displacement (2, H, W), got {u.shape}")
    if not np.isfinite(u).all():
        raise ValueError(f"{path.name}: the displacement holds NaN or infinite values")
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        raise ValueError(f"{path.name}: an ITK displacement is written as .nii or .nii.gz")
    if spacing is not None:
        spacing, unit = _canonical_spacing(path, (float(spacing[0]), float(spacing[1])), unit)
    sr, sc = spacing if spacing is not None else (1.0, 1.0)
    vec = np.stack([u[1] * sc, u[0] * sr], axis=-1)  # (H, W, 2): ITK's x (col), y (row)
    data = np.ascontiguousarray(np.transpose(vec, (1, 0, 2))[:, :, None, None, :].astype(np.float32))
    affine = np.diag([-sc, -sr, 1.0, 1.0])
    img = nib.Nifti1Image(data, affine, dtype=np.float32)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_intent(1007)
    img.header.set_xyzt_units({"mm": "mm", "m": "meter"}.get(unit, "unknown") if spacing is not None else "unknown",
                              "unknown")
    with atomic_path(path) as tmp:
        _nifti_bytes(tmp, img, gz=path.name.lower().endswith(".gz"))
    return path


# --------------------------------------------------------------------------- points CSV
def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 2**53 else repr(float(x))


def save_points_csv(path, points) -> Path:
    """Write landmarks atomically as CSV with header ``id,t,row,col``; returns the path.

    points: ``(N, 4)`` rows ``(id, t, row, col)`` (pixels, time index), or ``(N, 3)`` rows
        ``(t, row, col)`` (napari Points), which get ids ``0..N-1``. Floats are written
        with full precision (``repr``), integral values as integers.
    """
    path = Path(path)
    pts = np.asarray(points, dtype=np.float64)
    if pts.size == 0:
        pts = pts.reshape(0, 4)
    if pts.ndim != 2 or pts.shape[1] not in (3, 4):
        raise ValueError(f"{path.name}: points must be (N, 4) (id, t, row, col) or (N, 3) (t, row, col), got {pts.shape}")
    if pts.shape[1] == 3:
        pts = np.column_stack([np.arange(len(pts), dtype=np.float64), pts])
    if not np.all(np.isfinite(pts)):
        raise ValueError(f"{path.name}: points contain NaN or infinite values")
    # what load_points_csv refuses is not written: it could not be read back
    frac = pts[:, :2] != np.round(pts[:, :2])
    if frac.any():
        i, j = np.argwhere(frac)[0]
        raise ValueError(f"{path.name}: {POINTS_HEADER[j]} must be an integer, got {float(pts[i, j]):g} (point {i})")
    keys = [tuple(r) for r in pts[:, :2]]
    if len(set(keys)) != len(keys):
        pid, t = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise ValueError(f"{path.name}: landmark id {pid:g} appears twice in frame {t:g}")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(POINTS_HEADER)
    for row in pts:
        w.writerow([_fmt(v) for v in row])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return path


#: the largest landmark id (or frame) a CSV may give: every integer up to it is exact in float64
MAX_POINT_ID = 2.0**53


def spreadsheet_text(value):
    """A CSV cell a spreadsheet shows as text: one that starts as a formula does (``=``, ``+``, ``-``, ``@``, a tab
    or a carriage return, and is no number) gets a leading ``'`` (a file named ``=cmd|' /C calc'!A0.npz`` put its
    name and its error into a batch summary's cells as a formula Excel would run). Other values as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


#: the largest landmarks CSV read: about a million points (a 1000 points tracked through 1000 frames)
MAX_POINTS_CSV_BYTES = 64 * 2**20


def load_points_csv(path) -> np.ndarray:
    """Read landmarks -> ``(N, 4)`` float64 rows ``(id, t, row, col)``.

    Accepts the header ``id,t,row,col`` (any order, any case, extra columns ignored) or
    napari's own Points export ``index,axis-0,axis-1,axis-2``. Raises ``FileNotFoundError``
    for a missing file and ``ValueError`` naming the file (and line) for a bad CSV: missing
    columns, non-numbers, NaN/inf, non-integer ids or times, or an id repeated in one frame.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a CSV file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_POINTS_CSV_BYTES:  # (10 million rows took 89 s and 5.9 GB, parsed a cell at a time)
        raise ValueError(f"{path.name}: {size / 2**20:,.0f} MiB is more than landmarks take (at most "
                         f"{MAX_POINTS_CSV_BYTES / 2**20:.0f} MiB, about a million points)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path.name}: not a text CSV file") from None
    reader = csv.reader(io.StringIO(text))
    lines, rows = [], []  # each row and the line it ends on in the file (blank lines are skipped, not counted out)
    for r in reader:
        if any(c.strip() for c in r):
            rows.append(r)
            lines.append(reader.line_num)
    if not rows:
        raise ValueError(f"{path.name}: file is empty (expected a header id,t,row,col)")
    header = [c.strip().lower() for c in rows[0]]
    aliases = {"id": ("id", "index"), "t": ("t", "axis-0"), "row": ("row", "axis-1"), "col": ("col", "axis-2")}
    cols = {}
    for key, names in aliases.items():
        cols[key] = next((header.index(n) for n in names if n in header), None)
    missing = [k for k in ("t", "row", "col") if cols[k] is None]
    if missing:
        raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)} "
                         f"(expected header id,t,row,col; found {','.join(header)})")
    out = np.empty((len(rows) - 1, 4), dtype=np.float64)
    for i, r in enumerate(rows[1:]):
        line = lines[i + 1]
        if len(r) < len(header):
            raise ValueError(f"{path.name} line {line}: expected {len(header)} values, found {len(r)}")
        for j, key in enumerate(POINTS_HEADER):
            if cols[key] is None:  # napari export without index column
                out[i, j] = i
                continue
            cell = r[cols[key]].strip()
            try:
                v = float(cell)
            except ValueError:
                raise ValueError(f"{path.name} line {line}: {cell!r} in column {key!r} is not a number") from None
            if not math.isfinite(v):
                raise ValueError(f"{path.name} line {line}: {cell!r} in column {key!r} is not a finite number")
            if key in ("id", "t") and not v.is_integer():
                raise ValueError(f"{path.name} line {line}: {key} must be an integer, got {cell!r}")
            if key in ("id", "t") and abs(v) > MAX_POINT_ID:  # past it, float64 loses integers and int64 overflows
                raise ValueError(f"{path.name} line {line}: {key} {cell} is out of range (at most {MAX_POINT_ID:.0f})")
            out[i, j] = v
    pairs = set()
    for i, (pid, t) in enumerate(out[:, :2]):
        if (pid, t) in pairs:
            raise ValueError(f"{path.name} line {lines[i + 1]}: landmark id {int(pid)} appears twice in frame {int(t)}")
        pairs.add((pid, t))
    return out
