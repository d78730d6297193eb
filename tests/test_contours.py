"""Expert contour files as labels (``io.contours``): the real Sunnybrook DICOM folder and its contours."""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import napari_tlreg as tl
from napari_tlreg import cli
from napari_tlreg.io import SequenceReadError, load_contours, load_sequence, load_stack
from napari_tlreg.io.contours import LV_CAVITY, MYOCARDIUM


@pytest.fixture(scope="module")
def sunnybrook(request):
    data = request.getfixturevalue("shared_data") / "sunnybrook"
    return data / "dicom_SCD0000101", data / "contours_SCD0000101", np.load(data / "SCD0000101_crop128.npz")


@pytest.mark.parametrize("k", [0, 4])
def test_contours_fill_as_the_datasets_own_masks(sunnybrook, k):
    """The labels of slice position ``slice_index[k]`` are the dataset's endocardium and myocardium masks, pixel for
    pixel (in the 128-px crop the .npz keeps), on the frames the expert drew: ED (18) both, ES (7) the cavity only."""
    dicom, contours, z = sunnybrook
    seq = load_sequence(dicom, slice=int(z["slice_index"][k]))
    labels = load_contours(contours, seq)
    assert labels.shape == seq.shape and labels.dtype == np.int32
    r0, c0 = (int(v) for v in z["crop_origin_rc"])
    crop = labels[:, r0:r0 + 128, c0:c0 + 128]
    assert np.array_equal(crop == LV_CAVITY, z["endo"][k]) and np.array_equal(crop == MYOCARDIUM, z["myo"][k])
    assert np.array_equal(seq.frames[:, r0:r0 + 128, c0:c0 + 128], z["cine"][k].astype(np.float32))
    assert [t for t in range(seq.shape[0]) if labels[t].any()] == [7, 18]
    assert set(np.unique(labels[7])) == {0, LV_CAVITY} and set(np.unique(labels[18])) == {0, LV_CAVITY, MYOCARDIUM}


def test_contours_of_another_slice_or_of_no_dicom_are_refused_saying_why(sunnybrook, tmp_path):
    dicom, contours, _ = sunnybrook
    with pytest.raises(SequenceReadError, match=r"no contour is of these frames \(images 1-20\); they are of slice "
                                                r"positions 2, 3, .*, 10 \(slice=, --slice\)"):
        load_contours(contours, load_sequence(dicom))
    with pytest.raises(SequenceReadError, match="not a DICOM folder's that records them"):
        load_contours(contours, load_sequence("lemniscate"))
    from napari_tlreg.io.contours import contour_labels

    with pytest.raises(SequenceReadError, match=r"they name images 48-219, another slice position's "
                                                r"\(slice_instance_numbers names it\)"):  # was "the folder does not hold"
        contour_labels(contours, list(range(1, 21)), (20, 256, 256))
    for folder in (contours, contours / "i-contours"):  # opened as a sequence: said what they are
        with pytest.raises(SequenceReadError, match="holds expert contour files, which are labels"):
            load_sequence(folder)
    with pytest.raises(SequenceReadError, match="holds no contour files"):
        load_contours(tmp_path, load_sequence(dicom, slice=2))
    bad = tmp_path / "IM-0001-0048-icontour-manual.txt"
    bad.write_text("120.5 137.5\nnot a number\n")
    with pytest.raises(SequenceReadError, match="IM-0001-0048-icontour-manual.txt: not a contour file"):
        load_contours(bad, load_sequence(dicom, slice=2))
    bad.write_text("120.5 137.5\n121 136.5\n")
    with pytest.raises(SequenceReadError, match="needs 3 or more"):
        load_contours(bad, load_sequence(dicom, slice=2))


