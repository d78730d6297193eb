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

    def __getitem__(self, frames: slice) -> "Sequence":
        """``seq[start:stop]`` (a step too): a sequence of those frames, with what belongs to them (labels, landmarks
        renumbered, a colour copy, trigger times, DICOM image numbers, a sample's true motion and reference where it
        is among them) and the rest of its metadata (pixel size, region, source); ``metadata["frames"]`` records
        ``[start, stop, step]`` of the source's frames. (A sub-clip of the real echo kept neither its fan nor its pixel
        size when it was cut from ``seq.frames``.)"""
        if not isinstance(frames, slice):
            raise TypeError(f"a Sequence is cut by a slice of its frames, seq[start:stop], got {frames!r} (seq.frames[t] "
                            "is one frame)")
        n = self.shape[0]
        picked = range(n)[frames]
        if picked.step < 0:
            raise ValueError(f"{self.name or 'sequence'}: frames are cut in their order (a step of 1 or more), got a "
                             f"step of {frames.step}")
        if len(picked) == 0:
            raise ValueError(f"{self.name or 'sequence'}[{frames.start}:{frames.stop}]: no frame of its {n}")
        index = {t: k for k, t in enumerate(picked)}
        meta = dict(self.metadata)
        for key in _PER_FRAME:  # (T, ...) arrays and lists: the frames kept
            if key in meta and meta[key] is not None and len(meta[key]) == n:
                value = meta[key]
                meta[key] = value[frames] if isinstance(value, np.ndarray) else [value[t] for t in picked]
        ref = meta.get("reference")
        if isinstance(ref, int) and ref in index:  # a sample's reference, and its true motion from it
            meta["reference"] = index[ref]
        else:
            for key in ("reference", "displacement", "matchable"):
                meta.pop(key, None)
        if picked.step != 1 and isinstance(meta.get("frame_time_ms"), (int, float)):
            meta["frame_time_ms"] = float(meta["frame_time_ms"]) * abs(picked.step)
        outer = meta.get("frames")  # cut before: in the source's frames
        start, step = (outer[0] + outer[2] * picked.start, outer[2] * picked.step) if outer else (picked.start, picked.step)
        meta["frames"] = [start, start + step * len(picked), step]
        landmarks = None
        if self.landmarks is not None:
            lm = np.asarray(self.landmarks, np.float64)
            keep = np.array([int(round(t)) in index for t in lm[:, 1]], bool)
            landmarks = lm[keep].copy()
            landmarks[:, 1] = [index[int(round(t))] for t in landmarks[:, 1]]
            for key in _PER_LANDMARK:
                if isinstance(meta.get(key), list) and len(meta[key]) == len(lm):
                    meta[key] = [v for v, k in zip(meta[key], keep) if k]
        return Sequence(self.frames[frames], labels=None if self.labels is None else self.labels[frames],
                        spacing=self.spacing, unit=self.unit, landmarks=landmarks, name=self.name, metadata=meta)


#: metadata that holds one item a frame (a reader's colour copy, DICOM trigger times and image numbers, a sample's true
#: motion and activation), cut with the frames
_PER_FRAME = ("rgb", "trigger_times_ms", "instance_numbers", "files", "displacement", "activation", "matchable")
#: metadata that holds one item a landmark (the satellite sample's kinds), kept with the landmarks
_PER_LANDMARK = ("landmark_kind",)

