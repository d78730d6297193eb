"""Write the unlabeled Sunnybrook cine slices of some patients as TIFF sequences for fine-tuning.

    python scripts/prepare_sunnybrook.py --patients SCD0000201 SCD0000301 --out /tmp/sunny_train

Registration training needs no labels: only the cine frames are written (one (20, 128, 128) TIFF
per slice). Patient SCD0000101 is kept out by default: the benchmark's held-out real case.
The shared data are read in place (../shared/data); nothing is copied into the repository.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from napari_tlreg.io import save_stack  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "sunnybrook"))
    ap.add_argument("--patients", nargs="+", default=["SCD0000201", "SCD0000301"])
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    out = Path(args.out)
    n = 0
    for pid in args.patients:
        d = np.load(Path(args.data) / f"{pid}_crop128.npz")
        for s, cine in enumerate(d["cine"]):
            if cine.std() == 0:
                continue
            save_stack(out / f"{pid}_s{s:02d}.tif", cine.astype(np.float32), spacing=tuple(d["pixel_spacing_mm"]) if "pixel_spacing_mm" in d else None)
            n += 1
    print(f"wrote {n} sequences to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
