"""The in-memory sequence every reader returns and every engine consumes."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.labels import as_label_ids



class NotRealFrames(ValueError):
    """Frames that are not real numbers (complex, objects): a reader names the file and this reason."""


#: the unit of a map's pixel size (the readers give metres for m and km: GeoTIFFs, the satellite sample)
MAP_UNIT = "m"


def is_map(sequence) -> bool:
    """A sequence of maps: its pixel size in metres, or a GeoTIFF's (one in degrees is measured in pixels)."""
    return getattr(sequence, "unit", None) == MAP_UNIT or bool((getattr(sequence, "metadata", None) or {}).get("geotiff"))


def not_real_reason(dtype) -> str:
    dtype = np.dtype(dtype)
    return f"frames must be real numbers, got dtype {dtype}" + (" (take the magnitude first)" if dtype.kind == "c" else "")

@dataclass(eq=False)  # compared and hashed as objects: == over its arrays raised "truth value ... is ambiguous"
class Sequence:
    """A loaded image sequence.

    frames:    ``(T, H, W)`` float32, original intensities (grey; colour converted by luminance).
    labels:    ``(T, H, W)`` integer segmentation or ``None``; a frame with no annotation is all 0.
    spacing:   ``(row, col)`` physical size of a pixel (``unit``, usually mm or m) or ``None``.
    landmarks: ``(N, 4)`` float rows ``(id, t, row, col)`` or ``None``.
    metadata:  free-form dict (source path, frame time, reader, original colour frames, ...).
    """

    frames: np.ndarray
    labels: np.ndarray | None = None
    spacing: tuple[float, float] | None = None
    unit: str = "px"
    landmarks: np.ndarray | None = None
    name: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        f = np.asarray(self.frames)
        if f.ndim != 3:
            raise ValueError(f"{self.name or 'sequence'}: frames must be (T, H, W), got shape {f.shape}")
        if f.dtype.kind not in "biuf":  # complex (e.g. MRI k-space or phase data) cast to float kept the real part only
            raise NotRealFrames(f"{self.name or 'sequence'}: {not_real_reason(f.dtype)}")
        self.frames = f.astype(np.float32, copy=False)
        if self.labels is not None:
            lab = np.asarray(self.labels)
            if lab.shape != f.shape:
                raise ValueError(f"{self.name or 'sequence'}: labels {lab.shape} do not match frames {f.shape}")
            try:
                self.labels = as_label_ids(lab)
            except ValueError as exc:
                raise ValueError(f"{self.name or 'sequence'}: {exc}") from None
        if self.spacing is not None:  # a reader drops a bad one (checked_spacing); register refuses one given so
            self.spacing = (float(self.spacing[0]), float(self.spacing[1]))

    def __repr__(self) -> str:
        # a line, not the arrays (the dataclass's printed 9 kB of them at the end of a notebook cell)
        t, h, w = self.frames.shape
        parts = [f"{self.name!r}" if self.name else "", f"{t} frame{'s' * (t != 1)} of {h}x{w}",
                 "" if self.spacing is None else f"spacing=({self.spacing[0]:g}, {self.spacing[1]:g}) {self.unit}",
                 "" if self.labels is None else "labels",
                 "" if self.landmarks is None else f"{len(self.landmarks)} landmark points"]
        return f"Sequence({', '.join(p for p in parts if p)})"

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.frames.shape)  # type: ignore[return-value]

