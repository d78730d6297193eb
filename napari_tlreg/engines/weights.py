"""Shipped and user weights: model cards, sha256 checks, safe loading (``weights_only=True``).

A model card is ``resources/models/<name>.json`` with at least ``file`` (relative to
``resources/``), ``sha256``, ``method`` and ``config`` (constructor arguments of the network),
plus how the weights were trained and the figures they reach. A user checkpoint written by the
trainer is a dict ``{"model": state_dict, "config": {...}, "method": str, ...}``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from .._paths import resources_dir


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_weights(path: str | Path, payload: dict[str, Any]) -> None:
    """``torch.save`` of ``payload`` to ``path`` atomically: written beside it and moved on success, so an
    interrupted run never leaves half a weights file (through a file object, so the archive's records are
    named ``archive/…``, not after the temporary file)."""
    from ..io.writers import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)


def write_model_card(path: str | Path, card: dict[str, Any]) -> None:
    """A model card (JSON) written atomically, like :func:`save_weights`."""
    from ..io.writers import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(card, indent=2) + "\n")


def model_card(name: str) -> dict[str, Any]:
    """The card of shipped model ``name`` (``resources/models/<name>.json``)."""
    path = resources_dir() / "models" / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in (resources_dir() / "models").glob("*.json"))
        raise FileNotFoundError(f"no shipped model {name!r}; shipped models: {', '.join(known) or 'none'}")
    return json.loads(path.read_text())


def _load_failure(exc: BaseException) -> str:
    """Why ``torch.load(..., weights_only=True)`` failed, in a line. torch's own text for a file it cannot unpickle
    safely (corrupt bytes, or Python objects beside the tensors) advises loading it with ``weights_only=False``,
    which runs whatever code the file holds: not advice to relay."""
    text = str(exc).strip()
    if "weights_only" in text or "Weights only load failed" in text:
        return ("corrupt, or not tensors alone: weights are read with torch.load(weights_only=True), which loads no "
                "other Python objects; save the model's state_dict() or the trainer's checkpoint")
    if "central directory" in text or "zip archive" in text or "PytorchStreamReader" in text:  # a zip cut short
        return "truncated or corrupt: its archive is incomplete (a copy or a save that did not finish?)"
    first = text.splitlines()[0] if text else ""
    return f"{exc.__class__.__name__}: {first[:157] + '...' if len(first) > 160 else first}"


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a trainer checkpoint or a bare state dict safely (``weights_only=True``); ``~`` is the user's home (tlrn,
    voxelmorph, multistep and hsyn said "not found" of ``~/mine.pt``, which nmsr read)."""
    path = Path(path).expanduser()
    if path.is_dir():  # (it said "not found" of a folder that is there)
        raise ValueError(f"{path}: is a folder, not a weights file")
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.stat().st_size == 0:  # as every other empty input says (torch said "EOFError: ")
        raise ValueError(f"{path}: file is empty, not a weights file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or not a torch file
        raise ValueError(f"{path}: not a readable weights file ({_load_failure(exc)})") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict or a checkpoint dict")
    return obj


def load_shipped(name: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """State dict and card of a shipped model, after checking the file's sha256 against its card."""
    card = model_card(name)
    path = resources_dir() / card["file"]
    if not path.is_file():
        raise FileNotFoundError(f"shipped weights {path} are missing from the installation")
    digest = sha256(path)
    if digest != card["sha256"]:
        raise ValueError(f"{path}: sha256 {digest[:12]}… does not match its model card ({card['sha256'][:12]}…)")
    ckpt = load_checkpoint(path)
    return ckpt.get("model", ckpt), card


def is_path(weights: str) -> bool:
    """Whether ``weights`` names a checkpoint file (a ``.pt``/``.pth`` suffix or an existing path), not a shipped model."""
    return bool(weights) and (Path(weights).suffix in {".pt", ".pth"} or Path(weights).exists())


def cache_key(weights: str) -> tuple:
    """What identifies the network ``weights`` loads, for the engines' caches of built networks: a shipped name as it
    is (its file is checked against its card); a path by the file itself (absolute path, size, modification time),
    so a checkpoint trained again into the same path, or a relative path after a change of directory, is loaded
    afresh rather than served from the cache."""
    if not is_path(weights):
        return (weights,)
    path = Path(weights).expanduser().resolve()
    try:
        st = path.stat()
    except OSError:
        return (str(path),)  # missing: resolve() says so
    return (str(path), st.st_size, st.st_mtime_ns)


def resolve(weights: str, default_name: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``weights`` = "" (the shipped default), a shipped model name, or a path to a checkpoint. Weights with NaN or
    infinite values (a diverged training) are a ``ValueError``: they would give NaN fields, or crash torch's
    backward pass in a test-time optimisation."""
    if not weights:
        state, card = load_shipped(default_name)
    elif is_path(weights):
        ckpt = load_checkpoint(weights)
        if "model" in ckpt:
            train_size = (ckpt.get("train") or {}).get("size", 64)
            state, card = ckpt["model"], {"config": ckpt.get("config", {}), "method": ckpt.get("method"),
                                          "file": str(weights), "train_size": train_size}
        else:
            state, card = ckpt, {"config": {}, "file": str(weights)}
    else:
        state, card = load_shipped(weights)
    bad = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.is_floating_point()
           and not bool(torch.isfinite(v).all())] if isinstance(state, dict) else []
    if bad:
        raise ValueError(f"weights {weights or default_name!r} hold NaN or infinite values ({', '.join(bad[:3])}"
                         f"{', ...' if len(bad) > 3 else ''}): a diverged training?")
    return state, card


def identify(weights: str, default_name: str) -> dict[str, str]:
    """``{"name", "sha256"}`` of the weights a run used: a shipped model's name (the default's for "") and its card's
    sha256 (checked against the file when it loads), or a checkpoint's absolute path and its file's sha256. A result
    that recorded ``weights: ""``, or only a path, did not say which network made it (the same path trained again:
    fields 2.5 px apart under one record)."""
    if is_path(weights):
        path = Path(weights).expanduser().resolve()
        return {"name": str(path), "sha256": sha256(path) if path.is_file() else ""}  # missing: the engine says so
    name = weights or default_name
    return {"name": name, "sha256": str(model_card(name).get("sha256", ""))}


def other_shapes(own: dict, state: dict) -> list[str]:
    """The names of ``state``'s tensors that ``own`` (a network's state dict) has in another shape."""
    return [k for k in state if k in own and tuple(getattr(state[k], "shape", ())) != tuple(own[k].shape)]


def load_fitting(net: torch.nn.Module, state: dict, card: dict, label: str, method: str,
                 takes: tuple[str, ...] = ()) -> None:
    """Load ``state`` into ``net`` (``strict=False``), or a one-line ``ValueError`` that says why the weights do not
    fit: a checkpoint of another method (its ``method``, when it records one, not in ``takes``), tensors of other
    shapes (another network configuration: torch's own error was a page of "size mismatch" and a traceback), or
    tensors missing or left over."""
    theirs = card.get("method")
    if theirs and takes and theirs not in takes:
        raise ValueError(f"weights {label!r} are {theirs} weights; {method} takes {' or '.join(takes)} weights "
                         f"(napari-tlreg train {method} ... makes them)")
    own = net.state_dict()
    wrong = other_shapes(own, state)
    if wrong:
        raise ValueError(f"weights {label!r} do not fit the {method} network: {len(wrong)} of their tensors have other "
                         f"shapes (e.g. {wrong[0]}: {tuple(state[wrong[0]].shape)}, here {tuple(own[wrong[0]].shape)}); "
                         "trained with other --net options, or for another method?")
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"weights {label!r} do not fit the {method} network (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
