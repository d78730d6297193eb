"""Frames that flicker in brightness: each method with one intensity scale for the sequence, and with ``auto``.

    python benchmarks/flicker.py [--phantoms 8] [--methods tlrn,voxelmorph,nmsr,hsyn] [--threads 1] [--smoke]
                                 [--out benchmarks/results/flicker]

``tl.register`` scales intensities to [0, 1] before an engine sees them: ``normalize="sequence"`` with one scale
for all frames, ``"frame"`` each frame on its own, and ``"auto"`` (the default) per frame where
:func:`napari_tlreg.core.normalize.flicker` finds a frame whose brightness differs from the reference's beyond what
motion does. Two sections:

* **flicker**: unseen cardiac phantoms (seeds 50,000+, 12x64²) whose frames other than the reference get a gain
  ``1 + A·U(-1, 1)`` and an offset ``0.2·A·U(-1, 1)`` of the frames' range (a camera's auto-exposure; seeded), for
  amplitudes ``A`` of 0 to 0.5. Mean endpoint error against the true field (px), per method and normalisation, and
  how many sequences ``auto`` normalised per frame. At ``A = 0`` ``auto`` must equal ``sequence`` to the bit.
* **natural**: the largest change :func:`flicker` measures on the sequences the other benchmarks use (phantoms,
  bundled and real echo, every Sunnybrook cine slice, the samples), none of which flickers: ``auto`` must keep one
  scale on all of them (so their benchmark figures do not move), and the table says how far each set is from the
  threshold. The real multi-frame cine DICOM in ``../shared/data`` is listed too: its frames' spread differs by a
  quarter (windowed one by one on export, or inflow), and ``auto`` normalises it per frame.
* **dicom**: that DICOM (16x256², no ground truth) registered with one scale and with ``auto``, judged by the mean
  local CC (radius 10) of the warped reference against each frame, both normalised per frame (local CC does not see a
  frame's gain and offset, so the two rows are judged alike), and by the field's roughness (mean |∇u|²).

Prints markdown tables and writes ``results.json`` (with the tables' markdown) into ``--out``, atomically.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import napari_tlreg as tl  # noqa: E402
from napari_tlreg.core.normalize import FLICKER_GAIN, FLICKER_OFFSET, brightness_changes, flicker  # noqa: E402
from napari_tlreg.synth.cardiac import cardiac_phantom  # noqa: E402

PHANTOM_SEED0 = 50_000
AMPLITUDES = (0.0, 0.1, 0.2, 0.3, 0.5)
METHODS = ("tlrn", "voxelmorph", "nmsr", "hsyn")
MODES = ("sequence", "auto")
#: the sequence engines, run on the real DICOM too
DICOM_METHODS = ("tlrn", "voxelmorph", "nmsr")
SHARED = ROOT.parent / "shared" / "data"


def flickering(frames: np.ndarray, amplitude: float, seed: int, reference: int = 0) -> np.ndarray:
    """``frames`` with a gain ``1 + A·U(-1, 1)`` and an offset ``0.2·A·U(-1, 1)`` of their range on every frame but
    the reference (seeded)."""
    rng = np.random.default_rng(seed)
    t = len(frames)
    gain = 1.0 + amplitude * rng.uniform(-1.0, 1.0, t)
    offset = 0.2 * amplitude * rng.uniform(-1.0, 1.0, t) * float(np.ptp(frames))
    gain[reference], offset[reference] = 1.0, 0.0
    return (frames * gain[:, None, None] + offset[:, None, None]).astype(np.float32)


def epe(field: np.ndarray, truth: np.ndarray, reference: int = 0) -> float:
    others = [t for t in range(len(field)) if t != reference]
    return float(np.sqrt(((field[others] - truth[others]) ** 2).sum(1)).mean())


def flicker_section(n_phantoms: int, methods, amplitudes, n_frames: int = 12, size: int = 64) -> dict:
    out: dict = {"amplitudes": list(amplitudes), "phantoms": n_phantoms, "rows": {}}
    per_frame = {str(a): 0 for a in amplitudes}
    for i in range(n_phantoms):
        seq = cardiac_phantom(n_frames=n_frames, size=size, seed=PHANTOM_SEED0 + i)
        truth = seq.metadata["displacement"]
        for a in amplitudes:
            frames = flickering(seq.frames, a, seed=1000 * i + int(round(100 * a)))
            same_at_zero = {}
            for m in methods:
                for mode in MODES:
                    res = tl.register(frames, method=m, normalize=mode, on_warning=lambda _m: None)
                    row = out["rows"].setdefault(f"{m}, {mode}", {str(x): [] for x in amplitudes} | {"seconds": []})
                    row[str(a)].append(epe(res.displacement, truth))
                    row["seconds"].append(res.runtime_s)
                    if mode == "auto" and m == methods[0] and res.normalization == "frame":
                        per_frame[str(a)] += 1
                    same_at_zero[mode] = res.displacement
                if a == 0.0:  # no flicker: auto must be the per-sequence scale, to the bit
                    out.setdefault("auto_equals_sequence_without_flicker", True)
                    out["auto_equals_sequence_without_flicker"] &= bool(
                        np.array_equal(same_at_zero["auto"], same_at_zero["sequence"]))
        print(f"phantom {PHANTOM_SEED0 + i} done", flush=True)
    for row in out["rows"].values():
        for k in list(row):
            row[k] = float(np.mean(row[k]))
    out["auto_per_frame"] = per_frame
    return out


def natural_sets(smoke: bool) -> dict[str, list[np.ndarray]]:
    """Sequences of the other benchmarks (none flickers), by set; the real cine DICOM apart."""
    sets: dict[str, list[np.ndarray]] = {}
    seeds = (0, 1) if smoke else tuple(range(8))
    for base in (50_000, 60_000, 70_000):
        sets[f"cardiac phantoms {base:,}+ (12x64²)"] = [
            cardiac_phantom(n_frames=12, size=64, seed=base + i).frames for i in seeds]
    for name in ("echo", "cardiac", "lemniscate") + (() if smoke else ("echo_real",)):
        sets[f"sample `{name}`"] = [tl.load_sequence(name).frames]
    patients = sorted((SHARED / "sunnybrook").glob("SCD*_crop128.npz"))
    if patients and not smoke:
        slices = []
        for p in patients:
            with np.load(p) as z:
                slices += [np.asarray(s, np.float32) for s in z["cine"]]
        sets[f"Sunnybrook cine, every slice ({len(slices)})"] = slices
    dicom = SHARED / "dicom" / "heart_cine_multiframe_16x256x256.dcm"
    if dicom.is_file():
        sets["real cine DICOM (16x256², shared/data)"] = [tl.load_sequence(str(dicom)).frames]
    return sets


def natural_section(smoke: bool) -> dict:
    out = {}
    for name, seqs in natural_sets(smoke).items():
        changes = [list(brightness_changes(np.asarray(q, np.float32)).values()) for q in seqs]
        out[name] = {"sequences": len(seqs), "range_change_max": max(f - 1.0 for c in changes for f, _ in c),
                     "offset_max": max(sh for c in changes for _, sh in c),
                     "per_frame": sum(bool(flicker(np.asarray(s, np.float32))) for s in seqs)}
    return out


def dicom_section(methods) -> dict | None:
    path = SHARED / "dicom" / "heart_cine_multiframe_16x256x256.dcm"
    if not path.is_file():
        return None
    from napari_tlreg import metrics
    from napari_tlreg.core.normalize import normalize_frames
    from napari_tlreg.core.ops import warp

    frames = tl.load_sequence(str(path)).frames
    judged = normalize_frames(frames)
    out = {}
    for m in methods:
        for mode in MODES:
            res = tl.register(frames, method=m, normalize=mode, on_warning=lambda _m: None)
            w = warp(judged[0], res.displacement, order=1)
            d_r, d_c = np.gradient(res.displacement[1:], axis=(2, 3))
            out[f"{m}, {mode}"] = {"lncc10": float(metrics.lncc(w[1:], judged[1:], radius=10)),
                                   "grad2": float((d_r**2 + d_c**2).sum(1).mean()), "used": res.normalization,
                                   "seconds": res.runtime_s}
        print(f"dicom {m} done", flush=True)
    return out


def tables(R: dict) -> str:
    F = R["flicker"]
    amps = F["amplitudes"]
    lines = ["| method, normalize | " + " | ".join(f"A = {a:g}" for a in amps) + " | s |",
             "|---|" + "---|" * (len(amps) + 1)]
    for name, row in F["rows"].items():
        lines.append(f"| {name} | " + " | ".join(f"{row[str(a)]:.3f}" for a in amps) + f" | {row['seconds']:.2f} |")
    lines.append("| `auto` chose per frame | " + " | ".join(f"{F['auto_per_frame'][str(a)]} of {F['phantoms']}" for a in amps)
                 + " | |")
    nat = ["| sequences | count | largest range change | largest offset | `auto` per frame |", "|---|---|---|---|---|"]
    for name, r in R["natural"].items():
        nat.append(f"| {name} | {r['sequences']} | {100 * r['range_change_max']:.1f} % | {100 * r['offset_max']:.1f} % "
                   f"| {r['per_frame']} of {r['sequences']} |")
    text = "\n".join(lines) + "\n\n" + "\n".join(nat) + "\n"
    if R.get("dicom"):
        dic = ["| real cine DICOM: method, normalize | scale used | LNCC10 | \\|∇u\\|² | s |", "|---|---|---|---|---|"]
        for name, r in R["dicom"].items():
            dic.append(f"| {name} | {r['used']} | {r['lncc10']:.4f} | {r['grad2']:.4f} | {r['seconds']:.1f} |")
        text += "\n" + "\n".join(dic) + "\n"
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phantoms", type=int, default=8)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="1 phantom, 2 amplitudes, tlrn only, few natural sets")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "flicker"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    methods = tuple(m for m in args.methods.split(",") if m)
    unknown = set(methods) - set(tl.methods())
    if unknown or args.phantoms < 1:
        ap.error(f"unknown methods {sorted(unknown)}" if unknown else "--phantoms must be >= 1")
    amps, n = AMPLITUDES, args.phantoms
    if args.smoke:
        amps, n, methods = (0.0, 0.3), 1, ("tlrn",)
    t0 = time.time()
    R = {"threshold": {"range_factor": FLICKER_GAIN, "offset": FLICKER_OFFSET}, "threads": args.threads,
         "flicker": flicker_section(n, methods, amps), "natural": natural_section(args.smoke),
         "dicom": None if args.smoke else dicom_section(tuple(m for m in methods if m in DICOM_METHODS))}
    R["seconds"] = time.time() - t0
    R["table_markdown"] = tables(R)
    print("\n" + R["table_markdown"])
    print("auto equals sequence without flicker:", R["flicker"]["auto_equals_sequence_without_flicker"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(R, indent=2))
    os.replace(tmp, out / "results.json")
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
