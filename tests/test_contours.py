"""Expert contour files as labels (``io.contours``): the real Sunnybrook DICOM folder and its contours."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

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
    rows = {int(r["t"]): r for r in csv.DictReader(open(out / "metrics.csv"))}
    es = rows[7]
    assert float(es["dice_1"]) > 0.9 > float(es["dice_before"]) and es["dice_2"] == ""
    assert not math.isnan(float(es["hd95_1_mm"]))
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 0  # the folder's labels
    assert cli.main(["evaluate", str(out), "--labels", str(contours)]) == 2
    assert "give them to `register DICOM_FOLDER --labels`" in capsys.readouterr().err


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
    assert w.current_labels() is layer and w.status_label.text() == f"contours of frames 7, 18 loaded as '{name} labels'"
    viewer.add_image(np.random.default_rng(0).random((4, 32, 32)), name="not dicom")
    w.image_combo.setCurrentIndex(w.image_combo.findText("not dicom"))
    assert not w.contours_btn.isEnabled()
