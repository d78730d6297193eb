"""Bundled samples: names, shapes, dtypes, ground truth, and that the stored files are reproducible."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from napari_tlreg._paths import samples_dir
from napari_tlreg.io.bundled import RECIPES, load_sample, samples

NAMES = {"lemniscate", "cardiac", "echo", "satellite", "echo_real"}
SYNTHETIC = {
    # name: (frames shape, has labels, has landmarks, unit)
    "lemniscate": ((12, 64, 64), False, False, "px"),
    "cardiac": ((20, 128, 128), True, False, "mm"),
    "echo": ((24, 128, 128), True, False, "mm"),
    "satellite": ((2, 256, 256), False, True, "m"),
}


def _warp_np(image, u):
    h, w = image.shape
    rr, cc = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    return ndimage.map_coordinates(np.asarray(image, np.float64), np.stack([rr + u[0], cc + u[1]]), order=1, mode="nearest")


def test_sample_names_and_descriptions():
    s = samples()
    assert set(s) == NAMES
    for name, desc in s.items():
        assert isinstance(desc, str) and desc.strip() and "\n" not in desc, name
    assert set(RECIPES) == NAMES - {"echo_real"}


def test_unknown_sample_lists_known_names():
    with pytest.raises(ValueError) as e:
        load_sample("no-such-sample")
    for name in NAMES:
        assert name in str(e.value)


@pytest.fixture(scope="module", params=sorted(SYNTHETIC))
def stored(request):
    return request.param, load_sample(request.param)


def test_stored_sample_shapes_and_dtypes(stored):
    name, seq = stored
    shape, has_labels, has_landmarks, unit = SYNTHETIC[name]
    assert seq.name == name
    assert seq.frames.shape == shape and seq.frames.dtype == np.float32
    assert 0 <= seq.frames.min() and seq.frames.max() <= 1
    assert seq.unit == unit and seq.spacing is not None and all(s > 0 for s in seq.spacing)
    u = seq.metadata["displacement"]
    assert u.shape == (shape[0], 2, *shape[1:]) and u.dtype == np.float32
    assert np.all(u[0] == 0)
    if has_labels:
        assert seq.labels is not None and seq.labels.shape == shape
        assert all((seq.labels[t] == 1).any() for t in range(shape[0])), "a frame without myocardium label"
    else:
        assert seq.labels is None
    if has_landmarks:
        lm = seq.landmarks
        assert lm.shape == (30, 4)
        assert sorted(lm[lm[:, 1] == 0, 0].astype(int)) == list(range(15))
        assert sorted(lm[lm[:, 1] == 1, 0].astype(int)) == list(range(15))
    else:
        assert seq.landmarks is None
    if name == "echo":
        mask = seq.metadata["mask"]
        assert mask.shape == shape[1:] and mask.dtype == bool
        assert np.all(seq.frames[:, ~mask] == 0)
    assert seq.metadata["description"] == samples()[name]


def test_stored_sample_ground_truth(stored):
    """The (float16-stored) field still maps the reference onto the last moving frame."""
    name, seq = stored
    u, f = seq.metadata["displacement"], seq.frames
    t = int(np.argmax(np.abs(u).reshape(len(u), -1).max(axis=1)))
    m = np.ones(f.shape[1:], bool)
    if "mask" in seq.metadata:  # echo: measure where x and x + u_t(x) both lie in the sector
        mask = seq.metadata["mask"]
        m = mask & (_warp_np(mask.astype(float), u[t]) > 0.999)
    good = np.mean(((_warp_np(f[0], u[t]) - f[t]) ** 2)[m])
    ident = np.mean(((f[0] - f[t]) ** 2)[m])
    assert good < 0.2 * ident, (name, good, ident)
    if seq.landmarks is not None:
        lm = seq.landmarks
        p = lm[lm[:, 1] == 0]
        q = lm[lm[:, 1] == 1]
        p = p[np.argsort(p[:, 0]), 2:]
        q = q[np.argsort(q[:, 0]), 2:]
        uq = np.stack([ndimage.map_coordinates(u[1, k].astype(np.float64), q.T, order=1, mode="nearest") for k in range(2)], 1)
        assert np.abs(q + uq - p).max() < 0.05


def test_load_sequence_reaches_the_samples():
    from napari_tlreg.io import load_sequence

    seq = load_sequence("lemniscate")
    ref = load_sample("lemniscate")
    assert np.array_equal(seq.frames, ref.frames)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_a_sample_file_opened_by_its_path_is_the_sample(name, tmp_path):
    """(echo review) ``echo.npz`` opened by its path (File > Open, the CLI, ``load_sequence``) lost its sector mask, so
    NMSR registered and scored it over the whole frame, with another λ; its label names and reference went too."""
    import shutil

    from napari_tlreg._hooks import read_sequences
    from napari_tlreg.io import SequenceReadError, load_sequence

    path = tmp_path / f"my_{name}.npz"  # a user's copy, named as they like
    shutil.copy(samples_dir() / f"{name}.npz", path)
    seq, ref = load_sequence(path), load_sample(name)
    assert seq.name == f"my_{name}" and seq.metadata["source"] == str(path)
    assert np.array_equal(seq.frames, ref.frames) and seq.spacing == ref.spacing and seq.unit == ref.unit
    for a, b in ((seq.labels, ref.labels), (seq.landmarks, ref.landmarks)):
        assert (a is None) == (b is None) and (a is None or np.array_equal(a, b))
    assert set(seq.metadata) == set(ref.metadata)
    for k in ("mask", "displacement", "label_names", "reference", "frame_time_ms"):
        if k in ref.metadata:
            assert np.array_equal(seq.metadata[k], ref.metadata[k]) if isinstance(ref.metadata[k], np.ndarray) \
                else seq.metadata[k] == ref.metadata[k], k
    names = [kw["name"] for _, kw, _ in read_sequences(str(path))]
    assert (f"my_{name} mask" in names) == ("mask" in ref.metadata), names
    # a file of that format whose mask does not fit its frames is refused, saying so
    with np.load(path, allow_pickle=False) as z:
        members = dict(z)
    np.savez(tmp_path / "bad.npz", **{**members, "mask": np.ones((3, 3), bool)})
    with pytest.raises(SequenceReadError, match=r"mask \(3, 3\) does not match frames"):
        load_sequence(tmp_path / "bad.npz")
    np.savez(tmp_path / "bad.npz", **{**members, "frame_levels": np.int64(0)})  # frames of inf, loaded
    with pytest.raises(SequenceReadError, match="frame_levels"):
        load_sequence(tmp_path / "bad.npz")
    np.savez(tmp_path / "bad.npz", **{**members, "spacing": np.array([np.nan, 1.0])})  # as any reader's bad pixel size
    with pytest.warns(UserWarning, match="ignoring pixel spacing"):
        odd = load_sequence(tmp_path / "bad.npz")
    assert odd.spacing is None and odd.unit == "px"
    np.savez(tmp_path / "bad.npz", **{**members, "metadata_json": np.str_("{not json")})
    with pytest.raises(SequenceReadError, match="its metadata_json is no JSON") as e:
        load_sequence(tmp_path / "bad.npz")
    assert "corrupt" not in str(e.value)
    # (diff review) without one of the format's members it is any npz, as before (it was refused)
    np.savez(tmp_path / "plain.npz", **{k: v for k, v in members.items() if k != "spacing"})
    assert np.array_equal(load_sequence(tmp_path / "plain.npz").frames.shape, ref.frames.shape)
    if "labels" in members:  # said as it is, not "truncated or corrupt"
        np.savez(tmp_path / "bad.npz", **{**members, "labels": members["labels"] + 0.5})
        with pytest.raises(SequenceReadError, match=r"^bad\.npz: labels must be integers"):
            load_sequence(tmp_path / "bad.npz")
        np.savez(tmp_path / "bad.npz", **{**members, "labels": members["labels"][:, :10]})
        with pytest.raises(SequenceReadError, match=r"labels \(\d+, 10, \d+\) does not match") as e:
            load_sequence(tmp_path / "bad.npz")
        assert "corrupt" not in str(e.value)


def _make_samples_module():
    path = Path(__file__).resolve().parents[1] / "scripts" / "make_samples.py"
    if not path.is_file():
        pytest.skip("scripts/make_samples.py is not in this checkout")
    spec = importlib.util.spec_from_file_location("make_samples", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_stored_samples_are_what_the_script_regenerates(name):
    mod = _make_samples_module()
    fresh = mod.build(name)
    with np.load(samples_dir() / f"{name}.npz", allow_pickle=False) as old:
        problems = mod.compare(old, fresh)
    assert problems == [], f"{name}: stored file differs from `python scripts/make_samples.py {name}`: {problems}"


def test_samples_folder_is_small_and_documented():
    folder = samples_dir()
    total = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert total < 6 * 1024 * 1024, f"sample_sequences/ holds {total / 1e6:.1f} MB"
    readme = folder / "README.md"
    if readme.is_file():  # the wheel may not carry it
        text = readme.read_text()
        for name in NAMES:
            assert name in text
        assert "make_samples.py" in text and "MIT" in text


def test_echo_real_from_pydicom():
    pytest.importorskip("pydicom")
    from pydicom import examples

    try:
        examples.get_path("ybr_color")
    except Exception:  # pragma: no cover - an unusual pydicom build without its examples
        pytest.skip("pydicom's example 'ybr_color' is not installed")
    seq = load_sample("echo_real")
    assert seq.frames.shape == (30, 240, 320) and seq.frames.dtype == np.float32
    rgb = seq.metadata["rgb"]
    assert rgb.shape == (30, 240, 320, 3) and rgb.dtype == np.uint8
    lum = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert np.abs(lum - seq.frames).max() < 1e-3
    # the stored YBR luminance channel is (up to rounding) the same grey
    assert seq.unit == "mm"
    # PhysicalDelta 0.0510 cm refers to the 640x480 acquisition grid; the pixels are 2x that
    assert seq.spacing == pytest.approx((1.021, 1.021), abs=1e-3)
    assert seq.metadata["frame_time_ms"] == pytest.approx(33.333)
    r0, r1, c0, c1 = seq.metadata["ultrasound_region_rc"]
    assert 0 <= r0 < r1 < 240 and 0 <= c0 < c1 < 320
    # its fan, as the DICOM reader gives it (and the NMSR benchmark's real sections use)
    from napari_tlreg.io import load_sequence

    assert np.array_equal(seq.metadata["mask"], load_sequence(examples.get_path("ybr_color")).metadata["mask"])
    assert seq.landmarks is None and seq.labels is None


def test_the_lemniscate_registers_with_the_model_trained_for_it(capsys, tmp_path):
    """(2026-12-07, packaging review) The lemniscate sample was registered with the cine model, the methods' default:
    its MSE 12x the lemniscate model's, and nothing said which to use but a line of the README. The sample names its
    model, taken (and said) as a sequence's own mask is; one given is kept."""
    import napari_tlreg as tl
    from napari_tlreg import cli

    seq = tl.load_sequence("lemniscate")
    assert seq.metadata["weights"] == {"tlrn": "tlrn_synth64", "voxelmorph": "voxelmorph_synth64"}
    own = tl.register(seq, method="tlrn")
    cine = tl.register(seq, method="tlrn", weights="tlrn_cine64")
    assert own.params["weights"] == "tlrn_synth64" and cine.params["weights"] == "tlrn_cine64"
    assert [n for n in own.provenance.get("notes", []) if n.startswith("weights = tlrn_synth64") and "weights=''" in n]  # said (diff review)
    assert not [n for n in cine.provenance.get("notes", []) if n.startswith("weights")]
    assert tl.metrics.mse(own.warped, own.frames) < 0.5 * tl.metrics.mse(cine.warped, cine.frames)
    assert "weights" not in tl.load_sequence("cardiac").metadata
    assert cli.main(["register", "lemniscate", "--method", "voxelmorph", "--out", str(tmp_path / "r"),
                     "--no-montage"]) == 0
    err = capsys.readouterr().err
    assert err.count("weights = voxelmorph_synth64, the model trained for this sample (--param weights= for the "
                     "method's default)") == 1, err


