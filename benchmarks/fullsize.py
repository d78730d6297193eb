"""The cine models on a full field of view: at which resolution do they register real cine best?

    python benchmarks/fullsize.py [--threads 1] [--out benchmarks/results/fullsize]

The shipped tlrn and voxelmorph models were trained at 64 px on phantoms and on 128-px crops of real cine
(1.29-1.37 mm pixels), i.e. about 2.7 mm a pixel. A scanner's whole slice is 256 px of the same pixels. The held-out
patient's slices (SCD0000101, the 9 slice positions of its crop file) are taken at full size from its DICOM folder,
with the expert's ED and ES endocardium placed where the crop was taken, and its ED->ES pair registered with each
method at ``scale`` 0.25 (the size rule alone: 64 px, 5.5 mm a pixel), 0.5 (128 px, 2.7 mm), 1 (native) and
``auto`` (the engine's choice with the pixel size given: :func:`napari_tlreg.engines.tlrn.spacing_scale`), beside the
128-px crop as the benchmarks register it (auto: 64 px) and no registration. Per row: mean Dice of the propagated ED
endocardium against the ES one, how many pairs' warped reference matches the ES frame worse than the ED frame as it
is (MSE), and seconds a pair.

Prints a markdown table and writes ``results.json`` into ``--out``, atomically.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import write_json  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "sunnybrook"
ROWS = {"crop 128 px (auto)": ("crop", 0.0), "full, scale 0.25 (size rule)": ("full", 0.25),
        "full, scale 0.5": ("full", 0.5), "full, scale 1": ("full", 1.0), "full, auto (pixel size given)": ("full", None)}


def pairs():
    """``(slice position, (ED, ES) full frames, spacing, (ED, ES) full endocardium, crop frames, crop endocardium)``."""
    from napari_tlreg.io import load_sequence

    d = np.load(SHARED / "SCD0000101_crop128.npz")
    r0, c0 = (int(v) for v in d["crop_origin_rc"])
    for i, s in enumerate(d["slice_index"]):
        seq = load_sequence(SHARED / "dicom_SCD0000101", slice=int(s))
        if not np.array_equal(seq.frames[:, r0:r0 + 128, c0:c0 + 128], d["cine"][i]):
            raise SystemExit(f"slice {s}: the crop file's frames are not the DICOM folder's slice {s}")
        ed = int(np.flatnonzero(d["has_epi"][i])[0])
        es = int([t for t in np.flatnonzero(d["has_endo"][i]) if t != ed][0])
        endo = np.zeros((2, *seq.frames.shape[1:]), np.int32)
        endo[:, r0:r0 + 128, c0:c0 + 128] = d["endo"][i][[ed, es]]
        yield int(s), seq.frames[[ed, es]], seq.spacing, endo, d["cine"][i][[ed, es]].astype(np.float32), \
            d["endo"][i][[ed, es]].astype(np.int32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--methods", default="tlrn,voxelmorph")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fullsize"))
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    import napari_tlreg as tl
    from napari_tlreg import metrics

    cases = list(pairs())
    results: dict = {"cases": [c[0] for c in cases], "rows": {}}
    none = [metrics.dice(endo[0], endo[1]) for _, _, _, endo, _, _ in cases]
    results["rows"]["none"] = {"dice": none}
    lines = ["| method | resolution | mean Dice ED→ES (9 slices) | pairs matched worse than none | s / pair |",
             "|---|---|---|---|---|", f"| none | | {np.mean(none):.4f} | | |"]
    for method in args.methods.split(","):
        for row, (where, scale) in ROWS.items():
            dice, worse, secs, chosen = [], 0, [], set()
            for _, frames, spacing, endo, crop, crop_endo in cases:
                f, lab = (crop, crop_endo) if where == "crop" else (frames, endo)
                kw = {} if scale is None else {"scale": scale}
                notes: list[str] = []
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = tl.register(f, method=method, spacing=spacing if where == "full" else None,
                                      on_warning=notes.append, **kw)
                secs.append(time.perf_counter() - t0)
                chosen.add(res.params["scale"])
                worse += any("matches the frames worse" in n for n in notes)
                dice.append(metrics.dice(res.warp_labels(lab[0])[1], lab[1]))
            results["rows"][f"{method} {row}"] = {"dice": dice, "worse": worse, "seconds": secs,
                                                  "scale": sorted(chosen)}
            lines.append(f"| {method} | {row}{' → ' + ', '.join(map(str, sorted(chosen))) if scale is None else ''} | "
                         f"{np.mean(dice):.4f} | {worse} of {len(cases)} | {np.median(secs):.3f} |")
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(table)
    results["table_markdown"] = table
    results["threads"] = args.threads
    write_json(Path(args.out) / "results.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
