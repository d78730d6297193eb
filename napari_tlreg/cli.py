"""``napari-tlreg``: the command-line face of the public API.

    napari-tlreg register INPUT [--method tlrn] [--reference T] [--slice K] [--series K|UID] [--frames A:B] [--labels FILE]...
                         [--landmarks CSV] [--device auto] [--normalize auto] --out FOLDER
    napari-tlreg evaluate FOLDER... [--labels FILE]... [--landmarks CSV] [--report FOLDER]
    napari-tlreg train METHOD [--data synthetic:cardiac|synthetic:satellite|FOLDER] [--iterations N]
                         [--net KEY=VALUE] --out WEIGHTS
    napari-tlreg batch INPUTS... --method M --out FOLDER [--scheduler local|ADDRESS] [--workers N]
                       [--param KEY=VALUE] [--reference 0] [--slice K|all] [--frames A:B] [--device auto] [--normalize auto]
                       [--no-montage]
    napari-tlreg view [INPUT] [--run]          (napari with the plugin docked)
    napari-tlreg methods [METHOD] | samples

INPUT is a file, a DICOM folder or a bundled sample name (batch: also globs and cohort folders).
Exit code 0 on success; bad input prints one line to stderr and exits 2; a batch in which some
sequences failed writes its summary and exits 1. Like the widgets, this module holds no math.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

from .core.normalize import NORMALIZATIONS
from .core.notes import time_left

NORMALIZE_HELP = ("intensity scale: per frame where frames flicker in brightness (auto), one for the sequence, "
                  "or each frame its own")


def _frames_choice(text: str) -> slice:
    """``--frames``' value: ``START:STOP`` or ``START:STOP:STEP`` (Python's slice of the frames; either end may be
    left out)."""
    parts = text.split(":")
    try:
        if not 2 <= len(parts) <= 3:
            raise ValueError
        start, stop, *step = (int(p) if p.strip() else None for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP or START:STOP:STEP (frames START to STOP-1), got "
                                         f"{text!r}") from None
    step = step[0] if step else None
    if step is not None and step < 1:
        raise argparse.ArgumentTypeError(f"a step of 1 or more, got {step}")
    return slice(start, stop, step)


def _frames_said(frames: slice) -> str:
    """``--frames``' value as given: ``3:`` (not ``3``, which reads as a frame), ``2:30:2``."""
    from .batch import _frames_text

    return _frames_text([frames.start, frames.stop, frames.step])


def _series_choice(text: str):
    """``--series``'s value: a 0-based index in SeriesNumber order, or a SeriesInstanceUID (dotted digits)."""
    return int(text) if text.isdigit() else text


def _slice_choice(text: str):
    """``--slice``'s value: ``all`` or a slice position."""
    if text == "all":
        return text
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a slice position (0, 1, ...) or 'all', got {text!r}") from None
    if k < 0:
        raise argparse.ArgumentTypeError(f"a slice position is 0 or more, got {k}")
    return k


