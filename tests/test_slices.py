"""Multi-slice cine (a short-axis stack: a DICOM folder, a 4-D NIfTI): every slice position is a time series of its
own in the viewer (``io.load_slices`` through the reader hook and ``napari-tlreg view``), and the CLI and batch take
one by ``--slice`` and say so when there are others. (Batch: ``test_batch.py``.)"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import napari_tlreg as tl
from napari_tlreg import cli
from napari_tlreg._hooks import read_sequences
from napari_tlreg.core.labels import labelled_frames
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
    assert "error: stack.nii.gz: --slice 9 is out of range: the image has 3 slice(s)" in capsys.readouterr().err  # (CLI:
    # "slice=9", Python's words)
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


def _patient(folder, mnms=False):
    """A patient of ACDC (``patient001/``: ``patient001_4d.nii.gz`` (X, Y, Z, T), its volumes of one time point
    ``patient001_frame01.nii.gz`` and ground truth ``patient001_frame01_gt.nii.gz``, frames counted from 1) or M&Ms
    (``A0S9V9_sa.nii.gz`` beside ``A0S9V9_sa_gt.nii.gz``, both (X, Y, Z, T), labels at ED and ES only). Slice z is
    labelled z + 1 at frame 0 (ED) and 3 (ES), on a square that moves with the frame."""
    nib = pytest.importorskip("nibabel")
    folder.mkdir()
    cine = np.random.default_rng(1).random((X, Y, Z, T)).astype(np.float32)
    gt = np.zeros((X, Y, Z, T), np.uint8)
    for t in (0, 3):
        for z in range(Z):
            gt[4 + 2 * t:14 + 2 * t, 8:20, z, t] = z + 1
    volume = np.diag([1.5, 1.5, 10.0, 1.0])
    if mnms:
        nib.save(nib.Nifti1Image(cine, volume), folder / "A0S9V9_sa.nii.gz")
        nib.save(nib.Nifti1Image(gt, volume), folder / "A0S9V9_sa_gt.nii.gz")
        return folder / "A0S9V9_sa.nii.gz", gt
    nib.save(nib.Nifti1Image(cine, volume), folder / "patient001_4d.nii.gz")
    for t in (0, 3):
        for name, data in ((f"patient001_frame{t + 1:02d}", cine[..., t]), (f"patient001_frame{t + 1:02d}_gt", gt[..., t])):
            img = nib.Nifti1Image(data, volume)
            img.header.set_zooms((1.5, 1.5, 10.0))
            nib.save(img, folder / f"{name}.nii.gz")
    (folder / "Info.cfg").write_text("ED: 1\nES: 4\n")
    return folder / "patient001_4d.nii.gz", gt


def test_load_labels_takes_from_python_what_the_cli_takes(tmp_path):
    """``tl.load_labels``: the labels files ``--labels`` takes, from Python (there was no loader but the CLI's): ACDC's
    volumes of one time point, each on the frame its name gives at the sequence's slice position (as the siblings'
    reading gives them), ``FILE@T`` and ``reference=`` for a volume whose name gives no frame (refused without), a
    shape with its slice position as evaluate gives it, and a frame two files label refused."""
    import shutil

    cine, gt = _patient(tmp_path / "patient001")
    seq = tl.load_sequence(cine, slice=2)
    ed, es = (cine.parent / f"patient001_frame{n:02d}_gt.nii.gz" for n in (1, 4))
    lab = tl.load_labels([ed, es], seq)
    assert lab.dtype == np.int32 and lab.shape == seq.shape
    assert list(labelled_frames(lab)) == [0, 3] and set(np.unique(lab)) == {0, 3}  # slice 2's label, z + 1
    np.testing.assert_array_equal(lab, seq.labels)  # one rule with the ground truth read beside the cine
    np.testing.assert_array_equal(tl.load_labels([str(ed), str(es)], seq.shape, slice=2, n_slices=Z), lab)
    at_slice0 = tl.load_labels(ed, tl.load_sequence(cine))
    assert list(labelled_frames(at_slice0)) == [0] and set(np.unique(at_slice0)) == {0, 1}
    other = tmp_path / "mnms2"
    other.mkdir()
    plain = Path(shutil.copy(es, other / "001_SA_ES_gt.nii.gz"))  # M&Ms-2's: the name gives no frame
    with pytest.raises(ValueError, match="whose name gives no frame.*'FILE@T' or reference=T"):
        tl.load_labels(plain, seq)
    only_es = np.where(np.arange(T)[:, None, None] == 3, lab, 0)
    np.testing.assert_array_equal(tl.load_labels(f"{plain}@3", seq), only_es)
    np.testing.assert_array_equal(tl.load_labels(plain, seq, reference=3), only_es)
    with pytest.raises(ValueError, match="labels frame 3, which .*frame04_gt.nii.gz labels too"):
        tl.load_labels([es, f"{plain}@3"], seq)
    with pytest.raises(ValueError, match="out of range for 5 frames"):
        tl.load_labels(f"{plain}@5", seq)
    with pytest.raises(ValueError, match=f"labels of {seq.shape[1]}x{seq.shape[2]} do not match frames of 20x20"):
        tl.load_labels(ed, (T, 20, 20))
    # (diff review) the frames themselves as like; a Sequence's slice and count, or a slice given over them
    np.testing.assert_array_equal(tl.load_labels([ed, es], seq.frames, slice=2, n_slices=Z), lab)
    np.testing.assert_array_equal(tl.load_labels([ed, es], tl.load_sequence(cine), slice=2), lab)
    by_hand = tl.Sequence(seq.frames)  # no metadata: a slice given, the count unknown
    np.testing.assert_array_equal(tl.load_labels([ed, es], by_hand, slice=2), lab)
    sthw = np.zeros((Z, *seq.shape), np.uint8)
    sthw[1, 2, 3:5, 3:5] = 4
    np.save(tmp_path / "sthw.npy", sthw)
    assert list(labelled_frames(tl.load_labels(tmp_path / "sthw.npy", tl.load_sequence(cine, slice=1)))) == [2]
    np.save(tmp_path / "sthw.npy", sthw[:2])
    with pytest.raises(ValueError, match="labels of 2 slice positions, the frames' source has 3"):
        tl.load_labels(tmp_path / "sthw.npy", seq)
    with pytest.raises(ValueError, match="no labels file given"):
        tl.load_labels([], seq)
    with pytest.raises(ValueError, match="give a Sequence, the frames or their shape"):
        tl.load_labels(ed, "frames")


@pytest.mark.parametrize("mnms", [False, True], ids=["acdc", "mnms"])
def test_a_cine_opens_with_its_datasets_ground_truth_at_every_slice(tmp_path, mnms, capsys):
    """ACDC's and M&Ms' ground truth, beside the cine as the datasets keep it, is the cine's labels at each slice
    position (the API, every slice, napari's layers): it was none, and the ground truth's files opened as grey images
    (ACDC's volumes a "sequence" of their slices). In a patient's folder, the volumes of one time point beside the
    cine are no frames of it: the folder opens as the cine (it was refused as a stack)."""
    from napari_tlreg.batch import expand_inputs

    cine, gt = _patient(tmp_path / "p", mnms)
    want = [np.transpose(gt[:, :, z, :], (2, 1, 0)) for z in range(Z)]  # (T, Y, X) per slice position
    for k in (0, 2):
        seq = load_sequence(cine, slice=k)
        np.testing.assert_array_equal(seq.labels, want[k])
        assert set(np.unique(seq.labels[[0, 3]])) == {0, k + 1} and not seq.labels[[1, 2, 4]].any()
    for k, seq in enumerate(load_slices(cine)):
        np.testing.assert_array_equal(seq.labels, want[k])
    layers = read_sequences(str(cine))
    labels = {kw["name"]: d for d, kw, kind in layers if kind == "labels"}
    np.testing.assert_array_equal(labels[f"{cine.name.split('.')[0]}_slice1 labels"], want[1])
    assert [it["source"] for it in expand_inputs([tmp_path / "p"])] == [str(cine)]  # the ground truth is no sequence
    if not mnms:  # nor are the volumes of one time point
        seq = load_sequence(tmp_path / "p", slice=2)
        assert seq.shape == (T, Y, X)
        np.testing.assert_array_equal(seq.labels, want[2])
        # register names every volume it took (it named the last alone: "patient001_frame04_gt.nii.gz"; README review)
        from napari_tlreg import cli

        assert cli.main(["register", str(cine), "--slice", "2", "--method", "voxelmorph", "--out",
                         str(tmp_path / "r"), "--no-montage"]) == 0
        assert ("napari-tlreg register: labels: patient001_frame01_gt.nii.gz, patient001_frame04_gt.nii.gz, beside "
                "the input") in capsys.readouterr().err


def test_labels_beside_a_multi_slice_array_give_each_slice_position_its_own(tmp_path):
    """(Diff review) ``<stem>_labels.npy`` beside an ``(S, T, H, W)`` ``.npy``: one of the same shape was refused
    (the cine had no labels), one of ``(T, H, W)`` went on every slice position without a word; each position now
    has its own, and labels of one position, or of another count, are left out with a warning."""
    frames = np.random.default_rng(0).random((Z, T, 16, 16)).astype(np.float32)
    lab = np.zeros((Z, T, 16, 16), np.uint8)
    for z in range(Z):
        lab[z, :, 2:6, 2:6] = z + 1
    np.save(tmp_path / "ms.npy", frames)
    np.save(tmp_path / "ms_labels.npy", lab)
    for k in range(Z):
        np.testing.assert_array_equal(load_sequence(tmp_path / "ms.npy", slice=k).labels, lab[k])
    assert [int(seq.labels.max()) for seq in load_slices(tmp_path / "ms.npy")] == [1, 2, 3]
    for bad, said in ((lab[1], "shape (5, 16, 16)"), (lab[:2], "2 slice positions")):
        np.save(tmp_path / "ms_labels.npy", bad)
        with pytest.warns(UserWarning, match=f"ignoring labels ms_labels.npy: .*labels of {re.escape(said)}, the "
                                             "frames' source has 3 slice positions"):
            assert load_sequence(tmp_path / "ms.npy", slice=1).labels is None


def test_an_mnms2_subject_folder_is_its_cines_and_no_single_images(tmp_path):
    """M&Ms-2's subject folder: its short-axis and long-axis cines side by side, with their ED and ES images (the
    long axis's of one plane) and ground truth. batch takes the two cines (the long axis's ED and ES were rows that
    failed, "needs at least 2 frames"); opened as one sequence it is refused in words of a folder of cines (it said
    of one cine "open it on its own")."""
    nib = pytest.importorskip("nibabel")
    from napari_tlreg.batch import expand_inputs
    from napari_tlreg.io import SequenceReadError

    folder = tmp_path / "001"
    folder.mkdir()
    rng = np.random.default_rng(2)

    def save(name, shape):
        nib.save(nib.Nifti1Image(rng.random(shape).astype(np.float32), np.diag([1.5, 1.5, 10.0, 1.0])), folder / name)

    save("001_SA_CINE.nii.gz", (X, Y, Z, T))
    save("001_LA_CINE.nii.gz", (44, 40, 1, T))
    for when in ("ED", "ES"):
        save(f"001_SA_{when}.nii.gz", (X, Y, Z))
        save(f"001_LA_{when}.nii.gz", (44, 40, 1))
        nib.save(nib.Nifti1Image(np.zeros((44, 40, 1), np.uint8), np.eye(4)), folder / f"001_LA_{when}_gt.nii.gz")
    assert [Path(it["source"]).name for it in expand_inputs([folder])] == ["001_LA_CINE.nii.gz", "001_SA_CINE.nii.gz"]
    with pytest.raises(SequenceReadError, match=r"^001: holds sequences of their own \(001_LA_CINE.nii.gz: 5 frames\)"):
        load_sequence(folder)
    frames = tmp_path / "frames"  # (review) frames one image a file named as copies of one: echo_cine, echo_cine_1...
    frames.mkdir()
    for name in ("echo_cine", *(f"echo_cine_{k}" for k in range(1, 6))):
        nib.save(nib.Nifti1Image(rng.random((40, 32)).astype(np.float32), np.eye(4)), frames / f"{name}.nii.gz")
    assert load_sequence(frames).shape == (6, 32, 40)  # a cine of one image leaves none out (it was 1 frame)


def test_a_cohort_of_acdc_patients_is_scored_slice_by_slice(tmp_path, shift_engine):
    """``batch --slice all`` over ACDC's layout (a folder a patient) gave no Dice and registered the ground truth and
    the volumes of one time point as sequences of their slices."""
    import tifffile

    from napari_tlreg.batch import expand_inputs, register_one

    (tmp_path / "cohort").mkdir()
    cine, gt = _patient(tmp_path / "cohort" / "patient001")
    (item,) = expand_inputs([tmp_path / "cohort"])
    assert (item["name"], item["source"]) == ("patient001", str(tmp_path / "cohort" / "patient001"))
    row = register_one(item, shift_engine, str(tmp_path / "out"), montage=False, slice=2)
    assert row["status"] == "ok" and row["dice"] is not None, row
    kept = np.asarray(tifffile.imread(tmp_path / "out" / "patient001" / "labels.tif"))
    np.testing.assert_array_equal(kept, np.transpose(gt[:, :, 2, :], (2, 1, 0)))


def test_a_file_opened_by_a_relative_path_is_recorded_by_its_absolute_one(tmp_path, monkeypatch):
    """The viewer recorded the source of ``viewer.open("mnms/x.nii.gz")`` as given: its result's provenance was a path
    relative to wherever napari had been started (the README says a file is recorded by its absolute path)."""
    cine, _ = _patient(tmp_path / "mnms", mnms=True)
    monkeypatch.chdir(tmp_path)
    layers = read_sequences("mnms/A0S9V9_sa.nii.gz")
    sources = {kw["metadata"]["napari_tlreg"]["source"] for _, kw, kind in layers if kind == "image"}
    assert sources == {str(cine.resolve())}


def test_the_ground_truth_rules_leave_what_worked_before_as_it_was(tmp_path):
    """(2026-12-06, review of the ground-truth change) A corrupt labels file beside a 4-D cine refused the cine itself;
    the package's own (X, Y, 1, T) labels beside one were dropped; a 3-D NIfTI clip whose third step is a frame time
    (33 ms) left a cohort without a word, and a sequence named ``site_gt.tif`` with no ``site.*`` beside it too; a
    ``frame<digits>`` anywhere in the name gave the frame (``scanframe2_frame06_gt``: frame 1)."""
    nib = pytest.importorskip("nibabel")
    from napari_tlreg.batch import expand_inputs
    from napari_tlreg.io.readers import is_labels_file, named_frame

    cine, gt = _patient(tmp_path / "m", mnms=True)
    (tmp_path / "m" / "A0S9V9_sa_gt.nii.gz").write_bytes(b"not a NIfTI file" * 20)
    with pytest.warns(UserWarning, match="ignoring labels A0S9V9_sa_gt.nii.gz: .*not a readable NIfTI file"):
        seq = load_sequence(cine, slice=1)
    assert seq.labels is None and seq.shape == (T, Y, X)
    (tmp_path / "m" / "A0S9V9_sa_gt.nii.gz").unlink()
    own = np.zeros((T, Y, X), np.int32)
    own[2, 5:9, 5:9] = 4
    save_stack(tmp_path / "m" / "A0S9V9_sa_labels.nii.gz", own, labels=True)  # (X, Y, 1, T), as this package writes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(load_sequence(cine, slice=2).labels, own)
    cohort = tmp_path / "c"
    cohort.mkdir()
    for name in ("echo01", "echo02"):  # (X, Y, T) clips, 33.3 ms a frame
        img = nib.Nifti1Image(np.random.default_rng(0).random((24, 20, 6)).astype(np.float32), np.eye(4))
        img.header.set_zooms((0.3, 0.3, 33.3))
        img.header.set_xyzt_units("mm", "msec")
        nib.save(img, cohort / f"{name}.nii.gz")
    save_stack(cohort / "site_gt.tif", np.random.default_rng(1).random((3, 16, 16)).astype(np.float32))
    (cohort / "site.csv").write_text("notes\n")  # no image: site_gt.tif is a sequence of its own still
    assert sorted(it["name"] for it in expand_inputs([cohort])) == ["echo01", "echo02", "site_gt"]
    assert not is_labels_file(cohort / "site_gt.tif") and is_labels_file(tmp_path / "m" / "A0S9V9_sa_labels.nii.gz")
    assert named_frame("scanframe2_frame06_gt.nii.gz") == 5 and named_frame("frame2_scan.nii") is None
    # M&Ms-2's subject: its ED volume and ground truth beside its SA cine are no frames, nor a sequence to list
    mm2 = tmp_path / "001"
    mm2.mkdir()
    volume = nib.Nifti1Image(np.zeros((X, Y, Z), np.float32), np.diag([1.5, 1.5, 10.0, 1.0]))
    volume.header.set_zooms((1.5, 1.5, 10.0))
    for name in ("001_SA_ED", "001_SA_ED_gt", "0010_SA_ED"):  # the last another subject's: not this cine's volume
        nib.save(volume, mm2 / f"{name}.nii.gz")
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((X, Y, Z, T)).astype(np.float32), np.eye(4)),
             mm2 / "001_SA_CINE.nii.gz")
    assert sorted(it["name"] for it in expand_inputs([mm2])) == ["0010_SA_ED", "001_SA_CINE"]
    assert named_frame("p_frame00_gt.nii") is None and named_frame("p_frame1.nii.gz") == 0


def test_acdc_volumes_that_do_not_fit_are_said_and_leave_the_cine(tmp_path):
    """A volume named past the last frame, or of another number of slice positions, is left out with a warning that
    says why (the cine opens); so is a 4-D labels file of another number of slice positions."""
    nib = pytest.importorskip("nibabel")

    cine, _ = _patient(tmp_path / "p")
    volume = np.zeros((X, Y, Z), np.uint8)
    img = nib.Nifti1Image(volume, np.diag([1.5, 1.5, 10.0, 1.0]))
    img.header.set_zooms((1.5, 1.5, 10.0))
    nib.save(img, tmp_path / "p" / f"patient001_frame{T + 1:02d}_gt.nii.gz")  # one past the last frame
    with pytest.warns(UserWarning, match=rf"its name gives frame {T + 1} \(1-based\), and the sequence has {T} frames"):
        seq = load_sequence(cine, slice=0)
    assert labelled_frames(seq.labels).tolist() == [0, 3]  # the others still (the patient's were all left out)
    (tmp_path / "p" / f"patient001_frame{T + 1:02d}_gt.nii.gz").unlink()
    (tmp_path / "p" / "patient001_frame01_gt.nii.gz").unlink()
    (tmp_path / "p" / "patient001_frame04_gt.nii.gz").unlink()
    img = nib.Nifti1Image(np.zeros((X, Y, Z + 1), np.uint8), np.diag([1.5, 1.5, 10.0, 1.0]))
    img.header.set_zooms((1.5, 1.5, 10.0))
    nib.save(img, tmp_path / "p" / "patient001_frame02_gt.nii.gz")
    with pytest.warns(UserWarning, match=f"a labels volume of {Z + 1} slice positions, the frames' source has {Z}"):
        assert load_sequence(cine, slice=0).labels is None
    cine, _ = _patient(tmp_path / "m", mnms=True)
    nib.save(nib.Nifti1Image(np.zeros((X, Y, Z + 1, T), np.uint8), np.eye(4)), tmp_path / "m" / "A0S9V9_sa_gt.nii.gz")
    with pytest.warns(UserWarning, match=f"labels of {Z + 1} slice positions, the frames' source has {Z}"):
        assert load_sequence(cine, slice=0).labels is None


def test_a_ground_truth_opened_on_its_own_is_labels_named_as_its_images(tmp_path):
    """(2026-12-06, viewer review) ``patient001_frame01_gt.nii.gz`` or M&Ms' ``_sa_gt`` opened in napari gave grey
    image layers of its planes, offered to register; they are Labels layers, named as the images they label."""
    _, gt = _patient(tmp_path / "a")
    with pytest.warns(UserWarning, match="as a volume's slices do"):  # one time point's planes
        (layer,) = read_sequences(str(tmp_path / "a" / "patient001_frame04_gt.nii.gz"))
    assert (layer[1]["name"], layer[2]) == ("patient001_frame04 labels", "labels")
    np.testing.assert_array_equal(layer[0], np.transpose(gt[..., 3], (2, 1, 0)))
    cine, gt = _patient(tmp_path / "m", mnms=True)
    layers = read_sequences(str(tmp_path / "m" / "A0S9V9_sa_gt.nii.gz"))
    assert [(kw["name"], kind, kw["visible"]) for _, kw, kind in layers] == [
        (f"A0S9V9_sa_slice{k} labels", "labels", k == 0) for k in range(Z)]
    np.testing.assert_array_equal(layers[2][0], np.transpose(gt[:, :, 2, :], (2, 1, 0)))
    assert layers[2][0].dtype == np.int32


def test_a_labels_named_file_without_ids_opens_as_an_image_as_before(tmp_path):
    """(2026-12-06, review) A labels-named RGB TIFF, or a NIfTI of integers scaled to fractions, beside its sequence
    was refused by napari's reader ("labels must be integers"); it opens as an image, as before."""
    nib = pytest.importorskip("nibabel")
    save_stack(tmp_path / "cine.tif", np.random.default_rng(0).random((3, 16, 16)).astype(np.float32))
    import tifffile

    tifffile.imwrite(tmp_path / "cine_gt.tif", np.random.default_rng(1).integers(0, 255, (16, 16, 3), np.uint8),
                     photometric="rgb")
    kinds = [kind for _, _, kind in read_sequences(str(tmp_path / "cine_gt.tif"))]
    assert kinds and "labels" not in kinds
    img = nib.Nifti1Image(np.arange(16 * 16 * 3, dtype=np.int16).reshape(16, 16, 3), np.eye(4))
    img.header.set_slope_inter(0.5, 0)
    nib.save(img, tmp_path / "clip_gt.nii.gz")
    nib.save(img, tmp_path / "clip.nii.gz")
    kinds = [kind for _, _, kind in read_sequences(str(tmp_path / "clip_gt.nii.gz"))]
    assert kinds == ["image"]


def test_one_slice_of_any_multi_slice_source_is_named_for_its_slice(tmp_path):
    """(2026-12-07, docs review) ``load_sequence(..., slice=K)`` named a DICOM folder's slice ``<name>_slice<K>`` and a
    4-D NIfTI's or an (S, T, H, W) npz's as the file (slice 3 and slice 0 under one name, as the API, the CLI's default
    output folder and napari's layer took it); ``load_slices`` named them all ``_slice<k>``. One rule now; a source of
    one slice position keeps its name."""
    import nibabel as nib

    from napari_tlreg.io import load_sequence, load_slices

    rng = np.random.default_rng(0)
    nib.save(nib.Nifti1Image(rng.random((16, 12, 3, 4)).astype(np.float32), np.eye(4)), tmp_path / "cine.nii.gz")
    np.savez(tmp_path / "stack.npz", frames=rng.random((3, 4, 12, 16)).astype(np.float32))
    np.savez(tmp_path / "one.npz", frames=rng.random((4, 12, 16)).astype(np.float32))
    for name in ("cine", "stack"):
        src = tmp_path / (f"{name}.nii.gz" if name == "cine" else f"{name}.npz")
        assert load_sequence(src).name == f"{name}_slice0" and load_sequence(src, slice=2).name == f"{name}_slice2"
        assert [s.name for s in load_slices(src)] == [f"{name}_slice{k}" for k in range(3)]
    assert load_sequence(tmp_path / "one.npz").name == "one"


def _two_series(shared_data, tmp_path):
    """A folder of two series: the Sunnybrook patient's slice 0 (20 phases, SeriesNumber 300 as written) and 8 phases
    of its slice 1 written as another series (SeriesNumber 301, "second"), as an export of a study puts them."""
    import shutil

    import pydicom
    from pydicom.uid import generate_uid

    src = shared_data / "sunnybrook" / "dicom_SCD0000101"
    folder = tmp_path / "study"
    folder.mkdir()
    for n in range(1, 21):
        shutil.copy(src / f"{n}.dcm", folder / f"{n}.dcm")
    uid = generate_uid(entropy_srcs=["second series"])
    for n in range(21, 29):
        ds = pydicom.dcmread(src / f"{n}.dcm")
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.SeriesDescription = uid, 301, "second"
        with warnings.catch_warnings():  # the file's own UIDs do not conform ("Invalid value for VR UI")
            warnings.simplefilter("ignore")
            ds.save_as(folder / f"b{n}.dcm")
    first = str(pydicom.dcmread(folder / "1.dcm").SeriesInstanceUID)
    return folder, first, uid


def test_a_folder_of_several_series_says_them_and_the_cli_chooses_one(shared_data, tmp_path, capsys):
    """(2026-12-07) A folder of several series took the largest, said "pass series= to choose" (Python's words, in
    the CLI too, which had no way to choose), and named it by its UID alone; a result of another series could not say
    which it was, so `evaluate` re-read the default one."""
    folder, first, second = _two_series(shared_data, tmp_path)
    with pytest.warns(UserWarning, match=r"study: 2 series found \(0: 20 files, SeriesNumber 300; "
                                         r"1: 8 files, SeriesNumber 301, 'second'\); using series 0, of the most files; "
                                         r"series=K \(0-based, in SeriesNumber order\) or series=UID chooses another"):
        seq = load_sequence(folder)
    assert seq.shape[0] == 20 and seq.metadata["series_uid"] == first
    by_index, by_uid = load_sequence(folder, series=1), load_sequence(folder, series=second)
    assert by_index.shape[0] == by_uid.shape[0] == 8 and by_index.metadata["series_uid"] == second
    np.testing.assert_array_equal(by_index.frames, by_uid.frames)

    out = tmp_path / "second"
    assert cli.main(["register", str(folder), "--series", "1",
                     "--out", str(out), "--no-montage"]) == 0
    assert "series found" not in capsys.readouterr().err  # chosen: nothing to say
    res = tl.RegistrationResult.load(out)
    assert res.frames.shape[0] == 8 and res.provenance["series"] == second
    assert cli.main(["register", str(folder),
                     "--out", str(tmp_path / "default"), "--no-montage"]) == 0
    err = capsys.readouterr().err
    assert "using series 0, of the most files; --series K (0-based, in SeriesNumber order) or --series UID chooses " \
           "another" in err and "series=K" not in err
    assert tl.RegistrationResult.load(tmp_path / "default").provenance["series"] == first
    assert cli.main(["register", str(folder), "--series", "5", "--out", str(tmp_path / "x"), "--no-montage"]) == 2
    assert "error: study: --series 5 is out of range: the folder has 2 series" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_series_of_a_file_that_holds_none_is_refused(tmp_path):
    """series= on a TIFF was ignored: the file's frames registered as if it had chosen."""
    from napari_tlreg.io import SequenceReadError

    path = save_stack(tmp_path / "s.tif", np.zeros((3, 16, 16), np.float32))
    with pytest.raises(SequenceReadError, match=r"^s.tif: series=1 chooses one series of a DICOM folder; a TIFF file "
                                                r"holds no series to choose$"):
        load_sequence(path, series=1)


def test_the_cli_says_the_series_hint_with_the_command_that_has_the_flag(shared_data, tmp_path, capsys):
    """(2026-12-07, diff review) Every command's warnings were given register's `--series K`: batch and view have
    none ("unrecognized arguments: --series 1"). And a DICOM folder of no pixel size named its first file and gave
    Python's `spacing=` to a command line that has no such flag."""
    import pydicom

    from napari_tlreg.cli import _in_cli_words

    folder, _, _ = _two_series(shared_data, tmp_path)
    with pytest.warns(UserWarning) as seen:
        load_sequence(folder)
    said = next(str(w.message) for w in seen if "series found" in str(w.message))
    assert _in_cli_words(said, "register").endswith("; --series K (0-based, in SeriesNumber order) or --series UID "
                                                    "chooses another")
    assert _in_cli_words(said, "batch").endswith("; `napari-tlreg register FOLDER --series K` (0-based, in SeriesNumber "
                                                 "order) registers another") and "--series K or" not in said
    bare = tmp_path / "bare"
    bare.mkdir()
    for n in range(1, 4):
        ds = pydicom.dcmread(shared_data / "sunnybrook" / "dicom_SCD0000101" / f"{n}.dcm")
        del ds.PixelSpacing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(bare / f"IM{n:04d}.dcm")
    with pytest.warns(UserWarning, match=r"^bare: the DICOM records no pixel size") as seen:
        load_sequence(bare)
    said = next(str(w.message) for w in seen if "no pixel size" in str(w.message))
    assert "spacing=(row_mm, col_mm)" in said and _in_cli_words(said).endswith("are measured in pixels")
    assert "in napari, the layer's scale gives it one" in said  # the viewer's way too (clinician review)


def test_one_damaged_file_of_a_dicom_stack_leaves_its_slice_out_not_the_stack(tmp_path, shared_data):
    """(2026-12-07, bad-input review) One DICOM file of a 12-slice cine cut short refused the whole folder in napari
    (the command line registers the other slices): that slice is left out, said, and the others keep their numbers."""
    import shutil

    folder = tmp_path / "dcm"
    shutil.copytree(shared_data / "sunnybrook" / "dicom_SCD0000101", folder)
    with open(folder / "125.dcm", "r+b") as f:  # an image of slice 6, its pixels cut off
        f.truncate(2000)
    with pytest.warns(UserWarning, match=r"dcm: 1 of 12 slices left out, not readable \(slice 6: dcm: 125\.dcm is not "
                                         r"readable"):
        layers = read_sequences(str(folder))
    names = [kw["name"] for _, kw, kind in layers if kind == "image"]
    assert names == [f"dcm_slice{k}" for k in range(12) if k != 6]
    slice7 = next(kw for _, kw, kind in layers if kind == "image" and kw["name"] == "dcm_slice7")
    assert slice7["metadata"]["napari_tlreg"]["slice"] == 7  # its own slice position, registered as such
    from napari_tlreg.io import SequenceReadError

    with pytest.raises(SequenceReadError, match="125.dcm"):
        load_sequence(folder, slice=6)
