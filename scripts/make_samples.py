#!/usr/bin/env python
"""Regenerate the synthetic sample files in ``sample_sequences/`` (deterministic).

    python scripts/make_samples.py                 # write every synthetic sample
    python scripts/make_samples.py cardiac echo    # only these
    python scripts/make_samples.py --check         # compare with the stored files, write nothing
    python scripts/make_samples.py --out DIR       # write elsewhere

The recipes (generator + seed) live in ``napari_tlreg.io.bundled.RECIPES``; the file format in
``pack_sequence``. ``echo_real`` is not stored (it is read from pydicom's wheel at run time).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def build(name: str) -> dict:
    """The arrays that ``<name>.npz`` holds."""
    from napari_tlreg.io.bundled import RECIPES, generate, pack_sequence, samples

    seq = generate(name)
    return pack_sequence(seq, description=samples()[name], recipe=RECIPES[name])


def compare(stored, fresh: dict) -> list[str]:
    """Differences between a stored npz and freshly built arrays (empty list: equal)."""
    problems = []
    if set(stored.files) != set(fresh):
        problems.append(f"keys differ: {sorted(stored.files)} vs {sorted(fresh)}")
    for key, new in fresh.items():
        if key not in stored.files:
            continue
        old = stored[key]
        if old.shape != new.shape or old.dtype != new.dtype:
            problems.append(f"{key}: {old.dtype}{old.shape} vs {new.dtype}{new.shape}")
        elif key == "frames":  # 1 quantisation level of slack for float rounding across platforms
            d = np.abs(old.astype(np.int64) - new.astype(np.int64)).max(initial=0)
            if d > 1:
                problems.append(f"frames differ by up to {d} levels")
        elif key == "labels":
            frac = float(np.mean(old != new))
            if frac > 1e-4:
                problems.append(f"labels differ on {frac:.2%} of pixels")
        elif np.issubdtype(new.dtype, np.floating):
            d = float(np.abs(old.astype(np.float64) - new.astype(np.float64)).max(initial=0))
            if d > 1e-2:
                problems.append(f"{key} differs by up to {d:g}")
        elif not np.array_equal(old, new):
            problems.append(f"{key} differs")
    return problems


def main(argv=None) -> int:
    from napari_tlreg.io.bundled import RECIPES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"samples to build (default all: {', '.join(RECIPES)})")
    ap.add_argument("--out", type=Path, default=REPO / "sample_sequences")
    ap.add_argument("--check", action="store_true", help="compare with the stored files instead of writing")
    args = ap.parse_args(argv)
    names = args.names or list(RECIPES)
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        ap.error(f"unknown synthetic sample(s) {unknown}; known: {', '.join(RECIPES)}")
    status = 0
    for name in names:
        arrays = build(name)
        path = args.out / f"{name}.npz"
        if args.check:
            if not path.is_file():
                print(f"{name}: {path} missing")
                status = 1
                continue
            with np.load(path, allow_pickle=False) as stored:
                problems = compare(stored, arrays)
            print(f"{name}: {'OK' if not problems else '; '.join(problems)}")
            status |= bool(problems)
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
        print(f"{name}: {path} ({path.stat().st_size / 1024:.0f} KiB, frames {arrays['frames'].shape})")
    return status


if __name__ == "__main__":
    sys.exit(main())
