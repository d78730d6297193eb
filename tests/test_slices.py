"""Multi-slice cine (a short-axis stack: a DICOM folder, a 4-D NIfTI): every slice position is a time series of its
own in the viewer (``io.load_slices`` through the reader hook and ``napari-tlreg view``), and the CLI and batch take
one by ``--slice`` and say so when there are others. (Batch: ``test_batch.py``.)"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import napari_tlreg as tl
from napari_tlreg import cli
from napari_tlreg._hooks import read_sequences
from napari_tlreg.core.normalize import normalize_sequence
from napari_tlreg.io import load_sequence, load_slices, save_stack

X, Y, Z, T = 40, 36, 3, 5


def _stack(tmp_path):
    """A 4-D NIfTI ``(X, Y, Z, T)``: slice z is a smooth image shifted one px per frame, brighter with z and moved
    3z px across (brightness alone normalises away: slice 0's frames, normalised, were slice 1's bit for bit)."""
    nib = pytest.importorskip("nibabel")
    from scipy.ndimage import gaussian_filter

    base = gaussian_filter(np.random.default_rng(0).random((X, Y)), 2.0).astype(np.float32)
    data = np.stack([np.stack([np.roll(base, (t, 3 * z), (0, 1)) * (1 + z) for t in range(T)], -1) for z in range(Z)], 2)
    path = tmp_path / "stack.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    return path


def test_load_slices_gives_every_slice_position(tmp_path):
    path = _stack(tmp_path)
    seqs = load_slices(path)
    assert [s.name for s in seqs] == ["stack_slice0", "stack_slice1", "stack_slice2"]
    for k, seq in enumerate(seqs):
        assert seq.frames.shape == (T, Y, X)
        np.testing.assert_array_equal(seq.frames, load_sequence(path, slice=k).frames)
        assert seq.metadata["slice"] == k and seq.metadata["n_slices"] == Z
    single = save_stack(tmp_path / "one.tif", seqs[0].frames)
    (only,) = load_slices(single)
    assert only.name == "one" and "n_slices" not in only.metadata  # a single slice keeps its name


def test_load_slices_stops_at_the_voxel_limit_and_says_so(tmp_path):
    path = _stack(tmp_path)
    per_slice = T * Y * X
    with pytest.warns(UserWarning, match=r"stack: loaded slices 0-1 of 3; the others would pass 15,000 voxels in "
                                         r"all \(load_sequence\(\.\.\., slice=2\) loads one on its own\)"):
        seqs = load_slices(path, max_voxels=15_000)
    assert 2 * per_slice <= 15_000 < 3 * per_slice
    assert [s.name for s in seqs] == ["stack_slice0", "stack_slice1"]


def test_real_dicom_stack_opens_one_layer_per_slice(shared_data):
    """The Sunnybrook patient's 240 DICOM files (12 slice positions x 20 phases): 12 image layers, in acquisition
    order, the first shown."""
    folder = shared_data / "sunnybrook" / "dicom_SCD0000101"
    layers = read_sequences(str(folder))
    names = [kw["name"] for _, kw, kind in layers if kind == "image"]
    assert names == [f"dicom_SCD0000101_slice{k}" for k in range(12)]
    assert [kw.get("visible", True) for _, kw, _ in layers] == [True] + [False] * 11
    for k in (0, 7):
        np.testing.assert_array_equal(layers[k][0], load_sequence(folder, slice=k).frames)
        assert layers[k][0].shape == (20, 256, 256)


def test_cli_register_takes_a_slice_and_says_when_there_are_others(tmp_path, capsys):
    path = _stack(tmp_path)
    assert cli.main(["register", str(path), "--out", str(tmp_path / "s0"), "--no-montage"]) == 0
    err = capsys.readouterr().err
    assert f"napari-tlreg register: {path} has 3 slice positions; registering slice 0 (--slice K for another)" in err
    assert cli.main(["register", str(path), "--slice", "2", "--out", str(tmp_path / "s2"), "--no-montage"]) == 0
    assert "slice positions" not in capsys.readouterr().err
    res = tl.RegistrationResult.load(tmp_path / "s2")
    np.testing.assert_array_equal(res.frames, normalize_sequence(load_sequence(path, slice=2).frames))
    assert cli.main(["register", str(path), "--slice", "9", "--out", str(tmp_path / "s9"), "--no-montage"]) != 0
    assert "slice=9 is out of range: the image has 3 slice(s)" in capsys.readouterr().err
    assert not (tmp_path / "s9").exists()


def test_viewer_opens_every_slice_and_registers_the_chosen_one(make_napari_viewer, qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from napari_tlreg._widgets.register import RegisterWidget

    path = _stack(tmp_path)
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        viewer.open(str(path), plugin="napari-tlreg")
    assert [layer.name for layer in viewer.layers] == ["stack_slice0", "stack_slice1", "stack_slice2"]
    assert [layer.visible for layer in viewer.layers] == [True, False, False]
    w = RegisterWidget(viewer)
    assert [w.image_combo.itemText(i) for i in range(w.image_combo.count())] == ["stack_slice0", "stack_slice1",
                                                                               "stack_slice2"]
    w.image_combo.setCurrentText("stack_slice1")
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.running, timeout=60000)
    res = w.results[("stack_slice1", "tlrn")]
    np.testing.assert_array_equal(res.frames, normalize_sequence(load_sequence(path, slice=1).frames))
    assert not np.allclose(res.frames, normalize_sequence(load_sequence(path, slice=0).frames), atol=0.05)
    assert "stack_slice1 warped reference" in viewer.layers


def test_load_slices_reads_the_source_once(tmp_path, monkeypatch, shared_data):
    """A 4-D NIfTI is decoded once for all its slices, and a DICOM folder's headers are read once each (not once per
    slice position): 240 header reads for the Sunnybrook stack of 12 x 20 files, then each file's pixels once."""
    from napari_tlreg.io import readers

    path = _stack(tmp_path)
    calls = {"nifti": 0, "headers": 0, "pixels": 0}
    nifti, dcmread = readers._nifti_array, readers._dcmread

    def count_nifti(p, *a, **kw):
        calls["nifti"] += 1
        return nifti(p, *a, **kw)

    def count_dcmread(p, **kw):
        calls["headers" if kw.get("stop_before_pixels") else "pixels"] += 1
        return dcmread(p, **kw)

    monkeypatch.setattr(readers, "_nifti_array", count_nifti)
    monkeypatch.setattr(readers, "_dcmread", count_dcmread)
    assert len(load_slices(path)) == Z and calls["nifti"] == 1
    folder = shared_data / "sunnybrook" / "dicom_SCD0000101"
    assert len(load_slices(folder)) == 12
    assert calls["headers"] == 240 and calls["pixels"] == 240


def test_one_slice_of_a_4d_nifti_is_read_alone(tmp_path, monkeypatch):
    """(2026-12-05, memory review) A cine of 40 slices x 128 frames of 512² was refused for its 5 GiB when one slice,
    128 MiB, was asked for; a slice of a smaller one decoded the whole volume first (20x the slice's memory). Here
    the cap is lowered to between one slice and the volume."""
    import nibabel as nib

    from napari_tlreg.io import readers

    vol = np.random.default_rng(0).integers(0, 1000, (24, 16, 8, 10)).astype(np.int16)  # (X, Y, Z, T)
    path = tmp_path / "cine.nii.gz"
    nib.save(nib.Nifti1Image(vol, np.eye(4)), path)
    monkeypatch.setattr(readers, "MAX_READ_VOXELS", 24 * 16 * 10 * 2)
    seq = load_sequence(path, slice=3)
    np.testing.assert_array_equal(seq.frames, np.transpose(vol[:, :, 3, :], (2, 1, 0)).astype(np.float32))
    assert seq.metadata["n_slices"] == 8 and seq.metadata["slice"] == 3
    with pytest.raises(readers.SequenceReadError, match="larger than"):  # every slice: the whole volume is kept
        load_slices(path)
