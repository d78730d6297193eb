"""The ITK export (`napari-tlreg itk`, `RegistrationResult.save_itk`) read by the peers themselves: each frame's
displacement file resamples the reference file onto the frame file's grid through SimpleITK
(`DisplacementFieldTransform` + `Resample`, linear) and, where antspyx is installed (the `bench` extra), ANTs
(`ants.apply_transforms`, the library behind `antsApplyTransforms`); the result is compared with the result's own
warped frames, inside a 4-pixel border (the peers fill 0 outside the frame, the result replicates the border).

    python benchmarks/itk_check.py [--sample cardiac] [--frames 3 7 12]
    (needs SimpleITK and/or antspyx: `pip install SimpleITK`, or the bench extra)

Registers the sample with tlrn, exports it twice (its own pixel size, and 0.5 x 0.25 mm pixels: a swapped row and
column would show), and prints a table of the largest differences; the unregistered difference beside them says what
a wrong field would give. Writes into a temporary folder only.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sitk(out: Path, t: int):
    import numpy as np
    import SimpleITK as sitk

    ref = sitk.ReadImage(str(out / "reference.nii.gz"), sitk.sitkFloat64)
    frame = sitk.ReadImage(str(out / f"frame_{t:03d}.nii.gz"), sitk.sitkFloat64)
    field = sitk.ReadImage(str(out / f"displacement_{t:03d}.nii.gz"), sitk.sitkVectorFloat64)
    return np.asarray(sitk.GetArrayFromImage(sitk.Resample(ref, frame, sitk.DisplacementFieldTransform(field),
                                                           sitk.sitkLinear, 0.0)))


def _ants(out: Path, t: int):
    import ants
    import numpy as np

    ref, frame = ants.image_read(str(out / "reference.nii.gz")), ants.image_read(str(out / f"frame_{t:03d}.nii.gz"))
    warped = ants.apply_transforms(fixed=frame, moving=ref, transformlist=[str(out / f"displacement_{t:03d}.nii.gz")],
                                   interpolator="linear")
    return np.asarray(warped.numpy()).T  # antspy's arrays are (x, y): the file's (col, row)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", default="cardiac")
    ap.add_argument("--frames", type=int, nargs="+", default=[3, 7, 12])
    args = ap.parse_args(argv)

    import importlib.util

    import numpy as np

    import napari_tlreg as tl

    peers = {name: fn for name, fn, mod in (("SimpleITK", _sitk, "SimpleITK"), ("ANTs", _ants, "ants"))
             if importlib.util.find_spec(mod) is not None}
    if not peers:
        print("neither SimpleITK nor antspyx is installed: pip install SimpleITK (or the bench extra)")
        return 1
    res = tl.register(tl.load_sequence(args.sample), method="tlrn")
    inner = (slice(4, -4), slice(4, -4))
    print(f"{'peer':10s} {'pixels (mm)':14s} {'frame':>5s} {'max |peer - warped|':>20s} {'unregistered':>13s}")
    with tempfile.TemporaryDirectory() as tmp:
        for spacing in (res.spacing, (0.5, 0.25)):
            case = dataclasses.replace(res, spacing=spacing)
            out = case.save_itk(Path(tmp) / f"itk_{spacing[0]}_{spacing[1]}")
            for name, fn in peers.items():
                for t in args.frames:
                    got = fn(out, t)
                    err = float(np.abs(got - res.warped[t])[inner].max())
                    before = float(np.abs(res.frames[res.reference] - res.warped[t])[inner].max())
                    print(f"{name:10s} {spacing[0]:.4g} x {spacing[1]:<6.4g} {t:5d} {err:20.2e} {before:13.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
