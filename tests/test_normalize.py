"""Intensity normalisation: one scale for the sequence, each frame its own, and ``auto`` (per frame where frames
flicker in brightness), through the core functions, ``tl.register``, saved results and the CLI.
(The viewer's choice is in ``test_widget_register.py``, Dask batch in ``test_batch.py``.)"""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

import napari_tlreg as tl
from napari_tlreg import cli
from napari_tlreg.core.normalize import (
    FLICKER_GAIN,
    FLICKER_OFFSET,
    brightness_changes,
    flicker,
    flicker_message,
    normalize,
    normalize_frames,
    normalize_sequence,
)
from napari_tlreg.io import save_stack
from napari_tlreg.synth.cardiac import cardiac_phantom


def _phantom(seed: int = 50_003):
    seq = cardiac_phantom(n_frames=12, size=64, seed=seed)
    return seq.frames.astype(np.float32), seq.metadata["displacement"]


def _flickering(frames: np.ndarray, gains: dict[int, float], offset: dict[int, float] | None = None) -> np.ndarray:
    out = frames.copy()
    offset = offset or {}
    for t in set(gains) | set(offset):
        out[t] = out[t] * gains.get(t, 1.0) + offset.get(t, 0.0)
    return out


def _epe(u: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(((u[1:] - truth[1:]) ** 2).sum(1)).mean())


# --------------------------------------------------------------------------- core
def test_motion_alone_is_not_flicker():
    """Phantoms of every benchmark set and the bundled samples: their frames' brightness moves with the heart, not
    beyond the thresholds, so ``auto`` keeps one scale and its result is exactly ``sequence``'s."""
    for seed in (50_000, 50_003, 60_001, 70_000, 70_006):
        frames, _ = _phantom(seed)
        assert flicker(frames) == {}
        changes = brightness_changes(frames)
        assert max(f for f, _ in changes.values()) < FLICKER_GAIN and max(s for _, s in changes.values()) < FLICKER_OFFSET
        norm, used, changed = normalize(frames, 0, "auto")
        assert used == "sequence" and changed == {}
        np.testing.assert_array_equal(norm, normalize_sequence(frames))
    for name in ("echo", "cardiac", "lemniscate"):
        assert flicker(tl.load_sequence(name).frames) == {}, name


def test_real_cine_mri_slices_are_not_flicker(shared_data):
    """Every Sunnybrook cine slice (real MRI, 20 phases): one scale under ``auto``."""
    for path in sorted((shared_data / "sunnybrook").glob("SCD*_crop128.npz")):
        with np.load(path) as z:
            for s, cine in enumerate(z["cine"]):
                assert flicker(cine.astype(np.float32)) == {}, (path.name, s)


def test_flicker_finds_the_frames_whose_gain_or_offset_changed():
    frames, _ = _phantom()
    span = float(np.percentile(frames[0], 99) - np.percentile(frames[0], 1))
    got = flicker(_flickering(frames, {3: 1.5, 7: 0.6}, {9: 0.2 * span}))
    assert sorted(got) == [3, 7, 9]
    # lower bounds of the change: a contracting heart hides part of a gain, never adds to it
    assert 0.2 < got[3] <= 0.5 + 1e-6 and 0.2 < got[7] <= 1 / 0.6 - 1 + 1e-6
    assert got[9] == pytest.approx(0.2, abs=0.02)
    still = _flickering(frames, {1: 1.5})  # frame 1 hardly moved: the whole gain is seen
    assert flicker(still)[1] == pytest.approx(0.5, abs=0.02)
    assert flicker(_flickering(frames, {1: 1.1})) == {}  # within what motion does
    assert flicker(_flickering(frames, {3: 1.5}), skip=[3]) == {}  # blank frames are judged elsewhere
    assert flicker(_flickering(frames[:2], {1: 2.0})) == {}  # a pair (two dates of a satellite scene): not judged
    # ... but for a change no two dates show: another unit (reflectance 0-1 beside digital numbers), another offset
    assert list(flicker(np.stack([frames[0] * 1e4, frames[1]]))) == [1]
    assert re.match(r"frame 1 differs in brightness from the reference by 9,\d{3}x or more",  # a lower bound
                    flicker_message(flicker(np.stack([frames[0] * 1e4, frames[1]]))))
    assert "x or more (another unit or encoding?): each frame was normalised on its own" in flicker_message({1: 9e3})
    assert list(flicker(np.stack([frames[0], frames[1] + 3 * span]))) == [1]
    assert list(flicker(np.stack([frames[0], frames[1] + 1.5 * span]))) == [1]  # beyond the reference's whole range
    assert flicker(np.stack([frames[0], frames[1] + 0.8 * span])) == {}  # within it: two dates may
    assert flicker(np.stack([frames[0], frames[1] * 3.5 + 0.5 * span])) == {}
    assert flicker(_flickering(frames, {0: 2.0}), reference=0) and flicker(np.zeros((4, 8, 8))) == {}


def test_large_frames_are_judged_on_a_subsample():
    """Frames over 512x512 are judged on every k-th pixel (a fraction of the time), and a gain is still found."""
    from scipy.ndimage import zoom

    frames, _ = _phantom()
    big = zoom(frames[:4], (1, 20, 20), order=1)  # 4 x 1280 x 1280
    assert flicker(big) == {}
    assert sorted(flicker(_flickering(big, {2: 1.5}))) == [2]


