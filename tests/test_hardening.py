"""Bad input through every face: the API, the CLI and the viewer (issue 8, point 4).

Each bad input gets one clear error (a ``ValueError``/``OSError`` from the API, one line on stderr
and a non-zero exit from the CLI, a notification in the viewer), nothing crashes, nothing huge is
allocated, and no output is left half-written. Corrupt files straight through ``load_sequence``
are in ``test_io.py``; here they go through the CLI and the viewer, plus a fuzz run of the readers.
"""
from __future__ import annotations

import json
import re
import math
import os
import resource
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

import napari_tlreg as tl
from napari_tlreg import cli
from napari_tlreg.io import SequenceReadError, load_sequence, save_points_csv, save_stack
from napari_tlreg.io.readers import MAX_READ_VOXELS
from test_io import _valid_file, _write_dicom  # the corrupt-file builders of the reader tests

FORMATS = ["tif", "nii", "nii.gz", "dcm", "avi", "mp4", "npz", "npy"]
DAMAGE = ["empty", "truncated", "random"]
MB = 2**20


# --------------------------------------------------------------------------- helpers
def _seq(t=4, h=32, w=32, seed=0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    base = gaussian_filter(np.random.default_rng(seed).random((h, w)), 2.0).astype(np.float32)
    return np.stack([np.roll(base, (k, -k), (0, 1)) for k in range(t)])


def _damaged(tmp_path: Path, fmt: str, damage: str) -> Path:
    good = _valid_file(tmp_path, fmt)
    data = good.read_bytes()
    content = {"empty": b"", "truncated": data[: len(data) // 2],
               "random": np.random.default_rng(3).bytes(4096)}[damage]
    bad = tmp_path / f"bad_{damage}.{fmt}"
    bad.write_bytes(content)
    good.unlink()
    return bad


def _junk_dicom_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "junk_dicom"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(3):
        (folder / f"IM{i:04d}.dcm").write_bytes(rng.bytes(300))
    (folder / "IM0009.dcm").write_bytes(b"\0" * 128 + b"DICM" + rng.bytes(200))  # magic, then junk
    return folder


def _cli(argv, capsys) -> tuple[int, list[str], str]:
    rc = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.err.strip().splitlines(), cap.out


def _assert_one_line_error(rc, err, command="register", match=None, progress=False):
    """A non-zero exit and one error line (warnings, one line each, may come before it).

    ``progress``: the failure came after the registration ran, so its progress lines came first.
    """
    assert rc != 0
    if progress:
        assert err and err[-1].startswith(f"napari-tlreg {command}: error: "), err
        err = [line for line in err if not line.startswith("[")]
    errors = [line for line in err if line.startswith(f"napari-tlreg {command}: error: ")]
    warns = [line for line in err if line.startswith(f"napari-tlreg {command}: warning: ")]
    assert len(errors) == 1 and len(errors) + len(warns) == len(err), err
    assert "Traceback" not in errors[0]
    if match is not None:
        assert match in errors[0], err


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class _Peak:
    """Peak numpy/Python allocation (tracemalloc) and peak-RSS growth while the block runs."""

    def __enter__(self):
        self.rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        self.rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.rss0
        return False


# --------------------------------------------------------------------------- bad files: CLI
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("damage", DAMAGE)
def test_cli_bad_files(tmp_path, capsys, shift_engine, fmt, damage):
    bad = _damaged(tmp_path, fmt, damage)
    out = tmp_path / "out"
    rc, err, _ = _cli(["register", bad, "--method", shift_engine, "--out", out], capsys)
    _assert_one_line_error(rc, err, match=f"{bad.name}: ")
    assert rc == 2 and not out.exists() and _hidden(tmp_path) == []


def test_cli_junk_dicom_folder_and_missing_input(tmp_path, capsys, shift_engine):
    folder = _junk_dicom_folder(tmp_path)
    rc, err, _ = _cli(["register", folder, "--method", shift_engine, "--out", tmp_path / "o"], capsys)
    assert err[0].startswith("napari-tlreg register: warning: junk_dicom: skipped 4 non-DICOM")
    # (2026-12-05, error-message review) pydicom's reason ended "Use force=True to force reading.", which no option
    # of ours sets
    assert "IM0000.dcm (not DICOM)" in err[0] and "force" not in err[0]
    _assert_one_line_error(rc, err, match="junk_dicom: folder holds no readable DICOM image files")
    (tmp_path / "empty").mkdir()  # was "holds no readable DICOM image files" (a folder of frames is one too)
    rc, err, _ = _cli(["register", tmp_path / "empty", "--method", shift_engine, "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match="empty: the folder is empty (a sequence folder holds DICOM files, or one "
                                          "TIFF, NIfTI or picture image a frame)")
    rc, err, _ = _cli(["register", tmp_path / "none.tif", "--method", shift_engine, "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match="none.tif: no such file or folder")
    assert not (tmp_path / "o").exists()


def test_api_junk_dicom_folder(tmp_path):
    with pytest.warns(UserWarning, match="skipped 4"), pytest.raises(SequenceReadError, match="no readable DICOM"):
        load_sequence(_junk_dicom_folder(tmp_path))


# --------------------------------------------------------------------------- bad arrays: API + CLI
BAD_ARRAYS = [
    ("one frame", np.zeros((1, 32, 32), np.float32), "at least 2 frames"),
    ("nan", np.where(np.eye(32, dtype=bool), np.nan, 1.0)[None].repeat(3, 0),
     "96 NaN or infinite value(s), in every frame; fill or mask them first (no-data: fill it with one value, e.g. "
     "np.nan_to_num(frames)"),
    ("inf", np.where(np.eye(32, dtype=bool), np.inf, 1.0)[None].repeat(3, 0), "NaN or infinite"),
    ("nan2", np.where(np.eye(32, dtype=bool) & (np.arange(3) > 0)[:, None, None], np.nan, 1.0),
     "64 NaN or infinite value(s), in frames 1, 2;"),
    ("nan12", np.where(np.eye(32, dtype=bool) & (np.arange(14) % 14 > 0)[:, None, None], np.nan, 1.0),
     "in frames 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 3 more;"),
    ("-inf", np.where(np.eye(32, dtype=bool), -np.inf, 1.0)[None].repeat(3, 0), "NaN or infinite"),
    ("4-D", np.zeros((3, 2, 32, 32), np.float32), "must be a (T, H, W) sequence"),
    ("rgb", np.zeros((3, 32, 32, 3), np.float32), "colour"),
    ("rgba", np.zeros((3, 32, 32, 4), np.uint8), "colour"),
    ("2-D", np.zeros((32, 32), np.float32), "must be a (T, H, W) sequence"),
    ("tiny", np.zeros((3, 4, 4), np.float32), "too small"),
    # (2026-12-05, error-message review) "must be numeric" for complex numbers; the readers said what to do
    ("complex", np.zeros((3, 32, 32), np.complex64), "must be real numbers, got dtype complex64 (take the magnitude first)"),
    ("strings", np.full((3, 32, 32), "a"), "must be real numbers, got dtype <U1"),
    ("path", "cardiac", "not a file or sample name ('cardiac'): load it first, tl.register(tl.load_sequence(...))"),
    ("constant", np.full((3, 32, 32), 7, np.uint8), "every frame is the same constant image (7 everywhere)"),
    ("zeros", np.zeros((3, 32, 32), np.float32), "every frame is the same constant image (0 everywhere)"),
    ("blank reference", np.concatenate([np.zeros((1, 32, 32), np.float32), _seq(2)]), "reference frame 0 is constant"),
]


@pytest.mark.parametrize("case, frames, match", BAD_ARRAYS, ids=[c[0] for c in BAD_ARRAYS])
def test_api_bad_arrays(shift_engine, case, frames, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        tl.register(frames, method=shift_engine)


def test_api_bad_arrays_as_torch_tensors(shift_engine):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="NaN"):
        tl.register(torch.full((3, 16, 16), float("nan")), method=shift_engine)
    with pytest.raises(ValueError, match="exceeds the limit"):
        tl.register(torch.zeros(()).expand(100_000, 64, 64), method=shift_engine)


@pytest.mark.parametrize("case, make, match", [
    ("one frame", lambda: _seq(1), "at least 2 frames"),
    ("nan", lambda: np.where(np.eye(32, dtype=bool), np.nan, _seq(3)), "NaN or infinite"),
    ("inf", lambda: np.where(np.eye(32, dtype=bool) & (np.arange(3) == 2)[:, None, None], np.inf, _seq(3)),
     "NaN or infinite value(s), in frame 2;"),
    ("4-D", lambda: np.zeros((3, 2, 32, 32), np.float32), "expected (T, H, W)"),
    ("tiny", lambda: np.zeros((3, 4, 4), np.float32), "too small"),
    ("constant", lambda: np.full((3, 32, 32), 3, np.uint16), "same constant image"),
])
def test_cli_bad_arrays(tmp_path, capsys, shift_engine, case, make, match):
    path = save_stack(tmp_path / "bad.tif", make())
    rc, err, _ = _cli(["register", path, "--method", shift_engine, "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match=match)
    assert rc == 2 and not (tmp_path / "o").exists()


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_api_float64_beyond_float32s_range_registers_as_its_shape(scale):
    """float64 frames of 1e-300 or 1e300 would be 0 or inf as float32 (a 'constant' or 'infinite' sequence): they
    register as the same frames at a sane scale do."""
    frames = _seq(3, 64, 64).astype(np.float64)
    want = tl.register(frames, method="tlrn").displacement
    got = tl.register(frames * scale, method="tlrn").displacement
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("kind", ["float64 offset", "int64 offset", "int32 offset", "uint64 top"])
def test_api_small_variation_on_a_large_offset_registers_as_its_shape(kind):
    """float32 holds 7 digits: 1000 + 1e-5 x frames (float64), or 2**40 + 0..200 (int64) cast as they are would
    round to a 'constant' sequence. They register as the same frames at a sane scale do."""
    frames = _seq(3, 64, 64).astype(np.float64)
    steps = np.round(frames / frames.max() * 200)
    given = {"float64 offset": 1000.0 + 1e-5 * frames, "int64 offset": (2**40 + steps).astype(np.int64),
             "int32 offset": (2**30 + steps).astype(np.int32),
             "uint64 top": (np.uint64(2**64 - 1) - steps.astype(np.uint64)).astype(np.uint64)}[kind]
    assert np.ptp(given.astype(np.float32)) == 0 or kind.startswith("int32")  # what the plain cast would see
    want = tl.register(frames if kind == "float64 offset" else (-steps if kind == "uint64 top" else steps),
                       method="tlrn").displacement
    got = tl.register(given, method="tlrn").displacement
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_api_constant_reference_message_names_the_value_given():
    frames = np.stack([np.full((16, 16), 1000.5), *np.random.default_rng(0).random((2, 16, 16))])
    with pytest.raises(ValueError, match=r"reference frame 0 is constant \(1000\.5 everywhere\)"):
        tl.api.validate_frames(frames)


def _with_blank(t: int, blank: list[int]) -> np.ndarray:
    frames = _seq(t)
    frames[blank] = 0.25
    return frames


def test_api_blank_frames_warn_and_still_register(shift_engine):
    """Constant frames that are not the reference: nothing in them can be matched, so the run goes on and says so,
    through ``warnings`` or through ``on_warning`` (then not both)."""
    frames = _with_blank(5, [2])
    assert tl.api.blank_frames(frames) == [2] and tl.api.blank_frames(_seq(3)) == []
    with pytest.warns(UserWarning, match=r"^frame 2 is constant \(blank\): nothing in it can be matched, so its field is"):
        res = tl.register(frames, method=shift_engine)
    assert res.displacement.shape == (5, 2, 32, 32)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # on_warning given: no Python warning
        tl.register(_with_blank(14, list(range(1, 13))), method=shift_engine, on_warning=seen.append)
    assert seen == ["frames 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more are constant (blank): nothing in them can be "
                    "matched, so their fields are the method's guess"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl.register(_seq(3), method=shift_engine)  # no blank frame: no warning


def test_a_dropped_frame_that_shows_the_cameras_hot_pixels_is_blank_too(shift_engine):
    """(2026-12-06) A camera's dropped frame still shows its hot pixels: zeros with 3 saturated pixels was taken for a
    frame (tlrn gave it a 12 px field and carried it on to the next frames, without a word). Blank now: constant
    but for what a 3x3 median removes; a frame of zeros with a blob of 3x3 px, or of texture, is not."""
    from napari_tlreg.api import blank_frames

    frames = (_seq(6) * 4000).astype(np.uint16)
    frames[3] = 0
    frames[:, [4, 20, 28], [9, 30, 2]] = 65535  # in every frame, the dropped one too
    frames[3, 10:12, 14:16] = 65535  # and a 2x2 cluster
    assert blank_frames(frames) == [3]
    seen = []
    tl.register(frames, method=shift_engine, on_warning=seen.append)
    assert any(s.startswith("frame 3 is constant (blank)") for s in seen)
    frames[3, 10:13, 14:17] = 65535  # 3x3: something to match
    assert blank_frames(frames) == []
    sparse = np.zeros((2, 64, 64), np.float32)
    sparse[:, 30:34, 30:34] = 1.0  # 0.4 % of the frame: sparse, not blank
    assert blank_frames(sparse) == []
    # (diff review) what a 3x3 median removes is not all noise: a 1-px curve, or dots (particles, stars) were blank
    line = np.zeros((3, 128, 128), np.float32)
    for t in range(3):
        line[t, (np.arange(128) // 2 + t) % 128, np.arange(128)] = 1.0
    dots = np.zeros((3, 128, 128), np.float32)
    dots[:, np.arange(17) * 7 + 3, np.arange(17) * 5 + 9] = 1.0  # 17 single pixels: more than a camera's few
    assert blank_frames(line) == [] and blank_frames(dots) == []
    dots[1, :, :] = 0
    dots[1, [3, 50, 90], [9, 60, 100]] = 1.0  # 3 of them left: a dropped frame's hot pixels
    assert blank_frames(dots) == [1]


def test_isolated_pixels_are_those_a_3x3_median_removes():
    """``_isolated`` counts the windows around a few marked pixels; for pixels brighter than the rest it agrees with
    scipy's 3x3 median (edges replicated) on random frames."""
    from scipy.ndimage import median_filter

    from napari_tlreg.api import _isolated

    rng = np.random.default_rng(1)
    agreed = {True: 0, False: 0}
    for _ in range(300):
        h, w = rng.integers(1, 9, 2)
        frame = np.zeros((h, w), np.float32)
        k = rng.integers(1, 7)
        frame.flat[rng.choice(h * w, min(k, h * w), replace=False)] = 1.0
        med = median_filter(frame, size=3, mode="nearest")
        expected = bool(med.max() == 0)
        assert _isolated(np.flatnonzero(frame), (h, w)) == expected, frame
        agreed[expected] += 1
    assert min(agreed.values()) > 30  # both answers were tried


@pytest.mark.parametrize("argv, command, match", [
    (["register", "lemniscate", "--normalize", "bogus", "--out", "x"], "register", "invalid choice: 'bogus'"),
    (["register", "lemniscate"], "register", "required: --out"),
    (["train", "nosuchmethod", "--out", "w.pt"], "train", "nosuchmethod"),
    (["frobnicate"], None, "invalid choice: 'frobnicate'"),
    # (diff review) argparse said an unknown option with the top level's help, which lists none of register's
    (["register", "lemniscate", "--out", "x", "--frobble"], "register", "unrecognized arguments: --frobble"),
])
def test_cli_bad_options_are_one_line(argv, command, match, capsys):
    """(design review) API.md: a bad input prints one clear line to stderr; a bad option printed argparse's usage block
    before it (8-10 lines)."""
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    prog = "napari-tlreg" + (f" {command}" if command else "")
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith(f"{prog}: error: ") and match in err[0], err
    assert err[0].endswith(f"(see {prog} --help)")


def test_cli_blank_frame_warns_on_one_line_and_registers(tmp_path, capsys, shift_engine):
    path = save_stack(tmp_path / "blank.tif", _with_blank(4, [3]))
    rc, err, out = _cli(["register", path, "--method", shift_engine, "--out", tmp_path / "o", "--no-montage"], capsys)
    assert rc == 0, err
    assert "napari-tlreg register: warning: frame 3 is constant (blank): nothing in it can be matched, so its field is the method's guess" in err
    assert (tmp_path / "o" / "result.json").exists()


def test_cli_rgb_file_is_converted_to_grey(tmp_path, capsys, shift_engine):
    """Colour files are not an error: readers convert them by luminance (CONVENTIONS.md)."""
    rgb = np.repeat((_seq(3) * 255).astype(np.uint8)[..., None], 3, axis=-1)
    path = save_stack(tmp_path / "rgb.tif", rgb)
    rc, err, out = _cli(["register", path, "--method", shift_engine, "--out", tmp_path / "o", "--no-montage"], capsys)
    assert rc == 0, err
    assert "3 frames of 32x32" in out


# --------------------------------------------------------------------------- huge: refused before allocation
def test_api_huge_arrays_refused_before_allocation(shift_engine):
    huge = np.broadcast_to(np.float32(0.5), (100_000, 1024, 1024))  # 400 TB if it were real
    with _Peak() as peak, pytest.raises(ValueError, match="exceeds the limit"):
        tl.register(huge, method=shift_engine)
    assert peak.traced < MB and peak.rss < 50 * MB
    with _Peak() as peak, pytest.raises(ValueError, match="exceeds the limit"):
        tl.api.validate_frames(np.broadcast_to(np.uint8(1), (3, 2**15, 2**15)))
    assert peak.traced < MB


def _claiming_file(tmp_path: Path, fmt: str, shape=(1000, 30000, 30000)) -> Path:
    """A small file whose header claims a sequence of ``shape`` (TIFF: 2 frames of H x W)."""
    import gzip
    import struct
    import zipfile

    t, h, w = shape
    p = tmp_path / f"claim.{fmt}"
    if fmt == "tif":
        import tifffile

        tifffile.imwrite(p, np.zeros((2, 8, 8), np.uint16))
        with tifffile.TiffFile(p, mode="r+b") as tif:
            for page in tif.pages:
                page.tags["ImageWidth"].overwrite(w)
                page.tags["ImageLength"].overwrite(h)
    elif fmt in ("nii", "nii.gz"):
        import nibabel as nib

        raw = bytearray(nib.Nifti1Image(np.zeros((8, 8, 1, 2), np.float32), np.eye(4)).to_bytes())
        struct.pack_into("<8h", raw, 40, 4, w, h, 1, t, 1, 1, 1)  # dim[0..7]: (X, Y, Z, T)
        p.write_bytes(gzip.compress(bytes(raw)) if fmt == "nii.gz" else bytes(raw))
    elif fmt in ("npy", "npz"):
        target = p if fmt == "npy" else tmp_path / "frames.npy"
        with open(target, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (t, h, w)})
            f.write(b"\0" * 4096)
        if fmt == "npz":
            with zipfile.ZipFile(p, "w") as z:
                z.write(target, "frames.npy")
            target.unlink()
    elif fmt == "dcm":
        import pydicom

        _write_dicom(p, np.zeros((2, 8, 8), np.uint16))
        ds = pydicom.dcmread(p)
        ds.Rows, ds.Columns, ds.NumberOfFrames = h, w, t
        ds.save_as(p)
    return p


CLAIM_FORMATS = ["tif", "nii", "nii.gz", "npy", "npz", "dcm"]


@pytest.mark.parametrize("fmt", CLAIM_FORMATS)
def test_api_huge_header_refused_before_allocation(tmp_path, fmt):
    path = _claiming_file(tmp_path, fmt)  # 1000 x 30000 x 30000 voxels: 3.3 TiB as float32
    with _Peak() as peak, pytest.raises(SequenceReadError) as info:
        load_sequence(path)
    msg = str(info.value)
    assert msg.startswith(f"{path.name}: ") and "\n" not in msg
    assert f"{MAX_READ_VOXELS:,} voxels" in msg and "crop, downsample or split" in msg
    assert peak.traced < 8 * MB, f"{peak.traced / MB:.1f} MiB allocated"
    assert peak.rss < 64 * MB


@pytest.mark.parametrize("fmt", CLAIM_FORMATS)
def test_api_header_larger_than_file_refused_before_allocation(tmp_path, fmt):
    """A claim under the voxel limit (3 GiB) but far beyond what the file holds: found from the header."""
    path = _claiming_file(tmp_path, fmt, (2, 20000, 20000))
    with _Peak() as peak, pytest.raises(SequenceReadError) as info:
        load_sequence(path)
    msg = str(info.value)
    assert msg.startswith(f"{path.name}: ") and "\n" not in msg
    assert any(word in msg for word in ("truncated", "corrupt", "less than expected")), msg
    assert peak.traced < 8 * MB, f"{peak.traced / MB:.1f} MiB allocated"
    assert peak.rss < 64 * MB


def test_cli_huge_header(tmp_path, capsys, shift_engine):
    path = _claiming_file(tmp_path, "tif")
    rc, err, _ = _cli(["register", path, "--method", shift_engine, "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match="is larger than the")


# --------------------------------------------------------------------------- labels, landmarks, method, reference
@pytest.fixture
def good_tif(tmp_path):
    return save_stack(tmp_path / "seq.tif", _seq(4))


@pytest.mark.parametrize("case, labels, match", [
    ("wrong T", np.ones((3, 32, 32), np.uint8), "labels of shape (3, 32, 32) do not match the frames (4, 32, 32)"),
    ("wrong H, W", np.ones((4, 16, 32), np.uint8), "labels of 16x32 do not match frames of 32x32"),
    ("fractional", np.full((4, 32, 32), 0.5, np.float32), "labels must be integers"),
    ("4-D", np.ones((4, 2, 32, 32), np.uint8), "expected (T, H, W)"),
])
def test_cli_labels_that_do_not_match(tmp_path, capsys, shift_engine, good_tif, case, labels, match):
    lab = save_stack(tmp_path / "lab.tif", labels)
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--labels", lab, "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match=match)  # one line: it failed before the registration printed progress
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("case, points, match", [
    ("t out of range", [[0, 0, 5, 5], [0, 9, 5, 5]], "frame 9 is out of range for 4 frames"),
    ("negative t", [[0, -1, 5, 5]], "frame -1 is out of range"),
    ("outside the image", [[0, 0, 5, 5], [0, 1, 500, -50]], "lies outside the 32x32 image"),
])
def test_cli_landmarks_that_do_not_match(tmp_path, capsys, shift_engine, good_tif, case, points, match):
    csv = save_points_csv(tmp_path / "lm.csv", points)
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--landmarks", csv, "--out", tmp_path / "o"],
                      capsys)
    _assert_one_line_error(rc, err, match=match)
    assert err[0].split("error: ")[1].startswith("lm.csv: ")
    assert not (tmp_path / "o").exists()


def test_cli_evaluate_with_labels_that_do_not_match(tmp_path, capsys, shift_engine, good_tif):
    assert _cli(["register", good_tif, "--method", shift_engine, "--out", tmp_path / "o", "--no-montage"], capsys)[0] == 0
    before = _tree(tmp_path / "o")
    lab = save_stack(tmp_path / "lab.tif", np.ones((2, 32, 32), np.uint8))
    rc, err, _ = _cli(["evaluate", tmp_path / "o", "--labels", lab], capsys)
    _assert_one_line_error(rc, err, command="evaluate", match="do not match")
    assert _tree(tmp_path / "o") == before


def test_api_annotations_that_do_not_match(shift_engine):
    from napari_tlreg.report import check_annotations

    res = tl.register(_seq(4), method=shift_engine)
    with pytest.raises(ValueError, match="do not match"):
        res.warp_labels(np.ones((16, 16), np.int32))
    with pytest.raises(ValueError, match=r"point frame indices must be integers in \[0, 4\)"):
        res.map_points([[7, 1.0, 1.0]])
    with pytest.raises(ValueError, match="do not match the frames"):
        check_annotations((4, 32, 32), np.ones((2, 32, 32), np.int32))
    with pytest.raises(ValueError, match="out of range for 4 frames"):
        check_annotations((4, 32, 32), None, [[0, 4, 1, 1]])
    with pytest.raises(ValueError, match=r"must be \(N, 4\)"):
        check_annotations((4, 32, 32), None, [[1, 1, 1]])
    with pytest.raises(ValueError, match="NaN"):
        check_annotations((4, 32, 32), None, [[0, 1, np.nan, 1]])
    lab, pts = check_annotations((4, 32, 32), np.ones((32, 32), np.uint8), [[0, 1, 31.4, -0.4]], reference=2)
    assert lab.shape == (4, 32, 32) and lab[2].all() and not lab[[0, 1, 3]].any()  # 2-D labels: the reference
    assert pts.shape == (1, 4)


@pytest.mark.parametrize("method", ["tlrn", "voxelmorph", "multistep", "nmsr", "hsyn"])
def test_every_parameter_is_explained(method):
    """Each shipped method explains each of its parameters (the viewer shows it as the tooltip)."""
    from napari_tlreg.api import method_params

    spec = method_params(method)
    assert spec and all(len(v["help"]) > 15 for v in spec.values()), [k for k, v in spec.items() if len(v["help"]) <= 15]
    from napari_tlreg.engines import get_engine

    assert set(get_engine(method).advanced) <= set(spec)  # a misspelt advanced name would silently show as basic
    assert sum(v["advanced"] for v in spec.values()) == len(get_engine(method).advanced)
    assert sum(not v["advanced"] for v in spec.values()) <= 10  # the form a user sees first stays short


def test_cli_lists_a_methods_parameters(capsys, shift_engine):
    """``napari-tlreg methods M``: every parameter --param takes, with its default and help, the advanced ones last."""
    rc, err, out = _cli(["methods", "nmsr"], capsys)
    assert rc == 0 and not err
    lines = out.splitlines()
    assert lines[0].startswith("nmsr: NMSR")
    head, tail = lines.index("parameters (--param KEY=VALUE):"), lines.index("advanced parameters (few users change these):")
    assert head < tail
    def names(block):  # a parameter's line is indented 2 spaces, its help 6
        return [ln.split(" = ")[0].strip() for ln in block if ln.startswith("  ") and not ln.startswith("   ")]

    basic, advanced = names(lines[head + 1 : tail]), names(lines[tail + 1 :])
    spec = tl.api.method_params("nmsr")
    assert basic == [k for k, v in spec.items() if not v["advanced"]] and "symmetric" in basic
    assert advanced == [k for k, v in spec.items() if v["advanced"]] and "field_sigma" in advanced
    assert "  pairing = reference (one of reference, consecutive)" in lines  # as --param takes it
    assert "  symmetric = false" in lines and "  mask = (not set)" in lines
    rc, err, out = _cli(["methods", shift_engine], capsys)  # no advanced parameters: no such heading
    assert rc == 0 and "advanced parameters" not in out and "  gain = 1.0" in out.splitlines()
    rc, err, _ = _cli(["methods", "nope"], capsys)
    _assert_one_line_error(rc, err, command="methods", match="unknown method 'nope'")
    rc, err, out = _cli(["methods"], capsys)
    assert rc == 0 and any(ln.startswith("nmsr ") for ln in out.splitlines())


def test_cli_says_its_version():
    """``napari-tlreg --version`` (packaging review: "the following arguments are required: command")."""
    import subprocess

    r = subprocess.run([sys.executable, "-m", "napari_tlreg", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == f"napari-tlreg {tl.__version__}", (r.stdout, r.stderr)


def test_cli_register_uses_the_sequences_own_region(tmp_path, capsys, monkeypatch):
    """``register echo --method nmsr``: the sample's sector is the mask unless the user says otherwise, as its
    own labels are used and as the viewer's form starts on it; ``--param mask=`` is the whole frame."""
    from napari_tlreg.io import load_sequence

    quick = ["--param", "levels=1", "--param", "iterations=1", "--param", "threads=1", "--no-montage"]
    rc, err, _ = _cli(["register", "echo", "--method", "nmsr", "--out", tmp_path / "own", *quick], capsys)
    sector = load_sequence("echo").metadata["mask"]
    assert rc == 0 and any(f"mask = the sequence's own region ({sector.sum()} px)" in e for e in err), err
    res = tl.RegistrationResult.load(tmp_path / "own")
    assert np.array_equal(res.mask, sector)
    assert json.loads((tmp_path / "own" / "metrics.json").read_text())["mse_lncc_region"].startswith("mask: ")
    drawn_in = []  # the montage of a run without a mask: drawn inside the sector, as the viewer draws it
    monkeypatch.setattr(tl.report, "save_montage", lambda res, path, propagated=None, region=None: drawn_in.append(region))
    rc, err, _ = _cli(["register", "echo", "--method", "nmsr", "--param", "mask=", "--out", tmp_path / "whole",
                       *quick[:-1]], capsys)
    assert rc == 0 and not any("own region" in e for e in err)
    assert tl.RegistrationResult.load(tmp_path / "whole").mask is None
    assert len(drawn_in) == 1 and np.array_equal(drawn_in[0], sector)
    assert tl.api.own_region_params("tlrn", load_sequence("echo"), {}) == {}  # no region parameter: nothing added


def test_unknown_method_and_reference_out_of_range(tmp_path, capsys, shift_engine, good_tif):
    with pytest.raises(ValueError, match="unknown method 'nope'; known methods: .*test_shift"):
        tl.register(_seq(3), method="nope")
    with pytest.raises(ValueError, match="unknown method"):
        tl.api.method_params("nope")
    for ref in (3, -4, 100):
        with pytest.raises(ValueError, match=f"reference {ref} is out of range for 3 frames"):
            tl.register(_seq(3), method=shift_engine, reference=ref)
    with pytest.raises(ValueError, match="reference must be an integer"):
        tl.register(_seq(3), method=shift_engine, reference=1.5)
    rc, err, _ = _cli(["register", good_tif, "--method", "nope", "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match="unknown method 'nope'")
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--reference", "4", "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match="reference 4 is out of range for 4 frames")
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--param", "gain=x", "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match="gain must be a number")
    assert not (tmp_path / "o").exists()


TLRN_CARD = Path(__file__).resolve().parents[1] / "resources" / "models" / "tlrn_cine64.json"


@pytest.mark.skipif(not TLRN_CARD.is_file(), reason="shipped tlrn weights (resources/models/tlrn_cine64.json) absent")
def test_shipped_tlrn_bad_input_then_good_run(tmp_path, capsys):
    for frames, match in [(np.full((4, 32, 32), np.nan, np.float32), "NaN"), (np.zeros((1, 32, 32)), "2 frames"),
                          (np.broadcast_to(np.float32(0), (100_000, 64, 64)), "exceeds the limit")]:
        with pytest.raises(ValueError, match=match):
            tl.register(frames, method="tlrn")
    with pytest.raises(tl.Cancelled):
        tl.register(_seq(6), method="tlrn", cancel=lambda: True)
    bad = _damaged(tmp_path, "nii.gz", "truncated")
    rc, err, _ = _cli(["register", bad, "--method", "tlrn", "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match=bad.name)
    res = tl.register(_seq(6), method="tlrn")  # still works after all that
    assert res.displacement.shape == (6, 2, 32, 32) and np.isfinite(res.displacement).all()


# --------------------------------------------------------------------------- no half-written output
def _fail_tiff_midway(monkeypatch, after: int = 2):
    """Make the n-th TIFF write die halfway (a partial file on disk, then 'disk full')."""
    import tifffile

    real = tifffile.imwrite
    calls = []

    def flaky(path, data, *a, **kw):
        calls.append(Path(path).name)
        if len(calls) > after:
            Path(path).write_bytes(b"II*\x00partial")
            raise OSError(28, "No space left on device")
        return real(path, data, *a, **kw)

    monkeypatch.setattr(tifffile, "imwrite", flaky)
    return calls


def test_failed_write_keeps_previous_result_folder(tmp_path, monkeypatch, shift_engine):
    from napari_tlreg import report

    out = tmp_path / "result"
    res = tl.register(_seq(4), method=shift_engine)
    report.write(res, out, montage=False)
    before = _tree(out)
    res2 = tl.register(_seq(4, seed=1), method=shift_engine)
    calls = _fail_tiff_midway(monkeypatch)
    with pytest.raises(OSError, match=rf"no space left on the device while writing {out} \(its displacement.tif\)$"):
        report.write(res2, out, montage=False)
    assert len(calls) == 3
    assert _tree(out) == before  # the old result, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"] and _hidden(tmp_path) == []
    with pytest.raises(OSError, match="(?i)no space left"):
        res2.save(tmp_path / "saved")
    assert not (tmp_path / "saved").exists() and _hidden(tmp_path) == []


def test_failed_montage_keeps_previous_result_folder(tmp_path, monkeypatch, shift_engine):
    import matplotlib.figure

    from napari_tlreg import report

    out = tmp_path / "result"
    report.write(tl.register(_seq(4), method=shift_engine), out, montage=False)
    before = _tree(out)

    def broken(self, path, *a, **kw):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError("disk quota exceeded")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    with pytest.raises(OSError, match="quota"):
        report.write(tl.register(_seq(4, seed=2), method=shift_engine), out, montage=True)
    assert _tree(out) == before and _hidden(tmp_path) == []


def test_cli_failed_write_exits_2_and_keeps_previous_output(tmp_path, monkeypatch, capsys, shift_engine, good_tif):
    out = tmp_path / "o"
    assert _cli(["register", good_tif, "--method", shift_engine, "--out", out, "--no-montage"], capsys)[0] == 0
    before = _tree(out)
    _fail_tiff_midway(monkeypatch, after=0)
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--out", out, "--no-montage"], capsys)
    _assert_one_line_error(rc, err, match=f"no space left on the device while writing {out} (its frames.tif)",
                           progress=True)
    assert _tree(out) == before and _hidden(tmp_path) == []


def test_cli_out_is_a_file(tmp_path, capsys, shift_engine, good_tif):
    target = tmp_path / "taken"
    target.write_text("keep me")
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--out", target], capsys)
    _assert_one_line_error(rc, err, match="exists and is not a folder")
    assert target.read_text() == "keep me" and _hidden(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user (root ignores modes)")
def test_cli_read_only_out_folder(tmp_path, capsys, shift_engine, good_tif):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--out", ro / "o"], capsys)
        _assert_one_line_error(rc, err, match="ermission denied")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("t", [3, 4])
def test_result_of_3_or_4_frames_is_not_written_as_rgb(tmp_path, shift_engine, t):
    """tifffile takes a (3|4, H, W) array for RGB(A) planes unless told otherwise: the round trip stays exact."""
    import warnings

    res = tl.register(_seq(t), method=shift_engine)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        res.save(tmp_path / "r")
    back = tl.RegistrationResult.load(tmp_path / "r")
    for name in ("frames", "warped", "displacement", "jacobian"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))


def test_cancel_leaves_nothing(shift_engine):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(tl.Cancelled):
        tl.register(_seq(8), method=shift_engine, cancel=cancel)


# --------------------------------------------------------------------------- the viewer
@pytest.fixture
def viewer_widget(make_napari_viewer, qtbot, shift_engine):
    pytest.importorskip("napari")
    from napari_tlreg._widgets.register import RegisterWidget

    viewer = make_napari_viewer()
    w = RegisterWidget(viewer)
    viewer.window.add_dock_widget(w, name="Register sequence")
    yield viewer, w
    if w.running:
        w.cancel()
        qtbot.waitUntil(lambda: not w.running, timeout=5000)


def _choose(combo, text):
    i = combo.findText(text)
    assert i >= 0, text
    combo.setCurrentIndex(i)


def _alive(viewer, qtbot, w, shift_engine, notes):
    """The viewer and the widget still work: a good sequence registers afterwards."""
    n = len(notes)
    viewer.add_image(_seq(3), name="good after")
    _choose(w.image_combo, "good after")
    _choose(w.method_combo, shift_engine)
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.running, timeout=20000)
    assert notes[n:] == [] and "good after warped reference" in [ly.name for ly in viewer.layers]


def test_viewer_bad_files_raise_clear_errors_and_viewer_survives(viewer_widget, qtbot, tmp_path, shift_engine, notes):
    viewer, w = viewer_widget
    paths = []
    for fmt in [f for f in FORMATS if f != "npy"]:  # the napari reader takes every format but .npy
        for damage in DAMAGE:
            (tmp_path / f"{fmt}-{damage}").mkdir()
            paths.append(_damaged(tmp_path / f"{fmt}-{damage}", fmt, damage))
    paths.append(_junk_dicom_folder(tmp_path))
    paths.append(_claiming_file(tmp_path, "nii"))
    for path in paths:
        with pytest.raises(ValueError) as info:
            viewer.open(str(path), plugin="napari-tlreg")
        assert str(info.value).startswith(f"{path.name}: ") and "\n" not in str(info.value), str(info.value)
    assert len(viewer.layers) == 0
    _alive(viewer, qtbot, w, shift_engine, notes)


BAD_LAYERS = [
    # the frames named, in the form's words (laptop review: a count, and np.nan_to_num(frames) and mask_nodata)
    ("inf", dict(data=np.where(np.eye(32, dtype=bool) & (np.arange(3) == 1)[:, None, None], np.inf, 1.0)),
     "frames contain 32 NaN or infinite value(s), in frame 1; they are no image values: fill them with one value first"),
    ("tiny", dict(data=np.zeros((3, 4, 4), np.float32)), "too small"),
    ("huge", dict(data=np.broadcast_to(np.float32(0.25), (100_000, 64, 64)), contrast_limits=(0, 1)), "exceeds the limit"),
]


@pytest.mark.parametrize("case, kwargs, match", BAD_LAYERS, ids=[c[0] for c in BAD_LAYERS])
def test_viewer_bad_layers_notify(viewer_widget, qtbot, notes, shift_engine, case, kwargs, match):
    viewer, w = viewer_widget
    viewer.add_image(name=case, **kwargs)
    _choose(w.method_combo, shift_engine)
    with _Peak() as peak:
        w.run_btn.click()  # the shape at once (tiny, huge: no worker), the pixels (inf) in the worker, not run
        qtbot.waitUntil(lambda: not w.running, timeout=20000)
    assert len(notes) == 1 and notes[0][0] == "error" and match in notes[0][1], notes
    assert w.status_label.text().startswith(f"not run: layer '{case}': ")
    assert peak.traced < 16 * MB  # the huge view was never materialised
    _alive(viewer, qtbot, w, shift_engine, notes)


def test_viewer_labels_that_do_not_match_are_refused_at_run(viewer_widget, qtbot, notes, shift_engine):
    """Were a warning after the whole run; refused at Run since 2026-12-05 (viewer review)."""
    viewer, w = viewer_widget
    viewer.add_image(_seq(4), name="seq")
    viewer.add_labels(np.ones((3, 32, 32), np.int32), name="lab")  # one frame short
    _choose(w.labels_combo, "lab")
    _choose(w.method_combo, shift_engine)
    w.run_btn.click()
    assert not w.running and w._worker is None
    assert [k for k, _ in notes] == ["error"] and "labels 'lab': labels of shape (3, 32, 32)" in notes[0][1]
    assert "seq warped reference" not in [ly.name for ly in viewer.layers]


def test_viewer_unknown_method_and_reference_out_of_range(viewer_widget, qtbot, notes, shift_engine):
    from napari_tlreg.engines import add_engine, remove_engine

    viewer, w = viewer_widget
    layer = viewer.add_image(_seq(6), name="seq")
    _choose(w.method_combo, shift_engine)
    # the layer shrinks after the reference was chosen
    w.reference_spin.setValue(5)
    layer.data = _seq(3)
    w.run_btn.click()
    assert not w.running
    assert notes[-1][0] == "error" and "reference 5 is out of range for 3 frames" in notes[-1][1], notes
    # the engine goes away between listing and running
    w.reference_spin.setValue(0)
    entry = __import__("napari_tlreg.engines", fromlist=["_REGISTRY"])._REGISTRY[shift_engine]
    remove_engine(shift_engine)
    try:
        w.run_btn.click()
        qtbot.waitUntil(lambda: not w.running, timeout=20000)
    finally:
        add_engine(shift_engine, *entry)
    assert notes[-1][0] == "error" and f"unknown method '{shift_engine}'" in notes[-1][1], notes
    assert w.status_label.text().startswith("not run: ")  # refused by register's checks: nothing ran
    _alive(viewer, qtbot, w, shift_engine, notes)


# --------------------------------------------------------------------------- fuzz the readers
FUZZ_FORMATS = ["tif", "nii", "nii.gz", "dcm", "npz", "npy", "avi", "mp4"]
MAGIC = {
    "tif": [b"II*\x00", b"MM\x00*", b"II+\x00"],
    "nii": [b"\x5c\x01\x00\x00"],  # sizeof_hdr = 348
    "nii.gz": [b"\x1f\x8b\x08\x00"],
    "dcm": [b"\0" * 128 + b"DICM"],
    "npz": [b"PK\x03\x04"],
    "npy": [b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00"],
    "avi": [b"RIFF\xff\xff\x00\x00AVI LIST"],
    "mp4": [b"\x00\x00\x00\x18ftypisom"],
}


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """One valid small file per format: the fuzzer mutates, truncates or replaces their bytes."""
    root = tmp_path_factory.mktemp("templates")
    return {fmt: _valid_file(root, fmt).read_bytes() for fmt in FUZZ_FORMATS}


def test_fuzz_readers(tmp_path_factory, templates):
    """~200 random files with valid magic: any exception but ValueError/OSError fails (hypothesis)."""
    pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    folder = tmp_path_factory.mktemp("fuzz")
    counter = iter(range(10**9))

    @st.composite
    def damaged_files(draw):
        fmt = draw(st.sampled_from(FUZZ_FORMATS))
        good = templates[fmt]
        mode = draw(st.sampled_from(["magic+random", "truncate", "flip", "splice"]))
        if mode == "magic+random":
            data = draw(st.sampled_from(MAGIC[fmt])) + draw(st.binary(max_size=2048))
        elif mode == "truncate":
            data = good[: draw(st.integers(0, len(good)))]
        elif mode == "flip":  # a few bytes overwritten, mostly in the header
            data = bytearray(good)
            for _ in range(draw(st.integers(1, 8))):
                pos = draw(st.integers(0, min(len(data) - 1, draw(st.sampled_from([64, 512, len(data) - 1])))))
                data[pos] = draw(st.integers(0, 255))
            data = bytes(data)
        else:  # header of a valid file, junk after
            cut = draw(st.integers(1, min(len(good), 1024)))
            data = good[:cut] + draw(st.binary(max_size=1024))
        return fmt, data

    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(damaged_files())
    def check(case):
        fmt, data = case
        path = folder / f"f{next(counter)}.{fmt}"
        path.write_bytes(data)
        try:
            seq = load_sequence(path)
        except (ValueError, OSError):
            return
        finally:
            path.unlink(missing_ok=True)
        assert seq.frames.ndim == 3 and seq.frames.dtype == np.float32

    check()


def test_fuzz_landmark_csv(tmp_path):
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from napari_tlreg.io import load_points_csv

    path = tmp_path / "lm.csv"
    cells = st.one_of(st.integers(-5, 5).map(str), st.floats(allow_nan=True).map(repr), st.text(max_size=4))

    @settings(max_examples=100, deadline=None, derandomize=True, database=None)
    @given(st.one_of(st.binary(max_size=200),
                     st.lists(st.lists(cells, max_size=5), max_size=6).map(
                         lambda rows: ("id,t,row,col\n" + "\n".join(",".join(r) for r in rows)).encode("utf-8"))))
    def check(data):
        path.write_bytes(data)
        try:
            pts = load_points_csv(path)
        except (ValueError, OSError):
            return
        assert pts.ndim == 2 and pts.shape[1] == 4 and np.isfinite(pts).all()

    check()


def test_cli_progress_lines_in_a_log_and_on_a_terminal(monkeypatch):
    """In a log (stderr not a terminal) whole lines, at most one every LOG_PROGRESS_EVERY s, and the last;
    on a terminal one line rewritten in place, padded over a longer one it replaces."""
    import io

    clock = [0.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])

    class Stream(io.StringIO):
        def __init__(self, tty):
            super().__init__()
            self.tty = tty

        def isatty(self):
            return self.tty

    log = Stream(False)
    monkeypatch.setattr(cli.sys, "stderr", log)
    progress = cli._progress_printer("m")
    for i in range(1, 11):  # 10 steps, 0.5 s apart
        progress(i, 10, f"step {i}")
        clock[0] += 0.5
    progress(10, 10, "step 10")  # (satellite review) the engine's last report and the API's after it: one line
    progress(1, 1, "done")  # the API's last call: "done" alone (multistep's 2/2, then "1/1 done", read as going back)
    lines = log.getvalue().splitlines()
    assert lines == ["[m] 1/10 step 1", "[m] 5/10 step 5", "[m] 9/10 step 9", "[m] 10/10 step 10", "[m] done"]
    tty = Stream(True)
    monkeypatch.setattr(cli.sys, "stderr", tty)
    progress = cli._progress_printer("m")
    progress(1, 2, "a much longer message")
    progress(2, 2, "short")
    cli._end_progress()
    first, second = tty.getvalue().split("\r")[1:]
    assert second.rstrip("\n").startswith("[m] 2/2 short") and len(second.rstrip("\n")) == len(first)
    # (2026-12-07, echo review) the time left at the pace so far, from 3 % done and 5 s in; not on the last line
    log = Stream(False)
    monkeypatch.setattr(cli.sys, "stderr", log)
    clock[0] = 100.0
    progress = cli._progress_printer("m")
    for done, at in ((1, 101.0), (2, 110.0), (20, 180.0), (60, 400.0), (100, 700.0)):
        clock[0] = at
        progress(done, 100, "step")
    progress(1, 1, "done")
    assert log.getvalue().splitlines() == ["[m] 1/100 step", "[m] 2/100 step", "[m] 20/100 step (about 5 min left)",
                                           "[m] 60/100 step (about 3 min left)", "[m] 100/100 step", "[m] done"]
    # (diff review) a stage of its own count after the engine's (the result's checks): timed anew, not from the start
    log = Stream(False)
    monkeypatch.setattr(cli.sys, "stderr", log)
    clock[0] = 0.0
    progress = cli._progress_printer("m")
    progress(1, 100, "step")
    clock[0] = 600.0
    progress(100, 100, "step")
    clock[0] = 601.0
    progress(1, 3, "checking the result")
    clock[0] = 607.0
    progress(2, 3, "checking the result")
    assert log.getvalue().splitlines()[-2:] == ["[m] 100/100 step", "[m] 2/3 checking the result (about 5 s left)"]


# --------------------------------------------------------------------------- memory: refused before it runs
def test_api_refuses_a_cpu_run_that_would_not_fit_in_memory(monkeypatch):
    """NMSR's estimate of 2 frames of 1024x1024 (about 1.3 GiB) against 1 GiB available: a ValueError that says both,
    before the engine starts (no progress); with the memory unknown, no check."""
    from napari_tlreg import api

    monkeypatch.setattr(api, "available_memory", lambda: 2**30)
    seen = []
    with pytest.raises(ValueError, match=r"^nmsr on 2 frames of 1024x1024 needs about 1\.\d GiB of memory and 1\.0 GiB is available: crop"):
        tl.register(_seq(2, 1024, 1024), method="nmsr", progress=lambda *a: seen.append(a))
    assert seen == []
    monkeypatch.setattr(api, "available_memory", lambda: 2**20)
    with pytest.raises(ValueError, match="needs about"):
        tl.register(_seq(3, 64, 64), method="tlrn")
    monkeypatch.setattr(api, "available_memory", lambda: None)
    assert tl.register(_seq(3, 64, 64), method="tlrn").displacement.shape == (3, 2, 64, 64)


def test_available_memory_without_proc_meminfo_asks_psutil(monkeypatch):
    """Where Linux's files are missing (macOS, Windows), psutil's figure; with neither, None (no check)."""
    import builtins
    import sys

    psutil = pytest.importorskip("psutil")
    from napari_tlreg import api

    real_open = builtins.open

    def no_linux_files(path, *a, **k):
        if str(path).startswith(("/proc/", "/sys/")):
            raise FileNotFoundError(path)
        return real_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", no_linux_files)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: type("VM", (), {"available": 123 * 2**20})())
    assert api.available_memory() == 123 * 2**20
    monkeypatch.setitem(sys.modules, "psutil", None)  # not installed
    assert api.available_memory() is None


def test_engine_memory_estimates_hold_the_measured_peaks():
    """``benchmarks/memory.py``'s stored run: every engine's current ``peak_bytes`` holds the peak measured at every
    point (2 frames of 2048x2048 to 2048 of 64x64), and is not more than 3x it (a refusal must mean something)."""
    from benchmarks import memory

    R = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "memory" / "results.json").read_text())
    assert not R["smoke"] and {r["method"] for r in R["rows"].values()} == {"tlrn", "voxelmorph", "multistep", "hsyn", "nmsr"}
    for name, rows in R["results"].items():
        row = R["rows"][name]
        assert len(rows) == 7
        for point, r in rows.items():
            est = memory.estimate(row["method"], row["params"], r["frames"], r["side"]) / memory.MiB
            assert r["peak_mib"] <= est <= 3 * r["peak_mib"], (name, point, r["peak_mib"], est)


def test_memory_estimates_follow_the_working_resolution():
    """TLRN runs its network at the size it was trained at unless ``scale`` says otherwise: the estimate follows;
    NMSR computes at full size: four times the pixels, about four times the memory."""
    from napari_tlreg.engines import get_engine

    tlrn, nmsr = get_engine("tlrn"), get_engine("nmsr")
    auto = tlrn.peak_bytes((8, 1024, 1024), tlrn.validate_params({}))
    full = tlrn.peak_bytes((8, 1024, 1024), tlrn.validate_params({"scale": 1.0}))
    assert full > 3 * auto
    big, small = (nmsr.peak_bytes((2, s, s), nmsr.validate_params({})) for s in (4096, 2048))
    assert 3.5 < big / small < 4.1


def test_viewer_run_that_would_not_fit_in_memory_notifies(viewer_widget, qtbot, notes, shift_engine, monkeypatch):
    """The memory check in the viewer: an error notification that says what is needed and what is free, no layer
    added, and the viewer goes on working."""
    from napari_tlreg import api

    viewer, w = viewer_widget
    monkeypatch.setattr(api, "available_memory", lambda: 2**20)
    viewer.add_image(_seq(3, 64, 64), name="seq")
    _choose(w.image_combo, "seq")
    _choose(w.method_combo, "tlrn")
    n_layers = len(viewer.layers)
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.running, timeout=20000)
    assert len(notes) == 1 and notes[0][0] == "error", notes
    assert "tlrn on 3 frames of 64x64 needs about" in notes[0][1] and "MiB of memory and 1 MiB is available" in notes[0][1]
    assert w.status_label.text().startswith("not run: tlrn on 3 frames")  # (fuzzing review) was "failed: ..."
    assert len(viewer.layers) == n_layers
    monkeypatch.setattr(api, "available_memory", lambda: None)
    notes.clear()
    _alive(viewer, qtbot, w, shift_engine, notes)


def test_cli_run_that_would_not_fit_in_memory(tmp_path, capsys, monkeypatch, good_tif):
    from napari_tlreg import api

    monkeypatch.setattr(api, "available_memory", lambda: 2**20)
    rc, err, _ = _cli(["register", good_tif, "--method", "tlrn", "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match="tlrn on 4 frames of 32x32 needs about")
    assert rc == 2 and not (tmp_path / "o").exists()


def test_readme_quotes_nmsrs_estimate_for_two_8192_frames():
    from napari_tlreg.engines import get_engine

    nmsr = get_engine("nmsr")
    gib = nmsr.peak_bytes((2, 8192, 8192), nmsr.validate_params({})) / 2**30
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert f"NMSR on 2 frames of 8192x8192 needs about {gib:.0f} GiB" in readme


def test_engine_memory_models_are_the_fit_of_the_stored_runs():
    """Each engine's ``memory_model`` is what ``benchmarks/memory.py --fit-only --fit-with
    benchmarks/results/memory/earlier/*.json`` prints (to its 3 significant figures)."""
    from benchmarks import memory

    from napari_tlreg.engines import get_engine

    earlier = sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "memory" / "earlier").glob("*.json"))
    fitted = memory.fit_runs([json.loads(p.read_text())["results"] for p in earlier])
    assert set(fitted) == {"tlrn", "voxelmorph", "multistep", "hsyn", "nmsr"}
    for method, c in fitted.items():
        assert get_engine(method).memory_model == pytest.approx(c, rel=5e-3, abs=1.0), method


# ---- found in review (2026-12-04): output folders, saved results, spacing, device, label ids, warp's dtypes ----
def test_register_out_refuses_a_folder_that_is_not_a_result(tmp_path, capsys, shift_engine, good_tif):
    """Writing a result replaced the whole --out folder: a file the user kept there was deleted."""
    out = tmp_path / "mydocs"
    out.mkdir()
    (out / "important.txt").write_text("precious")
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--out", out, "--no-montage"], capsys)
    _assert_one_line_error(rc, err, match="is not a napari-tlreg result folder (no result.json)")
    assert sorted(os.listdir(out)) == ["important.txt"]
    res = tl.register(_seq(4), method=shift_engine)
    with pytest.raises(FileExistsError, match="choose a new or empty folder"):
        res.save(out)
    assert (out / "important.txt").read_text() == "precious" and _hidden(tmp_path) == []
    # an earlier result, or an empty folder, is replaced as before
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "again"):
        res.save(folder)
        res.save(folder)
        assert tl.RegistrationResult.load(folder).method == shift_engine


def test_loading_a_damaged_result_folder_says_so(tmp_path, capsys, shift_engine):
    """``result.json`` without its keys raised a bare KeyError (a traceback from ``evaluate``); a truncated array
    loaded, and ``evaluate`` failed later with an IndexError."""
    import tifffile

    res = tl.register(_seq(6), method=shift_engine)
    res.save(tmp_path / "r")
    (tmp_path / "r" / "result.json").write_text("{}")
    with pytest.raises(ValueError, match="unreadable result folder \\(no 'method' in result.json\\)"):
        tl.RegistrationResult.load(tmp_path / "r")
    rc, err, _ = _cli(["evaluate", tmp_path / "r"], capsys)
    _assert_one_line_error(rc, err, command="evaluate", match="no 'method' in result.json")
    res.save(tmp_path / "cut")
    tifffile.imwrite(tmp_path / "cut" / "displacement.tif", res.displacement[:3], photometric="minisblack")
    with pytest.raises(ValueError, match=r"inconsistent result folder: frames.tif is \(6, 32, 32\), and "
                                         r"displacement.tif is \(3, 2, 32, 32\), not \(6, 2, 32, 32\)$"):
        tl.RegistrationResult.load(tmp_path / "cut")
    # (2026-12-05, error-message review) a field of a frame's shape read "frames.tif is (6, 32, 32) but
    # displacement.tif (6, 32, 32)": the shape it should have had was left out
    tifffile.imwrite(tmp_path / "cut" / "displacement.tif", res.displacement[:, 0], photometric="minisblack")
    with pytest.raises(ValueError, match=r"displacement.tif is \(6, 32, 32\), not \(6, 2, 32, 32\)$"):
        tl.RegistrationResult.load(tmp_path / "cut")


@pytest.mark.parametrize("spacing, match", [((0.0, -1.0), "positive and finite"), ((1.0,), "must have 2 values"),
                                            ((float("nan"), 1.0), "positive and finite"),
                                            ("1mm", r"^spacing must be 2 numbers \(row, col\) in the unit's length, "
                                                    r"or one number; got '1mm'$"),
                                            ((1.0, "x"), "spacing must be 2 numbers"),
                                            # (2026-12-05, anisotropy review) taken as 2 mm, (2, 1) and 1 mm
                                            ("2", "spacing must be 2 numbers"), ("21", "spacing must be 2 numbers"),
                                            (True, "spacing must be 2 numbers"),
                                            ((2.0, np.str_("1")), "spacing must be 2 numbers")])
def test_register_checks_spacing_before_the_run(shift_engine, spacing, match):
    """A bad spacing was accepted (and saved), or failed only after the engine had run."""
    seen = []
    with pytest.raises(ValueError, match=match):
        tl.register(_seq(4), method=shift_engine, spacing=spacing, progress=lambda *a: seen.append(a))
    assert seen == []
    assert tl.register(_seq(4), method=shift_engine, spacing=0.5).spacing == (0.5, 0.5)


@pytest.mark.parametrize("device", ["gpu", "CPU", "cuda:x", "mps", "meta", "xpu"])
def test_a_mistyped_device_is_a_value_error(shift_engine, device):
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        tl.register(_seq(4), method=shift_engine, device=device)


def test_label_ids_come_through_whole(tmp_path, capsys, shift_engine, good_tif):
    """Ids over 2**24 were warped in float32 (16777217 came back as 16777216), and ids over 2**31 wrapped."""
    lab = np.zeros((32, 32), np.int64)
    lab[4:12, 4:12], lab[14:20, 14:24], lab[24:, :8] = 16777217, 2**31 - 1, -7
    u = np.random.default_rng(0).normal(0, 1.5, (3, 2, 32, 32)).astype(np.float32)
    warped = tl.warp(lab, u, order=0)
    assert warped.dtype == np.int64 and set(np.unique(warped)) <= {0, 16777217, 2**31 - 1, -7}
    assert np.array_equal(warped, tl.warp(lab.astype(np.float64), u, order=0).astype(np.int64))  # the same pixels
    res = tl.register(_seq(4), method=shift_engine)
    assert set(np.unique(res.warp_labels(lab))) == {0, 16777217, 2**31 - 1, -7}
    with pytest.raises(ValueError, match="label ids must lie in the int32 range"):
        res.warp_labels(lab + 2**31)
    # through the CLI: a label file's ids are read as stored, not as float32 frames
    path = save_stack(tmp_path / "lab.tif", lab.astype(np.int32))
    rc, _, _ = _cli(["register", good_tif, "--method", shift_engine, "--labels", path, "--out", tmp_path / "o",
                     "--no-montage"], capsys)
    assert rc == 0
    import tifffile

    assert set(np.unique(tifffile.imread(tmp_path / "o" / "propagated_labels.tif"))) == {0, 16777217, 2**31 - 1, -7}


def test_warp_keeps_the_images_dtype_and_precision():
    """float64 images were computed in float32 when the field was float32 (0.34 off at 1e6); torch integer
    tensors came back as int64."""
    import torch

    rng = np.random.default_rng(0)
    u = rng.normal(0, 2, (2, 20, 24)).astype(np.float32)
    img = rng.normal(1e6, 1, (20, 24))
    out = tl.warp(img, u)
    assert out.dtype == np.float64 and np.abs(out - tl.warp(img, u.astype(np.float64))).max() == 0.0
    for dt in (torch.int32, torch.uint8, torch.int16):
        assert tl.warp(torch.ones(20, 24, dtype=dt), u).dtype == torch.empty(0, dtype=dt).numpy().dtype


def test_evaluate_keeps_the_recorded_source(tmp_path, capsys, shift_engine, good_tif):
    """``napari-tlreg evaluate`` rewrote ``metrics.json`` with ``"source": null``."""
    out = tmp_path / "o"
    assert _cli(["register", good_tif, "--method", shift_engine, "--out", out, "--no-montage"], capsys)[0] == 0
    assert json.loads((out / "metrics.json").read_text())["source"] == str(good_tif)
    assert _cli(["evaluate", out], capsys)[0] == 0
    assert json.loads((out / "metrics.json").read_text())["source"] == str(good_tif)


# ---- found in review (session 29) ----------------------------------------------------------------------------
def test_cli_labels_from_an_npz_are_its_labels_array(tmp_path, capsys, shift_engine):
    """``--labels seq.npz`` took the file's frames as labels (the bundled cardiac.npz: 39,956 'ids', a run of many
    minutes); an npz without labels said it held no image."""
    frames = (_seq(4) * 30).astype(np.uint16)
    lab = (_seq(4) > 0.5).astype(np.uint8)
    np.savez(tmp_path / "seq.npz", frames=frames, labels=lab)
    np.savez(tmp_path / "img.npz", frames=frames, other=np.zeros(3))
    np.savez(tmp_path / "ids.npz", labels=np.arange(4 * 32 * 32).reshape(4, 32, 32))
    rc, err, _ = _cli(["register", tmp_path / "seq.npz", "--method", shift_engine, "--labels", tmp_path / "seq.npz",
                       "--out", tmp_path / "o"], capsys)
    assert rc == 0, err
    from napari_tlreg.io import load_stack

    prop = load_stack(tmp_path / "o" / "propagated_labels.tif")[0]
    assert set(np.unique(prop)) == {0, 1}  # the npz's labels, carried (all background passed "<=")
    rc, err, _ = _cli(["register", tmp_path / "seq.npz", "--method", shift_engine, "--labels", tmp_path / "img.npz",
                       "--out", tmp_path / "o2"], capsys)
    _assert_one_line_error(rc, err, match="the .npz holds no 'labels' array (keys: frames, other)")
    rc, err, _ = _cli(["register", tmp_path / "seq.npz", "--method", shift_engine, "--labels", tmp_path / "ids.npz",
                       "--out", tmp_path / "o3"], capsys)
    _assert_one_line_error(rc, err, match="labels hold 4,095 different ids (at most 1,000)")


def test_an_output_of_another_kind_is_refused_as_what_it_is(tmp_path, capsys, shift_engine, good_tif):
    """(2026-12-07, docs review) ``register --out`` a batch's output folder was refused as "not a napari-tlreg result
    folder", of a folder napari-tlreg wrote: what it is is said now (a batch's output, a result as a report)."""
    batch = tmp_path / "batch1"
    batch.mkdir()
    (batch / "summary.csv").write_text("name\n")
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--out", batch, "--no-montage"], capsys)
    _assert_one_line_error(rc, err, match="batch1: is a napari-tlreg batch's output (summary.csv), not a result folder "
                                          "(no result.json); writing there would delete what it holds")
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--out", tmp_path / "r"], capsys)
    assert rc == 0, err
    rc, err, _ = _cli(["evaluate", tmp_path / "r", "--report", tmp_path / "r"], capsys)
    _assert_one_line_error(rc, err, command="evaluate", match="r: is a napari-tlreg result, not a report folder")
    assert (tmp_path / "r" / "result.json").is_file() and sorted(os.listdir(batch)) == ["summary.csv"]
    rc, err, _ = _cli(["evaluate", tmp_path / "r", "--report", tmp_path / "rep"], capsys)
    assert rc == 0 and (tmp_path / "rep" / "summary.csv").is_file(), err  # a report writes a summary.csv too
    rc, err, _ = _cli(["itk", tmp_path / "r", "--out", tmp_path / "rep"], capsys)
    _assert_one_line_error(rc, err, command="itk", match="rep: is a napari-tlreg evaluation report, not an ITK export")


def test_robustness_review_of_2026_12_07(tmp_path, capsys, shift_engine, good_tif):
    """Landmarks outside the image gave a TRE of 484 px from ``metrics.evaluate`` (the CLI refused them); labels all 0
    and a landmarks file of its header alone gave empty Dice and TRE without a word; a NaN point made numpy warn twice
    before ``track_points``' error; a folder or an empty file as weights was "not found" and "EOFError: "; a
    result.json cut short said "Expecting value: line 2 column 1" of no file; ``--param =3`` named a parameter ""."""
    import json
    import warnings

    from napari_tlreg import metrics as M

    res = tl.register(_seq(5), method=shift_engine)
    with pytest.raises(ValueError, match=r"landmark id 0 in frame 0 at \(row 500, col -16\) lies outside the 32x32 "
                                         "image"):
        M.evaluate(res, landmarks=[[0, 0, 500, -16], [0, 3, 19, 16]])
    said = []
    M.evaluate(res, labels=np.zeros((5, 32, 32), np.int32), landmarks=np.zeros((0, 4)), on_warning=said.append)
    assert said == ["the labels hold no label (0 on every frame): nothing is carried to the other frames, and Dice and "
                    "Hausdorff stay empty", "the landmarks hold no landmark: TRE stays empty"]
    (tmp_path / "lm.csv").write_text("id,t,row,col\n")
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--landmarks", tmp_path / "lm.csv", "--out",
                       tmp_path / "o", "--no-montage"], capsys)
    assert rc == 0 and any("the landmarks hold no landmark: TRE stays empty" in line for line in err), err
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="points contain NaN or inf"):
            res.track_points(np.array([[np.nan, 3.0]]))
    (tmp_path / "w dir ü").mkdir()
    (tmp_path / "empty.pt").write_bytes(b"")
    for weights, why in ((tmp_path / "w dir ü", "is a folder, not a weights file"),
                         (tmp_path / "empty.pt", "file is empty, not a weights file")):
        rc, err, _ = _cli(["register", good_tif, "--param", f"weights={weights}", "--out", tmp_path / "o2"], capsys)
        _assert_one_line_error(rc, err, match=why)
    rc, err, _ = _cli(["register", good_tif, "--param", "=3", "--out", tmp_path / "o2"], capsys)
    _assert_one_line_error(rc, err, match="--param expects KEY=VALUE, got '=3' (no KEY)")
    res.save(tmp_path / "cut")
    text = (tmp_path / "cut" / "result.json").read_text()
    (tmp_path / "cut" / "result.json").write_text(text[:12])
    with pytest.raises(ValueError, match=r"unreadable result folder \(result\.json is not valid JSON \(Expecting "
                                         r".*, line \d+ column \d+\): cut short or edited\)"):
        tl.RegistrationResult.load(tmp_path / "cut")
    assert json.loads(text)["method"] == shift_engine


def test_cli_evaluate_refuses_its_report_folder_before_rewriting_results(tmp_path, capsys, shift_engine, good_tif):
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--out", tmp_path / "r"], capsys)
    assert rc == 0, err
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "r").iterdir()}
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    rc, err, _ = _cli(["evaluate", tmp_path / "r", "--report", tmp_path / "mine"], capsys)
    _assert_one_line_error(rc, err, command="evaluate", match="is not a napari-tlreg report folder")
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "r").iterdir()} == before


def test_cli_evaluate_without_annotations_uses_the_sources_and_drops_stale_landmark_files(tmp_path, capsys):
    """A plain ``evaluate`` dropped the TRE and Dice register had computed from the sample's own annotations, and
    left an earlier evaluation's tre.csv beside metrics without TRE."""
    rc, err, _ = _cli(["register", "satellite", "--method", "multistep", "--out", tmp_path / "r"], capsys)
    assert rc == 0, err
    had = json.loads((tmp_path / "r" / "metrics.json").read_text())
    tre_keys = [k for k in had["summary"] if k.startswith("tre")]
    assert (tmp_path / "r" / "landmarks.csv").is_file()  # the folder keeps what register evaluated against
    rc, err, _ = _cli(["evaluate", tmp_path / "r"], capsys)
    assert rc == 0 and not err, err
    now = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert (tmp_path / "r" / "tre.csv").is_file()
    assert tre_keys and all(now["summary"][k] == pytest.approx(had["summary"][k]) for k in tre_keys)
    # a folder that keeps none (written before it did): its recorded source's own annotations, said so
    (tmp_path / "r" / "landmarks.csv").unlink()
    rc, err, _ = _cli(["evaluate", tmp_path / "r"], capsys)
    assert rc == 0 and any("the landmarks of its source, satellite" in line for line in err), err
    now = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert all(now["summary"][k] == pytest.approx(had["summary"][k]) for k in tre_keys)
    from napari_tlreg.report import write_evaluation
    from napari_tlreg.result import RegistrationResult

    write_evaluation(RegistrationResult.load(tmp_path / "r"), tmp_path / "r")  # no landmarks: no landmark files
    assert not any((tmp_path / "r" / f).exists() for f in ("tre.csv", "landmark_pairs.csv", "landmarks.csv"))


def test_cli_evaluate_keeps_the_annotations_register_used(tmp_path, capsys, shift_engine, monkeypatch):
    """``evaluate FOLDER`` re-read the recorded source without its slice (slice 0's labels scored slice 1: Dice 1 ->
    0) and could not find a relative source from elsewhere, dropping the TRE of ``--landmarks``; ``--labels`` of a
    4-D file took slice 0 whatever ``--slice`` said. The folder now keeps the labels and landmarks it was evaluated
    against, each kind replaced only by what is given."""
    frames = np.stack([_seq(4, seed=1), _seq(4, seed=2)])
    lab = np.zeros((2, 4, 32, 32), np.int32)
    lab[0, :, 4:12, 4:12], lab[1, :, 14:30, 10:20] = 1, 2
    np.savez(tmp_path / "ms.npz", frames=frames, labels=lab)
    (tmp_path / "lm.csv").write_text("id,t,row,col\n0,0,10,10\n0,1,11,12\n1,0,20,20\n1,2,21,19\n")
    monkeypatch.chdir(tmp_path)
    rc, err, _ = _cli(["register", "ms.npz", "--slice", "1", "--landmarks", "lm.csv", "--method", shift_engine,
                       "--out", "o", "--no-montage"], capsys)
    assert rc == 0, err
    had = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert had["slice"] == 1 and had["source"] == str(tmp_path / "ms.npz")
    import tifffile

    assert np.array_equal(tifffile.imread(tmp_path / "o" / "labels.tif"), lab[1])
    from napari_tlreg import _hooks

    for name in ("labels.tif", "propagated_labels.tif"):  # saved as labels: napari opens them as Labels layers
        path = str(tmp_path / "o" / name)
        assert [kind for *_, kind in _hooks.get_reader(path)(path)] == ["labels"], name
    monkeypatch.chdir(tmp_path.parent)
    rc, err, _ = _cli(["evaluate", tmp_path / "o"], capsys)
    assert rc == 0 and not err, err
    now = json.loads((tmp_path / "o" / "metrics.json").read_text())
    keys = [k for k in had["summary"] if k.startswith(("tre", "dice", "hd"))]
    assert {"tre", "dice"} <= set(keys) and all(now["summary"][k] == pytest.approx(had["summary"][k]) for k in keys)
    assert now["slice"] == 1
    # --labels replaces the labels only: the landmarks stay, and the folder keeps the new labels
    other = lab[1].copy()
    other[:, 14:30, 10:20] = 0
    other[:, 2:8, 2:8] = 3
    save_stack(tmp_path / "other.tif", other)
    rc, err, _ = _cli(["evaluate", tmp_path / "o", "--labels", tmp_path / "other.tif"], capsys)
    assert rc == 0, err
    now = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert now["summary"]["tre"] == pytest.approx(had["summary"]["tre"])
    assert np.array_equal(tifffile.imread(tmp_path / "o" / "labels.tif"), other)
    assert set(np.unique(tifffile.imread(tmp_path / "o" / "propagated_labels.tif"))) == {0, 3}


def test_evaluate_takes_each_kind_of_annotation_where_it_is_and_a_units_labels_still_write(tmp_path, capsys,
                                                                                            shift_engine):
    """Found in review of the change above: a folder keeping landmarks but no labels never read its source's
    labels; and a unit the label files cannot hold ("microns", as an npz may say) failed the run after it ended."""
    frames = _seq(4)
    lab = np.zeros((4, 32, 32), np.int32)
    lab[:, 6:14, 6:14] = 1
    np.savez(tmp_path / "s.npz", frames=frames, labels=lab, spacing=np.array([0.5, 0.5]), unit="microns",
             landmarks=np.array([[0, 0, 10.0, 10.0], [0, 1, 11.0, 9.0]]))
    rc, err, _ = _cli(["register", tmp_path / "s.npz", "--method", shift_engine, "--out", tmp_path / "o", "--no-montage"],
                      capsys)
    assert rc == 0, err
    assert (tmp_path / "o" / "labels.tif").is_file() and (tmp_path / "o" / "landmarks.csv").is_file()
    had = json.loads((tmp_path / "o" / "metrics.json").read_text())["summary"]
    (tmp_path / "o" / "labels.tif").unlink()  # as a folder kept by an older run with landmarks only
    rc, err, _ = _cli(["evaluate", tmp_path / "o"], capsys)
    assert rc == 0 and err == [f"napari-tlreg evaluate: {tmp_path / 'o'}: the labels of its source, {tmp_path / 's.npz'}"], err
    now = json.loads((tmp_path / "o" / "metrics.json").read_text())["summary"]
    assert now["dice"] == pytest.approx(had["dice"]) and now["tre"] == pytest.approx(had["tre"])


def test_a_float32_label_id_of_2_to_the_31_is_refused_not_wrapped():
    from napari_tlreg.core.labels import as_label_ids

    with pytest.raises(ValueError, match="int32 range"):
        as_label_ids(np.array([[2147483647.0]], np.float32))  # float32 holds it as 2**31: it wrapped to -2**31


def test_cli_labels_of_a_4d_nifti_follow_the_slice(tmp_path, capsys, shift_engine):
    import nibabel as nib

    img = np.random.default_rng(0).random((32, 32, 3, 4)).astype(np.float32)  # (X, Y, Z, T)
    lab = np.zeros((32, 32, 3, 4), np.int16)
    for z in range(3):
        lab[8:20, 8:20, z, :] = z + 1
    nib.save(nib.Nifti1Image(img, np.eye(4)), tmp_path / "m4.nii")
    nib.save(nib.Nifti1Image(lab, np.eye(4)), tmp_path / "m4lab.nii")
    rc, err, _ = _cli(["register", tmp_path / "m4.nii", "--slice", "2", "--labels", tmp_path / "m4lab.nii",
                       "--method", shift_engine, "--out", tmp_path / "o", "--no-montage"], capsys)
    assert rc == 0, err
    import tifffile

    assert set(np.unique(tifffile.imread(tmp_path / "o" / "propagated_labels.tif"))) == {0, 3}
    # labels of another number of slice positions are another stack's: refused (9 of 12 gave slice 7's as slice 5's)
    nib.save(nib.Nifti1Image(lab[:, :, :2], np.eye(4)), tmp_path / "m2lab.nii")
    np.save(tmp_path / "m2lab.npy", np.transpose(lab[:, :, :2], (2, 3, 1, 0)))  # (S, T, H, W)
    for name in ("m2lab.nii", "m2lab.npy"):
        rc, err, _ = _cli(["register", tmp_path / "m4.nii", "--slice", "1", "--labels", tmp_path / name,
                           "--method", shift_engine, "--out", tmp_path / "o2", "--no-montage"], capsys)
        _assert_one_line_error(rc, err, match="labels of 2 slice positions, the frames' source has 3")


def _acdc_like(tmp_path):
    """A 4-D cine ``(X, Y, Z, T)`` of 3 slice positions x 5 frames, and ACDC's layout of its labels: one volume
    ``(X, Y, Z)`` a labelled time point, ``p_frameNN_gt.nii`` (NN 1-based), zooms (1.5, 1.5, 10): slice z labelled
    z + 1, on a square that moves with the frame."""
    import nibabel as nib

    img = np.random.default_rng(0).random((32, 32, 3, 5)).astype(np.float32)
    nib.save(nib.Nifti1Image(img, np.eye(4)), tmp_path / "p_4d.nii")

    def volume(name, t, planes=3):
        lab = np.zeros((32, 32, planes), np.uint8)
        for z in range(planes):
            lab[4 + 2 * t:14 + 2 * t, 8:20, z] = z + 1  # (X, Y): rows 8-19, columns 4+2t-13+2t
        g = nib.Nifti1Image(lab, np.diag([1.5, 1.5, 10.0, 1.0]))
        g.header.set_zooms((1.5, 1.5, 10.0))
        nib.save(g, tmp_path / name)
        return tmp_path / name

    return volume


def test_cli_acdc_volume_labels_go_on_their_named_frame_at_the_slice(tmp_path, capsys, shift_engine):
    """ACDC's labels come a volume a time point (``patient001_frame01_gt.nii.gz``: ED, ``frame12``: ES); against its
    4-D cine they were refused ("labels of shape (10, H, W) do not match the frames"). Each one gives the frames'
    slice position, on the frame its name gives (1-based, as ACDC counts), and several files label their own frames."""
    import tifffile

    volume = _acdc_like(tmp_path)
    ed, es = volume("p_frame01_gt.nii", 0), volume("p_frame04_gt.nii", 3)
    rc, err, _ = _cli(["register", tmp_path / "p_4d.nii", "--slice", "2", "--labels", ed, "--labels", es,
                       "--method", shift_engine, "--out", tmp_path / "o", "--no-montage"], capsys)
    assert rc == 0, err
    kept = tifffile.imread(tmp_path / "o" / "labels.tif")
    want = np.zeros((5, 32, 32), np.int32)
    want[0, 8:20, 4:14] = 3  # slice 2's label, on frame 0 (frame01) ...
    want[3, 8:20, 10:20] = 3  # ... and frame 3 (frame04), where the square has moved
    np.testing.assert_array_equal(kept, want)
    summary = json.loads((tmp_path / "o" / "metrics.json").read_text())["summary"]
    assert summary["dice"] is not None  # ED carried to ES and scored
    # a name without a frame: on the reference, as a 2-D labels file, when one is given (it went on frame 0 without a
    # word: an M&Ms-2 ED volume, "_SA_ED_gt", scored against ES from the wrong frame)
    plain = volume("p_gt.nii", 0)
    rc, err, _ = _cli(["register", tmp_path / "p_4d.nii", "--slice", "1", "--labels", plain, "--method", shift_engine,
                       "--out", tmp_path / "o2", "--no-montage"], capsys)
    _assert_one_line_error(rc, err, match="p_gt.nii: a labels volume of one time point whose name gives no frame "
                                          "(ACDC's patient001_frame01_gt: frame 1): give the frame it labels, "
                                          "--labels FILE@T (or --reference T; from Python, 'FILE@T' or "
                                          "reference=T)")
    rc, err, _ = _cli(["register", tmp_path / "p_4d.nii", "--slice", "1", "--reference", "2", "--labels", plain,
                       "--method", shift_engine, "--out", tmp_path / "o2", "--no-montage"], capsys)
    assert rc == 0, err
    kept = tifffile.imread(tmp_path / "o2" / "labels.tif")
    assert kept.reshape(5, -1).any(axis=1).tolist() == [False, False, True, False, False]
    assert set(np.unique(kept[2])) == {0, 2}
    # M&Ms-2's (and CAMUS's) names give no frame: FILE@T (ED and ES were refused as labelling one frame twice)
    sa_ed, sa_es = volume("001_SA_ED_gt.nii", 0), volume("001_SA_ES_gt.nii", 3)
    rc, err, _ = _cli(["register", tmp_path / "p_4d.nii", "--slice", "2", "--labels", f"{sa_ed}@0", "--labels",
                       f"{sa_es}@3", "--method", shift_engine, "--out", tmp_path / "o5", "--no-montage"], capsys)
    assert rc == 0, err
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "o5" / "labels.tif"), want)
    rc, err, _ = _cli(["register", tmp_path / "p_4d.nii", "--slice", "2", "--labels", f"{ed}@0", "--labels",
                       f"{volume('p_frame09_gt.nii', 3)}@3", "--method", shift_engine, "--out", tmp_path / "o6",
                       "--no-montage"], capsys)  # @T before the name's frame (9, past the last)
    assert rc == 0, err
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "o6" / "labels.tif"), want)
    # a named frame whatever --reference says (frame01 on a chosen reference 3: on frame 0)
    rc, err, _ = _cli(["register", tmp_path / "p_4d.nii", "--slice", "1", "--reference", "3", "--labels", ed,
                       "--method", shift_engine, "--out", tmp_path / "o3", "--no-montage"], capsys)
    assert rc == 0, err
    kept = tifffile.imread(tmp_path / "o3" / "labels.tif")
    assert kept.reshape(5, -1).any(axis=1).tolist() == [True, False, False, False, False]
    # a labels folder (one TIFF a frame), as before (a folder was opened as a file: "Is a directory")
    (tmp_path / "labdir").mkdir()
    for t in range(5):
        save_stack(tmp_path / "labdir" / f"f{t}.tif", (np.arange(32 * 32).reshape(32, 32) % 7 == 0).astype(np.uint8))
    rc, err, _ = _cli(["register", tmp_path / "p_4d.nii", "--labels", tmp_path / "labdir", "--method", shift_engine,
                       "--out", tmp_path / "o4", "--no-montage"], capsys)
    assert rc == 0, err
    assert tifffile.imread(tmp_path / "o4" / "labels.tif").reshape(5, -1).any(axis=1).all()
    for argv, match in (
        (["--labels", volume("p_frame09_gt.nii", 0)], "p_frame09_gt.nii: its name gives frame 9 \\(1-based\\), and "
                                                       "the sequence has 5 frames"),
        (["--labels", volume("p_frame06_gt.nii", 0)], "p_frame06_gt.nii: its name gives frame 6 \\(1-based\\)"),
        (["--labels", f"{sa_es}@5"], "001_SA_ES_gt.nii@5: frame 5 is out of range for 5 frames \\[0, 4\\]"),
        (["--labels", f"{tmp_path / 'o5' / 'labels.tif'}@1"], "labels.tif@1: @T places one frame's labels, and this "
                                                              "file holds 5 planes"),
        (["--labels", f"{sa_es}@-1"], "001_SA_ES_gt.nii@-1: frame -1 is out of range for 5 frames"),
        (["--labels", sa_es], "001_SA_ES_gt.nii: a labels volume of one time point whose name gives no frame .*"
                              "--labels FILE@T"),
        (["--labels", volume("q_frame01_gt.nii", 0, planes=2)], "a labels volume of 2 slice positions, the frames' "
                                                                 "source has 3"),
        (["--labels", volume("s_frame01_gt.nii", 0, planes=4)], "a labels volume of 4 slice positions, the frames' "
                                                                 "source has 3"),
        (["--labels", ed, "--labels", volume("r_frame01_gt.nii", 0)], "r_frame01_gt.nii: labels frame 0, which "
                                                                       ".*p_frame01_gt.nii labels too"),
    ):
        rc, err, _ = _cli(["register", tmp_path / "p_4d.nii", "--slice", "1", *argv, "--method", shift_engine,
                           "--out", tmp_path / "bad", "--no-montage"], capsys)
        _assert_one_line_error(rc, err)
        assert re.search(match, err[-1]), err
        assert not (tmp_path / "bad").exists()