def test_cli_register_says_what_the_result_reached(tmp_path, capsys):
    """(2026-12-07, echo review) `register` printed its time and folder only: the MSE, local CC and Dice reached had
    to be read from metrics.json. A second line gives the means, each beside the frames unregistered."""
    import json

    from napari_tlreg import cli

    assert cli.main(["register", "cardiac", "--out", str(tmp_path / "r"), "--no-montage"]) == 0
    out = capsys.readouterr().out.splitlines()
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    summary, worst = doc["summary"], max(r["folding_pct"] for r in doc["frames"])  # the worst frame's, as the viewer
    assert len(out) == 2 and out[0].startswith("tlrn: 20 frames of 128x128 in ")
    assert out[1] == (f"  mean over 19 frames: MSE {summary['mse']:.3g} ({summary['mse_before']:.3g} unregistered), "
                      f"local CC (radius 10) {summary['lncc10']:.3f} ({summary['lncc10_before']:.3f} unregistered), "
                      f"Dice {summary['dice']:.3f} ({summary['dice_before']:.3f} unregistered), "
                      f"HD95 {summary['hd95_mm']:.2f} mm ({summary['hd95_before_mm']:.2f} unregistered), "
                      f"worst folding {worst:.2f} %")
    assert summary["dice"] > summary["dice_before"] and summary["mse"] < summary["mse_before"]