def test_register_takes_the_contours_and_evaluate_reads_them_from_the_folder(sunnybrook, tmp_path, capsys):
    """``register DICOM --labels CONTOURS``: the ED endocardium goes to ES and is scored against the expert's; the
    epicardium, not drawn at ES, is not scored there. Before, the contour folder was read as an image: an error."""
    dicom, contours, _ = sunnybrook
    out = tmp_path / "r"
    assert cli.main(["register", str(dicom), "--slice", "6", "--reference", "18", "--labels", str(contours),
                     "--out", str(out), "--no-montage"]) == 0
    kept = load_stack(out / "labels.tif")[0]
    assert np.array_equal(kept, load_contours(contours, load_sequence(dicom, slice=6)))
    assert np.array_equal(tl.load_labels(contours, load_sequence(dicom, slice=6)), kept)  # from Python too
    with pytest.raises(ValueError, match="give them with that series"):  # not against a shape: no images named
        tl.load_labels(contours, kept.shape)
    rows = {int(r["t"]): r for r in csv.DictReader(open(out / "metrics.csv"))}
    es = rows[7]
    assert float(es["dice_1"]) > 0.9 > float(es["dice_before"]) and es["dice_2"] == ""
    assert not math.isnan(float(es["hd95_1_mm"]))
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 0  # the folder's labels
    kept_summary = json.loads((out / "metrics.json").read_text())["summary"]
    # the contours again, read against the series the folder records (2026-12-07: refused, in Python's words)
    (out / "labels.tif").unlink()
    assert cli.main(["evaluate", str(out), "--labels", str(contours)]) == 0
    assert np.array_equal(load_stack(out / "labels.tif")[0], kept)
    assert json.loads((out / "metrics.json").read_text())["summary"]["dice"] == pytest.approx(kept_summary["dice"])
    assert json.loads((out / "metrics.json").read_text())["label_names"] == {"1": "LV cavity", "2": "myocardium"}
    doc = json.loads((out / "metrics.json").read_text())  # its source moved: said, in the CLI's words
    doc["source"] = str(tmp_path / "moved")
    (out / "metrics.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--labels", str(contours)]) == 2
    err = capsys.readouterr().err
    assert "names no source that can be read again" in err and f"--labels {contours}" in err
    assert "load_labels" not in err
    # beside a labels file of other frames (it was refused: "give them to `register DICOM_FOLDER --labels`")
    extra = np.zeros((20, 256, 256), np.uint8)
    extra[3, 100:120, 100:120] = 5
    np.save(tmp_path / "extra.npy", extra)
    assert cli.main(["register", str(dicom), "--slice", "6", "--reference", "18", "--labels", str(contours),
                     "--labels", str(tmp_path / "extra.npy"), "--out", str(tmp_path / "r2"), "--no-montage"]) == 0
    both = load_stack(tmp_path / "r2" / "labels.tif")[0]
    assert np.array_equal(both, np.where(extra != 0, extra, kept))
    # the contours' names where every file is contours (mutation review: with one of ids only, none)
    assert json.loads((out / "metrics.json").read_text())["label_names"] == {"1": "LV cavity", "2": "myocardium"}
    assert "label_names" not in json.loads((tmp_path / "r2" / "metrics.json").read_text())