def test_cli_evaluate_takes_a_multi_slice_labels_file_at_the_folders_slice(tmp_path, capsys, shift_engine):
    """``evaluate --labels`` of a 4-D labels file scored a ``--slice 2`` result with slice 0's labels, without a word
    (M&Ms' ``_sa_gt.nii.gz`` on Sunnybrook's slice 5: Dice 0.74 for 0.95): it reads the folder's slice position, an
    ACDC volume's too."""
    import nibabel as nib
    import tifffile

    volume = _acdc_like(tmp_path)
    lab = np.zeros((32, 32, 3, 5), np.int16)
    for z in range(3):
        lab[8:20, 8:20, z, :] = z + 1
    nib.save(nib.Nifti1Image(lab, np.eye(4)), tmp_path / "p_4d_gt.nii")
    rc, err, _ = _cli(["register", tmp_path / "p_4d.nii", "--slice", "2", "--method", shift_engine,
                       "--out", tmp_path / "o", "--no-montage"], capsys)
    assert rc == 0, err
    from napari_tlreg.batch import register_one

    row = register_one({"name": "b", "source": str(tmp_path / "p_4d.nii")}, shift_engine, str(tmp_path / "batch"),
                       montage=False, slice=2)
    assert row["status"] == "ok", row
    for folder in (tmp_path / "o", tmp_path / "batch" / "b"):  # register's, and a batch's
        for given, frames in (([tmp_path / "p_4d_gt.nii"], [0, 1, 2, 3, 4]),
                              ([volume("p_frame01_gt.nii", 0), volume("p_frame03_gt.nii", 2)], [0, 2])):
            rc, err, _ = _cli(["evaluate", folder, *[a for g in given for a in ("--labels", g)]], capsys)
            assert rc == 0, err
            kept = tifffile.imread(folder / "labels.tif")
            assert kept.reshape(5, -1).any(axis=1).nonzero()[0].tolist() == frames
            assert set(np.unique(kept)) == {0, 3}  # slice 2's label (slice 0's is 1)
    # evaluate knows the source's slice positions, as register does: a volume of another count is refused ...
    rc, err, _ = _cli(["evaluate", tmp_path / "o", "--labels", volume("q_frame01_gt.nii", 0, planes=2)], capsys)
    _assert_one_line_error(rc, err, "evaluate", match="a labels volume of 2 slice positions, the frames' source has 3")
    # ... and one of as many planes as frames is one time point's volume, not frames (5 slices x 5 frames: each plane
    # was a frame of labels, 1..5)
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((32, 32, 5, 5)).astype(np.float32), np.eye(4)),
             tmp_path / "sq_4d.nii")
    rc, err, _ = _cli(["register", tmp_path / "sq_4d.nii", "--slice", "2", "--method", shift_engine,
                       "--out", tmp_path / "sq", "--no-montage"], capsys)
    assert rc == 0, err
    rc, err, _ = _cli(["evaluate", tmp_path / "sq", "--labels", volume("sq_frame01_gt.nii", 0, planes=5)], capsys)
    assert rc == 0, err
    kept = tifffile.imread(tmp_path / "sq" / "labels.tif")
    assert kept.reshape(5, -1).any(axis=1).nonzero()[0].tolist() == [0] and set(np.unique(kept)) == {0, 3}
    # a single-slice source: refused, as register refuses it (evaluate took plane 0)
    save_stack(tmp_path / "one.tif", np.random.default_rng(0).random((5, 32, 32)).astype(np.float32))
    rc, err, _ = _cli(["register", tmp_path / "one.tif", "--method", shift_engine, "--out", tmp_path / "one",
                       "--no-montage"], capsys)
    assert rc == 0, err
    rc, err, _ = _cli(["evaluate", tmp_path / "one", "--labels", volume("p_frame01_gt.nii", 0)], capsys)
    _assert_one_line_error(rc, err, "evaluate", match="do not match the frames (5, 32, 32)")


