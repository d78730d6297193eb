"""Labels files given for a sequence: the ``--labels`` of the CLI, :func:`load_labels` from Python.

A file of labels for every frame ``(T, H, W)``, one frame's ``(H, W)`` (the reference's, or frame ``T`` as
``FILE@T``), a file of several slice positions (a 4-D NIfTI, M&Ms' ``_sa_gt``; an ``(S, T, H, W)`` array: the
frames' own position), a NIfTI volume of one time point (ACDC's ``patient001_frame01_gt``: its plane at the frames'
slice position, on the frame its name gives), an ``.npz`` (its ``labels`` array, or its one array), or a DICOM
series' expert contour files (with the series' :class:`~napari_tlreg.io.Sequence`). Several files label frames of
their own (ACDC's ED and ES). No torch, Qt or napari here.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np


def load_labels(files, like, *, reference: int | None = None, slice: int | None = None,
                n_slices: int | None = None) -> np.ndarray:
    """Labels ``(T, H, W)`` int32 (0 on frames none labels) of the frames ``like``, from one file or several.

    files: a path, or a list of them, each labelling frames of its own (a frame two files label is refused). ``"FILE@T"``
        puts a file of one frame's labels on frame ``T`` (0-based; M&Ms-2's ``001_SA_ES_gt``, whose name gives none).
    like: the :class:`~napari_tlreg.io.Sequence` the labels are for (its shape, and the slice position it was read at
        and its source's count of them, from its metadata; a DICOM series' for contour files), or the frames
        ``(T, H, W)`` or their shape.
    reference: the frame a file of one frame's labels goes on when neither ``@T`` nor its name gives one (``None``:
        not given; then frame 0, and a labels volume of one time point whose name gives no frame is refused rather
        than put on frame 0).
    slice, n_slices: the slice position of the frames and the number of them in their source, when ``like`` is a
        shape (a Sequence's own metadata otherwise).

    Raises ``ValueError`` (or :class:`~napari_tlreg.io.SequenceReadError`) naming the file for anything that does
    not match the frames. ``load_sequence`` reads ``<stem>_labels.*`` and ``<stem>_gt.*`` beside a file by itself.
    """
    from ..core.labels import labelled_frames
    from .contours import is_contour_source, load_contours
    from .sequence import Sequence

    seq = like if isinstance(like, Sequence) else None
    shape = getattr(like, "shape", like)  # a Sequence's, frames' (an array) or a shape
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3:
        raise ValueError(f"labels are for frames (T, H, W): give a Sequence, the frames or their shape, got {like!r:.80}")
    if seq is not None:
        meta = seq.metadata or {}
        if n_slices is None:  # one slice position, as the readers record it, unless a slice is given for frames of
            n_slices = meta.get("n_slices", 1 if slice is None else None)  # a Sequence made by hand
        slice = meta.get("slice") if slice is None else slice
    paths = [files] if isinstance(files, (str, Path)) else list(files)
    if not paths:
        raise ValueError("no labels file given")
    merged, by = None, {}
    for path, at in map(frame_given, paths):
        drawn = seq is not None and is_contour_source(path)
        if drawn and at is not None:
            raise ValueError(f"{path}@{at}: contour files name the images they were drawn on; give them without @T")
        lab = load_contours(path, seq) if drawn else _one_file(path, shape, reference, slice, n_slices, at)
        for t in labelled_frames(lab):
            if int(t) in by:
                raise ValueError(f"{path}: labels frame {t}, which {by[int(t)]} labels too")
            by[int(t)] = path
        merged = lab if merged is None else np.where(lab != 0, lab, merged)
    return merged


def frame_given(text) -> tuple[str, int | None]:
    """``FILE@T`` -> ``(FILE, T)``: the frame a file of one frame's labels goes on (M&Ms-2's ``001_SA_ES_gt``, CAMUS's
    ``_ES_gt``, whose names give none); a name that is a file as it stands is that file."""
    m = re.fullmatch(r"(.+)@(-?\d+)", str(text))
    return (m.group(1), int(m.group(2))) if m and not Path(text).expanduser().exists() else (str(text), None)


def _one_file(path: str, shape: tuple[int, int, int], reference: int | None = 0, slice: int | None = None,
              n_slices: int | None = None, at: int | None = None) -> np.ndarray:
    """Labels from one file, checked against the frames: ``(T, H, W)`` int32 (one frame goes on the reference). A
    file of several slice positions (a 4-D NIfTI, an ``(S, T, H, W)`` array) gives slice position ``slice`` (the
    frames' own; default 0), and must have the frames' ``n_slices`` when that is known (9 positions of labels against
    a stack of 12 gave another position's labels, without a word). So does a NIfTI volume (X, Y, Z) of one time point
    against a multi-slice source (ACDC's ``frameNN_gt``): its plane ``slice`` labels frame NN of the name (1-based, as
    ACDC counts), or else the reference, which must then be given (``None``: not given; the first frame for any other
    labels). ``at`` (``FILE@T``): the frame one frame's labels go on, whatever the name or the reference."""
    from .contours import is_contour_source
    from .readers import frame_of_volume, load_sequence, load_stack, named_frame, nifti_volume_slices, volume_plane

    if is_contour_source(path):
        raise ValueError(f"{Path(path).name}: contour files name the DICOM images they were drawn on: give them with "
                         "that series (`register DICOM_FOLDER --labels`; `load_labels(path, "
                         "load_sequence(DICOM_FOLDER))` from Python; a result folder keeps them as labels, which "
                         "evaluate reads)")
    if not Path(path).expanduser().exists():  # load_sequence's "not a sample name" hint, and a sample's frames as labels
        raise FileNotFoundError(f"{path}: no such labels file or folder")
    if Path(path).suffix.lower() == ".npz":
        lab = _npz_labels(path, shape, slice, n_slices)
    else:
        try:  # the stored integers exactly (the sequence readers give float32 frames: ids over 2**24 would round)
            lab = load_stack(path)[0]
        except (ValueError, OSError):  # a 4-D NIfTI, DICOM, video: the sequence readers, at the frames' slice position
            seq = load_sequence(path)
            held = int(seq.metadata.get("n_slices", 1))
            if held > 1 and n_slices is not None and held != n_slices:
                raise ValueError(f"{path}: labels of {held} slice positions, the frames' source has {n_slices}")
            if held > 1 and slice:
                seq = load_sequence(path, slice=slice)
            lab = seq.frames
    planes = nifti_volume_slices(path)
    # one time point's volume against a multi-slice source (or, its count unknown, not one plane a frame): the
    # frames' slice position, on the frame the name gives
    if planes and (n_slices > 1 if n_slices else planes != shape[0]):
        lab = volume_plane(Path(path), lab, slice, n_slices)
        named = named_frame(path) if at is not None else frame_of_volume(path, shape[0])  # @T: the name is not used
        if named is None and reference is None and at is None:  # frame 0, without a word, for an ED that was 18
            raise ValueError(f"{path}: a labels volume of one time point whose name gives no frame (ACDC's "
                             "patient001_frame01_gt: frame 1): give the frame it labels, --labels FILE@T (or "
                             "--reference T; from Python, 'FILE@T' or reference=T)")
        reference = reference if named is None else named
    reference = 0 if reference is None else reference
    if at is not None:  # the frame given with the file
        if not 0 <= at < shape[0]:
            raise ValueError(f"{path}@{at}: frame {at} is out of range for {shape[0]} frames [0, {shape[0] - 1}]")
        held = lab.reshape(-1, *lab.shape[-2:]).shape[0]
        if held > 1:
            raise ValueError(f"{path}@{at}: @T places one frame's labels, and this file holds {held} planes "
                             "(give it without @T)")
        reference = at
    while lab.ndim > 3 and lab.shape[0] == 1:
        lab = lab[0]
    if lab.ndim == 4 and lab.shape[1:] == tuple(shape):  # (S, T, H, W): the frames' slice position
        if n_slices is not None and lab.shape[0] != n_slices:
            raise ValueError(f"{path}: labels of {lab.shape[0]} slice positions, the frames' source has {n_slices}")
        k = slice or 0
        if not 0 <= k < lab.shape[0]:
            raise ValueError(f"{path}: labels of {lab.shape[0]} slice positions have no slice {k}")
        lab = lab[k]
    if lab.ndim == 2:
        lab = lab[None]
    if lab.ndim != 3:
        raise ValueError(f"{path}: labels of shape {lab.shape}; expected (T, H, W) or (H, W)")
    if lab.shape[1:] != tuple(shape[1:]):
        raise ValueError(f"{path}: labels of {lab.shape[1]}x{lab.shape[2]} do not match frames of {shape[1]}x{shape[2]}")
    from ..report import check_annotations

    try:
        return check_annotations(shape, lab, None, reference)[0]
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _npz_labels(path, shape, slice=None, n_slices=None):
    """The labels of an ``.npz``: its ``labels`` array (the package's sequence files keep them beside ``frames``,
    which are not labels), its one array, or an expert's masks (``endo``, ``epi``, ``myo`` and their frame flags, as a
    Sunnybrook crop holds them: :func:`~napari_tlreg.io.contours.mask_labels`), which the sequence reader takes as
    labels too: given as ``--labels`` they were refused."""
    from .contours import is_mask_key, mask_labels
    from .readers import SequenceReadError

    try:
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            if "labels" in keys or len(keys) == 1:
                return z["labels" if "labels" in keys else keys[0]]
            # the masks and what they name (their frame flags, a one-frame mask's <phase>_index), not the frames
            masks = {k: z[k] for k in keys if is_mask_key(k) or k.endswith("_index")}
    except Exception as exc:  # zipfile.BadZipFile, zlib.error, EOFError too: one line, not a traceback
        from ..core.region import unreadable_reason

        raise ValueError(f"{path}: not a readable .npz file ({unreadable_reason(exc)})") from None
    if any(is_mask_key(k) for k in masks):
        n = int(n_slices or 1)
        sliced = n > 1 and any(np.ndim(v) == 4 for v in masks.values())  # (S, T, H, W): the frames' slice position
        try:
            lab = mask_labels(masks, (n, *shape) if sliced else tuple(shape))
        except SequenceReadError as exc:
            raise ValueError(f"{Path(path).name}: {exc}") from None
        if lab is not None:
            return lab[slice or 0] if sliced else lab
    raise ValueError(f"{Path(path).name}: the .npz holds no 'labels' array (keys: {', '.join(keys) or 'none'})")
