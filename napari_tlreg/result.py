"""``RegistrationResult``: what every engine run returns, with its derived queries and lossless save/load."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .core.arrays import frame_time_ms, plain, recorded_frames

_ARRAYS = ("frames", "warped", "displacement", "jacobian")
_FORMAT = 1
#: what each saved array holds, in ``result.json``: the TIFFs carry the pixel size (a GIS reads metres), not what
#: their values are (a displacement in metres would be 10x off on a 10 m image)
ARRAY_NOTES = {
    "frames": "the registered frames, (T, H, W), as normalised for the run",
    "warped": "the reference warped onto each frame, (T, H, W): warped[t](x) = reference(x + u_t(x))",
    "displacement": "u_t, (T, 2, H, W), channels (row, col), in pixels (not the unit): a pull field, "
                    "frame_t(x) = reference(x + u_t(x)); zero at the reference",
    "jacobian": "det(I + grad u_t), (T, H, W), no unit: below 1 the frame's content grew since the reference, "
                "above 1 it shrank, <= 0 folded",
    "inverse": "inv(u_t), (T, 2, H, W), channels (row, col), in pixels, on the reference's grid: a reference point p "
               "lies at p + inv(u_t)(p) in frame t (compose(u_t, inv) ~ 0): the engine's learned inverse as it gave "
               "it (hsyn's: a few hundredths of a pixel off on average, up to a quarter; "
               "RegistrationResult.inverse_field() refines it to tl.invert's 1e-4 px)",
    "nodata": "(T, H, W), 1 where the input held a no-data fill apart from its data's values (a satellite date's 0 "
              "border or 65535 fill), left out of the intensity scaling, the metrics and the overlay",
}
#: px: :meth:`RegistrationResult.track_points` warns of a tracked point that maps back farther than this from its own
TRACK_TOLERANCE = 0.5
#: px: ... and of a tracked point farther than this outside the frame (rows 0..H-1, columns 0..W-1)
OUTSIDE_TOLERANCE = 0.5


def _positions_in_frames(u: np.ndarray, points: np.ndarray, inverse: np.ndarray | None = None,
                         iterations: int = 50, tol: float = 1e-4) -> np.ndarray:
    """``(T, N, 2)``: for every frame ``t`` and reference point ``p`` the ``q`` with ``q + u_t(q) = p`` (Newton's steps
    at the points, at most a pixel each; the Jacobian by central differences of the bilinear field), from
    ``p + inverse_t(p)`` (an engine's learned inverse) or ``p - u_t(p)``; where none is found (a fold), the ``q`` that
    came closest."""
    from .metrics import sample_field

    T, n = len(u), len(points)
    t, p = np.repeat(np.arange(T), n), np.tile(points, (T, 1))
    q = p + sample_field(inverse, t, p) if inverse is not None else p - sample_field(u, t, p)
    best, best_res = q.copy(), np.full(len(q), np.inf)
    dr, dc = np.array([0.5, 0.0]), np.array([0.0, 0.5])
    for _ in range(iterations):
        r = q + sample_field(u, t, q) - p
        res = np.abs(r).max(axis=1) if len(r) else np.zeros(0)
        better = res < best_res
        best[better], best_res[better] = q[better], res[better]
        if not len(res) or best_res.max() < tol:
            break
        du_r = sample_field(u, t, q + dr) - sample_field(u, t, q - dr)  # d u / d row (h = 0.5 each side)
        du_c = sample_field(u, t, q + dc) - sample_field(u, t, q - dc)
        a, b, c, d = 1.0 + du_r[:, 0], du_c[:, 0], du_r[:, 1], 1.0 + du_c[:, 1]
        det = a * d - b * c
        ok = np.abs(det) > 1e-6  # folded or singular: the fixed-point step
        safe = np.where(ok, det, 1.0)
        step = np.column_stack([np.where(ok, (d * r[:, 0] - b * r[:, 1]) / safe, r[:, 0]),
                                np.where(ok, (a * r[:, 1] - c * r[:, 0]) / safe, r[:, 1])])
        q = q - np.clip(step, -1.0, 1.0)
    return best.reshape(T, n, 2)


@dataclass(eq=False)  # compared and hashed as objects: == over its arrays raised "truth value ... is ambiguous"
class RegistrationResult:
    """A registered sequence (README: Conventions).

    frames:       ``(T, H, W)`` float32, the normalised input ([0, 1]).
    warped:       ``(T, H, W)`` the reference warped onto every frame.
    displacement: ``(T, 2, H, W)`` pull fields in pixels, channels (row, col); zero at ``reference``.
    jacobian:     ``(T, H, W)`` ``det(I + ∇u)``; folding where ``<= 0``.
    inverse:      ``(T, 2, H, W)`` or ``None``: a learned inverse from the engine, if it has one.
    spacing:      ``(row, col)`` physical pixel size, or ``None``.
    unit:         the spacing's length unit: ``"mm"``, or ``"m"`` (satellite data); the physical columns of the
                  metrics are in it (named ``*_mm`` in memory, after the unit in the files written). ``"px"`` when
                  there is no spacing.
    normalization: ``"sequence"`` (one intensity scale for all frames) or ``"frame"`` (each frame its own).
    geotiff: the source GeoTIFF's georeferencing tags (``[[code, datatype, count, value], ...]``), or ``None``; its
        saved images carry them, so a GIS places ``warped.tif`` where the frames lie.
    nodata: ``(T, H, W)`` bool or ``None``: the input's no-data fill apart from its data's values (saved as
        ``nodata.tif``); ``data_region`` is what was compared.
    params: the method's parameters, kept as JSON values (what ``result.json`` holds: tuples become lists, numpy
        scalars Python numbers, dict keys strings); a value JSON cannot hold raises ``TypeError``.
    """

    frames: np.ndarray
    warped: np.ndarray
    displacement: np.ndarray
    jacobian: np.ndarray
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    reference: int = 0
    device: str = "cpu"
    runtime_s: float = 0.0
    spacing: tuple[float, float] | None = None
    inverse: np.ndarray | None = None
    normalization: str = "sequence"
    unit: str = "mm"
    geotiff: list | None = None
    #: what made the result: software versions, the weights' name and sha256, the source (``register`` fills it)
    provenance: dict = field(default_factory=dict)
    #: ``(T, H, W)`` bool: the input's no-data fill apart from its data's values (``register`` finds it for the pair
    #: engines, ``mask_nodata``: :func:`napari_tlreg.core.nodata.apart_fill`), or None
    nodata: np.ndarray | None = None

    def __post_init__(self) -> None:
        # the parameters as result.json holds them (tuples as lists, numpy scalars as Python numbers, keys as
        # strings), so a saved and loaded result has the same ones; a value JSON cannot hold is refused here,
        # not when the result is saved after the run
        self.params = json.loads(json.dumps(dict(self.params or {}), default=_json_plain))
        if self.spacing is None:  # no length without a pixel size (result.json said "mm" beside "spacing": null)
            self.unit = "px"

    def __repr__(self) -> str:
        # a line, not the arrays (the dataclass's printed 19-29 kB of them at the end of a notebook cell)
        t, h, w = self.frames.shape
        size = "pixels" if self.spacing is None else f"spacing=({self.spacing[0]:g}, {self.spacing[1]:g}) {self.unit}"
        return (f"RegistrationResult(method={self.method!r}, {t} frames of {h}x{w}, reference={self.reference}, "
                f"{size}, device={self.device!r}, runtime {self.runtime_s:.2f} s, normalization={self.normalization!r}"
                f"{', inverse' if self.inverse is not None else ''})")

    def _repr_html_(self) -> str:
        """A table in a notebook (what :meth:`__repr__` says, with the worst folding and the source)."""
        import html

        t, h, w = self.frames.shape
        folding = self.folding_pct
        rows = [("method", self.method), ("frames", f"{t} of {h} x {w}"), ("reference", self.reference),
                ("pixel size", "pixels" if self.spacing is None else
                 f"{self.spacing[0]:g} x {self.spacing[1]:g} {self.unit}"),
                ("intensities", self.normalization), ("device", self.device), ("runtime", f"{self.runtime_s:.2f} s"),
                ("worst folding", f"{float(np.max(folding)) if len(folding) else 0.0:.3f} %"
                 + (" in the mask" if self.mask is not None else "")),
                ("source", self.provenance.get("source", "not recorded")),
                ("inverse", "kept" if self.inverse is not None else "none")]
        cells = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>" for k, v in rows)
        return f"<table><caption>RegistrationResult</caption>{cells}</table>"

    @property
    def file_spacing(self) -> tuple[tuple[float, float] | None, str]:
        """``(spacing, unit)`` as the images it saves hold them: ``(None, "mm")`` without a spacing, or in a unit the
        files cannot hold (a sequence's own, e.g. "furlong": kept in result.json alone)."""
        from .io.readers import _unit_scale

        if self.spacing is not None and _unit_scale(self.unit) is not None:
            return self.spacing, self.unit
        return None, "mm"

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def mask(self) -> np.ndarray | None:
        """``(H, W)`` bool: the region the registration was restricted to (an engine's ``mask`` parameter), or None.

        :func:`napari_tlreg.metrics.evaluate` reports MSE, local CC and folding over it, and so does
        :attr:`folding_pct`."""
        from .core.region import decode_mask, is_encoded_mask

        value = self.params.get("mask")
        return decode_mask(value) if is_encoded_mask(value) else None

    @property
    def scaled_apart(self) -> np.ndarray | None:
        """``(T, H, W)`` bool: the pixels the run left out of its intensity scale (:func:`napari_tlreg.api.scaled_apart`:
        its no-data, and what lies outside its engine's region, NMSR's mask), or None: the frames were scaled on them all."""
        from .api import scaled_apart
        from .engines import get_engine

        try:
            region = get_engine(self.method).scaling_region(self.params)
        except (ValueError, KeyError, TypeError):  # a method this version does not have, or its parameters
            region = self.mask
        return scaled_apart(self.nodata, region, tuple(self.frames.shape))

    @cached_property
    def data_region(self) -> np.ndarray | None:
        """``(T, H, W)`` bool: the pixels compared, or None (every pixel): those that are data (not :attr:`nodata`)
        in the frame, in the reference and in the reference warped onto it
        (:func:`napari_tlreg.core.nodata.compared_pixels`; None too where a no-data found, not given, is over half a
        frame: a background). :func:`napari_tlreg.metrics.evaluate` takes the image match over it; the viewer draws the grid,
        the arrows and the warped reference on it only. Computed once (the frames and field are not to be edited in
        place)."""
        if self.nodata is None:
            return None
        from .core.nodata import compared_pixels

        declared = (self.params or {}).get("nodata") is not None  # the user's value or the file's: no background
        return compared_pixels(self.nodata, self.reference, self.warp_images, declared)

    @property
    def folding_pct(self) -> np.ndarray:
        """``(T,)`` percentage of pixels with ``det <= 0`` per frame: inside :attr:`mask` when the run had one
        (outside it nothing fitted the field), else over the whole frame."""
        from .metrics import folded_percent

        return folded_percent(self.jacobian, self.mask)

    def _check_plane(self, what: str, shape) -> None:
        if tuple(shape[-2:]) != tuple(self.frames.shape[1:]):
            raise ValueError(f"{what} of shape {tuple(shape)} do not match frames of {self.frames.shape[1]}x{self.frames.shape[2]}")

    def warp_labels(self, labels) -> np.ndarray:
        """Propagate integer labels ``(H, W)`` on the reference to every frame (nearest): ``(T, H, W)``."""
        from .core.labels import as_label_ids
        from .core.ops import warp

        lab = plain(labels, "labels")
        if lab.ndim != 2:
            raise ValueError(f"labels must be one (H, W) frame on the reference, got shape {lab.shape}")
        self._check_plane("labels", lab.shape)
        return warp(as_label_ids(lab), self.displacement, order=0)

    def warp_images(self, image) -> np.ndarray:
        """Warp any other image ``(H, W)`` defined on the reference onto every frame (bilinear): ``(T, H, W)``."""
        from .core.ops import warp

        img = plain(image, "image", np.float32)
        self._check_plane("image", img.shape)
        return warp(img, self.displacement, order=1)

    def map_points(self, points) -> np.ndarray:
        """Points ``(N, 3)`` as ``(t, row, col)`` in their frames -> ``(N, 2)`` positions in the reference: ``q + u_t(q)``."""
        from .metrics import map_points

        pts = plain(points, "points", np.float64)
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f"points must be (N, 3) rows (t, row, col), got shape {pts.shape}")
        t = pts[:, 0]
        if len(t) and (np.any(t != np.round(t)) or t.min() < 0 or t.max() >= self.n_frames):
            raise ValueError(f"point frame indices must be integers in [0, {self.n_frames})")
        return map_points(self.displacement, pts)

    def inverse_field(self) -> np.ndarray:
        """``(T, 2, H, W)`` inverse of every displacement: :func:`~napari_tlreg.invert`'s (``compose(u_t, inv)`` within
        1e-4 px where ``u_t`` does not fold), started from the engine's learned inverse where it has one (hsyn's, as
        the engine gives it in :attr:`inverse`, was up to 0.24 px off on a translation: math review)."""
        computed = self.__dict__.get("_computed_inverse")  # kept apart from ``inverse``, the engine's: a tracked
        if computed is None:  # voxelmorph result saved an inverse.tif and came back as if it had a learned one
            from .core.ops import inverse_of  # where it is no inverse: track_points says so, point by point

            computed = self.__dict__["_computed_inverse"] = inverse_of(self.displacement, init=self.inverse)[0]
        return computed

    def track_points(self, points, ids=None, on_warning=None) -> np.ndarray:
        """Reference points ``(N, 2)`` ``(row, col)`` -> ``(T, N, 2)`` positions in each frame: ``p + inv(u_t)(p)``, the
        ``q`` with ``q + u_t(q) = p`` solved at the points (from the engine's learned inverse where it has one).

        Warns (``UserWarning``) when a position ``q`` does not map back onto its point (``q + u_t(q)`` more than
        :data:`TRACK_TOLERANCE` px from ``p``): where the field folds, no inverse exists; and when one leaves the
        frame (:data:`OUTSIDE_TOLERANCE`): the field there is the border's. ``ids``: the points' names in the warnings
        ("landmark 7"; else "point k", their index), one a point; ``on_warning(message)`` takes the warnings instead."""
        from .core.notes import say
        from .metrics import map_points

        pts = plain(points, "points", np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"points must be (N, 2) rows (row, col), got shape {pts.shape}")
        if not np.isfinite(pts).all():  # before the solve: numpy's casts warned twice first
            raise ValueError("points contain NaN or inf")
        n = len(pts)
        if ids is not None:
            ids = np.asarray([ids] if isinstance(ids, str) else ids).reshape(-1)
            if len(ids) != n:
                raise ValueError(f"{len(ids)} ids for {n} points")
        named = (lambda k: f"point {k}") if ids is None else (lambda k: f"landmark {ids[k]}")
        # solved at the points (q + u_t(q) = p), from the engine's learned inverse where it has one: inverting every
        # frame's whole field to read N points took 17 s and 1.5 GB for one point through 150 frames of 240x320
        if not np.isfinite(self.displacement).all():  # (it said the points held NaN)
            raise ValueError(f"displacement contains {int((~np.isfinite(self.displacement)).sum())} NaN or infinite "
                             "value(s)")
        out = _positions_in_frames(self.displacement, pts, self.inverse)

        def misses(t: int, q: np.ndarray) -> np.ndarray:  # a tracked point q must map back onto its point: q + u_t(q) = p
            return np.linalg.norm(map_points(self.displacement, np.column_stack([np.full(n, t), q])) - pts, axis=1)

        miss = np.stack([misses(t, out[t]) for t in range(self.n_frames)]) if n else np.zeros((self.n_frames, 0))
        # where Newton's steps at a point stalled (started on a fold nearby), the whole inverse of those frames alone,
        # read at the points, where it maps back closer
        stalled = np.flatnonzero((miss > TRACK_TOLERANCE).any(axis=1))
        if len(stalled):
            from .core.ops import inverse_of

            inv = inverse_of(self.displacement[stalled])[0]
            for k, t in enumerate(stalled):
                alt = map_points(inv[k], pts)
                alt_miss = misses(int(t), alt)
                closer = alt_miss < miss[t]
                out[t][closer], miss[t][closer] = alt[closer], alt_miss[closer]
        bad = miss > TRACK_TOLERANCE
        if bad.any():
            t, k = np.unravel_index(np.argmax(miss), miss.shape)
            say(on_warning, f"{int(bad.any(0).sum())} of {n} tracked point(s) do not map back onto their reference "
                f"point in {int(bad.any(1).sum())} frame(s) (worst {miss[t, k]:.2f} px: {named(k)} in frame {t}): the "
                "field folds or is not invertible there, so their positions are approximate")
        # a point whose content leaves the frame: the field there is the border's, so its position is extrapolated
        H, W = self.frames.shape[-2:]
        off = np.maximum(np.maximum(-out, out - np.array([H - 1, W - 1])), 0.0).max(axis=2)  # px outside, (T, N)
        already = off[self.reference] > OUTSIDE_TOLERANCE  # outside on the reference itself: not "leaving"
        out_of = (off > OUTSIDE_TOLERANCE) & ~already
        if already.any():
            say(on_warning, f"{int(already.sum())} of {n} reference point(s) lie outside the {H}x{W} frame (first: "
                f"{named(int(np.argmax(already)))}): their positions are extrapolated from the border's field")
        if out_of.any():
            t, k = np.unravel_index(np.argmax(np.where(out_of, off, -1.0)), off.shape)
            say(on_warning, f"{int(out_of.any(0).sum())} of {n} tracked point(s) leave the frame in "
                f"{int(out_of.any(1).sum())} frame(s) (farthest: {named(k)} in frame {t}, at ({out[t, k, 0]:.1f}, "
                f"{out[t, k, 1]:.1f}) in a {H}x{W} frame): the field outside is the border's, so their positions there "
                "are extrapolated")
        return out

    def frames_apart(self, frames) -> tuple[np.ndarray, np.ndarray | None, float]:
        """How far ``frames`` (``(T, H, W)``, in their own values: a file read again, an image layer's data) are from
        the frames this result registered, scaled as its run scaled them (the reference's range, its no-data value
        and mask, the pixels it left out of the scale). Returns ``(frames as the engines take them, the pixels left
        out of the scale, the largest difference of scaled intensities)``: ~0 (at most ``1e-4``) for the frames it
        was made from; another sequence of the same size, or the same one cropped or filtered, is further.
        Raises ``ValueError`` for frames of another shape and frames no run takes
        (:func:`~napari_tlreg.api.validate_frames`)."""
        from .api import blank_frames, given_nodata, validate_frames, without_far_fill
        from .core.normalize import NORMALIZATIONS, normalize as scale_intensities

        shown = np.asarray(frames)
        if tuple(shown.shape[:3]) != tuple(self.frames.shape):
            raise ValueError(f"frames of shape {tuple(shown.shape)} against the result's {tuple(self.frames.shape)}: "
                             "not the frames it registered")
        arr, ref = validate_frames(shown, self.reference)
        if (self.params or {}).get("nodata") is not None:  # a value given: its far fill out of the range, as the run did
            arr, ref = without_far_fill(shown, given_nodata(shown, self.params["nodata"]), arr, ref)
        mode = self.normalization if self.normalization in NORMALIZATIONS else "auto"
        skip = blank_frames(arr)
        apart = self.scaled_apart  # the no-data its run left out of the scale (found, or the user's value)
        off = float(np.max(np.abs(scale_intensities(arr, ref, mode, skip=skip, fill=apart)[0] - self.frames)))
        if not off <= 1e-4 and self.mask is not None:  # saved before NMSR's frames were scaled in its mask (2026-12-07)
            earlier = float(np.max(np.abs(scale_intensities(arr, ref, mode, skip=skip, fill=self.nodata)[0] - self.frames)))
            if earlier <= 1e-4:
                apart, off = self.nodata, earlier
        return arr, apart, off

    # ---- persistence -------------------------------------------------------------------------
    def source_sequence(self):
        """The :class:`~napari_tlreg.io.Sequence` this result was registered from, read again as its ``provenance``
        records it: the source (a sample's name, a file's or folder's path), its slice position, a DICOM folder's
        series, a sub-clip's frames (``seq[a:b]``, ``register --frames``). To run it again, or to read its labels.

        Raises ``ValueError`` where no source is recorded (frames given as an array) or the one read holds other
        frames than the result's; the reader's errors (a moved file: ``SequenceReadError``) as they are."""
        from .io import load_sequence

        prov = self.provenance or {}
        if not isinstance(prov.get("source"), str):
            raise ValueError("no source recorded: this result was registered from frames given as an array")
        slice_at = prov.get("slice") if isinstance(prov.get("slice"), int) else None
        seq = load_sequence(prov["source"], slice=slice_at,
                            **({"series": prov["series"]} if isinstance(prov.get("series"), str) else {}))
        frames = prov.get("frames")
        if frames is not None:
            if recorded_frames(prov) is None:
                raise ValueError("provenance['frames'] is no [start, stop, step] of the source's frames: "
                                 f"{frames!r:.80}")
            seq = seq[slice(*frames)]
        if seq.shape != tuple(self.frames.shape):
            t, h, w = seq.shape
            raise ValueError(f"{prov['source']} gives {t} frame{'s' * (t != 1)} of {h}x{w} now, the result has "
                             f"{self.n_frames} of {self.frames.shape[1]}x{self.frames.shape[2]}: not the sequence it was "
                             "registered from (changed since, or one of several files stacked as frames, of which the "
                             "record keeps the first)")
        off = self.frames_apart(seq.frames)[2]
        if not off <= 1e-4:  # the same size, other frames: scored against them, its labels and landmarks are another's
            raise ValueError(f"{prov['source']} holds other frames now than the result registered (intensities up to "
                             f"{off:.3g} apart, scaled as the run scaled them): not the sequence it was registered from "
                             "(changed since?)")
        return seq

    def save(self, folder) -> Path:
        """Write the result to ``folder`` (TIFF per array + ``result.json``), atomically: a failure leaves no partial folder.
        An existing folder is replaced only if it holds an earlier result (``result.json``) or nothing."""
        from .io.writers import atomic_dir

        folder = Path(folder).expanduser()  # the folder written ("~/x" returned as given: no such path)
        with atomic_dir(folder, replaces="result.json", kind="result") as tmp:
            self.write_into(tmp)
        return folder

    def save_itk(self, folder) -> Path:
        """Write the result for ITK and ANTs, atomically: ``reference.nii.gz``, ``frame_<t>.nii.gz`` and
        ``displacement_<t>.nii.gz`` (:func:`~napari_tlreg.io.writers.save_itk_displacement`) per frame, on one grid
        (the pixel size, ITK's identity direction, origin 0), and ``itk.json`` (the convention and the command).
        ``antsApplyTransforms -d 2 -i reference.nii.gz -r frame_<t>.nii.gz -t displacement_<t>.nii.gz -o out.nii.gz``
        gives frame t's warped reference; the fields are the pull fields of the result, in mm (a map's metres too: ITK
        takes NIfTI's lengths in mm).
        An existing folder is replaced only if it holds an earlier export (``itk.json``) or nothing."""
        from .io.writers import atomic_dir, save_itk_displacement, save_stack

        folder = Path(folder).expanduser()
        spacing, unit = self.file_spacing
        if spacing is not None and unit == "m":  # ITK reads NIfTI's metres as mm (x 1000) and its vectors as they are
            spacing, unit = (spacing[0] * 1000.0, spacing[1] * 1000.0), "mm"  # (a map's field 1000x too small)
        digits = max(3, len(str(self.n_frames - 1)))
        with atomic_dir(folder, replaces="itk.json", kind="itk") as tmp:
            save_stack(tmp / "reference.nii.gz", self.frames[self.reference], spacing=spacing, unit=unit)
            for t in range(self.n_frames):
                save_stack(tmp / f"frame_{t:0{digits}d}.nii.gz", self.frames[t], spacing=spacing, unit=unit)
                save_itk_displacement(tmp / f"displacement_{t:0{digits}d}.nii.gz", self.displacement[t],
                                      spacing=spacing, unit=unit)
            t = (self.reference + 1) % self.n_frames
            (tmp / "itk.json").write_text(json.dumps({
                "napari_tlreg_itk": 1, "method": self.method, "reference": int(self.reference),
                "frames": self.n_frames, "spacing": list(spacing) if spacing is not None else None,
                "unit": unit if spacing is not None else "px",
                "displacement": "frame t's pull field in ITK's physical space: a point p of frame t lies at p + d(p) "
                                "on the reference (x = column, y = row, in the unit; intent VECTOR, as ANTs' warps)",
                "ants": f"antsApplyTransforms -d 2 -i reference.nii.gz -r frame_{t:0{digits}d}.nii.gz "
                        f"-t displacement_{t:0{digits}d}.nii.gz -o warped_{t:0{digits}d}.nii.gz",
                "source": (self.provenance or {}).get("source"),
            }, indent=2))
        return folder

    def write_into(self, folder: Path) -> None:
        """Write the arrays and ``result.json`` into an existing folder (not atomic: see :meth:`save`). A result that
        :meth:`load` would refuse (arrays of other shapes, NaN in the field or the Jacobian) is refused before anything
        is written (it was saved, then could not be opened: API review)."""
        from .io.writers import save_stack

        arrays = {name: np.asarray(getattr(self, name)) for name in _ARRAYS}
        try:
            _check_saved_shapes(Path(folder), arrays, self.inverse, {"reference": self.reference, "params": self.params},
                                self.nodata)
        except ValueError as exc:
            reason = str(exc).split(": ", 1)[-1]
            for start, end in (("unreadable result folder (", ")"), ("inconsistent result folder: ", "")):
                if reason.startswith(start) and reason.endswith(end):
                    reason = reason[len(start):len(reason) - len(end)]
            raise ValueError(f"not saved: RegistrationResult.load would refuse it ({reason}); put the arrays right "
                             "first") from None

        # each image carries the pixel size (a copy of warped.tif opens in Fiji, a GIS or the readers at its size:
        # a frames.tif taken out of its folder was registered as pixels, at another scale)
        spacing, unit = self.file_spacing
        arrays = [(name, getattr(self, name)) for name in _ARRAYS]
        optional = [(name, arr) for name, arr in (("inverse", self.inverse), ("nodata", self.nodata)) if arr is not None]
        ms = frame_time_ms(self.provenance)  # Fiji's frame interval: the source's time between frames
        for name, arr in arrays + optional:
            save_stack(folder / f"{name}.tif", np.ascontiguousarray(arr), spacing=spacing, unit=unit,
                       geotiff=self.geotiff, frame_time_ms=ms, values=ARRAY_NOTES[name])
        meta = {
            "format": _FORMAT,
            "method": self.method,
            "params": self.params,
            "reference": int(self.reference),
            "device": str(self.device),
            "runtime_s": float(self.runtime_s),
            "spacing": list(self.spacing) if self.spacing is not None else None,
            "shape": list(self.frames.shape),
            "normalization": self.normalization,
            "unit": self.unit,
            "displacement_unit": "px",
            "geotiff": self.geotiff,
            "provenance": self.provenance,
            "arrays": {name: ARRAY_NOTES[name] for name in (*_ARRAYS, *(name for name, _ in optional))},
        }
        (folder / "result.json").write_text(json.dumps(meta, indent=2, default=_json_plain))

    @classmethod
    def load(cls, folder) -> "RegistrationResult":
        """Read a folder written by :meth:`save`."""
        from .io.readers import load_stack, result_unit
        from .metrics import check_spacing

        folder = Path(folder).expanduser()  # as save and load_sequence take "~/x"
        meta_path = folder / "result.json"
        if not folder.exists():
            raise FileNotFoundError(f"{folder}: no such folder")
        if not meta_path.is_file():
            raise FileNotFoundError(f"{folder}: not a napari-tlreg result folder (no result.json)")
        inv_path, nodata_path = folder / "inverse.tif", folder / "nodata.tif"
        try:
            try:
                meta = json.loads(meta_path.read_text())
            except json.JSONDecodeError as exc:  # (it said "Expecting value: line 2 column 1 (char 12)" of no file)
                raise ValueError(f"result.json is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}): "
                                 "cut short or edited") from None
            for key, value in (("result.json", meta), ("its params", (meta or {}).get("params") if isinstance(
                    meta, dict) else None), ("its provenance", meta.get("provenance") if isinstance(meta, dict) else None)):
                if value is not None and not isinstance(value, dict):  # (said "list indices must be integers ...")
                    raise ValueError(f"{key} holds {type(value).__name__} {_short(value)}, not a result's record "
                                     "of names and values")
            # the readers' TIFF path: a file cut short is an error (tifffile reads an ImageJ stack's first page then)
            arrays = {name: load_stack(folder / f"{name}.tif")[0] for name in _ARRAYS}
            inverse = load_stack(inv_path)[0] if inv_path.is_file() else None
            nodata = load_stack(nodata_path)[0].astype(bool) if nodata_path.is_file() else None  # (saved before: none)
            fields = dict(method=str(meta["method"]), params=dict(meta.get("params") or {}),
                          reference=_whole(meta["reference"], "reference"),
                          device=str(meta.get("device", "cpu")), runtime_s=float(meta.get("runtime_s", 0.0)),
                          # a pixel size the metrics take (0, NaN or three values loaded, then raised in the docks)
                          spacing=check_spacing(meta["spacing"], 2) if meta.get("spacing") else None,
                          # results saved before it was recorded: per sequence
                          normalization=str(meta.get("normalization", "sequence")),
                          unit=result_unit(folder, meta),  # results saved before it was recorded: their source's
                          geotiff=meta.get("geotiff") or None,
                          provenance=dict(meta.get("provenance") or {}))  # none in folders saved before it was
            if meta.get("unit") is not None and not isinstance(meta["unit"], str):  # (a dict was taken as its text)
                raise ValueError(f"unit must be text, got {meta['unit']!r}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            # (a reference of Infinity, params nested 100000 deep: raised as they were, not as an unreadable folder)
            what = f"no {exc.args[0]!r} in result.json" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"{folder}: unreadable result folder ({what})") from exc
        _check_saved_shapes(folder, arrays, inverse, fields, nodata)
        return cls(**arrays, inverse=inverse, nodata=nodata, **fields)