@pytest.mark.parametrize("labels, match", [
    (np.full((4, 32, 32), np.nan), "labels must be integers"),
    (np.full((4, 32, 32), 0.7), "labels must be integers"),
    (np.full((4, 32, 32), 2**32 + 1, np.int64), "label ids must lie in the int32 range"),
])
def test_labels_inside_a_sequence_file_are_checked_as_ids(tmp_path, labels, match):
    """An npz's labels were cast to int32 unchecked (NaN came back as -2147483648 and scored Dice 1; 2**32 + 1 as
    1); a sibling ``<stem>_labels`` file is ignored with a warning that says why."""
    np.savez(tmp_path / "s.npz", frames=_seq(4), labels=labels)
    with pytest.raises(ValueError, match=f"s.npz: {match}"):
        tl.load_sequence(tmp_path / "s.npz")
    save_stack(tmp_path / "t.tif", _seq(4))
    np.save(tmp_path / "t_labels.npy", labels)
    with pytest.warns(UserWarning, match=f"ignoring labels t_labels.npy: {match}"):
        assert tl.load_sequence(tmp_path / "t.tif").labels is None


def test_a_bad_pixel_spacing_is_dropped_with_a_warning(tmp_path):
    """A NIfTI pixdim of NaN (or an npz spacing of -1, 0) made the file impossible to register ("spacing values
    must be positive and finite"), with no way round it: it is dropped, the sequence measured in pixels."""
    import nibabel as nib

    img = nib.Nifti1Image(np.random.default_rng(0).random((32, 32, 4)).astype(np.float32), np.eye(4))
    img.header["pixdim"][1:4] = [np.nan, 2.0, 1.0]
    nib.save(img, tmp_path / "zn.nii")
    np.savez(tmp_path / "sp.npz", frames=_seq(4), spacing=np.array([-1.0, 0.0]))
    for name in ("zn.nii", "sp.npz"):
        with pytest.warns(UserWarning, match=f"{name}: ignoring pixel spacing .* measuring in pixels"):
            seq = tl.load_sequence(tmp_path / name)
        assert seq.spacing is None and seq.unit == "px"
        tl.register(seq, method="multistep")  # registers, in pixels


