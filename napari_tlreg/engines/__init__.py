"""Registration engines. Each is a subclass of :class:`~napari_tlreg.engines.base.Engine`.

The table below is the single list of engines: name -> (module:class, one-line description).
Engines are imported on first use so listing them stays cheap.
"""
from __future__ import annotations

import importlib

_REGISTRY: dict[str, tuple[str, str]] = {}


def add_engine(name: str, target: str, description: str) -> None:
    """Register an engine class by ``"module:Class"`` path (used by the engine modules and by tests)."""
    _REGISTRY[name] = (target, description)


def remove_engine(name: str) -> None:
    _REGISTRY.pop(name, None)
    _CACHE.pop(name, None)


def methods() -> dict[str, str]:
    """``{name: one-line description}`` of every available engine."""
    return {k: v[1] for k, v in _REGISTRY.items()}


_CACHE: dict[str, object] = {}

add_engine("tlrn", "napari_tlreg.engines.tlrn:TLRNEngine",
           "TLRN: temporal latent residual network over SVF velocities (cine sequences; default)")
add_engine("voxelmorph", "napari_tlreg.engines.tlrn:VoxelMorphEngine",
           "VoxelMorph SVF U-Net: each frame to the reference independently (the TLRN ablation)")


def get_engine(name: str):
    """The engine instance for ``name``; unknown names raise ``ValueError`` listing the known ones."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(sorted(_REGISTRY))}")
    if name not in _CACHE:
        mod, cls = _REGISTRY[name][0].split(":")
        _CACHE[name] = getattr(importlib.import_module(mod), cls)()
    return _CACHE[name]