def test_normalize_modes():
    frames, _ = _phantom()
    flick = _flickering(frames, {2: 1.6, 5: 0.6})
    norm, used, changed = normalize(flick, 0, "auto")
    assert used == "frame" and sorted(changed) == [2, 5]
    np.testing.assert_array_equal(norm, normalize_frames(flick))
    # each frame on its own: the gain is gone (up to the percentiles' clipping)
    np.testing.assert_allclose(normalize_frames(flick)[2], normalize_frames(frames)[2], atol=1e-5)
    assert not np.allclose(normalize_sequence(flick)[2], normalize_sequence(frames)[2], atol=1e-2)
    norm, used, changed = normalize(flick, 0, "sequence")
    assert used == "sequence" and changed == {}
    np.testing.assert_array_equal(norm, normalize_sequence(flick))
    assert normalize(frames, 0, "frame")[1] == "frame"
    with pytest.raises(ValueError, match="normalize must be one of auto, sequence, frame, got 'per-frame'"):
        normalize(frames, 0, "per-frame")


def test_flicker_message_names_the_frames():
    assert flicker_message({4: 0.36}) == ("frame 4 differs in brightness from the reference by 36 % or more (flicker?): "
                                          "each frame was normalised on its own (normalize='sequence' to keep one "
                                          "scale for all)")
    many = flicker_message({t: 0.3 + t / 100 for t in range(1, 14)})
    assert many.startswith("frames 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 3 more differ in brightness") and "by 31 % or more" in many


# --------------------------------------------------------------------------- API
def test_register_auto_undoes_a_flickering_gain():
    """TLRN on a phantom whose frames flicker by up to ±40 % (``benchmarks/flicker.py`` measures more): with one scale
    its error more than doubles; ``auto`` normalises each frame, says so, and gets the error of the steady frames."""
    frames, truth = _phantom()
    rng = np.random.default_rng(0)
    gains = {t: float(g) for t, g in zip(range(1, 12), 1 + 0.4 * rng.uniform(-1, 1, 11))}
    flick = _flickering(frames, gains)
    steady = _epe(tl.register(frames, method="tlrn").displacement, truth)
    seen: list[str] = []
    res = tl.register(flick, method="tlrn", on_warning=seen.append)
    assert res.normalization == "frame"
    assert len(seen) == 1 and "differ in brightness from the reference" in seen[0] and "normalised on its own" in seen[0]
    auto = _epe(res.displacement, truth)
    one_scale = tl.register(flick, method="tlrn", normalize="sequence")
    assert one_scale.normalization == "sequence"
    assert auto < 1.1 * steady and _epe(one_scale.displacement, truth) > 1.6 * steady, (steady, auto)
    with pytest.warns(UserWarning, match="differ in brightness from the reference"):
        tl.register(flick, method="tlrn")  # no on_warning: a Python warning


def test_register_without_flicker_is_one_scale_and_silent():
    frames, _ = _phantom()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = tl.register(frames, method="tlrn")
    assert res.normalization == "sequence"
    np.testing.assert_array_equal(res.frames, normalize_sequence(frames))
    assert tl.register(frames, method="tlrn", normalize="frame").normalization == "frame"


def test_register_refuses_an_unknown_normalize_before_running():
    frames, _ = _phantom()
    calls = []
    with pytest.raises(ValueError, match="normalize must be one of auto, sequence, frame, got 'none'"):
        tl.register(frames, method="tlrn", normalize="none", progress=lambda *a: calls.append(a))
    assert calls == []


def test_saved_result_keeps_its_normalization(tmp_path):
    frames, _ = _phantom()
    res = tl.register(frames, method="tlrn", normalize="frame")
    res.save(tmp_path / "r")
    assert json.loads((tmp_path / "r" / "result.json").read_text())["normalization"] == "frame"
    assert tl.RegistrationResult.load(tmp_path / "r").normalization == "frame"
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    del meta["normalization"]  # a result saved before the choice existed: one scale
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    assert tl.RegistrationResult.load(tmp_path / "r").normalization == "sequence"


# --------------------------------------------------------------------------- CLI
def test_cli_normalize_option_and_flicker_warning(tmp_path, capsys):
    frames, _ = _phantom()
    path = save_stack(tmp_path / "flicker.tif", _flickering(frames, {4: 1.8}))
    assert cli.main(["register", str(path), "--out", str(tmp_path / "auto"), "--no-montage"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"napari-tlreg register: warning: frame 4 differs in brightness from the reference by \d+ % or "
                     r"more \(flicker\?\): each frame was normalised on its own \(--normalize sequence keeps one scale "
                     r"for all\)\n", err), err  # the flag, not the Python keyword
    assert json.loads((tmp_path / "auto" / "result.json").read_text())["normalization"] == "frame"
    assert json.loads((tmp_path / "auto" / "metrics.json").read_text())["normalization"] == "frame"
    assert cli.main(["register", str(path), "--normalize", "sequence", "--out", str(tmp_path / "seq"), "--no-montage"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((tmp_path / "seq" / "result.json").read_text())["normalization"] == "sequence"
    with pytest.raises(SystemExit) as exc:
        cli.main(["register", str(path), "--normalize", "gamma", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2 and "invalid choice: 'gamma'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