def test_the_register_dock_loads_contours_onto_the_dicom_slice_they_were_drawn_on(sunnybrook, make_napari_viewer,
                                                                                  qtbot, monkeypatch):
    """A clinician opens the DICOM folder in napari, picks the contoured slice and loads the expert's contours as its
    labels (the command line's `register --labels CONTOURS` was the only way); on another slice, or an image that
    is not a DICOM folder's, the dock says why."""
    import napari_tlreg._widgets.register as R

    dicom, contours, _ = sunnybrook
    errors = []
    monkeypatch.setattr(R, "show_error", errors.append)
    viewer = make_napari_viewer()
    w = R.RegisterWidget(viewer)
    viewer.window.add_dock_widget(w)
    viewer.open(str(dicom), plugin="napari-tlreg")
    name = f"{dicom.name}_slice6"
    assert f"{dicom.name}_slice0" in viewer.layers and name in viewer.layers
    w.image_combo.setCurrentIndex(w.image_combo.findText(f"{dicom.name}_slice0"))
    assert w.contours_btn.isEnabled()
    assert w.load_contours(contours) is None and "slice positions 2, 3" in errors[-1]
    w.image_combo.setCurrentIndex(w.image_combo.findText(name))
    monkeypatch.setattr(R.QFileDialog, "getExistingDirectory", lambda *a, **k: str(contours))
    w.contours_btn.click()
    layer = viewer.layers[f"{name} labels"]
    assert np.array_equal(layer.data, load_contours(contours, load_sequence(dicom, slice=6)))
    assert layer.scale[1:] == pytest.approx(viewer.layers[name].scale[1:]) and layer.scale[1] == pytest.approx(1.367188)
    said = re.fullmatch(rf"contours of frames 7, 18 loaded as '{name} labels'; reference: frame 18, the most "
                        rf"labelled of '{name} labels' \(labelled frames: 7, 18\); frame (\d+) has none to carry to "
                        r"the others", w.status_label.text())
    assert w.current_labels() is layer and said and int(said.group(1)) not in (7, 18), w.status_label.text()
    assert w.reference_spin.value() == 18  # ED: Run on frame 0 carried nothing and scored nothing (viewer review)
    w.reference_spin.setValue(7)  # a labelled frame chosen by hand stays
    assert w.load_contours(contours) is layer and w.reference_spin.value() == 7
    # (2026-12-05, clinician review) the slice chosen is the one shown: the overlay of slice 6 was drawn over slice 0
    assert viewer.layers[name].visible and not viewer.layers[f"{dicom.name}_slice0"].visible
    assert layer.metadata["label_names"] == {1: "LV cavity", 2: "myocardium"}  # the plots said "1", "2"
    # loaded again: the same layer; after an edit by hand, a new one beside it (the edit was thrown away)
    assert len([ly for ly in viewer.layers if "labels" in ly.name]) == 1
    layer.data[18, 0, 0] = 2
    again = w.load_contours(contours)
    assert again is not layer and layer.data[18, 0, 0] == 2 and w.current_labels() is again
    # contours of slice 6 chosen for slice 2 were scored against slice 2 without a word: refused at Run
    w.image_combo.setCurrentIndex(w.image_combo.findText(f"{dicom.name}_slice2"))
    w.labels_combo.setCurrentIndex(w.labels_combo.findText(again.name))
    w.run_btn.click()
    assert not w.running and w.status_label.text().startswith(
        f"not run: labels '{again.name}': contours drawn on DICOM images 121-140, and '{dicom.name}_slice2' is images "
        "41-60; choose labels of this image, or none"), w.status_label.text()
    # (2026-12-07, DICOM review) a run of slice 6 records its slice and the folder's count, as the command line's does
    w.image_combo.setCurrentIndex(w.image_combo.findText(name))
    w.labels_combo.setCurrentIndex(0)
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.running, timeout=60000)
    prov = w.current_result().provenance
    assert prov["slice"] == 6 and prov["n_slices"] == 12 and Path(prov["source"]) == dicom.resolve(), prov
    viewer.add_image(np.random.default_rng(0).random((4, 32, 32)), name="not dicom")
    w.image_combo.setCurrentIndex(w.image_combo.findText("not dicom"))
    assert not w.contours_btn.isEnabled()