def test_landmarks_are_checked_before_the_registration_and_written_only_if_readable(tmp_path):
    """Duplicate (id, t) pairs or fractional ids inside an npz were refused only after the registration; the writer
    wrote files its own reader refuses."""
    from napari_tlreg.io import load_points_csv, save_points_csv
    from napari_tlreg.report import check_annotations

    for pts, match in (([[0, 0, 5, 5], [0, 0, 6, 6], [0, 1, 5, 5]], "landmark id 0 appears twice in frame 0"),
                       ([[0.5, 0, 5, 5], [0.5, 1, 5, 5]], "landmark ids must be integers, got 0.5")):
        with pytest.raises(ValueError, match=match):
            check_annotations((4, 32, 32), None, np.array(pts, float))
        with pytest.raises(ValueError, match=r"appears twice|id must be an integer"):
            save_points_csv(tmp_path / "p.csv", pts)
        assert not (tmp_path / "p.csv").exists()
    save_points_csv(tmp_path / "p.csv", [[3, 0, 5, 5], [3, 1, 6, 6]])
    assert load_points_csv(tmp_path / "p.csv").tolist() == [[3, 0, 5, 5], [3, 1, 6, 6]]


def test_three_planes_stored_as_rgb_say_how_they_were_read(tmp_path):
    """tifffile's default writes a (3, H, W) array as one RGB image with separate planes: it loaded as one grey
    frame ("needs at least 2 frames, got 1") with nothing to say why."""
    import tifffile

    frames = (np.random.default_rng(0).random((3, 32, 32)) * 255).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # tifffile's own notice of its default
        tifffile.imwrite(tmp_path / "p3.tif", frames)
    with pytest.warns(UserWarning, match="p3.tif: read as one colour frame .* if they are 3 frames, save them"):
        assert tl.load_sequence(tmp_path / "p3.tif").shape == (1, 32, 32)
    tifffile.imwrite(tmp_path / "g3.tif", frames, photometric="minisblack")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tl.load_sequence(tmp_path / "g3.tif").shape == (3, 32, 32)


