"""Where the shipped data lives: inside the wheel, or top-level in a source checkout."""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    inside = _PKG / name  # installed wheel: force-included into the package
    if inside.is_dir():
        return inside
    repo = _PKG.parent / name  # editable install / source checkout
    if repo.is_dir():
        return repo
    raise FileNotFoundError(f"napari-tlreg data folder {name!r} not found next to {_PKG}")


def resources_dir() -> Path:
    return _find("resources")


def samples_dir() -> Path:
    return _find("sample_sequences")