def test_a_patient_folder_with_its_contours_inside_still_opens_and_papillary_files_are_not_labels(sunnybrook, tmp_path):
    """(2026-12-05, code review) The DICOM folder reader refused a folder with a contours subfolder ("holds expert
    contour files") and a DICOM without InstanceNumber made the folder unreadable (None sorted against ints); a
    papillary muscle's contour (p) was filled as the LV cavity when the check was loosened, and two files of one
    image and kind are one label."""
    import shutil

    import pydicom

    dicom, contours, _ = sunnybrook
    patient = tmp_path / "patient"
    patient.mkdir()
    for n in range(41, 61):  # slice position 2
        shutil.copy(dicom / f"{n}.dcm", patient / f"{n}.dcm")
    shutil.copytree(contours, patient / "contours")
    seq = load_sequence(patient)
    assert seq.shape == (20, 256, 256) and seq.metadata["instance_numbers"] == list(range(41, 61))
    labels = load_contours(patient / "contours", seq)
    assert sorted(np.unique(labels)) == [0, 1, 2]
    ds = pydicom.dcmread(patient / "41.dcm")
    del ds.InstanceNumber
    ds.save_as(patient / "41.dcm")
    seq = load_sequence(patient)
    assert seq.shape == (20, 256, 256) and None in seq.metadata["instance_numbers"]
    assert seq.metadata["slice_instance_numbers"] == [list(range(42, 61))]
    with pytest.raises(SequenceReadError, match="not a DICOM folder's that records them"):  # which frame is 41?
        load_contours(patient / "contours", seq)
    # p contours: not labels, here or as a slice to go to; two files of one image and kind: their union
    seq = load_sequence(dicom, slice=2)
    own = tmp_path / "own"
    own.mkdir()
    box = "\n".join(f"{x} {y}" for x, y in ((100, 100), (110, 100), (110, 110), (100, 110)))
    other = "\n".join(f"{x} {y}" for x, y in ((120, 120), (130, 120), (130, 130), (120, 130)))
    (own / "IM-0001-0048-pcontour-manual.txt").write_text(box)
    with pytest.raises(SequenceReadError, match="draw no endocardium"):
        load_contours(own, seq)
    (own / "IM-0001-0200-pcontour-manual.txt").write_text(box)  # another slice's papillary muscle: no advice to go
    with pytest.raises(SequenceReadError, match="draw no endocardium"):
        load_contours(own, seq)
    (own / "IM-0001-0048-icontour-manual.txt").write_text(box)
    (own / "IM-0001-0048-icontour-auto.txt").write_text(other)
    labels = load_contours(own, seq)
    assert labels[7, 105, 105] == labels[7, 125, 125] == 1 and labels.sum() == 2 * 11 * 11


def test_the_sunnybrook_crops_masks_are_labels_given_as_labels_too(shared_data, tmp_path, capsys):
    """(2026-12-07, landmarks review) The crops' masks open as labels, but given as labels (``--labels CROP.npz``,
    ``load_labels``) they were refused: "the .npz holds no 'labels' array". They are the same labels either way, at
    the frames' slice position."""
    import napari_tlreg as tl

    crop = shared_data / "sunnybrook" / "SCD0000101_crop128.npz"
    one = shared_data / "sunnybrook" / "sunnybrook_SCD0000101_slice6_crop128.npz"
    for path, k in ((one, None), (crop, 0), (crop, 4)):
        seq = load_sequence(path, slice=k)
        np.testing.assert_array_equal(tl.load_labels([path], seq), seq.labels)
    out = tmp_path / "r"
    assert cli.main(["register", str(one), "--method", "voxelmorph", "--reference", "18", "--out", str(out)]) == 0
    (out / "metrics.json").unlink()  # nothing kept: the labels come from --labels alone
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--labels", str(one)]) == 0
    with open(out / "metrics.csv") as f:
        rows = {int(r["t"]): r for r in csv.DictReader(f)}
    assert float(rows[7]["dice_1"]) > float(rows[7]["dice_1_before"]) > 0.5