def _whole(value, what: str) -> int:
    """A whole number from JSON (1.7 was taken as frame 1)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, got {_short(value)}")
    return value


def _short(value, room: int = 40) -> str:
    """``value``'s repr for a message, cut to ``room`` characters (a reference of 10**400 printed 401 digits)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        return f"a whole number of more than {room} digits"
    return text if len(text) <= room else text[: room - 1] + "…"


def core_versions() -> dict:
    """The versions a result depends on: napari-tlreg, torch, numpy, scipy and Python (a result's provenance,
    ``metrics.json``, a batch's record of what made a result)."""
    import platform

    import scipy
    import torch

    from . import __version__

    return {"napari_tlreg": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__}


def _json_plain(value):
    """numpy scalars and arrays (a hand-built result's parameters) as the JSON values they stand for."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"a result's {type(value).__name__} value cannot be saved as JSON")


def _check_saved_shapes(folder: Path, arrays: dict, inverse, fields: dict, nodata=None) -> None:
    """A saved result's arrays agree with each other and with its reference frame, or the folder is refused: a
    truncated or swapped file would otherwise load and fail later, far from its cause."""
    frames = arrays["frames"]
    if frames.ndim != 3 or min(frames.shape) < 1:
        raise ValueError(f"{folder}: unreadable result folder (frames.tif holds shape {frames.shape}, not (T, H, W))")
    t, h, w = frames.shape
    want = {"warped": (t, h, w), "jacobian": (t, h, w), "displacement": (t, 2, h, w)}
    got = {name: arrays[name].shape for name in want}
    if inverse is not None:
        want["inverse"], got["inverse"] = (t, 2, h, w), inverse.shape
    if nodata is not None:
        want["nodata"], got["nodata"] = (t, h, w), nodata.shape
    bad = [f"{name}.tif is {tuple(got[name])}, not {want[name]}" for name in want if tuple(got[name]) != want[name]]
    if bad:
        raise ValueError(f"{folder}: inconsistent result folder: frames.tif is {(t, h, w)}, and " + "; ".join(bad))
    if not 0 <= fields["reference"] < t:
        raise ValueError(f"{folder}: inconsistent result folder: reference {_short(fields['reference'])} of {t} frames")
    # (viewer QA review) values no run makes: a displacement of 1e30 opened as "worst folding 0.00 %", a NaN
    # jacobian.tif as "100.00 %", a nodata of text raised in the dock, half-way through showing the result
    # the frames and the warped reference too: a register refuses NaN frames, so saved ones are a damaged file (a
    # frames.tif of NaN opened as "intensities up to nan apart", and evaluate gave an MSE of null with exit status 0)
    for name in ("frames", "warped", "displacement", "jacobian", *(("inverse",) if inverse is not None else ())):
        values = inverse if name == "inverse" else arrays[name]
        if not np.isfinite(values).all():
            raise ValueError(f"{folder}: unreadable result folder ({name}.tif holds NaN or infinite values)")
    far = 10 * max(h, w)
    if np.abs(arrays["displacement"]).max() > far:
        raise ValueError(f"{folder}: unreadable result folder (displacement.tif moves pixels more than {far} px, ten "
                         "times the frame)")
    nodata = fields["params"].get("nodata")
    if nodata is not None and (isinstance(nodata, bool) or not isinstance(nodata, (int, float))
                               or not np.isfinite(nodata)):
        raise ValueError(f"{folder}: unreadable result folder (its no-data value must be a number, got {nodata!r})")
