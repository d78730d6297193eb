"""Small, fast engines for tests (registered with ``napari_tlreg.engines.add_engine`` by fixtures).

They live in a module of their own (not in a test file) so that Dask worker processes can import
them by the ``"module:Class"`` target the batch passes along.

* ``test_shift``: one global translation per frame by FFT phase correlation (a real, if crude,
  registration: it recovers integer shifts exactly); reports progress once per frame, so a
  cancel is seen between frames.
"""
from __future__ import annotations

import torch

from napari_tlreg.engines.base import Engine

SHIFT_ENGINE = "test_shift"
SHIFT_TARGET = f"{__name__}:ShiftEngine"


def phase_shift(ref: torch.Tensor, mov: torch.Tensor) -> tuple[float, float]:
    """Integer ``(drow, dcol)`` with ``mov(x) ≈ ref(x + d)`` (pull convention)."""
    fa = torch.fft.rfft2(ref - ref.mean())
    fb = torch.fft.rfft2(mov - mov.mean())
    cross = fa * fb.conj()
    corr = torch.fft.irfft2(cross / (cross.abs() + 1e-9), s=ref.shape)
    idx = int(torch.argmax(corr))
    h, w = ref.shape
    r, c = divmod(idx, w)
    r = r - h if r > h // 2 else r
    c = c - w if c > w // 2 else c
    return float(r), float(c)


class ShiftEngine(Engine):
    name = SHIFT_ENGINE
    description = "test: global translation per frame (phase correlation)"
    defaults = {"gain": 1.0}

    def run(self, frames, reference, params, ctx):
        t = frames.shape[0]
        u = torch.zeros((t, 2, *frames.shape[1:]), dtype=frames.dtype, device=frames.device)
        for i in range(t):
            ctx.report(i, t, f"frame {i}")
            if i == reference:
                continue
            dr, dc = phase_shift(frames[reference], frames[i])
            u[i, 0] = dr * params["gain"]
            u[i, 1] = dc * params["gain"]
        ctx.report(t, t, "done")
        return u


MASKED_SHIFT_ENGINE = "test_masked_shift"
MASKED_SHIFT_TARGET = f"{__name__}:MaskedShiftEngine"


class MaskedShiftEngine(Engine):
    """test: a region engine (as NMSR with its ``mask``): frame t's content is the reference's 2t rows down; its field
    says so over the whole frame, outside the region too (where an engine fitted in it extrapolates)."""

    name = MASKED_SHIFT_ENGINE
    description = "test: 2 rows a frame, a region's"
    defaults = {"mask": None}
    region_params = ("mask",)

    def validate_params(self, params):
        from napari_tlreg.core.region import coerce_mask

        out = super().validate_params(params)
        out["mask"] = coerce_mask(out["mask"], self.name)
        return out

    def scaling_region(self, params):
        from napari_tlreg.core.region import decode_mask

        return None if params["mask"] is None else decode_mask(params["mask"]).astype(bool)

    def run(self, frames, reference, params, ctx):
        t = frames.shape[0]
        u = torch.zeros((t, 2, *frames.shape[1:]), dtype=frames.dtype, device=frames.device)
        for i in range(t):
            u[i, 0] = 2.0 * (i - reference)
        ctx.report(1, 1, "done")
        return u