def test_the_sunnybrook_crops_masks_open_as_their_labels(shared_data, sunnybrook, tmp_path):
    """An ``.npz`` with an expert's masks (``endo``, ``epi``, ``myo`` and their ``has_*`` frame flags, or one frame's
    ``endo_ed`` with ``ed_index``) opens with them as labels, as the contour files give them; before, its labels were
    ``None`` and ``register CROP.npz --slice K`` scored nothing."""
    dicom, contours, z = sunnybrook
    crop = shared_data / "sunnybrook" / "SCD0000101_crop128.npz"
    for k in (0, 4):
        seq = load_sequence(crop, slice=k)
        assert seq.labels is not None and seq.labels.shape == seq.shape
        assert seq.metadata["label_names"] == {LV_CAVITY: "LV cavity", MYOCARDIUM: "myocardium"}
        drawn = z["has_endo"][k][:, None, None]
        assert np.array_equal(seq.labels == LV_CAVITY, z["endo"][k] & drawn)
        assert np.array_equal(seq.labels == MYOCARDIUM, z["myo"][k] & z["has_epi"][k][:, None, None])
        assert [t for t in range(seq.shape[0]) if seq.labels[t].any()] == [7, 18]
    from napari_tlreg._hooks import read_sequences

    opened = [(kw["name"], kw["metadata"].get("label_names")) for _, kw, kind in read_sequences(str(crop))
              if kind == "labels"]  # File > Open: a labels layer a slice position, named for the plots
    assert len(opened) == 9 and opened[4] == ("SCD0000101_crop128_slice4 labels", {1: "LV cavity", 2: "myocardium"})
    # one slice's file (ED and ES masks by index) = the contour files on the DICOM slice, cropped
    one = load_sequence(shared_data / "sunnybrook" / "sunnybrook_SCD0000101_slice6_crop128.npz")
    with np.load(shared_data / "sunnybrook" / "sunnybrook_SCD0000101_slice6_crop128.npz") as s6:
        r0, c0 = (int(v) for v in s6["crop_origin_rc"])
    full = load_contours(contours, load_sequence(dicom, slice=6))
    assert np.array_equal(one.labels, full[:, r0:r0 + 128, c0:c0 + 128])
    assert set(np.unique(one.labels[18])) == {0, LV_CAVITY, MYOCARDIUM}
    # the CLI scores them: ED (18) as the reference, the ES (7) row has a Dice
    out = tmp_path / "out"
    assert cli.main(["register", str(crop), "--slice", "4", "--reference", "18", "--out", str(out)]) == 0
    with open(out / "metrics.csv") as f:
        rows = {int(r["t"]): r for r in csv.DictReader(f)}
    assert float(rows[7]["dice_1"]) > float(rows[7]["dice_before"]) and rows[8]["dice"] == ""
    # the result and a report name the labels (1, 2 were ids alone)
    import json

    assert json.loads((out / "metrics.json").read_text())["label_names"] == {"1": "LV cavity", "2": "myocardium"}
    assert cli.main(["evaluate", str(out), "--report", str(tmp_path / "rep")]) == 0
    assert json.loads((out / "metrics.json").read_text())["label_names"] == {"1": "LV cavity", "2": "myocardium"}
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["labels"]["label_names"] == {"1": "LV cavity", "2": "myocardium"}
    # other labels given: not the names of the ones it was scored on before (code review)
    other = tmp_path / "other.npy"
    np.save(other, (load_sequence(crop, slice=4).labels > 0).astype(np.int32) * 5)
    assert cli.main(["evaluate", str(out), "--labels", str(other), "--report", str(tmp_path / "rep")]) == 0
    assert "label_names" not in json.loads((out / "metrics.json").read_text())
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["labels"]["label_names"] == {}
    # masks that are not of the frames, or their flags, are said
    frames = np.zeros((3, 16, 16), np.float32)
    frames[1, 4:8, 4:8] = 1
    np.savez(tmp_path / "bad.npz", frames=frames, endo=np.ones((2, 16, 16), bool))
    with pytest.raises(SequenceReadError, match=r"bad.npz.*mask 'endo' has shape \(2, 16, 16\); the frames are"):
        load_sequence(tmp_path / "bad.npz")
    # (code review) members named like masks that are none (contour points, a mask of another size, an index that
    # is no frame number) are left out, said: the file opened before, it opens still
    np.savez(tmp_path / "points.npz", frames=frames, epi=np.ones((40, 2)), endo=np.ones((3, 16, 15), bool),
             endo_ed=frames[1] > 0, ed_index=np.array([1, 2]))
    with pytest.warns(UserWarning, match=r"'epi' left out of the labels: shape \(40, 2\) is no mask of the 16x16"):
        seq = load_sequence(tmp_path / "points.npz")
    assert seq.labels is None and "label_names" not in seq.metadata
    for bad in (1.5, np.nan):
        np.savez(tmp_path / "half.npz", frames=frames, endo_ed=frames[1] > 0, ed_index=np.float64(bad))
        with pytest.warns(UserWarning, match=rf"'endo_ed' left out of the labels: ed_index is {bad}, not one frame"):
            assert load_sequence(tmp_path / "half.npz").labels is None
    # the epicardium without a myocardium mask: the ring outside the endocardium; myo's frames are has_epi's;
    # colour frames (T, H, W, 3) take masks of (T, H, W)
    disc = np.zeros((3, 16, 16), bool)
    disc[:, 3:13, 3:13] = True
    inner = np.zeros_like(disc)
    inner[:, 6:10, 6:10] = True
    np.savez(tmp_path / "ring.npz", frames=np.repeat(frames[..., None], 3, axis=-1), epi=disc, endo=inner,
             has_epi=np.array([True, False, True]), has_endo=np.ones(3, bool))
    ring = load_sequence(tmp_path / "ring.npz").labels
    assert np.array_equal(ring[0] == MYOCARDIUM, disc[0] & ~inner[0]) and np.array_equal(ring[0] == LV_CAVITY, inner[0])
    assert set(np.unique(ring[1])) == {0, LV_CAVITY}
    np.savez(tmp_path / "myo.npz", frames=frames, myo=disc & ~inner, has_epi=np.array([False, True, False]),
             has_endo=np.ones(3, bool))
    assert [int((lab == MYOCARDIUM).sum()) for lab in load_sequence(tmp_path / "myo.npz").labels] == [0, 84, 0]
    np.savez(tmp_path / "flags.npz", frames=frames, endo=frames > 0, has_endo=np.ones(2, bool))
    with pytest.raises(SequenceReadError, match=r"'has_endo' has shape \(2,\); expected one flag a frame"):
        load_sequence(tmp_path / "flags.npz")
    np.savez(tmp_path / "ed.npz", frames=frames, endo_ed=frames[1] > 0, ed_index=np.int64(5))
    with pytest.raises(SequenceReadError, match=r"mask 'endo_ed' \(16, 16\) on frame ed_index=5 does not fit"):
        load_sequence(tmp_path / "ed.npz")
    # no flags: drawn where the mask is; an explicit ``labels`` wins over masks
    np.savez(tmp_path / "plain.npz", frames=frames, endo=frames > 0)
    assert np.array_equal(load_sequence(tmp_path / "plain.npz").labels, (frames > 0).astype(np.int32))
    np.savez(tmp_path / "both.npz", frames=frames, endo=frames > 0, labels=np.full((3, 16, 16), 3, np.int32))
    assert (load_sequence(tmp_path / "both.npz").labels == 3).all()