def test_cli_registers_a_sub_clip_with_its_region_and_pixel_size(tmp_path, capsys):
    """(2026-12-07, echo review) The real echo's whole clip takes minutes; a sub-clip could only be registered from
    frames cut out of the array, which lost the fan (NMSR then fitted the caption too) and the pixel size. `register
    --frames` cuts the sequence, what belongs to its frames with it, and records which frames; evaluate reads them."""
    import json

    import napari_tlreg as tl
    from napari_tlreg import cli

    whole = tl.load_sequence("echo")
    out = tmp_path / "r"
    assert cli.main(["register", "echo", "--frames", "4:10", "--method", "nmsr", "--param", "iterations=2",
                     "--out", str(out), "--no-montage"]) == 0
    res = tl.RegistrationResult.load(out)
    assert res.n_frames == 6 and res.provenance["frames"] == [4, 10, 1] and res.provenance["source"] == "echo"
    assert res.spacing == whole.spacing and np.array_equal(res.mask, whole.metadata["mask"])  # its fan, its size
    cut = whole[4:10]
    np.testing.assert_array_equal(cut.labels, whole.labels[4:10])
    assert cut.metadata["frames"] == [4, 10, 1] and "reference" not in cut.metadata  # frame 0 is not among them
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 0  # the sub-clip's own labels, read again from the sample, cut
    summary = json.loads(capsys.readouterr().out)
    assert 0 < summary["dice"] <= 1
    assert whole[0:10:2].metadata["reference"] == 0 and whole[0:10:2].metadata["displacement"].shape[0] == 5
    assert cli.main(["register", "echo", "--frames", "30:40", "--out", str(tmp_path / "x")]) == 2
    assert "echo: --frames 30:40: no frame of its 24" in capsys.readouterr().err and not (tmp_path / "x").exists()
    # (diff and echo reviews) which frames, said: the numbers after it count from the sub-clip's first; files of the
    # whole clip are said to be so; two sub-clips of one file are two sequences to a report, not "scaled otherwise"
    assert cli.main(["register", "echo", "--frames", "4:12:2", "--out", str(tmp_path / "s"), "--no-montage"]) == 0
    assert ("napari-tlreg register: frames 4, 6, 8, 10 of its 24 (--frames 4:12:2): the frame numbers below, "
            "--reference's, --labels' and --landmarks' count them from 0 to 3") in capsys.readouterr().err
    from napari_tlreg.io import save_stack

    save_stack(tmp_path / "whole.tif", whole.labels, labels=True)
    assert cli.main(["register", "echo", "--frames", "4:12:2", "--labels", str(tmp_path / "whole.tif"),
                     "--out", str(tmp_path / "y")]) == 2
    assert "(with --frames, of the 4 frames chosen)" in capsys.readouterr().err
    for cut in ("0:5", "5:10"):
        assert cli.main(["register", "cardiac", "--frames", cut, "--out", str(tmp_path / cut), "--no-montage"]) == 0
    with pytest.raises(ValueError, match="results of different sequences cannot share a report"):
        tl.report.export_report([tl.RegistrationResult.load(tmp_path / cut) for cut in ("0:5", "5:10")], tmp_path / "rep")
    with pytest.raises(ValueError, match="a step of 1 or more"):
        whole[::-1]


