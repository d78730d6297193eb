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
add_engine("multistep", "napari_tlreg.engines.multistep:MultistepEngine",
           "Multistep spatial-gradient network: bounded gradients, cumulative-sum grid, T refinement steps (satellite pairs)")
add_engine("hsyn", "napari_tlreg.engines.hsyn:HSyNEngine",
           "HSyN: hierarchical symmetric half-way fields + deformation-inverse network (pairs; learned inverse)")
add_engine("nmsr", "napari_tlreg.engines.nmsr:NMSREngine",
           "NMSR: a U-Net optimised on the sequence itself, coarse to fine (echo; no training data needed)")


def get_engine(name: str):
    """The engine instance for ``name``; unknown names raise ``ValueError`` listing the known ones."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(sorted(_REGISTRY))}")
    if name not in _CACHE:
        mod, cls = _REGISTRY[name][0].split(":")
        _CACHE[name] = getattr(importlib.import_module(mod), cls)()
    return _CACHE[name]