def test_a_missing_optional_part_names_its_extra(monkeypatch, capsys, tmp_path):
    """Without Dask's distributed (napari brings dask, not its scheduler) ``batch`` ended in a ModuleNotFoundError
    traceback, and so did ``view`` without napari."""
    import importlib.util

    from napari_tlreg.batch import run_batch

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name in ("distributed", "napari") else real(name, *a, **k))
    monkeypatch.setenv("DISPLAY", ":0")  # past the display check: napari is what is missing
    rc, err, _ = _cli(["batch", "lemniscate", "--method", "tlrn", "--out", tmp_path / "b"], capsys)
    _assert_one_line_error(rc, err, command="batch", match='pip install "napari-tlreg[dask]"')
    rc, err, _ = _cli(["view", "cardiac"], capsys)
    _assert_one_line_error(rc, err, command="view", match='pip install "napari-tlreg[napari]"')
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):  # (packaging review) nor a display: napari is
        monkeypatch.delenv(var, raising=False)  # said first (it was said once a display was given, the second try)
    rc, err, _ = _cli(["view", "cardiac"], capsys)
    _assert_one_line_error(rc, err, command="view", match='pip install "napari-tlreg[napari]"')
    with pytest.raises(ImportError, match="distributed scheduler, which is not installed"):
        run_batch(["lemniscate"], "tlrn", tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_the_summary_counts_landmark_pairs_and_takes_the_largest_error():
    """``tre_n`` was averaged over the frames (4 pairs over 11 frames: 0.36) and ``tre_max`` too."""
    from napari_tlreg.metrics import summarize

    rows = [{"t": 0, "is_reference": True, "tre_n": 0, "tre_max": np.nan, "tre": np.nan},
            {"t": 1, "tre_n": 3, "tre_max": 2.0, "tre": 1.0}, {"t": 2, "tre_n": 0, "tre_max": np.nan, "tre": np.nan},
            {"t": 3, "tre_n": 1, "tre_max": 5.0, "tre": 5.0}]
    s = summarize(rows)
    # (2026-12-05, outputs review) the TRE pooled over the 4 pairs, as tre.csv's "all" row: the mean of the frames'
    # means (3.0) sat beside the pooled count
    assert s["tre_n"] == 4 and isinstance(s["tre_n"], int) and s["tre_max"] == 5.0 and s["tre"] == 2.0


def test_a_sequence_in_pixels_reports_in_pixels():
    """The lemniscate sample (unit px) came back with unit mm and tre_mm columns for its nominal 1 px spacing."""
    seq = tl.load_sequence("lemniscate")
    assert seq.unit == "px"
    res = tl.register(seq, method="tlrn")
    assert res.spacing is None


def test_an_engine_that_returns_nan_gives_an_error_not_a_result(shift_engine):
    frames = _seq(4)
    frames[1] = np.roll(frames[0], 3, axis=1)  # a shift the engine finds, times an infinite gain
    with pytest.raises(ValueError, match="NaN or infinite displacements; nothing is returned"):
        tl.register(frames, method=shift_engine, gain=float("inf"))


def test_evaluate_on_a_truncated_result_file_is_one_line(tmp_path, capsys, caplog, shift_engine):
    """tifffile's own log line ("invalid page offset", on stderr outside pytest) came before the error."""
    src = save_stack(tmp_path / "seq.tif", np.random.default_rng(0).random((20, 128, 128)).astype(np.float32))
    rc, err, _ = _cli(["register", src, "--method", shift_engine, "--out", tmp_path / "r"], capsys)
    assert rc == 0, err
    path = tmp_path / "r" / "warped.tif"
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    caplog.clear()
    rc, err, _ = _cli(["evaluate", tmp_path / "r"], capsys)
    _assert_one_line_error(rc, err, command="evaluate", match="unreadable result folder")
    assert not [r for r in caplog.records if r.name.startswith("tifffile")]


def _result_with_reference(folder, reference: int):
    """A 3-frame 32x32 result registered to ``reference``: every other frame is the reference shifted by (-2, +3) px."""
    from napari_tlreg.result import RegistrationResult

    fr = np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    u = np.zeros((3, 2, 32, 32), np.float32)
    for t in range(3):
        if t != reference:
            u[t, 0], u[t, 1] = -2.0, 3.0
    RegistrationResult(frames=fr, warped=fr.copy(), displacement=u, jacobian=np.ones((3, 32, 32), np.float32),
                       method="fixture", reference=reference).save(folder)
    return folder


def test_cli_evaluate_puts_one_labels_frame_on_each_folders_own_reference(tmp_path, capsys):
    """``evaluate A B --labels one_frame``: the frame goes on A's reference in A and on B's in B (it went on A's in
    both: B propagated nothing, silently); a shared ``--report`` over different references is refused before any
    folder is rewritten."""
    import tifffile

    a, b = _result_with_reference(tmp_path / "a", 0), _result_with_reference(tmp_path / "b", 1)
    lab = np.zeros((32, 32), np.int32)
    lab[10:20, 10:20] = 1
    np.save(tmp_path / "lab.npy", lab)
    rc, err, _ = _cli(["evaluate", a, b, "--labels", tmp_path / "lab.npy"], capsys)
    assert rc == 0, err
    for folder, ref in ((a, 0), (b, 1)):
        kept, prop = tifffile.imread(folder / "labels.tif"), tifffile.imread(folder / "propagated_labels.tif")
        assert [t for t in range(3) if kept[t].any()] == [ref]
        assert [int(prop[t].sum()) for t in range(3)] == [100, 100, 100]
    before = {p: p.stat().st_mtime_ns for f in (a, b) for p in f.iterdir()}
    rc, err, _ = _cli(["evaluate", a, b, "--labels", tmp_path / "lab.npy", "--report", tmp_path / "rep"], capsys)
    _assert_one_line_error(rc, err, command="evaluate", match="a shared --report needs labels for every frame")
    assert {p: p.stat().st_mtime_ns for f in (a, b) for p in f.iterdir()} == before and not (tmp_path / "rep").exists()
    full = np.repeat(lab[None], 3, 0)  # labels on every frame: one report for both
    np.save(tmp_path / "full.npy", full)
    rc, err, _ = _cli(["evaluate", a, b, "--labels", tmp_path / "full.npy", "--report", tmp_path / "rep"], capsys)
    assert rc == 0, err
    import json  # the report of both (the check sat in the assert's message, never run)

    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert sorted(r["reference"] for r in doc["results"]) == [0, 1]


def test_an_evaluation_that_fails_while_writing_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    """(2026-12-07, bad-input review) `evaluate` failing at its plots (a full disk) had replaced metrics.json,
    metrics.csv and the labels already, left the old plots and wrote no landmark files: two evaluations in one folder,
    and the next `evaluate FOLDER` read the new labels without the landmarks. Its files are moved in together now."""
    import errno

    from napari_tlreg import report
    from napari_tlreg.result import RegistrationResult

    folder = _result_with_reference(tmp_path / "r", 0)
    res = RegistrationResult.load(folder)
    lab = np.zeros((32, 32), np.int32)
    lab[10:20, 10:20] = 1
    report.write_evaluation(res, folder, labels=lab)  # an evaluation with labels and no landmarks
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert "propagated_labels.tif" in before and "tre.csv" not in before

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report, "save_plots", full)
    other = np.zeros((32, 32), np.int32)
    other[4:12, 4:12] = 2
    with pytest.raises(OSError, match=r"no space left on the device while writing .*r \(its plots.png\)"):
        report.write_evaluation(res, folder, labels=other, landmarks=np.array([[1, 0, 5.0, 5.0], [1, 2, 6.0, 5.0]]))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing replaced, nothing left beside
    monkeypatch.undo()
    report.write_evaluation(res, folder, labels=other, landmarks=np.array([[1, 0, 5.0, 5.0], [1, 2, 6.0, 5.0]]))
    assert {"tre.csv", "landmark_pairs.csv", "landmarks.csv"} <= {p.name for p in folder.iterdir()}
    report.write_evaluation(res, folder, labels=other)  # again without landmarks: theirs go, once the rest is in
    assert not {"tre.csv", "landmark_pairs.csv", "landmarks.csv"} & {p.name for p in folder.iterdir()}
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_write_evaluation_takes_one_labels_frame_and_fails_before_writing(tmp_path):
    """``report.write_evaluation`` with one (H, W) labels frame (the reference's, as every writer takes it) evaluates
    (it rewrote metrics and labels, then failed before plots.png); a bad annotation leaves the folder untouched;
    ``export_report`` takes the frame too, and refuses it for results of different references."""
    from napari_tlreg import report
    from napari_tlreg.result import RegistrationResult

    folder = _result_with_reference(tmp_path / "r", 0)
    res = RegistrationResult.load(folder)
    lab = np.zeros((32, 32), np.int32)
    lab[10:20, 10:20] = 1
    summary = report.write_evaluation(res, folder, labels=lab)
    assert (folder / "plots.png").is_file() and (folder / "propagated_labels.tif").is_file() and "mse" in summary
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    with pytest.raises(ValueError, match="do not match the frames"):
        report.write_evaluation(res, folder, labels=np.ones((5, 32, 32), np.int32))
    with pytest.raises(ValueError):
        report.write_evaluation(res, folder, labels=lab, landmarks=np.array([[1, 0, 5.0, 5.0], [1, 7, 5.0, 5.0]]))
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    out = report.export_report(res, tmp_path / "rep", labels=lab)
    assert (out / "report.json").is_file()
    other = RegistrationResult.load(_result_with_reference(tmp_path / "r1", 1))
    with pytest.raises(ValueError, match="one frame of labels goes on the reference"):
        report.export_report({"a": res, "b": other}, tmp_path / "rep2", labels=lab)


def test_python_dash_m_runs_the_command():
    """``python -m napari_tlreg`` is the ``napari-tlreg`` command."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "napari_tlreg", "methods"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "nmsr" in out.stdout and "tlrn" in out.stdout


def test_blank_frame_warning_says_when_later_frames_depend_on_it():
    """TLRN's temporal unit and NMSR's consecutive pairing carry a frame on to the next one away from the reference:
    the blank-frame warning says the frames beyond it suffer too (TLRN's error on the next frame rose by ~20 %);
    VoxelMorph and NMSR's reference pairing register each frame on its own and say nothing more."""
    from napari_tlreg.engines import get_engine

    frames = tl.load_sequence("cardiac").frames[:6].copy()
    frames[3] = 0.0
    said = {}
    for method, params in (("tlrn", {}), ("voxelmorph", {}), ("nmsr", {"iterations": 1, "levels": 1}),
                           ("nmsr", {"iterations": 1, "levels": 1, "pairing": "consecutive"})):
        seen = []
        tl.register(frames, method=method, on_warning=seen.append, **params)
        said[(method, params.get("pairing", ""))] = next(m for m in seen if "blank" in m)
    chained = "carries each frame on to the next one away from the reference, so the frames beyond it are less accurate too"
    assert said[("tlrn", "")].endswith("the method's guess; tlrn " + chained)
    assert said[("nmsr", "consecutive")].endswith("; nmsr " + chained)
    assert said[("voxelmorph", "")].endswith("the method's guess") and said[("nmsr", "")].endswith("the method's guess")
    assert not get_engine("hsyn").chains_frames(get_engine("hsyn").validate_params({}))


def test_a_cuda_index_beyond_the_gpus_is_a_value_error(monkeypatch):
    """``cuda:3`` on a machine with one GPU: a plain error naming the GPUs there (torch's "invalid device ordinal"
    came from deep inside a run). Checked with torch's CUDA queries stood in for (the CI machines have no GPU)."""
    import torch

    from napari_tlreg.core.ops import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"device 'cuda:3': this machine has 1 CUDA GPU \(cuda:0\)"):
        resolve_device("cuda:3")
    assert resolve_device("cuda:0") == torch.device("cuda", 0) and resolve_device("cuda") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ValueError, match=r"has 2 CUDA GPUs \(cuda:0 \.\. cuda:1\)"):
        resolve_device("cuda:2")


def test_cli_register_of_a_pair_with_the_default_method_says_what_pairs_want(tmp_path, capsys):
    """A satellite pair through `register` without --method ran the cine-trained default (tlrn) silently: on the real
    Sentinel-2 pair its median displacement was (+4.25, +3.65) px against (+1.8, -0.6)."""
    from napari_tlreg.io import save_stack

    frames = np.random.default_rng(0).random((2, 32, 32)).astype(np.float32)
    save_stack(tmp_path / "pair.tif", frames)
    rc, err, _ = _cli(["register", tmp_path / "pair.tif", "--out", tmp_path / "r", "--no-montage"], capsys)
    assert rc == 0 and ("napari-tlreg register: 2 frames: registering with tlrn (the default, trained on cine "
                        "sequences); for a pair of dates (satellite), --method hsyn (the viewer's choice) or multistep") in err, err
    save_stack(tmp_path / "three.tif", np.concatenate([frames, frames[:1]]))
    rc, err, _ = _cli(["register", tmp_path / "three.tif", "--out", tmp_path / "r3", "--no-montage"], capsys)
    assert rc == 0 and not any("pair of dates" in line for line in err)
    rc, err, _ = _cli(["register", tmp_path / "pair.tif", "--method", "tlrn", "--out", tmp_path / "r2", "--no-montage"],
                      capsys)
    assert rc == 0 and not any("pair of dates" in line for line in err)  # chosen: not second-guessed


def test_an_output_that_cannot_be_written_is_refused_before_the_run(tmp_path, capsys, shift_engine, good_tif, monkeypatch):
    """`--out /proc/x` or `--out a_file/sub` ran the whole registration, then failed with the hidden temporary
    folder's name ("No such file or directory: '/proc/.x.tmp-836c677f'")."""
    from napari_tlreg import api

    ran = []
    real = api.register
    monkeypatch.setattr(api, "register", lambda *a, **k: (ran.append(1), real(*a, **k))[1])
    (tmp_path / "afile").write_text("x")
    for out, match in ((tmp_path / "afile" / "sub", "afile is not a folder"),
                       (Path("/proc/napari_tlreg_out"), "does not let us write")):
        rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--out", out, "--no-montage"], capsys)
        _assert_one_line_error(rc, err, match=match)
        assert ".tmp-" not in err[-1]
    assert ran == []
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--out", tmp_path / "new" / "deep" / "r",
                       "--no-montage"], capsys)
    assert rc == 0 and ran == [1], err  # folders still to make, under one we may write: fine


def test_labels_without_the_reference_frame_are_said_to_carry_nothing(tmp_path, capsys, shift_engine, good_tif):
    """Expert contours drawn on end-diastole and end-systole only, the reference left at 0: every Dice and Hausdorff
    came out empty, exit 0, without a word."""
    lab = np.zeros((4, 32, 32), np.uint8)
    lab[2, 10:20, 10:20] = 1
    save_stack(tmp_path / "lab.tif", lab)
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--labels", tmp_path / "lab.tif",
                       "--reference", "0", "--out", tmp_path / "r", "--no-montage"], capsys)  # (without: frame 2)
    want = ("the reference frame (0) has no labels, so none are carried to the other frames and Dice and Hausdorff "
            "stay empty; labelled frames: 2 (register with one of them as the reference)")
    assert rc == 0 and f"napari-tlreg register: warning: {want}" in err, err
    rc, err, _ = _cli(["evaluate", tmp_path / "r", "--labels", tmp_path / "lab.tif"], capsys)
    assert rc == 0 and any(line.endswith(want) and "evaluate: warning" in line for line in err), err
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--labels", tmp_path / "lab.tif",
                       "--reference", "2", "--out", tmp_path / "r2", "--no-montage"], capsys)
    assert rc == 0 and not any("has no labels" in line for line in err), err
    from napari_tlreg import batch

    save_stack(tmp_path / "seq_labels.tif", lab)  # beside good_tif (seq.tif): its labels, in a batch
    row = batch.register_one({"name": "seq", "source": str(good_tif)}, shift_engine, str(tmp_path / "out"))
    assert row["status"] == "ok" and want in row["warning"], row
    # landmarks the same (2026-12-05, CLI review): none on the reference, evaluate wrote an empty TRE, exit 0, no word
    (tmp_path / "lm.csv").write_text("id,t,row,col\n0,2,10,10\n0,3,11,10\n1,3,20,20\n")
    said = ("no landmark lies on the reference frame (0), so no landmark has a partner to be measured against and "
            "TRE stays empty; landmarks on frames: 2, 3 (register with one of them as the reference)")
    rc, err, _ = _cli(["evaluate", tmp_path / "r", "--landmarks", tmp_path / "lm.csv"], capsys)
    assert rc == 0 and any(line.endswith(said) and "evaluate: warning" in line for line in err), err
    rc, err, _ = _cli(["register", good_tif, "--method", shift_engine, "--landmarks", tmp_path / "lm.csv",
                       "--reference", "0", "--out", tmp_path / "r3", "--no-montage"], capsys)  # (its labels: 2)
    assert rc == 0 and f"napari-tlreg register: warning: {said}" in err, err
    rc, err, _ = _cli(["evaluate", tmp_path / "r2", "--landmarks", tmp_path / "lm.csv"], capsys)  # reference 2
    assert rc == 0 and not any("no landmark lies" in line for line in err), err
    np.savez(tmp_path / "pts.npz", frames=load_sequence(good_tif).frames,  # a source with its landmarks, in a batch
             landmarks=np.array([[0, 2, 10, 10], [0, 3, 11, 10], [1, 3, 20, 20]], float))
    row = batch.register_one({"name": "pts", "source": str(tmp_path / "pts.npz")}, shift_engine, str(tmp_path / "o2"))
    assert row["status"] == "ok" and said in row["warning"], row


def test_corrupt_labels_masks_and_weights_are_one_line_errors(tmp_path, capsys):
    """A corrupt .npz given as --labels, to evaluate, or as NMSR's mask ended in zipfile.BadZipFile's traceback
    (rc 1); a corrupt .npy mask relayed numpy's advice to load it "unsafely", and a corrupt weights file torch's to
    re-run torch.load with weights_only=False."""
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    (tmp_path / "bad.pt").write_bytes(b"II*\x00garbage")
    assert cli.main(["register", "lemniscate", "--labels", str(bad), "--out", str(tmp_path / "r1")]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "bad.npz: not a readable .npz file (truncated or corrupt: File is not a zip file)")
    assert not (tmp_path / "r1").exists()
    assert cli.main(["register", "lemniscate", "--out", str(tmp_path / "r2"), "--no-montage"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "r2"), "--labels", str(bad)]) == 2
    assert "bad.npz: not a readable .npz file (truncated or corrupt: File is not a zip file)" in capsys.readouterr().err
    frames = load_sequence("echo").frames[:3]
    with pytest.raises(ValueError, match=r"^nmsr: mask file bad.npz is not readable \(truncated or corrupt: File is "
                                         r"not a zip file\)$"):
        tl.register(frames, method="nmsr", mask=str(bad))
    with pytest.raises(ValueError, match=r"^nmsr: mask file bad.npy is not readable \(no NumPy array in it: "
                                         r"truncated, corrupt or another format\)$"):
        tl.register(frames, method="nmsr", mask=str(tmp_path / "bad.npy"))
    with pytest.raises(ValueError, match=r"bad.pt: not a readable weights file \(corrupt, or not tensors alone: "
                                         r"weights are read with torch.load\(weights_only=True\)") as info:
        tl.register(load_sequence("lemniscate").frames[:3], weights=str(tmp_path / "bad.pt"))
    assert "False" not in str(info.value) and "\n" not in str(info.value)


def test_weights_that_do_not_fit_are_one_line_errors(tmp_path, capsys):
    """Shipped nmsr weights given to multistep, or a tlrn state_dict trained with another --net option, crashed
    register with a page of torch's "size mismatch" (exit 1); voxelmorph weights given to tlrn said only "missing
    ['units.0...']"."""
    import torch

    from napari_tlreg.engines.tlrn import build_net

    torch.save(build_net({"flow_level": 1}).state_dict(), tmp_path / "bare.pt")
    frames = load_sequence("lemniscate").frames[:3]
    with pytest.raises(ValueError, match=r"^weights 'nmsr_synth' are nmsr weights; multistep takes multistep weights"):
        tl.register(load_sequence("satellite").frames, method="multistep", weights="nmsr_synth")
    with pytest.raises(ValueError, match=r"do not fit the tlrn network: 1 of their tensors have other shapes \(e.g. "
                                         r"unet.final.0.0.weight: \(32, 32, 3, 3\), here \(32, 48, 3, 3\)\)"):
        tl.register(frames, weights=str(tmp_path / "bare.pt"))
    with pytest.raises(ValueError, match=r"^weights 'voxelmorph_cine64' are voxelmorph weights; tlrn takes tlrn"):
        tl.register(frames, weights="voxelmorph_cine64")
    assert tl.register(frames, method="voxelmorph", weights="tlrn_cine64").displacement.shape == (3, 2, 64, 64)
    assert cli.main(["register", "satellite", "--method", "hsyn", "--param", "weights=tlrn_cine64",
                     "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["napari-tlreg register: error: weights 'tlrn_cine64' are tlrn weights; hsyn "
                                        "takes hsyn weights (napari-tlreg train hsyn ... makes them)"]
    # (2026-12-05, error-message review) nmsr pasted torch's page, of which the CLI's one line kept "Error(s) in
    # loading state_dict for NMSRNet:", the sentence cut before it said what
    torch.save({"foo": torch.zeros(3)}, tmp_path / "foo.pt")
    assert cli.main(["register", "lemniscate", "--method", "nmsr", "--param", f"weights={tmp_path / 'foo.pt'}",
                     "--out", str(tmp_path / "n")]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("[nmsr]")]
    assert len(err) == 1 and "foo.pt' do not fit the nmsr network (missing ['" in err[0] and "unexpected ['foo']" in err[0]


def test_wrong_types_of_parameters_progress_and_cancel_are_value_errors():
    """API review: steps="7" raised a TypeError where the README promises a ValueError for any input register cannot
    use (a script catching ValueError crashed); progress=5 was "'int' object is not callable" from inside the engine."""
    frames = load_sequence("lemniscate").frames[:3]
    with pytest.raises(ValueError, match=r"^tlrn: steps must be an integer, got '7'$"):
        tl.register(frames, steps="7")
    with pytest.raises(ValueError, match=r"^progress must be a function progress\(done, total, message\), got 5$"):
        tl.register(frames, progress=5)
    with pytest.raises(ValueError, match=r"^cancel must be a threading.Event or a function returning True to stop"):
        tl.register(frames, cancel=5)
    assert tl.register(frames, cancel=lambda: False, progress=lambda *a: None).displacement.shape == (3, 2, 64, 64)


def test_run_params_take_a_sequences_pixel_size_as_register_does():
    """The batch's memory check made tlrn's scale from a pixel-unit sequence's nominal 1 x 1 as if in mm (0.5), where
    the run itself takes no pixel size (0.25): both now go through api.physical_size and api.run_params."""
    from napari_tlreg.api import physical_size, run_params
    from napari_tlreg.io import Sequence

    frames = np.zeros((2, 256, 256), np.float32)
    px = Sequence(frames, spacing=(1.0, 1.0), unit="px")
    mm = Sequence(frames, spacing=(1.37, 1.37), unit="mm")
    assert physical_size(px) == (None, None) and physical_size(mm) == ((1.37, 1.37), "mm")
    assert run_params("tlrn", {}, frames.shape, *physical_size(px))["scale"] == 0.25
    assert run_params("tlrn", {}, frames.shape, *physical_size(mm))["scale"] == 0.5


def test_a_broken_pipe_that_is_not_standard_outputs_is_an_error(monkeypatch, capsys):
    """Only the reader of the output going away ends the command silently (141): another pipe breaking (a Dask
    scheduler's connection) is an error like any other."""
    def broken(args):
        raise BrokenPipeError(32, "Broken pipe (to the scheduler)")

    monkeypatch.setattr(cli, "cmd_batch", broken)
    monkeypatch.setattr(cli, "_stdout_closed", lambda: False)
    assert cli.main(["batch", "lemniscate", "--method", "tlrn", "--out", "x"]) == 2
    assert "napari-tlreg batch: error: [Errno 32] Broken pipe (to the scheduler)" in capsys.readouterr().err


def test_a_reader_that_stops_reading_is_not_an_error_of_ours(tmp_path):
    """`napari-tlreg methods nmsr | head -3` ended "error: [Errno 32] Broken pipe", exit 2, on most runs (2026-12-05,
    CLI review): the exit status of a program that SIGPIPE ends, nothing on stderr. Deterministic: the pipe is closed
    before the command writes."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "napari_tlreg", "methods", "nmsr"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == "", err


def test_a_cancel_during_the_checks_is_taken_before_the_intensities_are_scaled(monkeypatch):
    """(2026-12-05, viewer review) On 8 x 4000 x 4000 Cancel waited ~7 s: the first check of the cancel came after
    the intensity scaling."""
    import napari_tlreg as tl
    from napari_tlreg.core import normalize as N

    scaled = []
    real = N.normalize
    monkeypatch.setattr(N, "normalize", lambda *a, **k: (scaled.append(1), real(*a, **k))[1])
    frames = load_sequence("lemniscate").frames
    with pytest.raises(tl.Cancelled):
        tl.register(frames, method="tlrn", cancel=lambda: True)
    assert scaled == []
    tl.register(frames, method="tlrn")
    assert scaled == [1]


_TERM_SCRIPT = """
import os, signal, sys
import napari_tlreg.io.writers as W
from napari_tlreg import cli

real, calls = W._fsync_file, []
def killed_midway(path):  # terminated as the output's files are flushed, before the folder is put in place
    calls.append(path)
    real(path)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGTERM)