def test_cli_register_says_the_tre_of_a_map_in_metres(tmp_path, capsys):
    """(2026-12-07, CLI review) The summary line looked for `tre_mm`, which metrics.json names after the unit
    (`tre_m` in metres): the satellite pair's TRE was left out, and "mean over 1 frames" said."""
    import json

    from napari_tlreg import cli

    assert cli.main(["register", "satellite", "--method", "hsyn", "--out", str(tmp_path / "r"), "--no-montage"]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    summary = json.loads((tmp_path / "r" / "metrics.json").read_text())["summary"]
    assert line.startswith("  the frame against the reference: MSE ")
    assert f", TRE {summary['tre_m']:.2f} m ({summary['tre_before_m']:.2f} unregistered), worst folding" in line


def test_cli_evaluate_says_labels_on_the_reference_only(tmp_path, capsys):
    """(2026-12-07, CLI review) `evaluate --labels` with labels on the reference frame only exited 0 with a null Dice
    and an empty stderr (register says why there is none)."""
    import napari_tlreg as tl
    from napari_tlreg import cli
    from napari_tlreg.io import save_stack

    assert cli.main(["register", "lemniscate", "--out", str(tmp_path / "r"), "--no-montage"]) == 0
    seq = tl.load_sequence("lemniscate")
    lab = np.zeros(seq.shape, np.int32)
    lab[0, 20:40, 20:40] = 1
    save_stack(tmp_path / "ref_only.tif", lab, labels=True)
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "r"), "--labels", str(tmp_path / "ref_only.tif")]) == 0
    assert (f"napari-tlreg evaluate: {tmp_path / 'r'}: labels on the reference frame (0) only: carried to every frame"
            in capsys.readouterr().err)
