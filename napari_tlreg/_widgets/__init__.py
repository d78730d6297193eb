"""napari widgets (Qt). A face on the public API: no registration math lives here (what a result shows as
layers is built by :mod:`napari_tlreg.display`, without Qt).

- :class:`~napari_tlreg._widgets.register.RegisterWidget`: the "Register sequence" dock widget.
- :class:`~napari_tlreg._widgets.landmarks.LandmarkWidget`: "Landmarks & TRE" (pairs, TRE, tracking).
- :class:`~napari_tlreg._widgets.plots.PlotsWidget`: "Evaluation plots" (per-frame curves, export).
- :mod:`napari_tlreg._widgets.store`: the results of a viewer, shared by its widgets (no Qt).
"""
from __future__ import annotations

__all__ = ["RegisterWidget"]


def __getattr__(name: str):
    if name == "RegisterWidget":
        from .register import RegisterWidget

        return RegisterWidget
    raise AttributeError(f"module 'napari_tlreg._widgets' has no attribute {name!r}")