def test_register_without_a_reference_starts_on_the_most_labelled_frame(shared_data, tmp_path, capsys):
    """(2026-12-05) The CLI registered to frame 0 when the expert's contours are on ED (18) and ES (7) only: nothing was
    carried and no Dice scored, with a warning, where the viewer moves its reference to the most labelled frame. The
    CLI does as the viewer, and says so; an explicit --reference is kept."""
    crop = shared_data / "sunnybrook" / "SCD0000101_crop128.npz"
    out = tmp_path / "out"
    assert cli.main(["register", str(crop), "--slice", "4", "--out", str(out), "--no-montage"]) == 0
    err = capsys.readouterr().err
    assert "reference: frame 18, the most labelled (labelled frames: 7, 18); frame 0 has none" in err
    assert "has no labels" not in err
    assert json.loads((out / "result.json").read_text())["reference"] == 18
    with open(out / "metrics.csv") as f:
        rows = {int(r["t"]): r for r in csv.DictReader(f)}
    assert float(rows[7]["dice_1"]) > float(rows[7]["dice_before"])
    assert cli.main(["register", str(crop), "--slice", "4", "--reference", "0", "--out", str(out), "--no-montage"]) == 0
    assert "the reference frame (0) has no labels" in capsys.readouterr().err
    assert json.loads((out / "result.json").read_text())["reference"] == 0