W._fsync_file = killed_midway
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", ["register", "evaluate"])
def test_sigterm_while_writing_leaves_no_half_written_copy_and_keeps_the_earlier_output(tmp_path, command):
    """(2026-12-05, bad-input review) `timeout`, SLURM and `docker stop` end a run with SIGTERM, which nothing handled:
    killed while writing, `register` left a hidden half-written copy of its result beside --out (29 MB for 12x384x384,
    one more each time), never removed. SIGTERM is now an interrupt: the writer's clean-up runs, the earlier result
    stays, the exit status is 143."""
    import subprocess
    import sys

    from napari_tlreg.result import RegistrationResult

    frames = np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    save_stack(tmp_path / "seq.tif", frames)
    out = tmp_path / "out"
    rc = cli.main(["register", str(tmp_path / "seq.tif"), "--method", "voxelmorph", "--out", str(out), "--no-montage"])
    assert rc == 0
    before = RegistrationResult.load(out).runtime_s
    argv = (["register", str(tmp_path / "seq.tif"), "--method", "voxelmorph", "--out", str(out), "--no-montage"]
            if command == "register" else ["evaluate", str(out), "--report", str(tmp_path / "report")])
    if command == "evaluate":
        assert cli.main(argv) == 0
        before = json.loads((tmp_path / "report" / "report.json").read_text())
    proc = subprocess.run([sys.executable, "-c", _TERM_SCRIPT, *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 143, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == f"napari-tlreg {command}: terminated"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["seq.tif", "out"] + (["report"] if command == "evaluate" else []))
    if command == "register":
        assert RegistrationResult.load(out).runtime_s == before  # the earlier result, whole
    else:
        assert json.loads((tmp_path / "report" / "report.json").read_text()) == before


def test_a_killed_writes_leftovers_are_cleared_by_the_next_write_and_a_moved_aside_output_put_back(tmp_path):
    """(2026-12-05, bad-input review) SIGKILL (or a power cut) leaves atomic_dir's hidden temporary folders; only the
    batch cleared them, so every killed `register` or report left a full-size copy for good. A folder moved aside
    whose replacement never arrived is the only copy: put back, not deleted."""
    from napari_tlreg.io.writers import atomic_dir, remove_leftovers

    out = tmp_path / "out"
    for name in (".out.tmp-0badf00d", ".out.old-0badf00d"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "half.tif").write_bytes(b"II*\0")
    (tmp_path / ".other.tmp-0badf00d").mkdir()  # another output's: not this write's to clear
    (tmp_path / ".out.old-0badf00d" / "result.json").write_text("{}")  # the earlier result, moved aside
    remove_leftovers(out, "report.json")  # for a report it is no whole output: left as it is, out still missing
    assert not out.exists() and (tmp_path / ".out.old-0badf00d" / "result.json").is_file()
    assert not (tmp_path / ".out.tmp-0badf00d").exists()
    remove_leftovers(out, "result.json")  # for a result it is a whole one: put back
    assert (out / "result.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-0badf00d", "out"]
    (tmp_path / ".out.tmp-12345678").mkdir()
    with atomic_dir(out, replaces="result.json", kind="result") as tmp:
        (tmp / "result.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-0badf00d", "out"]
    # (code review) one killed while being deleted (no marker left) is no earlier output: removed, not put back,
    # and the write goes ahead (put back, it was refused after the run); of several whole ones the newest; a link not
    import shutil

    shutil.rmtree(out)
    (tmp_path / ".out.old-4a1f9011").mkdir()
    (tmp_path / ".out.old-4a1f9011" / "warped.tif").write_bytes(b"II*\0")
    with atomic_dir(out, replaces="result.json", kind="result") as tmp:
        (tmp / "result.json").write_text('"new"')
    assert (out / "result.json").read_text() == '"new"' and not (out / "warped.tif").exists()
    assert not (tmp_path / ".out.old-4a1f9011").exists()  # replaced by out: removed now
    shutil.rmtree(out)
    (tmp_path / ".out.old-0000000e").mkdir()  # another kind's whole output: left as it is while out is missing
    (tmp_path / ".out.old-0000000e" / "report.json").write_text("{}")
    remove_leftovers(out, "result.json")
    assert not out.exists() and (tmp_path / ".out.old-0000000e" / "report.json").is_file()
    shutil.rmtree(tmp_path / ".out.old-0000000e")
    for k, name in enumerate(("0000001a", "0000002b")):
        (tmp_path / f".out.old-{name}").mkdir()
        (tmp_path / f".out.old-{name}" / "result.json").write_text(f'"{name}"')
        os.utime(tmp_path / f".out.old-{name}", (1e9 + k, 1e9 + k))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "result.json").write_text('"linked"')
    (tmp_path / ".out.old-0000003c").symlink_to(elsewhere)
    os.utime(tmp_path / ".out.old-0000003c", (2e9, 2e9), follow_symlinks=False)
    remove_leftovers(out, "result.json")
    assert (out / "result.json").read_text() == '"0000002b"' and (tmp_path / ".out.old-0000003c").is_symlink()
    assert (elsewhere / "result.json").is_file() and not (tmp_path / ".out.old-0000001a").exists()


def test_sigterm_is_an_interrupt_for_every_command_but_view_and_only_while_it_runs():
    """(code review) `view` keeps Python's SIGTERM (napari's event loop would take the exception as a callback's
    error), and the handler is put back after a command (a program calling cli.main kept it)."""
    import signal

    before = signal.getsignal(signal.SIGTERM)
    with cli._sigterm_interrupts("view"):
        assert signal.getsignal(signal.SIGTERM) is before
    with cli._sigterm_interrupts("register"):
        handler = signal.getsignal(signal.SIGTERM)
        assert handler is not before
        with pytest.raises(cli.Terminated):
            handler(signal.SIGTERM, None)
    assert signal.getsignal(signal.SIGTERM) is before


def test_result_json_says_the_displacement_is_in_pixels_whatever_the_images_unit(tmp_path):
    """(2026-12-05, satellite review) displacement.tif carries a GeoTIFF's 10 m pixels, and nothing said its values
    are pixels, not metres: a GIS user read a 1.7 px shift as 1.7 m."""
    from napari_tlreg.result import ARRAY_NOTES

    frames = np.random.default_rng(0).random((2, 32, 32)).astype(np.float32)
    save_stack(tmp_path / "pair.tif", frames, (10.0, 10.0), unit="m")
    assert cli.main(["register", str(tmp_path / "pair.tif"), "--method", "hsyn", "--out", str(tmp_path / "r"),
                     "--no-montage"]) == 0
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    assert meta["unit"] == "m" and meta["displacement_unit"] == "px"
    assert set(meta["arrays"]) == {p.stem for p in (tmp_path / "r").glob("*.tif")} and "inverse" in meta["arrays"]
    assert "in pixels" in meta["arrays"]["displacement"] and "(row, col)" in meta["arrays"]["displacement"]
    assert meta["arrays"] == {k: ARRAY_NOTES[k] for k in meta["arrays"]}
    tl.RegistrationResult.load(tmp_path / "r")  # still a result folder the readers take


@pytest.mark.parametrize("name", ["x.tif", "x.nii.gz", "x.ome.tif"])
@pytest.mark.parametrize("values", [np.array([[1, None], [2, 3]], dtype=object), np.array([["a", "b"], ["c", "d"]])])
def test_save_stack_refuses_an_array_of_no_numbers_in_a_sentence(tmp_path, name, values):
    """(2026-12-05, bad-input review) An object array reached tifffile, whose ``KeyError: 'O'`` came out of the
    public writer."""
    with pytest.raises(ValueError, match=r"^x\.(tif|nii\.gz|ome\.tif): expected an array of numbers, got (object|<U1) "):
        save_stack(tmp_path / name, values)
    assert list(tmp_path.iterdir()) == []
    save_stack(tmp_path / name, np.ones((2, 3), np.complex64))  # complex numbers are numbers: written as before


# ---- found in review (2026-12-05): progress and cancel of the pair engines; one run's state kept from another's ----
def _pair_sequence(n_frames=5):
    frames = load_sequence("satellite").frames
    return np.stack([frames[0]] + [np.roll(frames[1], k, 1) for k in range(n_frames - 1)])


def test_the_results_own_stage_is_said_and_takes_a_cancel():
    """(2026-12-07, large-data review) After the engine's last word the warp, the Jacobian and the checks against the
    frames ran without a word or a cancel check: 19-37 s on 32x2048x2048 with the bar at 100 %, Cancel taken 25 s
    after the click. They are a stage of their own, cancellable between its steps."""
    frames = tl.load_sequence("lemniscate").frames
    calls = []
    tl.register(frames, method="tlrn", progress=lambda *a: calls.append(a))
    stage = [c for c in calls if c[2].startswith("checking the result")]
    assert [c[:2] for c in stage] == [(0, 3), (1, 3), (2, 3)] and calls[-1] == (1, 1, "done")
    for step in range(3):
        said = []

        def progress(*a, said=said):
            said.append(a)

        def cancel(said=said, step=step):
            return any(c[2].startswith("checking the result") and c[0] == step for c in said)

        with pytest.raises(tl.Cancelled):
            tl.register(frames, method="tlrn", progress=progress, cancel=cancel)
        assert said[-1][:2] == (step, 3)  # taken at once, before the next step


@pytest.mark.parametrize("method, after", [("hsyn", "invert"), ("multistep", "refinement_helps")])
def test_a_pair_engine_takes_a_cancel_after_its_last_pass(method, after, monkeypatch):
    """(2026-12-07, large-data review) One 2048² pair took 5.2 s to cancel: after the network's pass the inverse, the
    composition (hsyn) and the check of the refinement against the affine (multistep) ran on without a check."""
    from napari_tlreg.engines import hsyn, pairs

    target = hsyn.HSyNNet if after == "invert" else pairs
    real, ran = getattr(target, after), []
    monkeypatch.setattr(target, after, lambda *a, **k: (ran.append(1), real(*a, **k))[1])
    frames = _pair_sequence(2)
    passes = []
    last = 2 if method == "multistep" else 1  # multistep's two passes: as given and turned
    with pytest.raises(tl.Cancelled):
        tl.register(frames, method=method, progress=lambda d, t, m: passes.append(m),
                    cancel=lambda: len([m for m in passes if m.startswith("pair 1 of 1")]) >= last)
    assert len([m for m in passes if m.startswith("pair 1 of 1")]) == last and not ran


@pytest.mark.parametrize("method, passes", [("multistep", 2), ("hsyn", 1)])
def test_pair_engines_report_and_take_a_cancel_pair_by_pair(method, passes):
    """A pair engine reported and checked once per chunk of up to 8 pairs: a cancel at the first call took 12.4 s on
    9 frames of 256² (the whole run 10.6 s), the satellite sample's bar stayed at 0 the whole run, and the viewer's
    Cancel greyed out for ~3 s. Now a step per pair and network pass."""
    import threading

    frames = _pair_sequence(5)
    calls = []
    tl.register(frames, method=method, progress=lambda *a: calls.append(a))
    checking = [(0, 3), (1, 3), (2, 3)]  # the result's own stage (api.register)
    assert [c[:2] for c in calls] == [(k, 4 * passes) for k in range(4 * passes + 1)] + checking + [(1, 1)]
    assert calls[0][2] == "pair 1 of 4" and calls[-5][2] == "4 pair(s) registered" and calls[-1][2] == "done"
    if passes == 2:
        assert calls[4][2] == "pair 1 of 4 (turned)"
    stop, seen = threading.Event(), []

    def progress(*a):
        seen.append(a)
        if len(seen) == 2:
            stop.set()
    with pytest.raises(tl.Cancelled):
        tl.register(frames, method=method, progress=progress, cancel=stop)
    assert len(seen) == 2  # taken at the next pair's step, not after the chunk


def test_a_cancel_in_the_last_progress_call_is_taken(shift_engine):
    """API.md: once the event is set, register raises Cancelled. One set in the last call ("done") returned the
    result (the last call was made outside the run's checks)."""
    import threading

    n_calls = []
    tl.register(_seq(4), method=shift_engine, progress=lambda *a: n_calls.append(a))
    stop, seen = threading.Event(), []

    def progress(*a):
        seen.append(a)
        if len(seen) == len(n_calls):
            stop.set()
    with pytest.raises(tl.Cancelled):
        tl.register(_seq(4), method=shift_engine, cancel=stop, progress=progress)
    assert seen[-1] == (1, 1, "done")


def test_hsyn_inverse_belongs_to_its_own_run():
    """The learned inverse was kept on the engine, which every run in a process shares, and fetched after the run: a
    second hsyn run started in between (threads, a Dask worker with several, two viewers) left the first result with
    none (no inverse.tif; its track_points from the fixed-point inverse)."""
    frames = _pair_sequence(3)
    other = _pair_sequence(4)[1:][::-1].copy()
    seconds = []

    def progress(done, total, message):
        if message.endswith("pair(s) registered") and not seconds:
            seconds.append(tl.register(other, method="hsyn"))  # a second run, after the first's fields
    first = tl.register(frames, method="hsyn", progress=progress)
    alone = tl.register(frames, method="hsyn")
    assert first.inverse is not None and seconds[0].inverse is not None
    np.testing.assert_array_equal(first.inverse, alone.inverse)
    residual = np.abs(tl.compose(first.displacement[1], first.inverse[1]))[:, 16:-16, 16:-16]
    assert residual.mean() < 0.1


def test_nmsr_records_the_threads_it_ran_on():
    """threads=0 ("leave as is") was recorded as 0, though the fields depend on the count (1 vs 2 threads: up to
    0.15 px): a saved result could not be run again to its numbers on a machine of another core count."""
    import torch

    res = tl.register(_seq(3), method="nmsr", levels=1, iterations=1)
    assert res.params["threads"] == torch.get_num_threads() >= 1
    assert tl.register(_seq(3), method="nmsr", levels=1, iterations=1, threads=1).params["threads"] == 1


def test_a_truncated_tiff_opened_through_napari_logs_no_line_of_tifffile(tmp_path, caplog):
    """(2026-12-05, error-message review) `view` and File > Open printed tifffile's "<tifffile.TiffPages @8> invalid
    page offset ..." before the reader's one-line error: the check for a saved segmentation read the header outside
    the reader's catch of tifffile's log."""
    import logging

    from napari_tlreg import _hooks

    import tifffile

    good, bad = tmp_path / "ok.tif", tmp_path / "trunc.tif"
    tifffile.imwrite(good, np.random.default_rng(0).random((6, 32, 32)).astype(np.float32))  # a page a frame
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="tifffile"):
        with pytest.raises(SequenceReadError, match=f"^{bad.name}: "):
            _hooks.read_sequences(str(bad))
    assert [r.getMessage() for r in caplog.records if r.name.startswith("tifffile")] == []


def test_toolbox_errors_show_the_shapes_given():
    """(2026-12-05, error-message review) Errors named shapes with the batch axis the functions add: "got (1, 3, 32,
    32)" for a (3, 32, 32) field, "(1, 2, 32, 32) vs (1, 2, 16, 16)" for two (2, H, W) fields."""
    import torch

    with pytest.raises(ValueError, match=r"^displacement must be \(2, H, W\) or \(T, 2, H, W\), got \(3, 32, 32\)$"):
        tl.metrics.negative_jacobian_fraction(np.zeros((3, 32, 32)))
    with pytest.raises(ValueError, match=r"^fields differ in size: \(2, 32, 32\) vs \(2, 16, 16\)$"):
        tl.compose(np.zeros((2, 32, 32)), np.zeros((2, 16, 16)))
    with pytest.raises(ValueError, match=r"^fields differ in size: \(2, 32, 32\) vs \(3, 2, 16, 16\)$"):
        tl.compose(torch.zeros(2, 32, 32), torch.zeros(3, 2, 16, 16))


