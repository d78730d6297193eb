"""Readers, writers and bundled samples (no Qt, no napari).

``load_sequence(path_or_sample_name)`` -> :class:`Sequence`; ``load_labels(files, sequence)`` -> its labels from
labels files (ACDC's volumes, ``FILE@T``, expert contours); ``save_stack`` /
``load_stack`` for exact array round trips (TIFF, NIfTI); landmark CSVs with
``save_points_csv`` / ``load_points_csv``; ``atomic_path`` / ``atomic_dir`` for writes that
never leave a half-written file. Heavy libraries (tifffile, nibabel, pydicom, imageio) are
imported on first use.
"""
from .readers import (
    SUPPORTED_SUFFIXES,
    SequenceReadError,
    count_slices,
    load_sequence,
    load_slices,
    load_stack,
    samples,
    to_luminance,
)
from .contours import load_contours
from .labels import load_labels
from .sequence import Sequence
from .writers import atomic_dir, atomic_path, load_points_csv, save_points_csv, save_stack

__all__ = [
    "Sequence",
    "SequenceReadError",
    "SUPPORTED_SUFFIXES",
    "count_slices",
    "load_contours",
    "load_labels",
    "load_sequence",
    "load_slices",
    "load_stack",
    "samples",
    "to_luminance",
    "save_stack",
    "save_points_csv",
    "load_points_csv",
    "atomic_path",
    "atomic_dir",
]