class _OneLineParser(argparse.ArgumentParser):
    """A bad option prints one line, as every other bad input does (argparse's usage block before it made 8-10)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _OneLineParser(prog="napari-tlreg", description="Deformable registration of image sequences.")
    p.add_argument("--version", action="version", version=f"napari-tlreg {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    p.set_defaults(_commands=sub.choices)  # for main: an unknown option is said with its command's help

    r = sub.add_parser("register", help="register a sequence and write the results to a folder")
    r.add_argument("input", nargs="+", help="file, DICOM folder, or bundled sample name; several files of one image each "
                   "(a satellite pair's dates) are the frames of one sequence, in the order given")
    r.add_argument("--method", default=None, help="engine (default: tlrn); see `napari-tlreg methods`")
    r.add_argument("--reference", type=int, default=None, metavar="T",
                   help="the frame every other frame is registered to (default 0, or the frame with the most labels "
                        "when the labels leave frame 0 empty, as the viewer does; negative counts from the end: -1 is "
                        "the last)")
    r.add_argument("--slice", type=int, default=None, metavar="K",
                   help="slice position of a multi-slice cine (DICOM folder, 4-D NIfTI, npz (S,T,H,W)); default 0")
    r.add_argument("--frames", type=_frames_choice, default=None, metavar="START:STOP",
                   help="register these frames only (frames START to STOP-1, as Python slices them; a third part "
                        "steps; a negative START counts from the end, given as --frames=-5:): a sub-clip, with the "
                        "source's pixel size, region and labels; --reference, --labels and --landmarks then describe "
                        "the frames chosen")
    r.add_argument("--series", type=_series_choice, default=None, metavar="K|UID",
                   help="of a DICOM folder holding several series: the K-th in SeriesNumber order (0-based) or its "
                        "SeriesInstanceUID; default the series of the most files (said)")
    r.add_argument("--labels", action="append", default=None, metavar="FILE",
                   help="labels file (T,H,W) or (H,W) on the reference; a volume (X,Y,Z) of one time point, as "
                        "ACDC's patientNNN_frameMM_gt.nii.gz: the frames' slice position, on frame MM (1-based); one whose "
                        "name gives no frame needs FILE@T or --reference T; or, with a DICOM folder, expert contour files (Sunnybrook's "
                        "IM-0001-NNNN-icontour-manual.txt) or their folder. FILE@T: one frame's labels on frame T. "
                        "Repeatable: each file labels its own frames (ACDC's ED and ES)")
    r.add_argument("--landmarks", default=None, help="CSV with columns id,t,row,col")
    r.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    r.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="engine parameter (repeatable)")
    r.add_argument("--normalize", default="auto", choices=NORMALIZATIONS,
                   help=NORMALIZE_HELP)
    r.add_argument("--out", required=True, help="output folder (written atomically)")
    r.add_argument("--no-montage", action="store_true", help="skip the PNG montage")

    e = sub.add_parser("evaluate", help="per-frame metrics, plots and TRE tables of saved result folder(s)")
    e.add_argument("folder", nargs="+", help="result folder(s) written by `register` (several: one sequence, several methods)")
    e.add_argument("--labels", action="append", default=None, metavar="FILE",
                   help="manual labels file (T,H,W): Dice/HD of the propagated labels; as register's --labels, at the "
                        "slice position the folder was registered from (repeatable)")
    e.add_argument("--landmarks", default=None, help="CSV with columns id,t,row,col: TRE tables")
    e.add_argument("--report", default=None, metavar="FOLDER",
                   help="also write a report folder (as the viewer's Export) for all the results, atomically")

    x = sub.add_parser("itk", help="write a result folder's frames and fields as NIfTI for ITK and ANTs")
    x.add_argument("folder", help="result folder written by `register`")
    x.add_argument("--out", required=True, help="output folder: reference.nii.gz, frame_<t>.nii.gz, "
                   "displacement_<t>.nii.gz (antsApplyTransforms -t), itk.json")

    t = sub.add_parser("train", help="train a learned engine (by hand; minutes to hours on a CPU)")
    t.add_argument("method", choices=["tlrn", "voxelmorph", "multistep", "hsyn"],
                   help="the engine trained: tlrn or voxelmorph (sequences), multistep or hsyn (pairs)")
    t.add_argument("--data", default=None, help="synthetic:cardiac|synthetic:lemniscate|synthetic:mix (sequences), "
                   "synthetic:satellite (pairs) or a folder; default: the method's synthetic data")
    t.add_argument("--iterations", "--epochs", type=int, default=2000, dest="iterations",
                   help="optimiser steps (default 2000; --epochs is the same count of steps, not passes over the data)")
    t.add_argument("--batch", type=int, default=4, help="sequences (or pairs) a step (default 4)")
    t.add_argument("--frames", type=int, default=8, dest="n_frames", help="frames of a training sequence (default 8)")
    t.add_argument("--size", type=int, default=None, help="training image size (default 64 sequences, 128 pairs)")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 0.001)")
    t.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant",
                   help="cosine: anneal the learning rate to 0 over the iterations")
    t.add_argument("--weight", type=float, default=None,
                   help="regulariser weight (default: TLRN Grad 0.03, multistep beta 0.01, HSyN lambda1 1)")
    t.add_argument("--net", action="append", default=[], metavar="KEY=VALUE",
                   help="network/method option, e.g. c=2 or steps=3 (multistep); repeatable")
    t.add_argument("--seed", type=int, default=1234, help="the data's and the network's seed (default 1234)")
    t.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    t.add_argument("--threads", type=int, default=0, help="torch threads (default 0: torch's own choice)")
    t.add_argument("--checkpoint-every", type=int, default=200,
                   help="write the checkpoint OUT every N steps, atomically (default 200)")
    t.add_argument("--val-every", type=int, default=0,
                   help="every N steps, the loss on held-out batches; the best weights go beside OUT, w.pt -> "
                        "w.best.pt (default 0: off)")
    t.add_argument("--val-batches", type=int, default=4, help="held-out batches for --val-every (default 4)")
    t.add_argument("--resume", action="store_true", help="continue the training checkpointed in OUT")
    t.add_argument("--init", default="", help="start from these weights (fine-tuning)")
    t.add_argument("--out", required=True, help="the weights file written (a checkpoint: resumable)")

    b = sub.add_parser("batch", help="register a cohort on Dask: one result folder per sequence + summary.csv")
    b.add_argument("inputs", nargs="+", help="files, DICOM folders, cohort folders, sample names or globs")
    b.add_argument("--method", required=True, help="engine; see `napari-tlreg methods`")
    b.add_argument("--out", required=True, help="output folder: OUT/<name>/ per sequence, OUT/summary.csv")
    b.add_argument("--scheduler", default="local",
                   help="'local' (a LocalCluster, the default) or the address of a running Dask scheduler")
    b.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster (default 2)")
    b.add_argument("--reference", type=int, default=0, metavar="T",
                   help="each sequence's reference frame (default 0; -1 the last)")
    b.add_argument("--slice", type=_slice_choice, default=None, metavar="K|all",
                   help="slice position of each multi-slice cine (default 0), or all: every slice position, "
                        "each its own sequence NAME_slice<k>")
    b.add_argument("--frames", type=_frames_choice, default=None, metavar="START:STOP",
                   help="a sub-clip of every sequence, frames START to STOP-1 (START:STOP:STEP steps; a negative START "
                        "counts from the end: --frames=-5:), as register --frames; a sequence too short fails its row")
    b.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    b.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="engine parameter (repeatable)")
    b.add_argument("--normalize", default="auto", choices=NORMALIZATIONS,
                   help=NORMALIZE_HELP)
    b.add_argument("--no-montage", action="store_true", help="skip the PNG montages")

    v = sub.add_parser("view", help="open napari with the plugin docked on a sequence")
    v.add_argument("input", nargs="?", default="cardiac",
                   help="a file, DICOM folder or sample name (default: the cardiac sample)")
    v.add_argument("--method", default=None, help="the engine chosen in the dock (default: the dock's choice for "
                   "the sequence)")
    v.add_argument("--run", action="store_true", help="start the registration at once")
    v.add_argument("--screenshot", default=None,
                   help="save a screenshot after the run (whose status line it prints) and quit")
    v.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="set an engine parameter in the dock's form (repeatable)")
    v.add_argument("--normalize", default=None, choices=NORMALIZATIONS, help="the dock's intensity choice")

    m = sub.add_parser("methods", help="list the engines, or one engine's parameters (for --param)")
    m.add_argument("method", nargs="?", default=None, help="an engine: list its parameters, defaults and what they do")
    sub.add_parser("samples", help="list the bundled sample sequences")
    return p


def parse_params(items: list[str]) -> dict:
    """``KEY=VALUE`` strings (``--param``, and the benchmarks' ``--nmsr``) as a dict: a value that reads as JSON
    (numbers, ``true``, lists) is that; else a yes/no word (``True``, ``no``, ``on``...) a bool and a number as Python
    reads it (``.5``, ``1.``, ``07``, ``inf``) a number (they were kept as text: "diffeomorphic must be True or
    False, got 'True'"); any other the string itself."""
    params = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param expects KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        if not key.strip():  # "=3": "method 'tlrn' has no parameter(s) ; known: ..."
            raise ValueError(f"--param expects KEY=VALUE, got {item!r} (no KEY)")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = _plain_value(raw)
    return params


_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _plain_value(raw: str):
    word = raw.strip().lower()
    if word in _WORDS:
        return _WORDS[word]
    for kind in (int, float):
        try:
            return kind(raw.strip())
        except ValueError:
            pass
    return raw


def _labels_of(paths: list[str], like, reference: int | None = 0, slice: int | None = None,
               n_slices: int | None = None) -> tuple:
    """``(labels (T, H, W) int32, label names or None)`` of the ``--labels`` files (:func:`napari_tlreg.io.load_labels`:
    ``like`` a Sequence, a DICOM series' for its contour files, or a shape): the contours' names where every file is
    contours."""
    from .io import load_labels
    from .io.contours import LABEL_NAMES, is_contour_source
    from .io.labels import frame_given
    from .io.sequence import Sequence

    drawn = isinstance(like, Sequence) and all(is_contour_source(frame_given(p)[0]) for p in paths)
    return load_labels(paths, like, reference=reference, slice=slice, n_slices=n_slices), (LABEL_NAMES if drawn else None)


def _recorded_sequence(folder: Path, res):
    """The sequence ``register`` recorded in ``folder`` as its source (its slice position, series and sub-clip), read
    again, when it can still be read and holds the same frames; else ``None``."""
    import copy

    from . import report

    source = report.recorded(folder)[0]
    if not source:
        return None
    # as RegistrationResult.source_sequence reads it, from the folder's record (metrics.json's source and slice: a
    # batch's, a folder older than the provenance's)
    recorded = copy.copy(res)
    recorded.provenance = {**(getattr(res, "provenance", None) or {}), "source": source,
                           "slice": _recorded_slice(folder, res)[0]}
    try:
        return recorded.source_sequence()
    except (ValueError, OSError, TypeError):  # (TypeError: a record edited into no slice)
        return None


def _recorded_annotations(folder: Path, res) -> tuple:
    """The labels and landmarks of the source ``register`` recorded in ``folder`` (a sample, a file), when it can
    still be read and holds the same frames; else ``(None, None)``."""
    from . import report

    seq = _recorded_sequence(folder, res)
    if seq is None or (seq.labels is None and seq.landmarks is None):
        return None, None
    try:
        out = report.check_annotations(seq.shape, seq.labels, seq.landmarks, res.reference)
    except ValueError:
        return None, None
    return out


def _labels_like(paths: list[str], folder: Path, res):
    """What ``evaluate``'s ``--labels`` are read against for the result ``res`` in ``folder``: its frames' shape, or,
    for a DICOM series' contour files (which name the images they were drawn on), the series it was registered from,
    read again from its record."""
    from .io.contours import is_contour_source
    from .io.labels import frame_given

    contours = [p for p in paths if is_contour_source(frame_given(p)[0])]
    if not contours:
        return res.frames.shape
    seq = _recorded_sequence(folder, res)
    if seq is None:
        raise ValueError(f"{Path(contours[0]).name}: contour files name the DICOM images they were drawn on, and "
                         f"{folder}'s record names no source that can be read again with its frames (moved?): "
                         f"register the DICOM series again with --labels {contours[0]}")
    return seq


def _recorded_slice(folder: Path, res=None) -> tuple[int | None, int | None]:
    """``(slice position, slice positions of its source)`` of the sequence ``folder``'s result ``res`` was registered
    from, as its provenance records them (a single-slice source: ``(None, 1)``), else its metrics.json (``register
    --slice``, a batch's; the count unknown: ``None``). (A labels volume of as many planes as the frames, taken for
    frames, was scored plane by plane against them.)"""
    from . import report

    prov = getattr(res, "provenance", None) or {}
    if isinstance(prov.get("n_slices"), int):
        return (prov["slice"] if isinstance(prov.get("slice"), int) else None), prov["n_slices"]
    kept = report.recorded(folder)[1]
    slice = kept.get("slice", (kept.get("batch") or {}).get("slice"))
    return (slice if isinstance(slice, int) else None), (1 if prov.get("source") else None)


_PROGRESS_LINE = [False]  # a "\r[...] done/total" progress line is open on stderr


def _end_progress() -> None:
    if _PROGRESS_LINE[0]:
        print(file=sys.stderr)
        _PROGRESS_LINE[0] = False


#: seconds between progress lines when stderr is not a terminal (a log, a batch job)
LOG_PROGRESS_EVERY = 2.0


def _progress_printer(method: str):
    """Progress on stderr: on a terminal one line rewritten in place (padded over the longer line it
    replaces); elsewhere whole lines, at most one every ``LOG_PROGRESS_EVERY`` s, and the last."""
    tty = sys.stderr.isatty()
    state = {"width": 0, "last": -float("inf"), "text": None, "started": time.monotonic()}

    def progress(done, total, message):
        # the API's last call, (1, 1, "done"), after an engine's 2/2: "done" alone (a "1/1" read as a count going back)
        text = f"[{method}] done" if message == "done" and done == total == 1 else f"[{method}] {done}/{total} {message}"
        if total != state.get("total"):  # a stage of its own count (the result's checks after the engine): timed anew
            state["started"], state["total"] = time.monotonic(), total
        left = time_left(time.monotonic() - state["started"], done, total)  # at the pace so far
        if left and not (message == "done" and done == total == 1):
            text += f" ({left})"
        if text == state["text"]:  # the engine's last report and the API's "done" after it: said once
            return
        state["text"] = text
        if tty:
            _PROGRESS_LINE[0] = True
            print("\r" + text.ljust(state["width"]), end="", file=sys.stderr, flush=True)
            state["width"] = len(text)
            return
        now = time.monotonic()
        if now - state["last"] >= LOG_PROGRESS_EVERY or done >= total:
            print(text, file=sys.stderr, flush=True)
            state["last"] = now

    return progress


def _in_cli_words(message: str, command: str = "register") -> str:
    """``message`` with the API's hints and arguments in Python's words said with ``command``'s flags (or the command
    that has one: only ``register`` chooses a series)."""
    from .core.normalize import ONE_SCALE_HINT
    from .io.readers import PIXEL_SIZE_HINT, SERIES_HINT

    series = ("; --series K (0-based, in SeriesNumber order) or --series UID chooses another" if command == "register"
              else "; `napari-tlreg register FOLDER --series K` (0-based, in SeriesNumber order) registers another")
    message = (message.replace(ONE_SCALE_HINT, "--normalize sequence keeps one scale for all")
               .replace(SERIES_HINT, series).replace(PIXEL_SIZE_HINT, ""))
    # the readers' errors name their arguments as Python does ("slice=3 is out of range"): the flags here
    message = re.sub(r"\bslice=(\d+) is out of range", r"--slice \1 is out of range", message)
    return re.sub(r"\bseries=('?[^ ']+'?) (is out of range|chooses)", r"--series \1 \2", message)


def _print_warning(message: str) -> None:
    _end_progress()  # on a line of its own, not after a progress line
    print(f"napari-tlreg register: warning: {_in_cli_words(message)}", file=sys.stderr)


def _inputs_of(args) -> list:
    """The files a ``register`` reads: its input (and the labels file read with it), ``--labels``, ``--landmarks``."""
    from .io.labels import frame_given
    from .io.readers import sibling_labels_paths

    given = [*args.input, *(frame_given(lab)[0] for lab in args.labels or ()), args.landmarks]
    if len(args.input) == 1 and Path(args.input[0]).expanduser().is_file():
        given += sibling_labels_paths(Path(args.input[0]).expanduser())
    return given


def cmd_register(args) -> int:
    from . import api, report
    from .core.labels import frames_said, labelled_frames, reference_on_labels
    from .io import load_points_csv, load_sequence
    from .io.writers import check_replaceable

    method = args.method or api.DEFAULT_METHOD
    api.get_engine(method)  # an unknown method fails before anything is read or computed
    if args.slice is not None and args.slice < 0:  # was read, then "out of range: the source has 1 slice position"
        raise ValueError(f"--slice is a slice position, 0 or more, got {args.slice}")
    # ... and so does an --out that is someone else's folder, or holds this run's own files
    check_replaceable(args.out, "result.json", "result", inputs=_inputs_of(args))
    files = args.input
    said = files[0] if len(files) == 1 else " + ".join(files)  # what the messages call the input
    if len(files) > 1 and args.slice not in (None, 0):
        raise ValueError(f"--slice {args.slice}: files stacked as frames have 1 slice position")
    if len(files) > 1:
        from .io.readers import is_labels_file

        for f in files:  # (a folder of dates leaves them out; given, one was registered as a date)
            if is_labels_file(Path(f)):
                raise ValueError(f"{f}: a labels file (its name says so), not a frame: give it as --labels {f}")
    # too large: refused before it is read; several files: one frame each, stacked
    if len(files) > 1 and args.series is not None:
        raise ValueError("--series chooses a series of one DICOM folder; files stacked as frames are one series")
    seq = load_sequence(files[0] if len(files) == 1 else files, slice=args.slice, series=args.series,
                        max_voxels=api.MAX_VOXELS)
    if args.frames is not None:  # a sub-clip, with its pixel size, region (the echo's fan) and own labels
        n_source = seq.shape[0]
        try:
            seq = seq[args.frames]
        except ValueError as exc:
            raise ValueError(f"{said}: --frames {_frames_said(args.frames)}: {str(exc).split(': ', 1)[-1]}") from None
        first, _, step = seq.metadata["frames"]
        print(f"napari-tlreg register: frames {frames_said(range(first, first + step * seq.shape[0], step))} of its "
              f"{n_source} (--frames {_frames_said(args.frames)}): the frame numbers below, --reference's, --labels' "
              f"and --landmarks' count them from 0 to {seq.shape[0] - 1}", file=sys.stderr)
    n_slices = int(seq.metadata.get("n_slices", 1))
    if not args.labels and seq.labels is not None and seq.metadata.get("labels_source"):  # scored: said (echo review)
        found = seq.metadata["labels_source"]  # a file, or ACDC's volumes (it named the last of them alone)
        print(f"napari-tlreg register: labels: "
              f"{', '.join(Path(str(p)).name for p in (found if isinstance(found, list) else [found]))}, beside the input "
              "(--labels FILE for others)", file=sys.stderr)
    if n_slices > 1 and args.slice is None:  # say so: the other slice positions are not registered
        print(f"napari-tlreg register: {said} has {n_slices} slice positions; registering slice 0 "
              f"(--slice K for another)", file=sys.stderr)
    # everything that can be checked is checked before the (possibly long) registration
    chosen = args.reference is not None
    args.reference = args.reference if chosen else 0
    try:
        api.validate_frames(seq.frames, args.reference)
    except ValueError as exc:  # named, as every reader's error is ("needs at least 2 frames, got 1": which file?)
        raise ValueError(f"{said}: {exc}") from None
    if args.method is None and seq.shape[0] == 2:  # the default is trained on cine: say what a pair of dates wants
        print(f"napari-tlreg register: 2 frames: registering with {method} (the default, trained on cine sequences); "
              f"for a pair of dates (satellite), --method {api.PAIR_METHOD} (the viewer's choice) or multistep",
              file=sys.stderr)
    # what each label id is (the plots and a report name them): the contours', the source's own labels'
    cut = "" if args.frames is None else f" (with --frames, of the {seq.shape[0]} frames chosen)"
    try:
        labels, names = (_labels_of(args.labels, seq, args.reference if chosen else None, args.slice, n_slices)
                         if args.labels
                         else (seq.labels, seq.metadata.get("label_names")))
    except ValueError as exc:
        raise ValueError(f"{exc}{cut}") from None
    landmarks = load_points_csv(args.landmarks) if args.landmarks else seq.landmarks
    try:
        labels, landmarks = report.check_annotations(seq.shape, labels, landmarks, args.reference)
    except ValueError as exc:
        named = Path(args.landmarks).name if args.landmarks else Path(said).name if len(files) == 1 else said
        raise ValueError(f"{named}: {exc}{cut}") from None
    best = None if chosen or labels is None else reference_on_labels(labels, 0)
    if best is not None:  # expert contours on ED and ES: frame 0 would carry nothing and score no Dice
        print(f"napari-tlreg register: reference: frame {best}, the most labelled (labelled frames: "
              f"{frames_said(labelled_frames(labels))}); frame 0 has none to carry to the others "
              f"(--reference T for another)", file=sys.stderr)
        args.reference = best
    for note in report.unannotated_reference(labels, landmarks, args.reference % seq.shape[0]):
        _print_warning(note)
    for note in report.reference_only(labels, landmarks, args.reference % seq.shape[0]):
        print(f"napari-tlreg register: {note}", file=sys.stderr)
    # (files stacked: a DICOM series' own files are ordered by their tags, not their names)
    stacked = seq.metadata.get("files") if seq.metadata.get("reader") == "stack" and not seq.metadata.get("frames") \
        else None
    if isinstance(stacked, list) and len(stacked) == seq.shape[0] > 1:  # which file the others are registered to
        # (a folder of dates in name order: the earlier the reference, and the field's sign with it; review)
        print(f"napari-tlreg register: {seq.shape[0]} files as frames"
              f"{', in name order' if len(files) == 1 else ''}: the reference, frame "
              f"{args.reference % seq.shape[0]}, is {Path(stacked[args.reference % seq.shape[0]]).name}", file=sys.stderr)

    given = parse_params(args.param)
    params = api.own_region_params(method, seq, given)
    for key in sorted(set(params) - set(given)):  # say so: it changes what is registered and reported
        print(f"napari-tlreg register: {api.own_param_note(key, params[key])}", file=sys.stderr)
    res = api.register(seq, method=method, reference=args.reference, device=args.device,  # its spacing too
                       progress=_progress_printer(method), on_warning=_print_warning, normalize=args.normalize, **params)
    _end_progress()
    for note in res.provenance.get("notes", ()):  # what the run decided (multistep: a pair kept the affine alone)
        print(f"napari-tlreg register: {note}", file=sys.stderr)
    source = Path(files[0])  # a file, as evaluate can find it again from anywhere; a sample by its name
    report.write(res, args.out, labels=labels, landmarks=landmarks, montage=not args.no_montage,
                 region=api.own_region(seq), source=str(source.resolve()) if source.exists() else str(files[0]),
                 extra={**({} if args.slice is None else {"slice": args.slice}),
                        **({"files": [str(Path(f).resolve()) for f in files]} if len(files) > 1 else {}),
                        **({"label_names": report.names_of_labels(names)} if labels is not None and names else {})})
    print(f"{method}: {seq.shape[0]} frames of {seq.shape[1]}x{seq.shape[2]} in {res.runtime_s:.2f} s on {res.device} -> {args.out}")
    summary = _summary_of(args.out)  # what it reached, in a line (metrics.json had to be opened: echo review)
    if said := summary_said(summary, res.unit if res.spacing is not None else None):
        print(f"  {said}")
    return 0


def _summary_of(folder) -> dict:
    """``metrics.json``'s summary of a result folder, with the worst frame's folding (``folding_worst_pct``, as the
    viewer says it: the summary's is the mean) and where its MSE and local CC were taken (``region``); {} if none."""
    try:
        doc = json.loads((Path(folder) / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    summary = dict(doc.get("summary") or {}) if isinstance(doc, dict) else {}
    folds = [r.get("folding_pct") for r in doc.get("frames") or () if isinstance(r, dict)]
    folds = [f for f in folds if isinstance(f, (int, float)) and not isinstance(f, bool) and math.isfinite(f)]
    if folds:
        summary["folding_worst_pct"] = max(folds)
    where = doc.get("mse_lncc_region")
    if isinstance(where, str) and where != "whole frame":  # NMSR's mask, or a date's no-data left out
        summary["region"] = "in the mask" if where.startswith("mask") else "with the no-data left out"
    return summary


def summary_said(summary: dict, unit: str | None) -> str:
    """A result's summary (:func:`_summary_of`) in one line: the means over the frames of MSE, local CC (radius 10),
    Dice, HD95 and TRE (in ``unit`` where the result has a pixel size), each beside its value unregistered, where the
    MSE and local CC were taken when not on the whole frame, and the worst frame's folding."""
    def num(key):
        value = summary.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None

    parts = []
    sfx = f"_{unit}" if unit else ""  # metrics.json's physical keys, named after the unit (report.in_unit: tre_m)
    for label, key, fmt, length in (("MSE", "mse", ".3g", ""), ("local CC (radius 10)", "lncc10", ".3f", ""),
                                    ("Dice", "dice", ".3f", ""), ("HD95", "hd95", ".2f", unit or "px"),
                                    ("TRE", "tre", ".2f", unit or "px")):
        after = num(f"{key}{sfx}" if length else key)
        before = num(f"{key}_before{sfx}" if length else f"{key}_before")
        if after is None:
            continue
        part = f"{label} {after:{fmt}}{' ' + length if length else ''}"
        parts.append(part + (f" ({before:{fmt}} unregistered)" if before is not None else ""))
    if parts and isinstance(summary.get("region"), str):  # NMSR's mask: its MSE and local CC are the mask's
        parts[0] = parts[0].replace("MSE ", f"{summary['region']}: MSE ", 1)
    if (folds := num("folding_worst_pct")) is not None:
        parts.append(f"worst folding {folds:.2f} %")
    elif (folds := num("folding_pct")) is not None:
        parts.append(f"folding {folds:.2f} % (mean)")
    n = summary.get("n_frames")
    over = (f"mean over {n} frames: " if n != 1 else "the frame against the reference: ") if isinstance(n, int) else ""
    return over + ", ".join(parts) if parts else ""


def cmd_methods(args) -> int:
    """The engines; with a method, its parameters as ``--param`` takes them, defaults and help, the advanced ones last."""
    from .api import method_params, methods

    if args.method is None:
        for name, desc in methods().items():
            print(f"{name:12s} {desc}")
        return 0
    spec = method_params(args.method)  # an unknown name: ValueError listing the known ones
    print(f"{args.method}: {methods()[args.method]}")
    for advanced in (False, True):
        keys = [k for k, v in spec.items() if v["advanced"] == advanced]
        if keys:
            print("\nadvanced parameters (few users change these):" if advanced else "\nparameters (--param KEY=VALUE):")
        for key in keys:
            v = spec[key]
            d = v["default"]  # as --param takes it: JSON, or a plain string
            default = "(not set)" if d is None else d if isinstance(d, str) and d else json.dumps(d)
            choices = f" (one of {', '.join(map(str, v['choices']))})" if v["choices"] else ""
            print(f"  {key} = {default}{choices}" + (f"\n      {v['help']}" if v["help"] else ""))
    return 0


def _not_a_batch_folder(folder) -> None:
    """``ValueError`` for a batch's output folder given where a result folder is wanted (its results are inside it)."""
    from .batch import SUMMARY_NAME

    if (Path(folder) / SUMMARY_NAME).is_file() and not (Path(folder) / "result.json").exists():
        raise ValueError(f"{folder}: a batch's output folder, not a result folder: give its result folders ({folder}/*/)")


def cmd_itk(args) -> int:
    from .io.writers import check_replaceable
    from .result import RegistrationResult

    check_replaceable(args.out, "itk.json", "itk", inputs=[args.folder])  # before the folder is read
    _not_a_batch_folder(args.folder)  # (it said "not a napari-tlreg result folder")
    res = RegistrationResult.load(args.folder)
    out = res.save_itk(args.out)
    ants = json.loads((out / "itk.json").read_text())["ants"]
    print(f"wrote {out}: {res.n_frames} frames and their displacement fields; in it, `{ants}` warps the reference "
          f"onto frame {(res.reference + 1) % res.n_frames}")
    return 0


def cmd_evaluate(args) -> int:
    import numpy as np

    from . import report
    from .io import load_points_csv
    from .io.writers import check_replaceable
    from .result import RegistrationResult

    from .batch import SUMMARY_NAME

    # a batch's output: its summary (OUT/* names it beside the case folders) is no result; the folder itself says so
    args.folder = [f for f in args.folder if not (Path(f).name == SUMMARY_NAME and Path(f).is_file())] or args.folder
    for f in args.folder:
        _not_a_batch_folder(f)
    results = [RegistrationResult.load(f) for f in args.folder]
    shapes = {tuple(r.frames.shape) for r in results}
    if len(shapes) > 1 and (args.report or args.labels or args.landmarks):  # one sequence's annotations, one report
        raise ValueError(f"the result folders hold different sequences (shapes {sorted(shapes)}): --report, --labels "
                         "and --landmarks are for the results of one sequence (without them each folder is evaluated "
                         "on its own)")
    if args.report:  # before any folder is rewritten
        check_replaceable(args.report, "report.json", "report")
        _check_one_source(args.folder)
    # one labels frame goes on each folder's own reference, a file of several slice positions gives the one each
    # folder was registered from (slice 0's labels scored a slice 5 result: Dice 0.74 for 0.95); read once for each
    # (and its sub-clip: contour files are read against each folder's frames; two sub-clips of one slice were given
    # the first's labels; diff review)
    keys = [(r.reference, *_recorded_slice(Path(f), r), str((r.provenance or {}).get("frames")))
            for f, r in zip(args.folder, results)]
    placed = {}
    for folder, res, key in zip(args.folder, results, keys) if args.labels else ():
        if key not in placed:
            placed[key] = _labels_of(args.labels, _labels_like(args.labels, Path(folder), res), *key[:3])
    refs = sorted({r.reference for r in results})
    if args.report and len(placed) > 1 and any(
            not np.array_equal(placed[keys[0]][0], v[0]) for v in placed.values()):
        raise ValueError(f"{', '.join(args.labels)}: labels placed on each folder's reference, and these folders "
                         f"have references {', '.join(map(str, refs))}: a shared --report needs labels for every frame "
                         "(T, H, W), or run evaluate on each folder with its own --report")
    landmarks = load_points_csv(args.landmarks) if args.landmarks else None
    for res in results if landmarks is not None else ():  # the file named, as register names it
        try:
            report.check_annotations(res.frames.shape, None, landmarks, res.reference)
        except ValueError as exc:
            raise ValueError(f"{Path(args.landmarks).name}: {exc}") from None
    summaries, first, plan = {}, None, []
    for folder, res, key in zip(args.folder, results, keys):
        # each kind not given: what the folder keeps (what register or an earlier evaluate used); a folder older
        # than that: its recorded source's own (else its Dice and TRE were lost)
        want = (args.labels is None, args.landmarks is None)
        own = list(report.saved_annotations(Path(folder), res.frames.shape, res.reference, *want))
        missing = [k for k in (0, 1) if want[k] and own[k] is None]
        if missing:
            from_source = _recorded_annotations(Path(folder), res)
            took = [k for k in missing if from_source[k] is not None]
            for k in took:
                own[k] = from_source[k]
            if took:
                print(f"napari-tlreg evaluate: {folder}: the {' and '.join(('labels', 'landmarks')[k] for k in took)} "
                      f"of its source, {report.recorded(Path(folder))[0]}", file=sys.stderr)
        lab = own[0] if want[0] else placed[key][0]
        lm = own[1] if want[1] else landmarks
        for note in report.unannotated_reference(None if lab is None else np.asarray(lab), lm, res.reference):
            print(f"napari-tlreg evaluate: warning: {folder}: {note}", file=sys.stderr)
        for note in report.reference_only(None if lab is None else np.asarray(lab), lm, res.reference):
            print(f"napari-tlreg evaluate: {folder}: {note}", file=sys.stderr)  # (it exited 0 with a null Dice, silent)
        lost = sorted(report.scored_annotations(Path(folder)) - {k for k, v in (("labels", lab), ("landmarks", lm))
                                                                 if v is not None})
        if lost:  # a folder written before they were kept in it: its recorded Dice and TRE were rewritten away
            raise ValueError(f"{folder}: its metrics score {' and '.join(lost)} that it does not keep (written by an "
                             f"earlier napari-tlreg) and that were not given: pass "
                             f"{' and '.join('--' + k for k in lost)}, or its recorded figures would be lost")
        if lab is None and lm is None:
            print(f"napari-tlreg evaluate: {folder}: no labels or landmarks (none given, none kept in the folder or "
                  "readable from its source): image figures only", file=sys.stderr)
        if first is not None and args.report:  # the report scores every folder with the first's annotations
            lent = [kind for kind, mine, theirs in (("labels", lab, first[0]), ("landmarks", lm, first[1]))
                    if mine is None and theirs is not None]
            if lent:  # said: it printed "no labels" for a folder the report then gave a Dice
                print(f"napari-tlreg evaluate: {folder}: the report scores it with the {' and '.join(lent)} of "
                      f"{first[2]}", file=sys.stderr)
        first = first or (lab, lm, folder)
        plan.append((folder, res, lab, lm))
    rows = []
    for (folder, res, lab, lm), key in zip(plan, keys):  # each folder checked before any is rewritten
        summaries[folder] = report.write_evaluation(res, folder, labels=lab, landmarks=lm,
                                                    keep_label_names=args.labels is None, rows_out=rows,
                                                    label_names=placed[key][1] if key in placed else None)
    if args.report:
        # the report's tables are the folders' own where each was scored with the report's annotations (evaluated
        # once, not again: 40 % of evaluate --report)
        same = all(_same_annotations(lab, first[0]) and _same_annotations(lm, first[1]) for _, _, lab, lm in plan)
        # the sequence the results were registered from, as the viewer's export names it (one, _check_one_source);
        # the folders under a key of their own
        made = report.recorded(Path(args.folder[0]))[0]
        tables = dict(zip(report.named_results(results), rows)) if same else None
        report.export_report(results, args.report, labels=first[0], landmarks=first[1], tables=tables,
                             source=made or ", ".join(args.folder), extra={"result_folders": list(args.folder)},
                             label_names=(report.recorded_label_names(args.folder[0]) if args.labels is None
                                          else placed[keys[0]][1]),
                             on_warning=lambda m: print(f"napari-tlreg evaluate: warning: {_in_cli_words(m, 'evaluate')}",
                                                        file=sys.stderr))
    # standard JSON, as metrics.json is: a label absent from a frame has an infinite Hausdorff distance, "inf" (Python's
    # Infinity on stdout failed JSON.parse, and jq read it as 1.8e308)
    summary = summaries[args.folder[0]] if len(args.folder) == 1 else summaries
    print(json.dumps(report.finite_json(summary), indent=2, allow_nan=False))
    if args.report:
        print(f"report written to {args.report}", file=sys.stderr)
    return 0


def _same_annotations(a, b) -> bool:
    """Whether two folders' labels (or landmarks) are the same: both none, or equal arrays."""
    import numpy as np

    return (a is None and b is None) or (a is not None and b is not None and np.shape(a) == np.shape(b)
                                         and np.array_equal(a, b))


def _check_one_source(folders: list[str]) -> None:
    """A shared report compares methods on one sequence: folders whose ``metrics.json`` record different sources (or
    slice positions of one) are refused before anything is evaluated (``export_report`` tells them apart by their
    frames only when they were scaled alike)."""
    from .batch import _recorded_source, _slice_key

    def what(key, other):  # the slice position named when it tells them apart, or when it is not the default
        return key[0] + (f" slice {key[1]}" if key[1] or key[0] == other[0] else "")

    known = {}
    for folder in folders:
        made = _recorded_source(Path(folder))
        if made is None:
            continue
        key = (made[0], _slice_key(made[1]))
        other = next((f for f, k in known.items() if k != key), None)
        if other is not None:
            raise ValueError(f"{other} and {folder} are results of different sequences ({what(known[other], key)}, "
                             f"{what(key, known[other])}): a --report compares methods on one sequence; run evaluate "
                             "on each folder with its own --report")
        known[folder] = key


def cmd_train(args) -> int:
    from .train import TrainConfig, resumed_settings, train

    opts = {k: v for k, v in vars(args).items() if k not in ("command", "given")}
    opts["net"] = parse_params(opts["net"])
    if args.resume:  # what the command line leaves out is the checkpoint's (it refused every setting not restated)
        taken = resumed_settings(opts["out"], getattr(args, "given", set(opts)))
        if "net" in taken:  # key by key: one --net option given kept the others the checkpoint's
            taken["net"] = {**taken["net"], **opts["net"]}
        opts.update(taken)
    cfg = TrainConfig(**opts)
    out = train(cfg)
    print(f"weights written to {out}")
    if cfg.val_every > 0:  # the best held-out loss's weights, beside it (written, never named)
        from .engines.weights import load_checkpoint
        from .train import best_path

        best = best_path(out)
        val = load_checkpoint(best).get("val") if best.is_file() else None
        if isinstance(val, dict) and val.get("best_step") is not None:
            print(f"the lowest held-out loss's weights (step {val['best_step']}, val={val['best_loss']:.5g}) written to "
                  f"{best}")
    return 0


def _count(n: int, what: str) -> str:
    """``"1 worker"``, ``"2 workers"``."""
    return f"{n} {what}{'' if n == 1 else 's'}"


def cmd_batch(args) -> int:
    from .batch import SUMMARY_NAME, expand_inputs, not_a_sequence, require_dask, run_batch

    try:
        require_dask()
    except ImportError as exc:
        raise OSError(str(exc)) from None

    def report(row: dict) -> None:
        # a time where one was taken (0.0 s too; a skipped row took none): "failed   a : ..." had lost it
        secs = f" {row['seconds']:.1f} s" if row.get("seconds") is not None and row["status"] != "skipped" else ""
        extra = f": {row['error']}" if row.get("error") else ""
        print(f"{row['status']:8s} {row['name']}{secs}{extra}", flush=True)
        if row.get("note"):  # as register says them: the slice registered, a parameter the sequence gave
            print(f"napari-tlreg batch: {row['name']}: {row['note']}", file=sys.stderr, flush=True)
        if row.get("warning"):  # as register says them (no labels on the reference: no Dice), not in the CSV alone
            print(f"napari-tlreg batch: warning: {row['name']}: {_in_cli_words(row['warning'], 'batch')}", file=sys.stderr,
                  flush=True)

    if args.workers < 1:  # the API's words were "n_workers must be an integer >= 1"
        raise ValueError(f"--workers must be 1 or more, got {args.workers}")
    # no input that is a sequence (a typo): refused as a bad argument is, before OUT is made (it left an output folder
    # of one failed row, exit 1; review)
    found = [{**item, "error": item["error"] or not_a_sequence(item["source"])}
             for item in expand_inputs(args.inputs, exclude=args.out)]
    if not found:  # said before OUT is made (it was left empty)
        from .batch import no_inputs

        raise no_inputs(args.inputs, args.out)
    if found and all(item["error"] for item in found):
        said = "; ".join(e if (e := item["error"]).startswith(item["source"]) else f"{item['source']}: {e}" for item in found[:3])
        raise ValueError(f"no sequence to register: {said}" + (f" (and {len(found) - 3} more)" if len(found) > 3 else ""))
    def started(run: dict) -> None:
        where = (f"a local cluster of {_count(run['workers'], 'worker')}, {_count(run['threads'], 'thread')} each"
                 if run["local"] else f"{args.scheduler} ({_count(run['workers'], 'worker')})")
        print(f"napari-tlreg batch: {_count(run['sequences'], 'sequence')} sent to {where}: a line as each ends",
              file=sys.stderr, flush=True)

    rows = run_batch(args.inputs, args.method, args.out, scheduler=args.scheduler, n_workers=args.workers,
                     reference=args.reference, device=args.device, montage=not args.no_montage, on_row=report,
                     on_start=started,
                     normalize=args.normalize, slice=args.slice, frames=args.frames, **parse_params(args.param))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "skipped", "failed")}
    print(f"{len(rows)} sequence(s): {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed "
          f"-> {Path(args.out) / SUMMARY_NAME}")
    if counts["failed"]:
        print(f"napari-tlreg batch: {counts['failed']} sequence(s) failed; see {Path(args.out) / SUMMARY_NAME}",
              file=sys.stderr)
        return 1
    return 0


def cmd_view(args) -> int:
    import importlib.util

    # napari first: without it a display does not help (the two were said one at a time, the display first)
    if importlib.util.find_spec("napari") is None:
        raise OSError('napari is not installed: pip install "napari-tlreg[napari]" (or use `napari-tlreg register`)')
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        # Qt would abort the process (SIGABRT) with a page about its xcb plugin
        raise OSError("no display to open napari on (DISPLAY is not set): run it in a desktop session or under "
                      "xvfb-run, or use `napari-tlreg register` without one")
    from ._widgets.launch import launch

    return launch(args.input, method=args.method, run=args.run, screenshot=args.screenshot,
                  params=parse_params(args.param), normalize=args.normalize)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, SLURM's ``scancel`` or time limit, ``docker stop``) taken as an interrupt, so that what
    an interrupt cleans up is cleaned up: killed while writing, ``register`` left a hidden half-written copy of its
    result beside ``--out`` (the batch stops its cluster and writes its summary, as on Ctrl-C)."""


@contextlib.contextmanager
def _sigterm_interrupts(command: str):
    """SIGTERM raises :class:`Terminated` in the main thread while ``command`` runs; ``view`` keeps Python's default
    (napari's event loop would take the exception as one of its own callbacks' errors)."""
    if command == "view" or threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum, frame):
        raise Terminated()

    before = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def main(argv: list[str] | None = None) -> int:
    _lenient_output()
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # argparse says it with the top level's help, which lists none of the command's options
        args._commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "train":  # the options given on the command line (a --resume takes the others as saved)
        args.given = _given_options(args._commands["train"], sys.argv[1:] if argv is None else argv)
    del args._commands
    with warnings.catch_warnings():  # a warning is one line too, never a source excerpt
        warnings.showwarning = lambda message, category, *_a, **_k: print(
            f"napari-tlreg {args.command}: warning: {_in_cli_words(_first_line(message), args.command)}", file=sys.stderr)
        with _sigterm_interrupts(args.command):
            return _main(args)


def _given_options(command: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The ``dest`` of each of ``command``'s options that ``argv`` gives (its defaults suppressed, parsed again)."""
    import copy

    bare = copy.deepcopy(command)
    for action in bare._actions:
        action.default = argparse.SUPPRESS
    given, _ = bare.parse_known_args(list(argv)[1:])  # after the command's name
    return set(vars(given))


def _lenient_output() -> None:
    """What the output's encoding cannot hold is written as backslash escapes, as Python's stderr does: a path that is
    not UTF-8 (a byte 0xff, which Linux allows) on stdout failed a finished run ("'utf-8' codec can't encode
    character '\\udcff'", exit 2, its result written), and the λ of ``methods nmsr`` failed on a Latin-1 console."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):  # not a text stream, or closed
            stream.reconfigure(errors="backslashreplace")


def _main(args) -> int:
    try:
        if args.command == "methods":
            return cmd_methods(args)
        if args.command == "samples":
            from .io import samples

            for name, desc in samples().items():
                print(f"{name:12s} {desc}")
            return 0
        return {"register": cmd_register, "evaluate": cmd_evaluate, "train": cmd_train, "view": cmd_view,
                "batch": cmd_batch, "itk": cmd_itk}[args.command](args)
    except BrokenPipeError as exc:
        if not _stdout_closed():  # another pipe (a Dask scheduler's): an error like any other
            return _error(args, exc)
        # the reader of the output stopped (`methods | head -3`): not an error of ours to print; the exit status of a
        # program that SIGPIPE ends, and nothing more written to the closed pipe at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    except (ValueError, OSError, TypeError) as exc:
        return _error(args, exc)
    except (MemoryError, RuntimeError) as exc:
        from .api import out_of_memory

        if not out_of_memory(exc):  # a bug or a backend's failure: its traceback
            raise
        _end_progress()
        print(f"napari-tlreg {args.command}: error: out of memory; crop, downsample or split the sequence"
              + ("" if isinstance(exc, MemoryError) else ", or run on another device (--device cpu)"), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        _end_progress()
        term = isinstance(exc, Terminated)
        print(f"napari-tlreg {args.command}: {'terminated' if term else 'interrupted'}", file=sys.stderr)
        return 128 + (signal.SIGTERM if term else signal.SIGINT)


def _error(args, exc: BaseException) -> int:
    _end_progress()
    said = _first_line(exc)
    if args.command == "train":  # the API's "train: ..." said once ("train: error: train: ...")
        said = said.removeprefix("train: ")
    print(f"napari-tlreg {args.command}: error: {_in_cli_words(said, args.command)}", file=sys.stderr)
    return 2


def _stdout_closed() -> bool:
    """Whether standard output's reader has gone (a pipe whose read end is closed polls as an error)."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _fd, events in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # no fileno (captured), no poll (Windows)
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