def test_a_structure_takes_one_colour_whatever_its_id(shared_data):
    """(2026-12-07, cine review) The bundled samples number the wall 1 and the cavity 2, the expert's contours the cavity
    1 and the myocardium 2: the cavity was orange in the sample and red in the patient's file. Named structures take
    their colour, the wall red and the cavity orange, whatever their ids; other ids the palette's other colours."""
    from napari_tlreg._hooks import LABEL_PALETTE, label_colormap, sequence_to_layers

    red, orange, violet = LABEL_PALETTE[:3]
    assert label_colormap()[1:3] == [red, orange]
    assert label_colormap({1: "LV cavity", 2: "myocardium"})[1:4] == [orange, red, violet]
    assert label_colormap({"1": "LV wall", "2": "LV cavity"})[1:3] == [red, orange]  # keys as JSON gives them
    assert label_colormap({1: "LV cavity", 2: "RV cavity", 3: "scar"})[1:4] == [orange, red, violet]  # one id a colour
    assert len(label_colormap({1: "LV cavity"})) == len(LABEL_PALETTE) + 1  # the cycle's length kept

    def cavity_colour(seq):
        (data, kw, _), = [layer for layer in sequence_to_layers(seq) if layer[2] == "labels"]
        names = kw["metadata"]["label_names"]
        (cavity,) = [int(k) for k, name in names.items() if "cavity" in name or "blood pool" in name]
        return kw["colormap"][cavity]

    patient = load_sequence(shared_data / "sunnybrook" / "sunnybrook_SCD0000101_slice6_crop128.npz")
    assert cavity_colour(tl.load_sequence("cardiac")) == cavity_colour(patient) == orange


def test_contours_outside_a_sub_clip_are_said_so_not_sent_to_another_slice(shared_data, tmp_path, capsys):
    """(2026-12-07, diff review) `--slice 3 --frames 10:16` with the expert's contours (of that slice's frames 7 and
    18) said "they are of slice positions 2, 3, 4, ... (slice=, --slice)": slice 3 is the one chosen."""
    from napari_tlreg import cli

    data = shared_data / "sunnybrook"
    assert cli.main(["register", str(data / "dicom_SCD0000101"), "--slice", "3", "--frames", "10:16", "--labels",
                     str(data / "contours_SCD0000101"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "no contour is of these frames (images 71-76); they are of this slice position's frames left out " \
           "(--frames)" in err and "--slice" not in err.split("error:")[-1]


def test_evaluate_reads_contours_against_each_folders_own_sub_clip(sunnybrook, tmp_path, capsys):
    """(Diff review, 2026-12-07) Labels were read once per (reference, slice position): two sub-clips of one slice
    with the same reference got the first folder's contours, silently."""
    import shutil

    dicom, contours, _ = sunnybrook
    for name, cut in (("A", "0:12"), ("C", "8:20")):
        assert cli.main(["register", str(dicom), "--slice", "6", "--frames", cut, "--reference", "7", "--method",
                         "voxelmorph", "--labels", str(contours), "--out", str(tmp_path / name), "--no-montage"]) == 0
    shutil.copytree(tmp_path / "C", tmp_path / "C2")
    assert cli.main(["evaluate", str(tmp_path / "C"), "--labels", str(contours)]) == 0
    assert cli.main(["evaluate", str(tmp_path / "A"), str(tmp_path / "C2"), "--labels", str(contours)]) == 0
    alone, beside, a = (load_stack(tmp_path / n / "labels.tif")[0] for n in ("C", "C2", "A"))
    assert np.array_equal(alone, beside) and not np.array_equal(a, beside)
    assert np.array_equal(alone, tl.load_labels(contours, load_sequence(dicom, slice=6)[8:20]))
