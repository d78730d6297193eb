"""What an engine is, and the small context every engine run gets.

An engine maps normalised frames ``(T, H, W)`` (torch, [0, 1], on its device) and a
reference index to pull displacements ``(T, 2, H, W)`` in pixels with ``u[reference] = 0``
(README: Conventions). Everything else (validation, normalisation, warping, Jacobians, timing,
the result object) is done once, in :func:`napari_tlreg.api.register`.
"""
from __future__ import annotations

import numbers
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch


class Cancelled(Exception):
    """Raised by :func:`napari_tlreg.register` when its ``cancel`` event/callable is set."""


ProgressFn = Callable[[int, int, str], None]


@dataclass
class RunContext:
    """Progress reporting and cooperative cancellation for one engine run."""

    progress: ProgressFn | None = None
    cancel: threading.Event | Callable[[], bool] | None = None
    #: an engine that learns its fields' inverse (``hsyn``) leaves it here, ``(T, 2, H, W)``; else None: fixed point
    inverse: torch.Tensor | None = None
    #: ``(T, H, W)`` bool, True where the input holds its no-data value (the pair engines' ``nodata`` given), else None
    nodata: torch.Tensor | None = None
    #: what the run decided that the user should hear of: kept in the result's ``provenance["notes"]``, said by the
    #: CLI, the dock's status line and a batch's note column (not warned of)
    notes: list[str] = field(default_factory=list)

    def report(self, done: int, total: int, message: str = "") -> None:
        self.check()
        if self.progress is not None:
            self.progress(int(done), int(total), str(message))

    def cancelled(self) -> bool:
        c = self.cancel
        if c is None:
            return False
        if hasattr(c, "is_set"):
            return bool(c.is_set())
        return bool(c())

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self.cancelled():
            raise Cancelled("registration cancelled")


class Engine:
    """Base class. Subclasses set ``name``, ``description``, ``defaults`` and implement :meth:`run`.

    ``defaults`` maps each accepted parameter to its default; the type of the default is the
    type a caller's value must have (int params reject 1.5; float params accept ints).
    """

    name: str = ""
    description: str = ""
    defaults: dict[str, Any] = {}
    choices: dict[str, tuple] = {}
    #: one line per parameter for people (the viewer shows it as the parameter's tooltip)
    help: dict[str, str] = {}
    #: parameters few users change (the viewer folds them into an "advanced" group; the CLI lists them last)
    advanced: tuple[str, ...] = ()
    #: parameters that take an ``(H, W)`` region (a mask: array, file or encoded string); the viewer offers Labels layers
    region_params: tuple[str, ...] = ()

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"method {self.name!r} has no parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.defaults)) or 'none'}"
            )
        out = dict(self.defaults)
        for key, value in params.items():
            default = self.defaults[key]
            out[key] = _coerce(self.name, key, value, default)
            if key in self.choices and out[key] not in self.choices[key]:
                raise ValueError(f"{self.name}: {key} must be one of {self.choices[key]}, got {value!r}")
        self.check(out)
        return out

    def check(self, params: dict[str, Any]) -> None:
        """Range checks beyond the types (override): raise ``ValueError`` with a plain message."""

    def for_frames(self, params: dict[str, Any], shape: tuple[int, int, int], spacing, unit: str) -> dict[str, Any]:
        """Validated ``params`` with the choices that depend on the frames made (the result records them): their
        ``shape`` and pixel size (``spacing`` ``(row, col)`` in ``unit``, or None). Default: as they are."""
        return params

    def scaling_region(self, params: dict[str, Any]) -> np.ndarray | None:
        """``(H, W)`` bool: the pixels whose intensities set the scale to [0, 1] (``register``'s ``normalize``), where
        the engine sees only a region of the frames (its mask); None: the whole frame (the default)."""
        return None

    #: every frame is registered to the reference as a pair of its own (the pair engines): ``register`` then says which
    #: frames the warped reference matches worse than none, even where the mean over the frames is better
    pairwise: bool = False

    def chains_frames(self, params: dict[str, Any]) -> bool:
        """Whether a frame's field, with these validated ``params``, depends on the frames between it and the
        reference (a recurrent state, or consecutive fields composed): a blank frame then misleads the frames
        beyond it too (``register``'s warning says so). Default: no, every frame is registered on its own."""
        return False

    def notes(self, params: dict[str, Any], n_frames: int, reference: int) -> list[str]:
        """What ``register`` says before a run with these validated ``params`` (a warning each, the run goes on).
        Default: nothing."""
        return []

    #: Peak memory a CPU run adds, in bytes: ``fixed + per_voxel · T·H·W + per_pixel · (full-size pixels held at once) +
    #: per_work_pixel · (pixels held at once at the engine's working resolution) + per_pair · (T - 1)``, the pixels
    #: from :meth:`pixels_at_once`. Fitted by ``benchmarks/memory.py`` as an upper envelope of measured peaks (its
    #: stored run is checked against these by a test). None: no estimate.
    memory_model: tuple[float, float, float, float, float] | None = None

    def pixels_at_once(self, shape: tuple[int, int, int], params: dict[str, Any]) -> tuple[int, int]:
        """``(full-size pixels, working-resolution pixels)`` the engine holds at once (a block of frames or pairs)."""
        t, h, w = shape
        return h * w * t, 0

    def peak_bytes(self, shape: tuple[int, int, int], params: dict[str, Any]) -> float | None:
        """Estimated peak memory of a CPU run on frames of ``shape`` with validated ``params`` (:attr:`memory_model`)."""
        if self.memory_model is None:
            return None
        fixed, per_voxel, per_pixel, per_work_pixel, per_pair = self.memory_model
        t, h, w = shape
        full, work = self.pixels_at_once(shape, params)
        return fixed + per_voxel * t * h * w + per_pixel * full + per_work_pixel * work + per_pair * (t - 1)

    def run(self, frames: torch.Tensor, reference: int, params: dict[str, Any], ctx: RunContext) -> torch.Tensor:
        """Return pull displacements ``(T, 2, H, W)`` (pixels) on ``frames.device``; ``u[reference] = 0``."""
        raise NotImplementedError  # abstract: every engine overrides this


class ParameterError(ValueError, TypeError):
    """A method parameter of the wrong type: a ``ValueError`` as every input ``register`` cannot use (and a
    ``TypeError``, what it was before)."""


def _coerce(method: str, key: str, value: Any, default: Any) -> Any:
    """Check ``value`` against the type of ``default`` (validated at the API edge, never parsed as int by accident)."""
    if default is None:
        return value
    # numpy's scalars count as Python's numbers (numbers.Integral / Real), booleans as booleans only
    is_bool = isinstance(value, (bool, np.bool_))
    if isinstance(default, bool):
        if not is_bool:
            raise ParameterError(f"{method}: {key} must be True or False, got {value!r}")
        return bool(value)
    if isinstance(default, int):
        integral = isinstance(value, numbers.Integral) or (isinstance(value, numbers.Real) and float(value).is_integer())
        if is_bool or not integral:
            raise ParameterError(f"{method}: {key} must be an integer, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if is_bool or not isinstance(value, numbers.Real):
            raise ParameterError(f"{method}: {key} must be a number, got {value!r}")
        return float(value)
    if isinstance(default, str) and not isinstance(value, str):
        raise ParameterError(f"{method}: {key} must be a string, got {value!r}")
    return value