def test_cli_flags_and_files_are_refused_by_their_own_names(tmp_path, capsys, shift_engine):
    """(2026-12-05, error-message review) register --slice -1 was taken, then "out of range: the source has 1 slice
    position"; batch --workers 0 was the API's "n_workers must be ..."; --labels cardiac loaded the sample's frames as
    labels (and a missing labels file suggested sample names); evaluate on a missing folder said "not a result
    folder"; landmarks on a frame that does not exist lost the file's name (evaluate) or which landmark (the dock's
    loader, as_table)."""
    from napari_tlreg import landmarks as LM

    rc, err, _ = _cli(["register", "lemniscate", "--slice", "-1", "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match="--slice is a slice position, 0 or more, got -1")
    rc, err, _ = _cli(["batch", "lemniscate", "--method", shift_engine, "--out", tmp_path / "b", "--workers", "0"], capsys)
    _assert_one_line_error(rc, err, command="batch", match="--workers must be 1 or more, got 0")
    for labels in ("cardiac", "nonexist.tif"):
        rc, err, _ = _cli(["register", "lemniscate", "--method", shift_engine, "--labels", labels, "--out",
                           tmp_path / "o"], capsys)
        _assert_one_line_error(rc, err, match=f"{labels}: no such labels file or folder")
    rc, err, _ = _cli(["evaluate", tmp_path / "nothing"], capsys)
    _assert_one_line_error(rc, err, command="evaluate", match="nothing: no such folder")
    tl.register(_seq(4), method=shift_engine).save(tmp_path / "r")
    save_points_csv(tmp_path / "lm.csv", np.array([[1, 0, 5, 5], [1, 9, 6, 6]], float))
    rc, err, _ = _cli(["evaluate", tmp_path / "r", "--landmarks", tmp_path / "lm.csv"], capsys)
    _assert_one_line_error(rc, err, command="evaluate",
                           match="lm.csv: landmark id 1: frame 9 is out of range for 4 frames [0, 3]")
    with pytest.raises(ValueError, match=r"^landmark id 1: frame 9 is out of range for 4 frames \[0, 3\]$"):
        LM.as_table(np.array([[1, 0, 5, 5], [1, 9, 6, 6]], float), 4)


def test_frames_of_inverted_contrast_are_warned_of():
    """(2026-12-05, motion and intensity regimes review) Every other frame of inverted contrast: tlrn's fields 5 px off
    (voxelmorph's 7) where the motion was under 1 px, and no warning: the wrong fields lower the MSE, so the "worse
    than none" check passed. A frame that correlates negatively with the reference warped onto it is named."""
    frames = load_sequence("cardiac").frames[:5]
    notes: list[str] = []
    tl.register(frames, method="tlrn", on_warning=notes.append)
    assert not any("correlate negatively" in n for n in notes)
    flipped = frames.copy()
    flipped[1::2] = flipped.max() - flipped[1::2]
    notes.clear()
    tl.register(flipped, method="tlrn", on_warning=notes.append)
    said = [n for n in notes if "correlate negatively" in n]
    assert len(said) == 1 and said[0].startswith("tlrn: 2 frame(s) correlate negatively with the reference warped onto "
                                                 "them: 1 (-")
    assert ", 3 (-" in said[0] and "invert those frames first, or use nmsr" in said[0]
    from napari_tlreg.api import inverted_frames, inverted_message

    import torch

    x = torch.from_numpy(np.stack([frames[0]] * 3))
    blank = x.clone()
    blank[1] = 0.5  # a constant frame correlates with nothing: not "inverted"
    assert inverted_frames(blank, x, 0) == []
    noise = torch.from_numpy(np.random.default_rng(3).random((2, 32, 32)).astype(np.float32))
    weak = torch.stack([noise[0], -0.2 * noise[0] + 0.98 * noise[1]])  # a correlation of about -0.2: no inversion
    assert inverted_frames(weak, torch.stack([noise[0], noise[0]]), 0) == []
    many = [(t, -0.5) for t in range(1, 13)]
    assert inverted_message("tlrn", many).count("(-0.50)") == 5 and "13 frame" not in inverted_message("tlrn", many)
    assert "(-0.50) ...:" in inverted_message("tlrn", many) and "..." not in inverted_message("tlrn", many[:2])


# ---- found in review (2026-12-05): reproducibility and provenance ------------------------------------------------
def test_a_result_records_what_made_it_and_runs_again_from_its_record(tmp_path, shared_data):
    """result.json said weights "" (or only a path: the same path trained again gave fields 2.5 px apart under one
    record), the pair engines' "auto"/"as trained" values as 0, and no software version. It now records the weights'
    name and sha256, the values the run used, and the versions; the record alone runs it again to the same field."""
    import shutil

    import torch

    from napari_tlreg.engines.weights import model_card, resources_dir, sha256

    frames = load_sequence("cardiac").frames[:4]
    res = tl.register(frames, method="tlrn")
    res.save(tmp_path / "r")
    back = tl.RegistrationResult.load(tmp_path / "r")
    card = model_card("tlrn_cine64")
    assert back.provenance["weights"] == {"name": "tlrn_cine64", "sha256": card["sha256"]}
    assert back.provenance["versions"]["napari_tlreg"] == tl.__version__
    assert back.provenance["versions"]["torch"] == torch.__version__
    again = tl.register(back.frames, method=back.method, reference=back.reference, normalize=back.normalization,
                        **back.params)
    np.testing.assert_array_equal(again.displacement, res.displacement)
    # a checkpoint file: its path and the file's own sha256 (a file trained again into the path is another network)
    mine = tmp_path / "mine.pt"
    shutil.copy(resources_dir() / card["file"], mine)
    rec = tl.register(frames, method="tlrn", weights=str(mine)).provenance["weights"]
    assert rec == {"name": str(mine.resolve()), "sha256": sha256(mine)}
    assert set(back.provenance["versions"]) == {"napari_tlreg", "torch", "numpy", "scipy", "python"}
    other = tl.register(frames, method="tlrn", weights="tlrn_synth64").provenance["weights"]
    assert other == {"name": "tlrn_synth64", "sha256": model_card("tlrn_synth64")["sha256"]}
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        from napari_tlreg.engines.weights import identify

        assert identify("mine.pt", "tlrn_cine64")["name"] == str(mine.resolve())  # a relative path made absolute
    finally:
        os.chdir(here)
    # the pair engines record what ran, not "0: as trained / auto"
    params = tl.register(load_sequence("satellite"), method="multistep").params
    assert (params["steps"], params["c"], params["scale"]) == (3, 2.0, 1.0)
    assert tl.register(load_sequence("satellite"), method="hsyn").params["scale"] == 1.0
    from napari_tlreg.engines import get_engine

    for name in ("hsyn", "multistep"):  # 4x the 128 px they were trained at, at most: 1024 px runs at 512
        engine = get_engine(name)
        assert engine.for_frames(engine.validate_params({}), (2, 1024, 1024), None, "mm")["scale"] == 0.5
    # a sequence's source and slice position (a slice chosen by default was recorded as null)
    seq = load_sequence(shared_data / "sunnybrook" / "SCD0000101_crop128.npz")
    rec = tl.register(seq, method="tlrn").provenance
    assert rec["source"].endswith("SCD0000101_crop128.npz") and (rec["slice"], rec["n_slices"]) == (0, 9)
    # a sample by its name: its stored file holds other values than load_sequence(name) gives (the recipe re-ran the
    # echo's NMSR 0.78 px off from the file's path); the README's recipe, to the bit
    echo = load_sequence("echo")
    first = tl.register(echo, method="nmsr", levels=2, iterations=5)
    assert first.provenance["source"] == "echo"
    seq2 = first.source_sequence()
    again = tl.register(seq2, method=first.method, reference=first.reference, normalize=first.normalization,
                        **first.params)
    np.testing.assert_array_equal(again.displacement, first.displacement)
    # a checkpoint given by a relative path runs again from anywhere (params kept the path as typed)
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        relative = tl.register(frames, method="tlrn", weights="mine.pt")
    finally:
        os.chdir(here)
    assert relative.params["weights"] == str(mine.resolve())
    # nmsr's warm start is named only when it is used
    quick = dict(levels=1, iterations=1)
    assert tl.register(frames[:3], method="nmsr", **quick).provenance["weights"]["name"] == "nmsr_synth"
    assert "weights" not in tl.register(frames[:3], method="nmsr", init="random", **quick).provenance


@pytest.mark.parametrize("unit, spacing, match", [
    ("px", (2.0, 1.0), "unit 'px' is no physical size: give spacing=None"),
    ("", (2.0, 1.0), "unit '' is not a length unit napari-tlreg knows"),
    ("furlong", (2.0, 1.0), "unit 'furlong' is not a length unit napari-tlreg knows"),
    (5, (2.0, 1.0), "unit must be a length unit's name, such as 'mm' or 'm', got 5")])
def test_register_checks_the_unit_before_the_run(shift_engine, unit, spacing, match):
    """(2026-12-05, anisotropy review) Any unit was taken: ``"px"`` with a spacing gave ``hd_mm`` columns of values
    scaled by it under a result that said pixels, ``""`` columns named ``hd_``, and ``"furlong"`` results whose
    images were saved without their pixel size."""
    seen = []
    with pytest.raises(ValueError, match=match):
        tl.register(_seq(4), method=shift_engine, spacing=spacing, unit=unit, progress=lambda *a: seen.append(a))
    assert seen == []
    assert tl.register(_seq(4), method=shift_engine, unit="px").unit == "px"
    assert tl.register(_seq(4), method=shift_engine, spacing=(2.0, 1.0), unit="um").unit == "um"


def test_a_file_with_a_long_name_reads(tmp_path):
    """(2026-12-05, paths review) A legal 249-byte file name was refused as "truncated or corrupt: File name too long":
    the look for its labels beside it (``<stem>_labels.nii.gz``, 263 bytes) raised instead of finding none. With CJK
    names that is 81 characters."""
    for stem in ("s" * 245, "中" * 81):
        path = save_stack(tmp_path / f"{stem}.tif", _seq(3))
        seq = load_sequence(path)
        assert seq.shape == (3, 32, 32) and seq.labels is None


def test_register_refuses_an_out_folder_that_holds_its_own_input(tmp_path, monkeypatch, capsys):
    """(2026-12-05, paths review) An input copied into an earlier result folder, registered with ``--out`` that folder,
    was deleted by the result written there (rc 0), whose record then named a file gone; so were its labels."""
    monkeypatch.chdir(tmp_path)
    save_stack(tmp_path / "a.tif", _seq(3))
    assert cli.main(["register", "a.tif", "--method", "voxelmorph", "--out", "r", "--no-montage"]) == 0
    save_stack(tmp_path / "r" / "input.tif", _seq(3))
    save_stack(tmp_path / "own_labels.tif", np.ones((3, 32, 32), np.int32))
    (tmp_path / "r" / "own_labels.tif").write_bytes((tmp_path / "own_labels.tif").read_bytes())
    capsys.readouterr()
    assert cli.main(["register", "r/input.tif", "--method", "voxelmorph", "--out", "r", "--no-montage"]) == 2
    assert "r: holds input.tif, read by this run; writing the output there would delete it" in capsys.readouterr().err
    assert cli.main(["register", "a.tif", "--labels", "r/own_labels.tif", "--method", "voxelmorph", "--out", "r",
                     "--no-montage"]) == 2
    assert "holds own_labels.tif, read by this run" in capsys.readouterr().err
    assert (tmp_path / "r" / "input.tif").is_file() and (tmp_path / "r" / "own_labels.tif").is_file()
    (tmp_path / "r" / "link.tif").symlink_to(tmp_path / "a.tif")  # a link in it to a file elsewhere: the link would go
    assert cli.main(["register", "r/link.tif", "--method", "voxelmorph", "--out", "r", "--no-montage"]) == 2
    assert "holds link.tif, read by this run" in capsys.readouterr().err
    assert cli.main(["register", "a.tif", "--method", "voxelmorph", "--out", "r", "--no-montage"]) == 0  # a result's


def test_a_result_saved_to_home_loads_from_there(tmp_path, monkeypatch):
    """(2026-12-05, paths review) ``save("~/x")`` wrote ``$HOME/x`` but returned ``~/x`` (no such path), and
    ``load("~/x")`` said "no such folder"."""
    monkeypatch.setenv("HOME", str(tmp_path))
    res = tl.register(_seq(3), method="voxelmorph")
    saved = res.save("~/res")
    assert saved == tmp_path / "res" and saved.is_dir()
    assert np.array_equal(tl.RegistrationResult.load("~/res").displacement, res.displacement)


def test_a_writes_leftovers_are_its_own_only(tmp_path):
    """(2026-12-05, paths review) The leftovers of output ``a`` were found as ``.a.tmp-*``, which is also the folder
    being written for an output named ``a.tmp-1`` beside it (``.a.tmp-1.tmp-0f3c9a2b``): deleted mid-write."""
    from napari_tlreg.io.writers import remove_leftovers

    (tmp_path / ".a.tmp-1.tmp-0f3c9a2b").mkdir()
    (tmp_path / ".a.tmp-0f3c9a2b").mkdir()
    remove_leftovers(tmp_path / "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.tmp-1.tmp-0f3c9a2b"]


def test_a_gpu_out_of_memory_is_one_line_and_exit_2(shift_engine, tmp_path, monkeypatch, capsys):
    """(2026-12-05, device review) ``torch.OutOfMemoryError`` is a ``RuntimeError``: the CLI printed its traceback
    (exit 1) and the viewer reported it as a bug ("registration failed: OutOfMemoryError"), where the host's
    ``MemoryError`` gets one line. Any other RuntimeError is still a bug's traceback."""
    import torch

    from _test_engines import ShiftEngine
    from napari_tlreg._widgets.register import _run_job

    save_stack(tmp_path / "a.tif", _seq(3))

    def oom(self, *a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(ShiftEngine, "run", oom)
    assert cli.main(["register", str(tmp_path / "a.tif"), "--method", shift_engine, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"napari-tlreg register: error: out of memory; crop, downsample or split the sequence, or run "
                       "on another device (--device cpu)") and "Traceback" not in "".join(err)
    out = _run_job(_seq(3), False, None, __import__("threading").Event(), lambda *a: None,
                   {"method": shift_engine, "reference": 0, "device": "cpu", "normalize": "auto"},
                   {"base": "a"})
    assert out.kind == "error" and out.message.startswith("out of memory"), out

    def bug(self, *a, **k):
        raise RuntimeError("an engine's bug")

    monkeypatch.setattr(ShiftEngine, "run", bug)
    with pytest.raises(RuntimeError, match="an engine's bug"):
        cli.main(["register", str(tmp_path / "a.tif"), "--method", shift_engine, "--out", str(tmp_path / "o")])


def test_the_cli_takes_cuda_n_and_a_batch_checks_the_device_before_its_cluster(tmp_path, capsys):
    """(2026-12-05, device review) ``register --device cuda:1`` was argparse's "invalid choice" (the API and ``train``
    take it), and ``batch --device cuda`` on a machine without a GPU started a cluster and failed every sequence in
    its own row."""
    import torch

    from napari_tlreg.batch import run_batch

    save_stack(tmp_path / "a.tif", _seq(3))
    if not torch.cuda.is_available():
        assert cli.main(["register", str(tmp_path / "a.tif"), "--device", "cuda:1", "--out", str(tmp_path / "o")]) == 2
        assert "no CUDA GPU is available" in capsys.readouterr().err
        with pytest.raises(ValueError, match="no CUDA GPU is available"):
            run_batch([tmp_path / "a.tif"], "voxelmorph", tmp_path / "b", device="cuda")
        assert not (tmp_path / "b" / "summary.csv").exists()
    assert cli.main(["register", str(tmp_path / "a.tif"), "--device", "gpu", "--out", str(tmp_path / "o")]) == 2
    assert "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'" in capsys.readouterr().err


def test_a_sequence_with_a_pixel_size_registers_in_pixels_when_told(shift_engine):
    """(2026-12-05, diff review) ``register(seq, unit="px")`` took the Sequence's own spacing, then refused it: "unit
    'px' is no physical size: give spacing=None", a spacing the user had not given."""
    seq = tl.Sequence(_seq(3), spacing=(0.5, 0.5), unit="mm")
    res = tl.register(seq, method=shift_engine, unit="px")
    assert res.spacing is None and res.unit == "px"
    assert tl.register(seq, method=shift_engine).spacing == (0.5, 0.5)


def test_cli_evaluate_prints_standard_json(tmp_path, capsys):
    """A label missing from a frame has an infinite Hausdorff distance: stdout carried Python's ``Infinity`` (not JSON:
    JSON.parse failed on it, jq read 1.8e308) where metrics.json writes "inf"."""
    import json

    folder = _result_with_reference(tmp_path / "a", 0)
    lab = np.zeros((3, 32, 32), np.int32)
    lab[:, 10:20, 10:20] = 1
    lab[[0, 2], 2:6, 0:3] = 3  # on the reference and frame 2; carried by (-2, +3) px, it leaves frame 2: HD inf
    np.save(tmp_path / "lab.npy", lab)
    rc, err, out = _cli(["evaluate", folder, "--labels", tmp_path / "lab.npy"], capsys)
    assert rc == 0, err

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    doc = json.loads(out, parse_constant=refuse)
    saved = json.loads((folder / "metrics.json").read_text(), parse_constant=refuse)
    assert doc == saved["summary"] and "inf" in doc.values()


def test_two_writes_of_one_output_at_once_both_end_and_the_last_is_kept(tmp_path):
    """(2026-12-05, process review) ``register --out cc`` run twice at once: the second write took the first's folder
    in the making for a killed write's leftover and deleted it; the first failed after its whole run ("No such file or
    directory: '.cc.tmp-30c12916/montage.png'"). A folder left by a write that is gone is still cleared."""
    from napari_tlreg.io.writers import atomic_dir

    out = tmp_path / "cc"
    with atomic_dir(out, replaces="result.json") as first:
        (first / "result.json").write_text("first")
        with atomic_dir(out, replaces="result.json") as second:
            (second / "result.json").write_text("second")
        assert (out / "result.json").read_text() == "second" and first.is_dir()
        (first / "montage.png").write_bytes(b"png")  # the first goes on writing
    assert (out / "result.json").read_text() == "first" and (out / "montage.png").is_file()
    (tmp_path / ".cc.tmp-0f3c9a2b").mkdir()  # a killed write's: no one holds it
    with atomic_dir(out, replaces="result.json") as third:
        (third / "result.json").write_text("third")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cc"]


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="names must be UTF-8 there")
def test_a_name_that_is_not_utf8_is_written_and_batched(tmp_path, capsys, shift_engine):
    """(2026-12-05, process review) Linux allows any byte in a name: ``register --out $'bad\\xffname'`` ran the whole
    registration, then failed with "'utf-8' codec can't encode character '\\udcff'" (the temporary sibling's name),
    writing nothing; a cohort file so named failed the batch's stamp the same way."""
    from napari_tlreg.batch import _hashed, _stamp

    bad = os.fsdecode(b"bad\xffname")
    src = save_stack(tmp_path / f"{bad}.tif", _seq(3))
    rc, err, _ = _cli(["register", src, "--method", shift_engine, "--out", tmp_path / bad], capsys)
    assert rc == 0, err
    assert (tmp_path / bad / "result.json").is_file() and not [p for p in os.listdir(tmp_path) if p.startswith(".")]
    assert _stamp(src) is not None and _hashed({"name": bad, "source": str(src)}).startswith(bad)


def test_evaluate_keeps_the_figures_of_an_older_folder_that_kept_no_annotations(tmp_path, capsys):
    """(2026-12-05, upgrade review) A folder from before results kept their labels and landmarks: ``evaluate`` without
    them rewrote its metrics without the Dice and TRE ``register`` had recorded (a note said "image figures only")."""
    from napari_tlreg import report
    from napari_tlreg.result import RegistrationResult

    folder = _result_with_reference(tmp_path / "old", 0)
    lab = np.zeros((3, 32, 32), np.int32)
    lab[:, 10:20, 10:20] = 1
    report.write_evaluation(RegistrationResult.load(folder), folder, labels=lab)
    (folder / "labels.tif").unlink()  # as an older version left it
    (folder / "propagated_labels.tif").unlink(missing_ok=True)
    before = (folder / "metrics.json").read_bytes()
    rc, err, _ = _cli(["evaluate", folder], capsys)
    _assert_one_line_error(rc, err, command="evaluate", match="pass --labels, or its recorded figures would be lost")
    assert (folder / "metrics.json").read_bytes() == before
    np.save(tmp_path / "lab.npy", lab)
    rc, err, out = _cli(["evaluate", folder, "--labels", tmp_path / "lab.npy"], capsys)
    assert rc == 0 and json.loads(out)["dice"] is not None


def test_a_report_takes_two_versions_results_of_one_sequence():
    """(2026-12-05, upgrade review) One sequence normalised by two versions differs by float32's rounding (6e-8):
    "results of different sequences cannot share a report"."""
    from napari_tlreg.report import _check_one_sequence
    from napari_tlreg.result import RegistrationResult

    fr = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    u = np.zeros((3, 2, 16, 16), np.float32)

    def result(frames):
        return RegistrationResult(frames=frames, warped=frames, displacement=u, jacobian=np.ones((3, 16, 16), np.float32),
                                  method="m", reference=0)

    _check_one_sequence({"old": result(fr), "new": result(fr + np.float32(6e-8))})
    with pytest.raises(ValueError, match="different sequences"):
        _check_one_sequence({"a": result(fr), "b": result(np.roll(fr, 1, 1))})
    # (session 45 review) one file scaled two ways (an earlier version counted its no-data fill): said so, not "different
    # sequences"
    a, b = result(fr), result(0.5 + 0.5 * fr)
    a.provenance["source"] = b.provenance["source"] = "/data/dates.tif"
    with pytest.raises(ValueError, match=r"same file \(/data/dates.tif\) but hold its frames scaled otherwise"):
        _check_one_sequence({"a": a, "b": b})


def test_an_older_result_folder_keeps_its_unit_and_its_labels(tmp_path):
    """(2026-12-05, upgrade review) Folders saved before result.json recorded the unit (2026-12-04) loaded a map's
    10 m pixels as 10 mm (TRE 1000x off, under "mm"); their label TIFFs, written without the labels mark and spacing,
    opened as an image at scale 1 over frames at their pixel size."""
    import tifffile

    from napari_tlreg._hooks import read_sequences
    from napari_tlreg.result import RegistrationResult

    src = save_stack(tmp_path / "map.tif", _seq(3), spacing=(10.0, 10.0), unit="m")
    res = tl.register(tl.load_sequence(src), method="nmsr", iterations=1, final_iterations=1)
    assert res.unit == "m"
    res.save(tmp_path / "r")
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    del meta["unit"]  # as saved then, with the source in metrics.json (`register --out`)
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    (tmp_path / "r" / "metrics.json").write_text(json.dumps({"source": str(src), "spacing": [10.0, 10.0]}))
    assert RegistrationResult.load(tmp_path / "r").unit == "m"  # read from its source (metrics.json's)
    src.unlink()
    with pytest.warns(UserWarning, match="records no length unit"):
        assert RegistrationResult.load(tmp_path / "r").unit == "mm"
    # (2026-12-05, hostile files review) a source too large to be worth reading for a unit is not read (one of 30000²
    # took 44 s and 4.3 GB to load a 16x16 result): its header is refused, the unit taken as mm with the warning
    from napari_tlreg.io import readers

    # (diff review) a TIFF's or an npz's header says its unit, read alone: a 2 x 3000² map in metres kept "m"
    big = save_stack(tmp_path / "big.tif", np.zeros((2, 64, 64), np.float32), spacing=(10.0, 10.0), unit="m")
    np.savez(tmp_path / "big.npz", frames=np.zeros((2, 64, 64), np.float32), pixel_size_m=np.array(10.0))
    monkey = pytest.MonkeyPatch()
    monkey.setattr(readers, "RESULT_SOURCE_VOXELS", 2 * 64 * 64 - 1)
    monkey.setattr(readers, "load_sequence", lambda *a, **k: pytest.fail("read whole for its unit"))
    try:
        for source in (big, tmp_path / "big.npz"):
            (tmp_path / "r" / "metrics.json").write_text(json.dumps({"source": str(source), "spacing": [10.0, 10.0]}))
            assert RegistrationResult.load(tmp_path / "r").unit == "m"
    finally:
        monkey.undo()
    nii = tmp_path / "big.nii.gz"  # a NIfTI's is read whole, if small
    save_stack(nii, np.zeros((2, 64, 64), np.float32), spacing=(10.0, 10.0))
    (tmp_path / "r" / "metrics.json").write_text(json.dumps({"source": str(nii), "spacing": [10.0, 10.0]}))
    assert RegistrationResult.load(tmp_path / "r").unit == "mm"
    monkey.setattr(readers, "RESULT_SOURCE_VOXELS", 2 * 64 * 64 - 1)
    try:
        with pytest.warns(UserWarning, match="records no length unit"):
            assert RegistrationResult.load(tmp_path / "r").unit == "mm"
    finally:
        monkey.undo()
    tifffile.imwrite(tmp_path / "r" / "propagated_labels.tif", np.ones((3, 32, 32), np.int32))  # no mark, no spacing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (data, kw, kind), = read_sequences(str(tmp_path / "r" / "propagated_labels.tif"))
    assert kind == "labels" and tuple(kw["scale"]) == (1.0, 10.0, 10.0)


_FORKED_WORKER = """
import multiprocessing as mp, warnings
import numpy as np, torch
import napari_tlreg as tl
torch.set_num_threads(2)
frames = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
tl.register(frames, method="tlrn")  # the parent's thread pool started
def work(_):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = tl.register(frames, method="tlrn")
    return r.displacement.shape, [str(x.message) for x in w]
with mp.get_context("fork").Pool(1) as pool:
    try:
        print(pool.apply_async(work, (0,)).get(timeout=60))
    except mp.TimeoutError:
        print("HUNG")
        pool.terminate()
"""


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="no fork")
def test_a_forked_worker_registers_and_says_it_runs_on_one_thread():
    """(2026-12-05, pipeline review) ``multiprocessing.Pool`` (fork, Linux's default) after a registration in the
    parent: the worker's first convolution waited for ever (torch's OpenMP pool does not survive fork)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _FORKED_WORKER], capture_output=True, text=True, timeout=150)
    assert "HUNG" not in out.stdout and "(4, 2, 32, 32)" in out.stdout, (out.stdout, out.stderr[-2000:])
    assert "forked from one that ran torch on 2 threads" in out.stdout


def test_results_and_sequences_compare_as_objects_and_the_report_is_an_attribute():
    """(2026-12-05, pipeline review) ``res == copy(res)`` and ``res in [...]`` raised "truth value of an array is
    ambiguous" (a dataclass's == over its arrays), and neither hashed; ``tl.report`` and ``tl.batch`` were no
    attributes (README names ``napari_tlreg.batch.run_batch``)."""
    import copy

    seq = tl.Sequence(frames=_seq(3))
    res = tl.register(seq.frames, method="nmsr", iterations=1, final_iterations=1)
    for obj in (seq, res):
        other = copy.deepcopy(obj)
        assert obj == obj and obj != other and obj in [other, obj] and len({obj, other}) == 2
    assert callable(tl.report.write) and callable(tl.batch.run_batch)


def test_a_cropped_sequence_with_its_own_region_is_told_what_does_not_fit():
    """(2026-12-05, pipeline review) The echo cropped without its sector: "nmsr: mask of shape (128, 128) does not
    match frames of 64x64", at run time, for a mask the user never passed."""
    echo = tl.load_sequence("echo")
    crop = tl.Sequence(frames=echo.frames[:3, :64, :64], metadata=echo.metadata)
    with pytest.raises(ValueError, match=r"own region \(metadata\['mask'\], .*\) does not fit its frames \(64x64\)"):
        tl.register(crop, method="nmsr")
    res = tl.register(crop, method="nmsr", mask="", iterations=1, final_iterations=1)
    assert res.mask is None


def test_cli_params_read_as_people_write_them():
    """(2026-12-05, parameter review) ``--param diffeomorphic=True`` was refused with "must be True or False, got
    'True'", ``lr=.001`` with "must be a number, got '.001'" (JSON only; the rest kept as text)."""
    from napari_tlreg.cli import parse_params

    got = parse_params(["a=True", "b=.5", "c=07", "d=inf", "e=no", "f=ON", "g=1.", "h=nmsr_synth", "i=", "j=[1, 2]",
                        "k=true", "l=3"])
    assert got == {"a": True, "b": 0.5, "c": 7, "d": math.inf, "e": False, "f": True, "g": 1.0, "h": "nmsr_synth",
                   "i": "", "j": [1, 2], "k": True, "l": 3}
    assert type(got["c"]) is int and type(got["g"]) is float


def test_evaluate_takes_a_folder_registered_with_an_empty_landmarks_file(tmp_path, capsys):
    """(2026-12-05, diff review) Its metrics hold ``tre_n: 0`` and it keeps no landmarks.csv: the check for figures
    an older folder would lose counted the 0 as a TRE and refused a folder this version had just written."""
    src = save_stack(tmp_path / "seq.tif", _seq(3))
    (tmp_path / "empty.csv").write_text("id,t,row,col\n")
    rc, err, _ = _cli(["register", src, "--method", "tlrn", "--no-montage", "--landmarks", tmp_path / "empty.csv",
                       "--out", tmp_path / "r"], capsys)
    assert rc == 0, err
    rc, err, _ = _cli(["evaluate", tmp_path / "r"], capsys)
    assert rc == 0, err


def test_which_frames_validate_frames_rescales():
    """``api.rescaled_to_float32``: the dtypes validate_frames maps onto [0, 1] (the viewer's frame contrast is then
    taken from the layer's own values), the others kept as their values in float32."""
    from napari_tlreg.api import rescaled_to_float32, validate_frames

    for dtype in (np.float64, np.int32, np.uint32, np.int64, np.uint8, np.uint16, np.int16, np.float16, np.float32):
        raw = (np.arange(3 * 16 * 16).reshape(3, 16, 16) % 97 + 3).astype(dtype)
        out, _ = validate_frames(raw, 0)
        assert rescaled_to_float32(dtype) == (not np.array_equal(out, raw.astype(np.float32))), dtype


@pytest.mark.parametrize("method", ["tlrn", "nmsr"])
def test_register_leaves_the_callers_torch_random_stream_as_it_was(method):
    """(2026-12-05, notebook review) A notebook that seeded torch for its own work drew other numbers after a
    registration: building the networks (default initialisation, before the weights load) drew from torch's global
    generator, for every method."""
    import torch

    import napari_tlreg as tl

    frames = tl.load_sequence("cardiac").frames[:3]
    torch.manual_seed(0)
    expected = torch.rand(4)
    torch.manual_seed(0)
    tl.register(frames, method=method, **({"iterations": 2} if method == "nmsr" else {}))
    assert torch.equal(torch.rand(4), expected)
    torch.manual_seed(0)
    with pytest.raises(tl.Cancelled):
        tl.register(frames, method=method, cancel=lambda: True)
    assert torch.equal(torch.rand(4), expected)


def test_results_and_sequences_print_as_a_line():
    """(2026-12-05, notebook review) A cell ending with a result printed 19-29 kB of its arrays (427 lines), a
    sequence 9 kB: the method, reference, shape and runtime buried in them."""
    import napari_tlreg as tl

    seq = tl.load_sequence("cardiac")
    assert repr(seq) == "Sequence('cardiac', 20 frames of 128x128, spacing=(1.01562, 1.01562) mm, labels)"
    assert repr(tl.Sequence(frames=seq.frames[:1])) == "Sequence(1 frame of 128x128)"  # (API review: "1 frames")
    res = tl.register(seq.frames[:3], method="voxelmorph", spacing=(0.5, 0.25))
    text = repr(res)
    assert text.startswith("RegistrationResult(method='voxelmorph', 3 frames of 128x128, reference=0, "
                           "spacing=(0.5, 0.25) mm, device='cpu', runtime ") and "\n" not in text and len(text) < 200
    assert str(res) == text
    # a notebook shows a table: what the line says, with the worst folding and the source, escaped
    page = res._repr_html_()
    assert page.startswith("<table><caption>RegistrationResult</caption>") and page.endswith("</table>")
    for cell in ("<td style='text-align:left'>voxelmorph</td>", "<td style='text-align:left'>3 of 128 x 128</td>",
                 "<td style='text-align:left'>0.5 x 0.25 mm</td>", "worst folding", "not recorded"):
        assert cell in page, cell
    res.method = "<b>x</b>"
    assert "&lt;b&gt;x&lt;/b&gt;" in res._repr_html_() and "<b>" not in res._repr_html_()


@pytest.mark.parametrize("steps", [1.5, "7", -1, True, None])
def test_integrate_velocity_takes_a_whole_number_of_steps(steps):
    """(2026-12-05, notebook review) steps=1.5 ran one squaring and "7" seven, without a word."""
    import napari_tlreg as tl

    with pytest.raises(ValueError, match="steps must be a whole number of squarings >= 0, got"):
        tl.integrate_velocity(np.zeros((2, 8, 8), np.float32), steps=steps)
    assert tl.integrate_velocity(np.zeros((2, 8, 8), np.float32), steps=np.int64(3)).shape == (2, 8, 8)


@pytest.mark.parametrize("kw, why", [({"iterations": -1}, "iterations must be a whole number >= 1, got -1"),
                                     ({"iterations": 0}, "iterations must be a whole number >= 1, got 0"),
                                     ({"iterations": 2.5}, "iterations must be a whole number >= 1, got 2.5"),
                                     ({"tol": -1}, r"tol must be a number > 0 \(px\), got -1"),
                                     ({"tol": float("nan")}, r"tol must be a number > 0 \(px\), got nan"),
                                     ({"tol": "1e-3"}, r"tol must be a number > 0 \(px\), got '1e-3'"),
                                     ({"tol": True}, r"tol must be a number > 0 \(px\), got True"),
                                     ({"tol": float("inf")}, r"tol must be a number > 0 \(px\), got inf"),
                                     ({"tol": 10**400}, r"tol must be a number > 0 \(px\), got 1" + "0" * 39),
                                     ({"iterations": True}, "iterations must be a whole number >= 1, got True")])
def test_invert_takes_whole_iterations_and_a_positive_tolerance(kw, why):
    """(API review) ``iterations=-1`` or ``0`` returned ``-u`` without a word (0.18 px off where the default is 4e-5
    px), 2.5 ran 2, and a tolerance of -1 or NaN was taken."""
    import napari_tlreg as tl

    u = np.zeros((2, 8, 8), np.float32)
    with pytest.raises(ValueError, match=f"^{why}$"):
        tl.invert(u, **kw)
    assert tl.invert(u, iterations=np.int64(3), tol=1e-3).shape == (2, 8, 8)


@pytest.mark.parametrize("key, value, why", [
    ("reference", float("inf"), "reference must be a whole number, got inf"),
    ("reference", 1.7, "reference must be a whole number, got 1.7"),
    ("reference", True, "reference must be a whole number, got True"),
    ("spacing", [0, 0], "spacing values must be positive and finite"),
    ("spacing", [1.0, 2.0, 3.0], "spacing must have 2 values"),
    ("unit", {"a": 1}, "unit must be text"),
    ("params", "deep", "maximum recursion depth"),
    ("params", {"nodata": "0"}, "its no-data value must be a number, got '0'"),  # (viewer QA review: raised in the
    ("params", {"nodata": True}, "its no-data value must be a number, got True"),  # dock, half-way through showing it)
    ("params", {"nodata": float("nan")}, "its no-data value must be a number, got nan"),
    # (2026-12-07, bad-input review: "list indices must be integers or slices, not str", "cannot convert dictionary
    # update sequence element #0 to a sequence", a reference of 401 digits said whole)
    ("*", [1], "result.json holds list [1], not a result's record of names and values"),
    ("params", [1], "its params holds list [1], not a result's record of names and values"),
    ("provenance", "text", "its provenance holds str 'text', not a result's record of names and values"),
    ("reference", 10 ** 400, "reference 1" + "0" * 38 + "… of 2 frames"),
])
def test_a_hostile_result_json_is_an_unreadable_folder(tmp_path, key, value, why):
    """(2026-12-05, hostile files and save/open reviews) A result.json with a reference of Infinity or params nested
    100000 deep raised OverflowError and RecursionError; spacing [0, 0], [NaN, -inf] or three values, a reference of
    1.7 (frame 1) or a unit that is a dict loaded, and a spacing of 0 then raised in the viewer's docks."""
    import napari_tlreg as tl

    res = tl.register(tl.load_sequence("cardiac").frames[:2, :32, :32], method="voxelmorph", spacing=(1.0, 1.0))
    res.save(tmp_path / "r")
    path = tmp_path / "r" / "result.json"
    text = path.read_text()
    meta = json.loads(text)
    if value == "deep":
        path.write_text(text.replace('"params": {', '"params": {"x": ' + "[" * 100000 + "]" * 100000 + ", ", 1))
    elif key == "*":
        path.write_text(json.dumps(value))
    else:
        meta[key] = value
        path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=rf"(unreadable|inconsistent) result folder:? \(?.*{re.escape(why)}"):
        tl.RegistrationResult.load(tmp_path / "r")


@pytest.mark.parametrize("name, value, why", [("frames", np.nan, "frames.tif holds NaN or infinite values"),
                                             ("warped", np.inf, "warped.tif holds NaN or infinite values"),
                                             ("displacement", 1e30, "displacement.tif moves pixels more than 320 px"),
                                             ("displacement", np.nan, "displacement.tif holds NaN or infinite values"),
                                             ("jacobian", np.nan, "jacobian.tif holds NaN or infinite values"),
                                             ("inverse", np.inf, "inverse.tif holds NaN or infinite values")])
def test_a_result_folder_of_values_no_run_makes_is_refused(tmp_path, name, value, why):
    """(viewer QA review) A displacement.tif of 1e30 opened as "worst folding 0.00 %" (the Jacobian is the file's), a
    NaN jacobian.tif as "100.00 %"."""
    import tifffile

    import napari_tlreg as tl

    res = tl.register(tl.load_sequence("cardiac").frames[:2, :32, :32], method="voxelmorph")
    res.inverse = -res.displacement  # (hsyn's learned inverse is saved; a NaN one loaded)
    res.save(tmp_path / "r")
    bad = np.full_like(getattr(res, name), value)
    tifffile.imwrite(tmp_path / "r" / f"{name}.tif", bad, photometric="minisblack")
    with pytest.raises(ValueError, match=rf"unreadable result folder \({re.escape(why)}"):
        tl.RegistrationResult.load(tmp_path / "r")


def test_a_tracked_result_saves_no_inverse_it_was_not_given():
    """(2026-12-05, save/open review) Tracking points cached the numerical inverse as the result's ``inverse``: saved,
    a voxelmorph result wrote an inverse.tif and came back as if its engine had learned one (as hsyn's)."""
    import tempfile

    import napari_tlreg as tl

    res = tl.register(tl.load_sequence("cardiac").frames[:3, :32, :32], method="voxelmorph")
    tracked = res.track_points(np.array([[10.0, 12.0]]))
    assert tracked.shape == (3, 1, 2) and res.inverse is None
    with tempfile.TemporaryDirectory() as d:
        res.save(Path(d) / "r")
        assert not (Path(d) / "r" / "inverse.tif").exists()
        assert tl.RegistrationResult.load(Path(d) / "r").inverse is None


def test_labels_and_landmarks_on_the_reference_only_are_said_plainly(tmp_path, capsys, shift_engine):
    """One labels file of the reference's (the propagation use) gave no Dice and said nothing, as did landmarks on the
    reference only: register and batch say so, as a note (not a warning: it is a use of its own); labels on two
    frames say nothing."""
    import tifffile

    from napari_tlreg.batch import register_one
    from napari_tlreg.metrics import reference_only

    frames = _seq(4)
    np.save(tmp_path / "seq.npy", frames)
    one = np.zeros((32, 32), np.uint8)
    one[8:20, 8:20] = 1
    tifffile.imwrite(tmp_path / "ref.tif", one)
    np.savetxt(tmp_path / "pts.csv", [[1, 0, 10.0, 12.0], [2, 0, 20.0, 9.0]], delimiter=",",
               header="id,t,row,col", comments="")
    rc, err, _ = _cli(["register", tmp_path / "seq.npy", "--labels", tmp_path / "ref.tif", "--landmarks",
                       tmp_path / "pts.csv", "--method", shift_engine, "--out", tmp_path / "o", "--no-montage"], capsys)
    assert rc == 0, err
    said = [line for line in err if "only" in line]
    assert said == [
        "napari-tlreg register: labels on the reference frame (0) only: carried to every frame, with no other frame's "
        "labels to score them against, so no Dice or Hausdorff (label another frame too, as end-systole, to score them)",
        "napari-tlreg register: landmarks on the reference frame (0) only: tracked to every frame, with no other "
        "frame's to measure them against, so no TRE (place the same ids on another frame to measure it)"], err
    assert not any("warning" in line for line in err), err
    both = np.zeros((4, 32, 32), np.uint8)
    both[0], both[2] = one, np.roll(one, 2, 0)
    assert reference_only(both, np.array([[1, 0, 10.0, 12.0], [1, 2, 12.0, 10.0]]), 0) == []
    assert reference_only(both, None, 2) == []  # labels elsewhere than on the reference: not this case
    np.save(tmp_path / "seq_labels.npy", np.where(np.arange(4)[:, None, None] == 0, one, 0).astype(np.uint8))
    assert tl.load_sequence(tmp_path / "seq.npy").metadata["labels_source"] == str(tmp_path / "seq_labels.npy")
    row = register_one({"name": "seq", "source": str(tmp_path / "seq.npy")}, shift_engine, str(tmp_path / "b"),
                       montage=False)
    assert row["status"] == "ok" and row["warning"] is None, row
    assert row["note"].startswith("labels on the reference frame (0) only: carried to every frame"), row


# ---- found in review (session 51, bad-input fuzzing) ----------------------------------------------------------------
def test_odd_files_are_named_for_what_they_are(tmp_path, capsys):
    """A one-frame TIFF's "needs at least 2 frames, got 1" named no file (every reader's error does); a TIFF of 0
    frames read as "truncated"; a dangling symbolic link as "no such file ... (and not a sample name ...)"; a
    writer's fractional frame index as ``np.float64(0.5)``."""
    import tifffile

    from napari_tlreg import _hooks
    from napari_tlreg.io import load_sequence

    one = tmp_path / "one.tif"
    tifffile.imwrite(one, np.zeros((1, 16, 16), np.float32))
    rc, err, _ = _cli(["register", one, "--method", "voxelmorph", "--out", tmp_path / "o"], capsys)
    _assert_one_line_error(rc, err, match=f"{one}: a sequence needs at least 2 frames to register, got 1")
    empty = tmp_path / "zeroframes.tif"
    with pytest.warns(UserWarning, match="zero-size"):  # tifffile writes it, with a word
        tifffile.imwrite(empty, np.zeros((0, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"zeroframes.tif: holds no image data \(shape \(0, 16, 16\)\)"):
        load_sequence(empty)
    dangling = tmp_path / "dangling.tif"
    dangling.symlink_to(tmp_path / "gone.tif")
    with pytest.raises(FileNotFoundError, match="dangling.tif: a symbolic link to nothing"):
        load_sequence(dangling)
    with pytest.raises(_hooks.WriteRefused, match=r"pf.csv: t must be an integer, got 0.5 \(point 0\)$"):
        _hooks.write_points(str(tmp_path / "pf.csv"), np.array([[0.5, 1.0, 2.0]]), {})
    assert not (tmp_path / "o").exists() and not (tmp_path / "pf.csv").exists()


def test_an_npz_of_several_stacks_says_which_it_registers(tmp_path):
    """Two unrelated stacks (``foo`` 4x32x32, ``bar`` 5x16x16): the first was registered without a word, where two
    sets of 2-D images are refused as ambiguous."""
    from napari_tlreg.io import load_sequence

    p = tmp_path / "nokeys3.npz"
    np.savez(p, foo=np.zeros((4, 32, 32), np.float32), bar=np.ones((5, 16, 16)))
    with pytest.warns(UserWarning, match=r"nokeys3.npz: npz holds several stacks \(foo 4x32x32 float32, bar 5x16x16 "
                                         r"float64\): registering 'foo', the first; save the frames as 'frames'"):
        seq = load_sequence(p)
    assert seq.frames.shape == (4, 32, 32)


def test_a_label_over_the_whole_reference_is_said_to_score_nothing(tmp_path, capsys):
    """Labels of -1 everywhere (an "ignore" mask) gave Dice 1 and HD95 0 on every frame without a word."""
    from napari_tlreg.metrics import unannotated_reference

    lab = np.full((3, 16, 16), -1, np.int32)
    said = unannotated_reference(lab, None, 1)
    assert said == ["label -1 covers the whole reference frame (1), so carried to every frame it covers each whole: "
                    "its Dice and Hausdorff measure how much of a frame is labelled, not the registration (is this a "
                    "segmentation?)"]
    lab[:, :4] = 0
    assert unannotated_reference(lab, None, 1) == []
    # 0 everywhere is no label covering the frame: it is no label at all (2026-12-07: it went unsaid)
    assert unannotated_reference(np.zeros_like(lab), None, 1) == [
        "the labels hold no label (0 on every frame): nothing is carried to the other frames, and Dice and Hausdorff "
        "stay empty"]
    seq = tmp_path / "seq.npy"
    np.save(seq, np.random.default_rng(0).random((3, 16, 16)).astype(np.float32))
    np.save(tmp_path / "neg.npy", np.full((16, 16), -1, np.int32))
    rc, err, _ = _cli(["register", seq, "--method", "voxelmorph", "--labels", tmp_path / "neg.npy",
                       "--out", tmp_path / "o"], capsys)
    assert rc == 0 and any("label -1 covers the whole reference frame (0)" in line for line in err), err


def test_a_result_load_would_refuse_is_not_saved(tmp_path):
    """(2026-12-07, API review) A Jacobian blanked with NaN for a figure, or a displacement of the wrong shape, was saved
    without a word, and RegistrationResult.load then refused the folder: refused at save now, nothing written."""
    from napari_tlreg.result import RegistrationResult

    f = np.zeros((3, 16, 16), np.float32)
    u = np.zeros((3, 2, 16, 16), np.float32)
    res = RegistrationResult(f, f.copy(), u, np.ones_like(f), "tlrn")
    jac = res.jacobian.copy()
    res.jacobian[:, :4] = np.nan
    with pytest.raises(ValueError, match=r"^not saved: RegistrationResult.load would refuse it \(.*jacobian.tif holds "
                                         r"NaN or infinite values\); put the arrays right first$"):
        res.save(tmp_path / "nan")
    assert not (tmp_path / "nan").exists()
    res.jacobian = jac
    res.displacement = np.zeros((3, 2, 8, 16), np.float32)
    with pytest.raises(ValueError, match=r"displacement.tif is \(3, 2, 8, 16\), not \(3, 2, 16, 16\)"):
        res.save(tmp_path / "shape")
    assert not (tmp_path / "shape").exists()
    res.displacement = u
    assert RegistrationResult.load(res.save(tmp_path / "ok")).frames.shape == (3, 16, 16)


def test_frames_given_time_last_are_said_and_a_long_list_is_refused_before_its_copy():
    """(2026-12-07, API review) A (48, 48, 20) cine, time last, ran as 48 frames of 48x20 with a flicker warning only;
    (64, 64, 4) was "too small" with no word of the axes; a list of ten 4096² frames was copied (738 MB) to be refused."""
    import tracemalloc

    rng = np.random.default_rng(0)
    f = rng.random((20, 48, 48)).astype(np.float32)
    notes = []
    tl.register(np.moveaxis(f, 0, -1), method="tlrn", on_warning=notes.append)
    assert any("frames of shape (48, 48, 20) are taken as 48 frames of 48x20 (T, H, W): if the last axis is time, "
               "pass np.moveaxis(frames, -1, 0)" in n for n in notes), notes
    notes.clear()
    tl.register(f, method="tlrn", on_warning=notes.append)
    assert not [n for n in notes if "moveaxis" in n]
    with pytest.raises(ValueError, match=r"too small \(minimum 8x8\); frames \(64, 64, 4\) given \(H, W, T\)\? pass "
                                         r"np.moveaxis\(frames, -1, 0\)"):
        tl.register(np.zeros((64, 64, 4), np.float32))
    big = [np.zeros((4096, 4096), np.float32)] * 10
    tracemalloc.start()
    with pytest.raises(ValueError, match="exceeds the limit"):
        tl.register(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6, peak
    # (second diff review) frames of different sizes said so, whichever comes first
    for given in ([np.zeros((4, 4)), np.zeros((32, 32)), np.zeros((32, 32))], [np.zeros((32, 32)), np.zeros((4, 4))]):
        with pytest.raises(ValueError, match=r"^frames of different sizes \((32x32, 4x4|4x4, 32x32)\): every frame must "
                                             r"have one size$"):
            tl.register(given)
    assert tl.jacobian_determinant(np.zeros((2, 8, 8), np.longdouble)).shape == (8, 8)  # torch has no long double


def test_the_toolbox_refuses_what_is_no_array_of_numbers_in_its_own_words():
    """(2026-12-07, API review) tl.warp(img, None) and tl.jacobian_determinant("abc") raised torch's TypeError
    ("can't convert np.ndarray of type numpy.object_") from deep inside; register said it plainly."""
    img = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match=r"^displacement must be an array of numbers, got None$"):
        tl.warp(img, None)
    with pytest.raises(ValueError, match=r"^displacement must be an array of numbers, got 'abc'$"):
        tl.jacobian_determinant("abc")
    with pytest.raises(ValueError, match=r"^image must be an array of numbers, got an array of dtype <U1$"):
        tl.warp(np.full((8, 8), "x"), np.zeros((2, 8, 8)))


def test_evaluate_of_no_result_says_what_it_takes():
    """(2026-12-07, API review) evaluate(frames, labels=...) raised "'numpy.ndarray' object has no attribute 'frames'"."""
    with pytest.raises(TypeError, match=r"^evaluate takes a RegistrationResult \(tl.register\(...\) or "
                                        r"RegistrationResult.load\(folder\)\), got ndarray$"):
        tl.metrics.evaluate(np.zeros((3, 8, 8)))


def test_warnings_name_the_users_line_not_the_package(shared_data):
    """A notebook's warning names the cell's line that called: every ``register`` warning named ``api.py``'s wrapper
    (``return fn(*args, **kwargs)``: its fixed stacklevel did not count the wrapper) (API review, 2026-12-07)."""
    import warnings

    frames = tl.load_sequence("cardiac").frames[:6].copy()
    frames[3] = 0.5  # a blank frame: warned
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tl.register(frames, method="voxelmorph")
        line = sys._getframe().f_lineno - 1
    said = [w for w in caught if "constant" in str(w.message)]
    assert said and all((w.filename, w.lineno) == (__file__, line) for w in said), [(w.filename, w.lineno) for w in said]
    with warnings.catch_warnings(record=True) as caught:  # a reader's, however deep
        warnings.simplefilter("always")
        load_sequence(shared_data / "dicom" / "heart_cine_multiframe_16x256x256.dcm")
        line = sys._getframe().f_lineno - 1
    assert caught and all((w.filename, w.lineno) == (__file__, line) for w in caught if w.category is UserWarning)


def test_a_warning_through_a_context_manager_or_a_symlinked_home_names_the_users_line(tmp_path, monkeypatch):
    """(Diff review, 2026-12-07) A warning from inside ``atomic_dir`` named contextlib's ``__exit__``, and imported
    through a symlinked path every warning named the package's own line (the frames' file names are not resolved)."""
    import subprocess
    import warnings

    from napari_tlreg.io import writers

    res = tl.register(tl.load_sequence("cardiac").frames[:4], method="voxelmorph")
    res.save(tmp_path / "r")
    monkeypatch.setattr(writers, "_salvage", lambda old, target, replaces: ["my_notes.txt"])  # a file not moved
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res.save(tmp_path / "r")
        line = sys._getframe().f_lineno - 1
    said = [w for w in caught if "my_notes.txt" in str(w.message)]
    assert said and all((w.filename, w.lineno) == (__file__, line) for w in said), [(w.filename, w.lineno) for w in said]
    (tmp_path / "link").symlink_to(Path(tl.__file__).resolve().parents[1], target_is_directory=True)
    script = tmp_path / "user.py"
    script.write_text("import warnings, numpy as np\nimport napari_tlreg as tl\nwarnings.simplefilter('always')\n"
                      "f = np.random.default_rng(0).random((4, 32, 32)).astype('float32'); f[2] = 0.5\n"
                      "tl.register(f, method='voxelmorph')\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(tmp_path / "link"), "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0 and f"{script}:5: UserWarning: frame 2 is constant" in out.stderr, out.stderr[-2000:]


def test_a_folder_or_file_this_user_may_not_read_is_said_so(tmp_path, monkeypatch, capsys):
    """(2026-12-07, bad-input review, run as a user without root's override) A folder of mode 000 gave "[Errno 13]
    Permission denied: '.../result.json'", a file nobody wrote, read as an output problem; in a batch it stopped every
    sequence; a file of mode 000 was "truncated or corrupt". (Root reads anything: the refusals are simulated.)"""
    import os as _os
    from pathlib import Path

    from napari_tlreg import batch
    from napari_tlreg.io import readers
    from napari_tlreg.io.readers import SequenceReadError, _damaged

    locked = tmp_path / "locked"
    locked.mkdir()
    save_stack(locked / "a.tif", _seq(3, 32, 32))
    real_access = _os.access
    monkeypatch.setattr(readers.os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    with pytest.raises(SequenceReadError, match=r"^locked: permission denied: this user may not read the folder$"):
        load_sequence(locked)
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    good = save_stack(tmp_path / "good.tif", _seq(3, 32, 32))
    items = batch.expand_inputs([locked, good])
    assert [(it["name"], it["error"]) for it in items] == [
        ("locked", "locked: permission denied: this user may not read the folder"), ("good", None)]
    wrapped = ValueError("a library's own words")  # a reader's library raising its own error from the refusal
    wrapped.__cause__ = PermissionError(13, "Permission denied")
    assert _damaged(wrapped) == "permission denied: this user may not read it"
    assert _damaged(ValueError("bad magic")) == "truncated or corrupt: bad magic"


def test_weights_under_home_and_a_truncated_weights_file(tmp_path, monkeypatch):
    """(2026-12-07, training review) ``weights="~/mine.pt"`` was "not found" for tlrn, voxelmorph, multistep and hsyn
    (nmsr read it); a weights file cut short said torch's text cut off before it said it was corrupt."""
    import shutil

    from napari_tlreg.engines.weights import resources_dir

    monkeypatch.setenv("HOME", str(tmp_path))
    for name, method in (("tlrn_cine64", "tlrn"), ("multistep_satellite128", "multistep")):
        shutil.copy(resources_dir() / "weights" / f"{name}.pt", tmp_path / "mine.pt")
        res = tl.register(_seq(2 if method == "multistep" else 3, 32, 32), method=method, weights="~/mine.pt")
        assert res.provenance["weights"]["name"] == str(tmp_path / "mine.pt"), res.provenance["weights"]
    data = (tmp_path / "mine.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.pt: not a readable weights file \(truncated or corrupt: its archive is "
                                         r"incomplete"):
        tl.register(_seq(3, 32, 32), method="tlrn", weights=str(tmp_path / "cut.pt"))
