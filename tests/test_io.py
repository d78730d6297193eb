"""Readers and atomic writers: round trips, real DICOM/echo/video, corrupt files, atomicity."""
from __future__ import annotations

import os
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from napari_tlreg.io import (
    Sequence,
    SequenceReadError,
    atomic_dir,
    atomic_path,
    load_points_csv,
    load_sequence,
    load_stack,
    save_points_csv,
    save_stack,
    to_luminance,
)
from napari_tlreg.io.writers import check_replaceable

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # ../shared/data (read-only)
SUNNY = DATA / "sunnybrook"
DICOM_FOLDER = SUNNY / "dicom_SCD0000101"
MULTIFRAME = DATA / "dicom" / "heart_cine_multiframe_16x256x256.dcm"

needs_sunny = pytest.mark.skipif(not DICOM_FOLDER.is_dir(), reason="shared Sunnybrook data not present")
needs_multiframe = pytest.mark.skipif(not MULTIFRAME.is_file(), reason="shared multi-frame DICOM not present")


def _stack(shape=(5, 24, 32), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random(shape) * 1000
    if np.dtype(dtype).kind in "iu":
        x = np.round(x)
    return x.astype(dtype)


def _write_dicom(path, frames, *, spacing=(0.7, 0.9), frame_time=40.0, rgb=False):
    """A minimal uncompressed multi-frame DICOM (MONOCHROME2 uint16, or YBR_FULL uint8)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7.4"
    # a UID from the file's name, not a random one: the same bytes every run (the fuzz test mutates them)
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[Path(path).name])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.NumberOfFrames = frames.shape[0]
    ds.Rows, ds.Columns = frames.shape[1:3]
    ds.PixelSpacing = list(spacing)
    ds.FrameTime = frame_time
    ds.PixelRepresentation = 0
    if rgb:
        from pydicom.pixels import convert_color_space

        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL", 0
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelData = convert_color_space(frames, "RGB", "YBR_FULL").astype(np.uint8).tobytes()
    else:
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelData = frames.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def _write_video(path, grey, fps=10, **kw):
    import imageio.v3 as iio

    frames = grey if grey.ndim == 4 else np.repeat(grey[..., None], 3, axis=-1)  # (T, H, W, 3): colour as it is
    iio.imwrite(path, frames, plugin="FFMPEG", fps=fps, **kw)


def _smooth_video(t=12, h=64, w=64):
    r, c = np.mgrid[0:h, 0:w] / max(h, w)
    return np.stack([(255 * (0.5 + 0.4 * np.sin(6 * c + k / 3) * np.cos(4 * r))) for k in range(t)]).astype(np.uint8)


# --------------------------------------------------------------------------- TIFF
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64])
def test_tiff_round_trip_exact_with_spacing(tmp_path, dtype):
    x = _stack(dtype=dtype)
    p = save_stack(tmp_path / "s.tif", x, spacing=(1.367188, 0.5))
    arr, spacing, unit = load_stack(p)
    assert arr.dtype == x.dtype and arr.shape == x.shape
    np.testing.assert_array_equal(arr, x)
    assert spacing == pytest.approx((1.367188, 0.5), rel=1e-9) and unit == "mm"
    seq = load_sequence(p)
    assert isinstance(seq, Sequence) and seq.frames.dtype == np.float32 and seq.shape == x.shape
    np.testing.assert_array_equal(seq.frames, x.astype(np.float32))
    assert seq.spacing == pytest.approx((1.367188, 0.5), rel=1e-9) and seq.unit == "mm"
    assert seq.metadata["reader"] == "tiff" and seq.metadata["source"] == str(p)
    assert seq.labels is None
    # what other tools read (Fiji, QuPath): the resolution tags, pixels per unit, X the columns (our reader takes the
    # JSON description first, so the round trip above passed with X and Y swapped in the tags)
    import tifffile

    with tifffile.TiffFile(p) as tif:
        tags = tif.pages[0].tags
        per_col = tags["XResolution"].value[0] / tags["XResolution"].value[1]
        per_row = tags["YResolution"].value[0] / tags["YResolution"].value[1]
        per_mm = 0.1 if tags["ResolutionUnit"].value == tifffile.RESUNIT.CENTIMETER else 1.0  # ImageJ: unit=mm
        assert tif.is_imagej or tags["ResolutionUnit"].value == tifffile.RESUNIT.CENTIMETER
    assert per_col * per_mm == pytest.approx(1 / 0.5, rel=1e-6) and per_row * per_mm == pytest.approx(1 / 1.367188, rel=1e-6)


def test_tiff_without_spacing_and_4d_and_2d(tmp_path):
    x = _stack((3, 2, 8, 9))
    arr, spacing, _ = load_stack(save_stack(tmp_path / "u.tiff", x))
    assert arr.shape == (3, 2, 8, 9) and spacing is None
    np.testing.assert_array_equal(arr, x)
    seq = load_sequence(save_stack(tmp_path / "one.tif", _stack((8, 9), np.float64)))
    assert seq.shape == (1, 8, 9) and seq.spacing is None and seq.unit == "px"


def test_ome_tiff_spacing_converted_to_mm(tmp_path):
    import tifffile

    x = _stack((4, 10, 12), np.uint16)
    p = tmp_path / "cells.ome.tif"
    tifffile.imwrite(p, x, metadata={"axes": "TYX", "PhysicalSizeX": 250.0, "PhysicalSizeXUnit": "µm",
                                     "PhysicalSizeY": 500.0, "PhysicalSizeYUnit": "µm"})
    seq = load_sequence(p)
    assert seq.spacing == pytest.approx((0.5, 0.25)) and seq.unit == "mm"
    np.testing.assert_array_equal(seq.frames, x)
    # and our own OME writer
    arr, spacing, unit = load_stack(save_stack(tmp_path / "w.ome.tif", x, spacing=(2.0, 3.0)))
    np.testing.assert_array_equal(arr, x)
    assert spacing == pytest.approx((2.0, 3.0)) and unit == "mm"


def test_plain_tiff_resolution_tags_in_cm(tmp_path):
    import tifffile

    p = tmp_path / "res.tif"
    tifffile.imwrite(p, _stack((2, 6, 7), np.uint8), resolution=(10 / 0.25, 10 / 0.5), resolutionunit="CENTIMETER")
    assert load_sequence(p).spacing == pytest.approx((0.5, 0.25))


def test_imagej_resolution_reads_back_the_pixel_size_written_not_its_rational_noise(tmp_path):
    """1 / (1/2.3) through a TIFF rational read back as 2.3000000000000003 (in result.json and itk.json)."""
    import tifffile

    p = tmp_path / "aniso.tif"
    tifffile.imwrite(p, _stack((2, 6, 7), np.uint8), imagej=True, resolution=(1 / 2.3, 1 / 0.6),
                     metadata={"axes": "TYX", "unit": "mm"})
    seq = load_sequence(p)
    assert tuple(seq.spacing) == (0.6, 2.3) and seq.unit == "mm"


def test_rgb_tiff_to_luminance_keeps_colour(tmp_path):
    import tifffile

    rgb = np.zeros((3, 6, 7, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[..., 1] = 100
    rgb[1, 2, 3] = (10, 20, 30)
    p = tmp_path / "colour.tif"
    tifffile.imwrite(p, rgb, photometric="rgb")
    seq = load_sequence(p)
    assert seq.shape == (3, 6, 7)
    assert seq.frames[0, 0, 0] == pytest.approx(0.299 * 200 + 0.587 * 100)
    assert seq.frames[1, 2, 3] == pytest.approx(0.299 * 10 + 0.587 * 20 + 0.114 * 30)
    np.testing.assert_array_equal(seq.metadata["rgb"], rgb)


def test_sibling_labels_loaded_and_mismatch_ignored(tmp_path):
    x = _stack((4, 10, 12))
    lab = np.zeros((4, 10, 12), np.uint8)
    lab[:, 3:6, 4:8] = 2
    save_stack(tmp_path / "heart.tif", x)
    save_stack(tmp_path / "heart_labels.tif", lab)
    seq = load_sequence(tmp_path / "heart.tif")
    assert seq.labels is not None and seq.labels.dtype == np.int32
    np.testing.assert_array_equal(seq.labels, lab)

    save_stack(tmp_path / "b.nii.gz", x)
    save_stack(tmp_path / "b_labels.nii.gz", lab[:, :5])  # wrong shape
    with pytest.warns(UserWarning, match="does not match"):
        seq = load_sequence(tmp_path / "b.nii.gz")
    assert seq.labels is None


def test_cli_register_says_the_labels_it_found_beside_its_input(tmp_path, capsys):
    """(2026-12-07, echo review) A labels file beside the input was read and scored (Dice in metrics.json) without a
    word on the console."""
    from napari_tlreg import cli

    seq = load_sequence("cardiac")
    save_stack(tmp_path / "heart.tif", seq.frames[:4])
    save_stack(tmp_path / "heart_labels.tif", seq.labels[:4], labels=True)
    assert cli.main(["register", str(tmp_path / "heart.tif"), "--out", str(tmp_path / "r"), "--no-montage"]) == 0
    assert "napari-tlreg register: labels: heart_labels.tif, beside the input (--labels FILE for others)" in \
        capsys.readouterr().err
    assert cli.main(["register", str(tmp_path / "heart.tif"), "--labels", str(tmp_path / "heart_labels.tif"),
                     "--out", str(tmp_path / "r2"), "--no-montage"]) == 0
    assert "beside the input" not in capsys.readouterr().err  # given: nothing to say


def test_nan_frames_allowed_at_load(tmp_path):
    x = _stack((3, 5, 6))
    x[1, 2, 2] = np.nan
    seq = load_sequence(save_stack(tmp_path / "nan.tif", x))
    assert np.isnan(seq.frames[1, 2, 2]) and np.isfinite(seq.frames[0]).all()


# --------------------------------------------------------------------------- NIfTI
@pytest.mark.parametrize("name", ["s.nii", "s.nii.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.float32, np.float64])
def test_nifti_round_trip_exact_with_spacing(tmp_path, name, dtype):
    x = _stack((5, 24, 32), dtype)
    p = save_stack(tmp_path / name, x, spacing=(1.25, 0.75))
    arr, spacing, unit = load_stack(p)
    assert arr.dtype == x.dtype and arr.shape == x.shape
    np.testing.assert_array_equal(arr, x)
    assert spacing == pytest.approx((1.25, 0.75)) and unit == "mm"
    seq = load_sequence(p)
    np.testing.assert_array_equal(seq.frames, x.astype(np.float32))
    assert seq.spacing == pytest.approx((1.25, 0.75)) and seq.metadata["reader"] == "nifti"
    if name.endswith(".gz"):
        assert p.read_bytes()[:2] == b"\x1f\x8b"  # really gzip-compressed


def test_nifti_axis_convention_matches_nibabel(tmp_path):
    """data[x, y, t] (nibabel order) is frames[t, row=y, col=x]; zooms (x, y) -> spacing (row=y, col=x)."""
    import nibabel as nib

    X, Y, T = 7, 5, 3
    data = np.zeros((X, Y, T), np.float32)
    data[6, 1, 2] = 9.0  # x=6 (col), y=1 (row), t=2
    img = nib.Nifti1Image(data, np.diag([0.4, 0.8, 1.0, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, tmp_path / "xyt.nii")
    seq = load_sequence(tmp_path / "xyt.nii")
    assert seq.shape == (T, Y, X)
    assert seq.frames[2, 1, 6] == 9.0 and seq.frames.sum() == 9.0
    assert seq.spacing == pytest.approx((0.8, 0.4))

    # (X, Y, 1, T) is the same sequence; and our writer produces that layout
    nib.save(nib.Nifti1Image(data[:, :, None, :], np.eye(4)), tmp_path / "xy1t.nii.gz")
    np.testing.assert_array_equal(load_sequence(tmp_path / "xy1t.nii.gz").frames, seq.frames)
    save_stack(tmp_path / "ours.nii", seq.frames)
    stored = np.asanyarray(nib.load(tmp_path / "ours.nii").dataobj)
    assert stored.shape == (X, Y, 1, T) and stored[6, 1, 0, 2] == 9.0
    # (2026-12-05, outputs review) ITK's own affine, the LPS identity: written with the RAS identity, a file lay
    # mirrored through the origin against one ITK wrote of the same frame (ITK: direction diag(-1, -1) vs diag(1, 1);
    # checked with ITK through antspyx: after the change a labels file resamples onto ITK's image pixel for pixel)
    save_stack(tmp_path / "sp.nii.gz", seq.frames, spacing=(0.8, 0.4))
    img = nib.load(tmp_path / "sp.nii.gz")
    np.testing.assert_allclose(img.affine, np.diag([-0.4, -0.8, 1.0, 1.0]))
    assert int(img.header["qform_code"]) == 1 and int(img.header["sform_code"]) == 1
    np.testing.assert_allclose(img.get_qform(), img.affine)


def test_nifti_4d_slices(tmp_path):
    import nibabel as nib

    data = np.zeros((6, 5, 3, 4), np.int16)
    for z in range(3):
        data[:, :, z, :] = z + 1
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "xyzt.nii.gz")
    seq = load_sequence(tmp_path / "xyzt.nii.gz", slice=2)
    assert seq.shape == (4, 5, 6) and np.all(seq.frames == 3)
    assert seq.metadata["n_slices"] == 3
    with pytest.raises(ValueError, match="out of range"):
        load_sequence(tmp_path / "xyzt.nii.gz", slice=3)


# --------------------------------------------------------------------------- NumPy
def test_npz_and_npy(tmp_path):
    x = _stack((4, 9, 11))
    lab = (x > 500).astype(np.uint8)
    np.savez(tmp_path / "a.npz", frames=x, labels=lab, spacing=np.array([0.5, 0.25]))
    seq = load_sequence(tmp_path / "a.npz")
    np.testing.assert_array_equal(seq.frames, x)
    np.testing.assert_array_equal(seq.labels, lab)
    assert seq.spacing == (0.5, 0.25) and seq.metadata["reader"] == "npz"

    cine = np.stack([x, x + 1])  # (S, T, H, W)
    np.savez(tmp_path / "c.npz", cine=cine)
    np.testing.assert_array_equal(load_sequence(tmp_path / "c.npz", slice=1).frames, x + 1)
    np.save(tmp_path / "b.npy", x)
    np.testing.assert_array_equal(load_sequence(tmp_path / "b.npy").frames, x)
    np.savez(tmp_path / "none.npz", spacing=np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="none.npz: npz holds no image"):
        load_sequence(tmp_path / "none.npz")


# --------------------------------------------------------------------------- DICOM
@needs_sunny
def test_dicom_folder_orders_slices_and_phases():
    import pydicom

    seq = load_sequence(DICOM_FOLDER, slice=4)
    assert seq.shape == (20, 256, 256)
    md = seq.metadata
    assert md["reader"] == "dicom" and md["n_slices"] == 12 and md["slice"] == 4
    # n.dcm: slice = (n-1)//20, phase = (n-1)%20
    assert md["files"] == [f"{4 * 20 + p + 1}.dcm" for p in range(20)]
    assert np.all(np.diff(md["trigger_times_ms"]) > 0)
    assert seq.spacing == pytest.approx((1.367188, 1.367188)) and seq.unit == "mm"
    assert 20 < md["frame_time_ms"] < 60
    np.testing.assert_array_equal(seq.frames[7], pydicom.dcmread(DICOM_FOLDER / "88.dcm").pixel_array)
    # slice positions are distinct, in acquisition order
    assert len(set(md["slice_locations"])) == 12
    crop = SUNNY / "SCD0000101_crop128.npz"
    if crop.is_file():
        z = np.load(crop)
        r, c = z["crop_origin_rc"]
        for s_i in (0, len(z["slice_index"]) - 1):
            k = int(z["slice_index"][s_i])
            frames = seq.frames if k == 4 else load_sequence(DICOM_FOLDER, slice=k).frames
            np.testing.assert_array_equal(frames[:, r:r + 128, c:c + 128], z["cine"][s_i])
    with pytest.raises(ValueError, match="slice=12 is out of range"):
        load_sequence(DICOM_FOLDER, slice=12)


@needs_sunny
def test_dicom_folder_skips_non_dicom_files(tmp_path):
    for n in (21, 1, 2, 22):  # two slice positions, two phases each, out of order
        os.symlink(DICOM_FOLDER / f"{n}.dcm", tmp_path / f"{n}.dcm")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "junk.dcm").write_bytes(np.random.default_rng(1).bytes(300))
    with pytest.warns(UserWarning, match="skipped 2"):
        seq = load_sequence(tmp_path)
    assert seq.metadata["files"] == ["1.dcm", "2.dcm"] and seq.metadata["n_slices"] == 2
    with pytest.warns(UserWarning):
        assert load_sequence(tmp_path, slice=1).metadata["files"] == ["21.dcm", "22.dcm"]


@needs_sunny
def test_dicom_folder_with_a_truncated_file_names_it(tmp_path):
    """A damaged file of the series was reported against the folder alone."""
    import shutil

    for n in (1, 2, 3):
        shutil.copy(DICOM_FOLDER / f"{n}.dcm", tmp_path / f"{n}.dcm")
    data = (tmp_path / "2.dcm").read_bytes()
    (tmp_path / "2.dcm").write_bytes(data[: len(data) - 20000])  # the header whole, the pixel data cut short
    with pytest.raises(ValueError, match=r"^" + tmp_path.name + r": 2.dcm is not readable \(truncated or corrupt"):
        load_sequence(tmp_path)


def test_dicom_folder_without_dicom(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no readable DICOM"):
        load_sequence(tmp_path)


@needs_multiframe
def test_dicom_multiframe_real():
    import pydicom

    with pytest.warns(UserWarning, match=r"heart_cine_multiframe_16x256x256\.dcm: the DICOM records no pixel size "
                      r"\(no PixelSpacing.*read in pixels, and distances \(TRE, Hausdorff\) are measured in pixels"):
        seq = load_sequence(MULTIFRAME)  # the real file has no PixelSpacing: said, not silent
    assert seq.shape == (16, 256, 256) and seq.spacing is None and seq.unit == "px"
    assert seq.metadata["frame_time_ms"] == pytest.approx(69.47)
    np.testing.assert_array_equal(seq.frames, pydicom.dcmread(MULTIFRAME).pixel_array.astype(np.float32))


def test_dicom_echo_ybr_ultrasound_regions():
    import pydicom.examples

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*records no pixel size")  # its size is in its ultrasound regions
        seq = load_sequence(pydicom.examples.get_path("ybr_color"))
    assert seq.shape == (30, 240, 320)
    # PhysicalDelta 0.0510 cm refers to the 640x480 original; the stored pixels are 2x coarser
    assert seq.unit == "mm" and seq.spacing == pytest.approx((1.020994112, 1.020994112))
    assert seq.metadata["frame_time_ms"] == pytest.approx(33.333)
    rgb = seq.metadata["rgb"]
    assert rgb.shape == (30, 240, 320, 3)
    np.testing.assert_allclose(seq.frames, to_luminance(rgb), atol=1e-4)
    assert seq.frames.max() > 100  # a real image, not blank
    # an ultrasound clip comes with its fan (NMSR's mask by default): inside the imaging region, where the signal is
    fan = seq.metadata["mask"]
    assert fan.dtype == bool and fan.shape == (240, 320) and 0.25 < fan.mean() < 0.6
    assert seq.frames[:, fan].mean() > 4 * seq.frames[:, ~fan].mean()
    from napari_tlreg.io.readers import ultrasound_region_box

    r0, r1, c0, c1 = ultrasound_region_box(pydicom.dcmread(pydicom.examples.get_path("ybr_color")))
    outside = np.ones_like(fan)
    outside[r0:r1, c0:c1] = False
    assert not (fan & outside).any()


def test_ultrasound_region_spacing_is_row_col(tmp_path):
    """pydicom's echo has equal X and Y deltas: PhysicalDeltaX (columns) taken as the row spacing passed every test
    of the ultrasound path. Rows 0.5 mm, columns 0.2 mm here."""
    import pydicom
    from pydicom.dataset import Dataset

    p = tmp_path / "us.dcm"
    _write_dicom(p, np.random.default_rng(0).integers(0, 4000, (3, 40, 60)).astype(np.uint16))
    ds = pydicom.dcmread(p)
    del ds.PixelSpacing
    region = Dataset()
    region.RegionLocationMinX0, region.RegionLocationMinY0, region.RegionLocationMaxX1, region.RegionLocationMaxY1 = (
        0, 0, 59, 39)
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
    region.PhysicalDeltaX, region.PhysicalDeltaY = 0.02, 0.05
    ds.SequenceOfUltrasoundRegions = [region]
    ds.save_as(p)
    seq = load_sequence(p)
    assert seq.spacing == pytest.approx((0.5, 0.2)) and seq.unit == "mm"


def test_ultrasound_spacing_and_mask_come_from_the_clips_2d_image_region(tmp_path):
    """A region that ends a pixel past the image (MaxX1 = Columns) doubled the spacing and cut the mask to a quarter,
    and a spectral Doppler strip listed first gave no spacing and the strip as NMSR's mask: the spacing and the box
    are the largest 2-D region's (RegionSpatialFormat 1), at the stored pixels' scale."""
    import pydicom
    from pydicom.dataset import Dataset

    def region(box, delta, units=(3, 3), fmt=1):
        r = Dataset()
        r.RegionSpatialFormat = fmt
        r.RegionLocationMinX0, r.RegionLocationMinY0, r.RegionLocationMaxX1, r.RegionLocationMaxY1 = box
        r.PhysicalUnitsXDirection, r.PhysicalUnitsYDirection = units
        r.PhysicalDeltaX, r.PhysicalDeltaY = delta
        return r

    T, H, W = 4, 60, 80
    frames = np.full((T, H, W), 2000, np.uint16)
    frames[:, 5:55, 5:75] = np.random.default_rng(0).integers(2500, 4000, (T, 50, 70))
    cases = {"offby1": [region((0, 0, W, H), (0.03, 0.02))],
             # the strip the largest region, and one of no spatial format (0) larger still: neither is the image
             "doppler_first": [region((0, 25, W - 1, H - 1), (0.01, 0.5), units=(4, 7), fmt=3),
                               region((0, 0, W - 1, H - 1), (0.05, 0.05), fmt=0),
                               region((0, 0, W - 1, 24), (0.03, 0.02))],
             "colour_box": [region((30, 10, 50, 30), (0.03, 0.02)), region((0, 0, W - 1, H - 1), (0.03, 0.02))]}
    for name, regions in cases.items():
        p = tmp_path / f"{name}.dcm"
        _write_dicom(p, frames)
        ds = pydicom.dcmread(p)
        del ds.PixelSpacing
        ds.Modality = "US"
        ds.SequenceOfUltrasoundRegions = regions
        ds.save_as(p)
        seq = load_sequence(p)
        assert seq.spacing == pytest.approx((0.2, 0.3)) and seq.unit == "mm", name
        rows, cols = np.nonzero(seq.metadata["mask"])
        top = 24 if name == "doppler_first" else H - 1  # the 2-D image's last row: the strip below it is not
        assert rows.max() < top and rows.max() > top - 6 and cols.max() > W - 12 and cols.min() < 12, name
        from napari_tlreg.io.readers import ultrasound_region_box

        assert ultrasound_region_box(ds) == [0, top, 0, W - 1], name  # within the image, MaxX1 = Columns or not


def test_signal_region_finds_a_fan_and_declines_what_has_none():
    from napari_tlreg.core.region import signal_region

    T, H, W = 4, 60, 80
    rr, cc = np.indices((H, W))
    ang, rad = np.arctan2(cc - 40, rr - 5), np.hypot(cc - 40, rr - 5)
    fan = (np.abs(ang) < 0.6) & (rad < 50)
    rng = np.random.default_rng(0)
    frames = np.where(fan, rng.uniform(0.2, 1.0, (T, H, W)), 0.0)
    frames[:, 55:58, 2:30] = 1.0  # text under the image, outside the imaging region
    got = signal_region(frames, box=(0, 54, 0, W))
    from scipy import ndimage as ndi

    assert got[(ndi.distance_transform_edt(fan) > 3) & (rr < 54)].all()  # the fan, less its 2 px rim
    assert not got[~fan].any() and not got[54:].any()  # neither outside it nor the text below the region
    assert signal_region(np.zeros((T, H, W))) is None  # blank
    line = np.zeros((T, H, W))
    line[:, 30, 10:50] = 1.0
    assert signal_region(line) is None  # no area
    assert signal_region(np.full((T, H, W), np.nan)) is None


def test_dicom_synthetic_single_file_grey_and_ybr(tmp_path):
    frames = _stack((3, 8, 10), np.uint16)
    _write_dicom(tmp_path / "IM0001", frames)  # no suffix: sniffed by the DICM preamble
    seq = load_sequence(tmp_path / "IM0001")
    np.testing.assert_array_equal(seq.frames, frames)
    assert "mask" not in seq.metadata  # not ultrasound: no fan
    assert seq.spacing == pytest.approx((0.7, 0.9)) and seq.metadata["frame_time_ms"] == 40.0

    rgb = np.random.default_rng(2).integers(0, 256, (2, 8, 10, 3)).astype(np.uint8)
    _write_dicom(tmp_path / "c.dcm", rgb, rgb=True)
    seq = load_sequence(tmp_path / "c.dcm")
    assert seq.shape == (2, 8, 10)
    np.testing.assert_allclose(seq.metadata["rgb"], rgb, atol=2)  # YBR -> RGB, not raw YBR
    np.testing.assert_allclose(seq.frames, to_luminance(rgb), atol=2)


# --------------------------------------------------------------------------- video
def test_video_mp4_round_trip(tmp_path):
    grey = _smooth_video()
    _write_video(tmp_path / "clip.mp4", grey, fps=10)
    seq = load_sequence(tmp_path / "clip.mp4")
    assert seq.shape == grey.shape
    assert np.abs(seq.frames - grey).mean() < 3.0
    assert seq.metadata["fps"] == pytest.approx(10.0) and seq.metadata["reader"] == "video"
    # a grey clip (decoded as rgb24, its channels equal) has no colour beside its grey frames: before, a hidden colour
    # layer, and the overlay laid a grey copy of the frames under the result (sessions 44-45, echo review)
    assert "rgb" not in seq.metadata and seq.frames.dtype == np.float32
    colour = np.stack([grey, np.roll(grey, 5, axis=2), 255 - grey], axis=-1).astype(np.uint8)
    _write_video(tmp_path / "colour.mp4", colour, fps=10)
    seq = load_sequence(tmp_path / "colour.mp4")
    assert seq.metadata["rgb"].shape == grey.shape + (3,)
    assert np.abs(seq.frames - to_luminance(colour)).mean() < 4.0


def test_a_grey_mjpeg_clip_opens_grey(tmp_path):
    """(README review) A grey clip in MJPEG, a common export, decodes to RGB with green 1-2 levels off its red: it got
    a hidden colour layer and the grey frame under the overlay; a colour clip keeps its colour."""
    import imageio

    grey = _smooth_video(t=6)
    writer = imageio.get_writer(tmp_path / "grey.avi", fps=10, codec="mjpeg", macro_block_size=1)
    for f in grey:
        writer.append_data(np.repeat(f[..., None], 3, -1))
    writer.close()
    seq = load_sequence(tmp_path / "grey.avi")
    assert "rgb" not in seq.metadata and seq.shape == grey.shape and np.abs(seq.frames - grey).mean() < 3.0
    colour = np.stack([grey, np.roll(grey, 5, axis=2), 255 - grey], axis=-1).astype(np.uint8)
    writer = imageio.get_writer(tmp_path / "colour.avi", fps=10, codec="mjpeg", macro_block_size=1)
    for f in colour:
        writer.append_data(f)
    writer.close()
    assert load_sequence(tmp_path / "colour.avi").metadata["rgb"].shape == grey.shape + (3,)


def test_video_avi_lossless_codec(tmp_path):
    grey = _smooth_video(t=6, h=32, w=48)
    _write_video(tmp_path / "clip.avi", grey, fps=5, codec="ffv1")
    seq = load_sequence(tmp_path / "clip.avi")
    assert seq.shape == (6, 32, 48) and seq.metadata["frame_time_ms"] == pytest.approx(200.0)
    assert np.abs(seq.frames - grey).max() <= 2


def test_a_variable_rate_video_gives_the_frames_it_holds_and_their_times(tmp_path):
    """(2026-12-06, echo review) ffmpeg's default constant rate made a clip of 24 frames at uneven times 40 frames,
    16 of them copies of the one before (registered as cardiac phases), at a frame time that fit neither."""
    import subprocess
    import warnings

    import imageio_ffmpeg

    grey = _smooth_video(t=24, h=48, w=64)
    _write_video(tmp_path / "even.mp4", grey, fps=30, codec="libx264", quality=None,
                 output_params=["-crf", "0"])
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(tmp_path / "even.mp4"),
                    "-vf", "setpts='if(lt(N,12),N*2,24+(N-12))/30/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
                    "-crf", "0", str(tmp_path / "vfr.mp4")], check=True)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        seq = load_sequence(tmp_path / "vfr.mp4")
    assert seq.shape == (24, 48, 64)
    assert not any(np.array_equal(seq.frames[k], seq.frames[k - 1]) for k in range(1, 24))  # no copies
    steps = np.diff(seq.metadata["trigger_times_ms"])
    np.testing.assert_allclose(steps[:11], 2000 / 30, atol=1)
    np.testing.assert_allclose(steps[12:], 1000 / 30, atol=1)
    assert "fps" not in seq.metadata and seq.metadata["frame_time_ms"] == pytest.approx(float(np.median(steps)))
    assert any("not evenly spaced in time" in str(w.message) for w in said)
    even = load_sequence(tmp_path / "even.mp4")  # a constant rate: as before
    assert even.shape == (24, 48, 64) and even.metadata["fps"] == pytest.approx(30.0) and "trigger_times_ms" not in even.metadata


@pytest.mark.parametrize("name, made", [
    ("xvid.avi", ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=2", "-c:v", "mpeg4", "-bf", "2"]),
    ("fast.mov", ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=240:duration=0.5", "-c:v", "libx264",
                  "-video_track_timescale", "600"]),
    ("trimmed.mp4", None)])
def test_a_video_of_even_frames_is_read_as_such(tmp_path, name, made):
    """(2026-12-06, diff review) An MPEG-4 AVI with B-frames (no presentation times: ffmpeg's -2**63, read as times
    3.7e20 ms apart) and 240 fps at a 1/600 s clock (steps of 2 and 3 ticks) were said to be of a variable frame
    rate; a trimmed MP4 (an edit list skipping 33 of its packets) was said to have 33 frames that could not be decoded."""
    import subprocess
    import warnings

    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    if made is None:  # a lossless trim: the packets before its start kept, skipped by its edit list
        subprocess.run([exe, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=4",
                        "-c:v", "libx264", "-bf", "2", str(tmp_path / "whole.mp4")], check=True)
        made = ["-ss", "1.3", "-i", str(tmp_path / "whole.mp4"), "-c", "copy"]
    subprocess.run([exe, "-y", "-loglevel", "error", *made, str(tmp_path / name)], check=True)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        seq = load_sequence(tmp_path / name)
    assert not [str(w.message) for w in said if w.category is not ResourceWarning]
    assert "trigger_times_ms" not in seq.metadata and seq.metadata["fps"] > 0 and seq.shape[0] > 10


def test_a_video_frame_that_cannot_be_decoded_is_said(tmp_path):
    """(2026-12-06, echo review) The last frame's data lost (zeros in its chunk): 29 of 30 frames came back, the heart
    cycle one frame short, without a word."""
    import re
    import warnings

    _write_video(tmp_path / "clip.avi", _smooth_video(t=10, h=48, w=64), fps=10, codec="mjpeg")
    data = bytearray((tmp_path / "clip.avi").read_bytes())
    movi, idx1 = data.find(b"movi"), data.find(b"idx1")
    last = [m.start() for m in re.finditer(rb"00dc", data) if movi < m.start() < idx1][-1]
    size = int.from_bytes(data[last + 4:last + 8], "little")
    data[last + 8:last + 8 + size] = bytes(size)
    (tmp_path / "damaged.avi").write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        seq = load_sequence(tmp_path / "damaged.avi")
    assert seq.shape[0] == 9
    assert any("1 of its 10 frames could not be decoded and is left out" in str(w.message) for w in said), \
        [str(w.message) for w in said]


# --------------------------------------------------------------------------- bad inputs
def _valid_file(tmp_path, fmt):
    x = _stack((6, 32, 48), np.uint16)
    p = tmp_path / f"good.{fmt}"
    if fmt in ("tif", "nii", "nii.gz"):
        save_stack(p, x)
    elif fmt == "dcm":
        _write_dicom(p, x)
    elif fmt == "npy":
        np.save(p, x)
    elif fmt == "npz":
        np.savez(p, frames=x)
    elif fmt in ("mp4", "avi"):
        _write_video(p, _smooth_video(6, 32, 48), fps=5, **({"codec": "ffv1"} if fmt == "avi" else {}))
    return p


@pytest.mark.parametrize("fmt", ["tif", "nii", "nii.gz", "dcm", "npy", "npz", "mp4", "avi"])
@pytest.mark.parametrize("damage", ["empty", "truncated", "tail_cut", "random"])
def test_corrupt_files_raise_clear_errors(tmp_path, fmt, damage):
    good = _valid_file(tmp_path, fmt)
    data = good.read_bytes()
    load_sequence(good)  # sanity: the undamaged file reads
    content = {"empty": b"", "truncated": data[: len(data) // 2], "tail_cut": data[: len(data) * 9 // 10],
               "random": np.random.default_rng(3).bytes(4096)}[damage]
    bad = tmp_path / f"heart_{damage}.{fmt}"
    bad.write_bytes(content)
    with pytest.raises((ValueError, OSError)) as info:
        load_sequence(bad)
    assert isinstance(info.value, SequenceReadError)  # never a raw library error type
    assert str(info.value).startswith(bad.name + ":")
    assert "Traceback" not in str(info.value) and "\n" not in str(info.value)


def test_missing_unsupported_and_unknown_sample(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tif"):
        load_sequence(tmp_path / "nope.tif")
    with pytest.raises(FileNotFoundError):
        load_sequence("no-such-sample-name")
    p = tmp_path / "notes.xyz"
    p.write_text("hello")
    with pytest.raises(ValueError, match=r"notes.xyz: unsupported file type '.xyz'"):
        load_sequence(p)


def test_sample_names_dispatch_to_samples_module(monkeypatch):
    fake = types.ModuleType("napari_tlreg.io.bundled")
    fake.samples = lambda: {"demo": "a fake sample"}
    fake.load_sample = lambda name: Sequence(np.zeros((2, 3, 4)), name=name)
    monkeypatch.setitem(sys.modules, "napari_tlreg.io.bundled", fake)
    seq = load_sequence("demo")
    assert seq.name == "demo" and seq.shape == (2, 3, 4)


# --------------------------------------------------------------------------- CSV
def test_points_csv_round_trip(tmp_path):
    pts = np.array([[0, 0, 10.5, 20.25], [1, 0, 3.0, 4.0], [0, 5, 1 / 3, 2e-7]])
    p = save_points_csv(tmp_path / "lm.csv", pts)
    assert p.read_text().splitlines()[0] == "id,t,row,col"
    out = load_points_csv(p)
    assert out.shape == (3, 4) and out.dtype == np.float64
    np.testing.assert_array_equal(out, pts)  # exact: floats written with repr
    # (N, 3) napari points get ids 0..N-1
    out3 = load_points_csv(save_points_csv(tmp_path / "n.csv", pts[:, 1:]))
    np.testing.assert_array_equal(out3, np.column_stack([np.arange(3), pts[:, 1:]]))
    # napari's own export header
    (tmp_path / "napari.csv").write_text("index,axis-0,axis-1,axis-2\n0,1.0,2.5,3.5\n1,2.0,4.0,5.0\n")
    np.testing.assert_array_equal(load_points_csv(tmp_path / "napari.csv"), [[0, 1, 2.5, 3.5], [1, 2, 4, 5]])
    assert load_points_csv(save_points_csv(tmp_path / "e.csv", np.zeros((0, 4)))).shape == (0, 4)


@pytest.mark.parametrize("text, match", [
    ("", "file is empty"),
    ("id,t,row\n0,0,1\n", "missing column"),
    ("id,t,row,col\n0,0,abc,1\n", "line 2: 'abc' in column 'row' is not a number"),
    ("id,t,row,col\n0,0,1,nan\n", "not a finite number"),
    ("id,t,row,col\n0.5,0,1,2\n", "id must be an integer"),
    ("id,t,row,col\n0,0,1,2\n0,0,3,4\n", "appears twice"),
    ("id,t,row,col\n0,0,1\n", "expected 4 values"),
    # (2026-12-05, viewer review) an id past int64 crashed the Landmarks dock in napari's features (OverflowError)
    ("id,t,row,col\n1e20,0,10,10\n", r"line 2: id 1e20 is out of range \(at most 9007199254740992\)"),
    ("id,t,row,col\n0,-1e300,10,10\n", "line 2: t -1e300 is out of range"),
    # blank lines were dropped before lines were counted: "line 3" for the fifth
    ("id,t,row,col\n\n\n0,0,10,10\n0,0,x,11\n", "line 5: 'x' in column 'row' is not a number"),
    ("id,t,row,col\n\n0,0,10,10\n\n0,0,10,11\n", "line 5: landmark id 0 appears twice in frame 0"),
])
def test_points_csv_bad_files(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        load_points_csv(p)
    assert "bad.csv" in str(info.value)


def test_a_file_that_cannot_be_written_names_the_folder_not_the_temporary_file(tmp_path):
    """File > Save to /proc said "No such file or directory: '/proc/.nope.tif.tmp-b7c81487'", under a file "File
    exists: '/etc/passwd'" (2026-12-05, viewer review); a batch into a read-only OUT the same."""
    from napari_tlreg.batch import run_batch

    (tmp_path / "afile").write_text("x")
    for name, write in (("nope.tif", lambda p: save_stack(p, np.zeros((2, 4, 4), np.float32))),
                        ("nope.csv", lambda p: save_points_csv(p, np.zeros((1, 4))))):
        with pytest.raises(PermissionError, match=rf"^/proc/{name}: cannot be written: /proc does not let us write$"):
            write(Path("/proc") / name)
        with pytest.raises(FileExistsError, match=rf"afile/{name}: cannot be made: .*afile is not a folder$"):
            write(tmp_path / "afile" / name)
    with pytest.raises(PermissionError, match=r"^/proc/b/summary.csv: cannot be written: /proc does not let us write$"):
        run_batch(["lemniscate"], "tlrn", "/proc/b")
    assert not list(tmp_path.glob(".*tmp*"))


def test_points_csv_binary_and_missing(tmp_path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(ValueError, match="bin.csv"):
        load_points_csv(p)
    with pytest.raises(FileNotFoundError):
        load_points_csv(tmp_path / "none.csv")
    (tmp_path / "dir.csv").mkdir()  # was "no such file"
    with pytest.raises(ValueError, match="dir.csv: is a folder, not a CSV file"):
        load_points_csv(tmp_path / "dir.csv")


def test_points_csv_property_round_trip(tmp_path):
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    coords = arrays(np.float64, st.tuples(st.integers(0, 6), st.just(2)),
                    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))

    @settings(max_examples=40, deadline=None)
    @given(coords)
    def check(rc):
        pts = np.column_stack([np.arange(len(rc)), np.arange(len(rc)) % 3, rc])
        np.testing.assert_array_equal(load_points_csv(save_points_csv(tmp_path / "h.csv", pts)), pts)

    check()


# --------------------------------------------------------------------------- atomic writes
def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_tiff_failure_keeps_old_file(tmp_path, monkeypatch):
    import tifffile

    target = tmp_path / "result.tif"
    save_stack(target, _stack((2, 4, 5)))
    before = target.read_bytes()
    seen = []

    def broken(path, data, **kw):
        seen.append(Path(path))
        Path(path).write_bytes(b"II*\x00partial")  # half-written file, then a crash
        raise RuntimeError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save_stack(target, _stack((3, 4, 5), seed=1))
    assert seen and seen[0].parent == tmp_path and seen[0].name.startswith(".result.tif.tmp-")
    assert target.read_bytes() == before
    assert _only(tmp_path) == ["result.tif"]  # no temp file left


def test_atomic_nifti_failure_keeps_old_file(tmp_path, monkeypatch):
    import nibabel as nib

    target = tmp_path / "r.nii.gz"
    save_stack(target, _stack((2, 4, 5)))
    before = target.read_bytes()
    monkeypatch.setattr(nib.Nifti1Image, "to_bytes", lambda self: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        save_stack(target, _stack((2, 4, 5), seed=2))
    assert target.read_bytes() == before and _only(tmp_path) == ["r.nii.gz"]


def test_atomic_path_success_and_unknown_suffix(tmp_path):
    target = tmp_path / "sub" / "x.txt"
    with atomic_path(target) as tmp:
        assert not target.exists() and tmp.parent == target.parent
        tmp.write_text("new")
    assert target.read_text() == "new" and _only(target.parent) == ["x.txt"]
    with pytest.raises(OSError, match="nothing was written"):
        with atomic_path(target):
            pass
    assert target.read_text() == "new"
    with pytest.raises(ValueError, match="unsupported file type"):
        save_stack(tmp_path / "a.png", _stack((2, 3, 4)))
    assert not (tmp_path / "a.png").exists()


def test_a_write_onto_a_device_or_a_pipe_is_refused_and_leaves_it_as_it_is(tmp_path):
    """(2026-12-07, bad-input review) Saving to a device or a pipe renamed a plain file onto it: the container's
    /dev/full became a 41-byte CSV, and `train --out /dev/null` would replace /dev/null for good."""
    import stat

    from napari_tlreg.io import save_points_csv

    fifo = tmp_path / "pipe.tif"
    os.mkfifo(fifo)
    device = tmp_path / "null"  # a device of the test's own (never the machine's /dev/null, were the check to fail)
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:  # not root: a link to the pipe stands for it
        device = fifo
    link = tmp_path / "null.csv"
    link.symlink_to(device)  # a link to a device: followed, and refused as the device is
    for target, write in [(fifo, lambda p: save_stack(p, _stack((2, 8, 8)))),
                          (link, lambda p: save_points_csv(p, np.array([[0, 0, 1.0, 1.0], [0, 1, 2.0, 2.0]])))]:
        with pytest.raises(FileExistsError, match=r"is not a file \(a device, a pipe or a socket\) and is not "
                                                  r"replaced; write to a file's path"):
            write(target)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and not device.is_file() and link.is_symlink()
    assert _only(tmp_path) == sorted({"null.csv", "pipe.tif", device.name})


def test_atomic_dir_replaces_or_keeps(tmp_path):
    out = tmp_path / "res"
    with atomic_dir(out) as d:
        (d / "a.txt").write_text("1")
    assert _only(out) == ["a.txt"]
    with pytest.raises(KeyError):
        with atomic_dir(out) as d:
            (d / "b.txt").write_text("2")
            raise KeyError("crash midway")
    assert _only(out) == ["a.txt"] and _only(tmp_path) == ["res"]
    with atomic_dir(out) as d:
        (d / "c.txt").write_text("3")
    assert _only(out) == ["c.txt"] and _only(tmp_path) == ["res"]  # old folder removed


def test_atomic_writes_follow_links_refuse_the_current_folder_and_name_a_full_disk(tmp_path, monkeypatch):
    """Review (2026-12-05): an output folder that is a link to another disk had the link renamed aside and replaced
    by a plain folder (the disk it pointed to got nothing, and a stray ".res.old-*" link stayed); ``--out .`` ran the
    whole registration, then failed on "PosixPath('.') has an empty name"; a full disk read "10240 requested and 3004
    written" (tifffile's short write, no errno)."""
    import errno

    import tifffile

    disk = tmp_path / "disk"
    (disk / "res").mkdir(parents=True)
    (tmp_path / "res").symlink_to(disk / "res")
    for text in ("1", "2"):  # into the empty folder, then replacing what it holds
        with atomic_dir(tmp_path / "res", replaces="result.json") as d:
            (d / "result.json").write_text(text)
        assert (tmp_path / "res").is_symlink() and (disk / "res" / "result.json").read_text() == text
        assert _only(tmp_path) == ["disk", "res"] and _only(disk) == ["res"]
    (tmp_path / "lm.csv").symlink_to(disk / "lm.csv")
    save_points_csv(tmp_path / "lm.csv", np.array([[0, 0, 1, 2]]))
    assert (tmp_path / "lm.csv").is_symlink() and (disk / "lm.csv").read_text().startswith("id,t,row,col")

    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for target in (".", here, tmp_path):
        with pytest.raises(FileExistsError, match="is the current folder or holds it"):
            check_replaceable(target, "result.json")
    assert _only(here) == []

    def short_write(path, data, **kw):
        Path(path).write_bytes(b"II*\x00")
        raise OSError("10240 requested and 3004 written")

    monkeypatch.setattr(tifffile, "imwrite", short_write)
    with pytest.raises(OSError, match="no space left on the device while writing .*s.tif") as info:
        save_stack(tmp_path / "s.tif", _stack((2, 4, 5)))
    assert info.value.errno == errno.ENOSPC and not (tmp_path / "s.tif").exists()
    with pytest.raises(OSError, match="no space left on the device while writing .*new"):
        with atomic_dir(tmp_path / "new") as d:
            tifffile.imwrite(d / "a.tif", np.zeros(3))
    assert not (tmp_path / "new").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_complex_files_are_refused_not_cut_to_their_real_part(tmp_path):
    """A complex TIFF (MRI phase / k-space) loaded as its real part with only numpy's ComplexWarning; ``tl.register``
    refuses complex frames, and so does every reader now."""
    import tifffile

    tifffile.imwrite(tmp_path / "c.tif", (np.ones((5, 8, 8)) * (1 + 2j)).astype(np.complex64), photometric="minisblack")
    with pytest.raises(SequenceReadError, match=r"^c.tif: frames must be real numbers, got dtype complex64 \(take the "
                                                r"magnitude first\)$"):  # not "truncated or corrupt" (review)
        load_sequence(tmp_path / "c.tif")
    with pytest.raises(ValueError, match="colour frames must be real numbers, got dtype complex128"):
        to_luminance(np.ones((2, 4, 4, 3), complex))


def test_io_imports_no_qt_or_napari():
    code = ("import sys, napari_tlreg.io; "
            "bad = [m for m in ('napari', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'qtpy', 'torch') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- found in review (2026-12-04): units, page-by-page TIFFs, colour samples, DICOM colour tables and MONOCHROME1 ----
def test_napari_writers_keep_the_layers_unit(tmp_path):
    """The satellite sample's pixels are 1 m: saved from its layer, they read back as 1 m, not 1 mm."""
    from napari_tlreg import _hooks

    seq = load_sequence("satellite")
    data, kw, _ = _hooks.sequence_to_layers(seq)[0]
    assert (seq.spacing, seq.unit) == ((1.0, 1.0), "m")
    for name in ("sat.tif", "sat.nii.gz"):
        back = load_sequence(_hooks.write_image(str(tmp_path / name), data, kw)[0])
        assert (back.spacing, back.unit) == ((1.0, 1.0), "m"), name
    labels = (np.asarray(data) > np.median(data)).astype(np.int32)
    back = load_sequence(_hooks.write_labels(str(tmp_path / "lab.tif"), labels, kw)[0])
    assert back.unit == "m"


@pytest.mark.parametrize("name, dtype", [("a.nii.gz", np.float32), ("a.tif", np.float32), ("a.tif", np.float64),
                                         ("a.ome.tif", np.float32)])
@pytest.mark.parametrize("unit, mm", [("cm", 10.0), ("µm", 1e-3), ("um", 1e-3), ("inch", 25.4)])
def test_save_stack_stores_any_known_unit_as_mm(tmp_path, name, dtype, unit, mm):
    """NIfTI knows mm, m and micron, and ImageJ's unit must be ASCII: a cm spacing stored as it was read back as
    mm (10x too small), and µm into an ImageJ TIFF raised UnicodeEncodeError."""
    p = save_stack(tmp_path / name, np.zeros((3, 8, 10), dtype), spacing=(0.5, 0.25), unit=unit)
    seq = load_sequence(p)
    assert seq.unit == "mm"
    assert seq.spacing == pytest.approx((0.5 * mm, 0.25 * mm), rel=1e-6)


def test_save_stack_refuses_an_unknown_unit_and_float16_where_it_cannot_be_kept(tmp_path):
    with pytest.raises(ValueError, match="unknown length unit 'furlong'"):
        save_stack(tmp_path / "a.tif", np.zeros((3, 8, 10), np.float32), spacing=(1, 1), unit="furlong")
    for name, fmt in (("h.nii.gz", "NIfTI"), ("h.ome.tif", "OME-TIFF")):
        with pytest.raises(ValueError, match=f"{fmt} cannot store float16"):
            save_stack(tmp_path / name, np.zeros((3, 8, 10), np.float16))
    assert sorted(os.listdir(tmp_path)) == []  # nothing half-written
    arr = np.arange(3 * 8 * 10, dtype=np.float16).reshape(3, 8, 10)
    back, _, _ = load_stack(save_stack(tmp_path / "h.tif", arr))
    assert back.dtype == np.float16 and np.array_equal(back, arr)


def test_a_tiff_written_page_by_page_loads_every_frame(tmp_path):
    """``TiffWriter.write`` once a frame makes one series per page: the reader took the first series, one frame."""
    import tifffile

    frames = (np.arange(6)[:, None, None] * 10 + np.zeros((6, 16, 20))).astype(np.uint8)
    with tifffile.TiffWriter(tmp_path / "loop.tif") as tw:
        for f in frames:
            tw.write(f)
    seq = load_sequence(tmp_path / "loop.tif")
    assert seq.shape == (6, 16, 20) and np.array_equal(seq.frames, frames.astype(np.float32))
    # series that differ (a full image and a thumbnail) are not joined: the first one is the image
    with tifffile.TiffWriter(tmp_path / "thumb.tif") as tw:
        tw.write(frames[:4], photometric="minisblack")
        tw.write(frames[0, ::2, ::2])
    assert load_sequence(tmp_path / "thumb.tif").shape == (4, 16, 20)


def test_colour_samples_on_any_axis_and_grey_with_alpha(tmp_path):
    """Planar RGB (samples first) became 3 frames, grey + alpha 20 frames of 30x2 pixels."""
    import tifffile

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    with pytest.warns(UserWarning, match="read as one colour frame"):  # the planes could have been 3 frames
        seq = load_sequence(tmp_path / "planar.tif")
    assert seq.shape == (1, 20, 30) and np.allclose(seq.frames[0], to_luminance(rgb))
    assert np.array_equal(seq.metadata["rgb"][0], rgb)
    la = rng.integers(0, 255, (20, 30, 2), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "ga.tif", la, photometric="minisblack", extrasamples=["unassalpha"])
    seq = load_sequence(tmp_path / "ga.tif")
    assert seq.shape == (1, 20, 30) and np.array_equal(seq.frames[0], la[..., 0].astype(np.float32))


def test_bands_of_one_multispectral_tiff_are_not_called_rgb(tmp_path):
    """A 4-band GeoTIFF (minisblack, planar samples) was said to store its planes "as RGBA", and the advice given,
    save with photometric='minisblack', was what the file already had; the advice given now gives frames."""
    import tifffile

    bands = np.random.default_rng(0).integers(0, 4000, (4, 20, 30), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "b4.tif", bands, photometric="minisblack", planarconfig="separate")
    with pytest.warns(UserWarning, match=r"b4.tif: read as one frame of 4 bands .* save them without planarconfig") as w:
        seq = load_sequence(tmp_path / "b4.tif")
    assert not any("RGB" in str(m.message) for m in w)
    assert seq.shape == (1, 20, 30) and "photometric" not in seq.metadata
    tifffile.imwrite(tmp_path / "f4.tif", bands, photometric="minisblack")  # as the warning says
    assert load_sequence(tmp_path / "f4.tif").shape == (4, 20, 30)


def test_a_multispectral_geotiff_of_more_bands_is_refused_and_interleaved_bands_are_said(tmp_path):
    """(Satellite review) a 6-band GeoTIFF, pixel-interleaved as GDAL writes it or band-separate, was read as 512 frames
    of 512x6 pixels, and 3-4 interleaved bands were turned into luminance without a word (the band-separate ones
    warned). Refused with what to do, and said, in a GIS user's words."""
    import tifffile

    bands = np.random.default_rng(0).integers(0, 4000, (40, 30, 6), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "contig.tif", bands, photometric="minisblack", planarconfig="contig")
    tifffile.imwrite(tmp_path / "separate.tif", np.moveaxis(bands, -1, 0), photometric="minisblack",
                     planarconfig="separate")
    for name in ("contig.tif", "separate.tif"):
        with pytest.raises(SequenceReadError, match=rf"{name}: holds 6 bands of each pixel .*gdal_translate -b N"):
            load_sequence(tmp_path / name)
    tifffile.imwrite(tmp_path / "b4.tif", bands[..., :4], photometric="minisblack", planarconfig="contig")
    with pytest.warns(UserWarning, match=r"b4.tif: read as one frame of 4 bands .*gdal_translate -b N"):
        assert load_sequence(tmp_path / "b4.tif").shape == (1, 40, 30)
    tifffile.imwrite(tmp_path / "vv_vh.tif", bands[..., :2], photometric="minisblack", planarconfig="contig")
    with pytest.warns(UserWarning, match=r"vv_vh.tif: holds 2 bands of each pixel; the first is read"):
        seq = load_sequence(tmp_path / "vv_vh.tif")
    assert np.array_equal(seq.frames[0], bands[..., 0].astype(np.float32)) and "extrasamples" not in seq.metadata
    tifffile.imwrite(tmp_path / "cmyk.tif", (bands[..., :4] // 16).astype(np.uint8), photometric="separated")
    with pytest.warns(UserWarning, match=r"cmyk.tif: a CMYK image") as said:  # print ink, not a scene's bands
        load_sequence(tmp_path / "cmyk.tif")
    assert not any("multispectral" in str(m.message) for m in said)
    tifffile.imwrite(tmp_path / "rgb.tif", (bands[..., :3] // 16).astype(np.uint8), photometric="rgb")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a colour picture: nothing to say
        assert load_sequence(tmp_path / "rgb.tif").shape == (1, 40, 30)


def test_a_tiff_of_a_photometric_tifffile_does_not_name_still_reads(tmp_path):
    """(2026-12-05, code review) The reader took ``photometric.name``: tifffile gives an int for a value it does not
    know, and every such TIFF became "not a readable TIFF file ('int' object has no attribute 'name')"."""
    import tifffile

    frames = np.arange(3 * 32 * 32, dtype=np.uint16).reshape(3, 32, 32)
    path = tmp_path / "odd.tif"
    tifffile.imwrite(path, frames, photometric="minisblack", extratags=[])
    with tifffile.TiffFile(path, mode="r+b") as tif:
        for page in tif.pages:
            page.tags["PhotometricInterpretation"].overwrite(9999)
    assert load_stack(path)[0].shape == (3, 32, 32)
    assert load_sequence(path).shape[1:] == (32, 32)


def test_tiffs_read_in_threads_keep_tifffiles_log_as_it_was(tmp_path):
    """(2026-12-05, code review) Each read switched the "tifffile" logger's propagation off and back: reads in
    several threads at once (a Dask worker's) left it off for good. Each thread's cut-off file is still its error."""
    import logging
    import threading

    good = save_stack(tmp_path / "good.tif", np.random.default_rng(0).random((20, 64, 64)).astype(np.float32))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    log = logging.getLogger("tifffile")
    assert log.propagate
    errors, shapes = [], []

    def read(k):
        for _ in range(30):
            try:
                shapes.append(load_stack(good if k % 2 else cut)[0].shape)
            except SequenceReadError as exc:
                errors.append(str(exc))

    threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert log.propagate and len(errors) == len(shapes) == 60
    assert all("cut.tif: not a readable TIFF file (truncated" in e for e in errors) and set(shapes) == {(20, 64, 64)}


def test_an_rgb_image_layer_is_saved_as_colour(tmp_path):
    """``write_image`` wrote an (H, W, 3) RGB layer as a stack of 40 frames of 50x3."""
    from napari_tlreg import _hooks

    rgb = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    seq = load_sequence(_hooks.write_image(str(tmp_path / "photo.tif"), rgb, {"rgb": True, "scale": (1.0, 1.0)})[0])
    assert seq.shape == (1, 40, 50) and np.array_equal(seq.metadata["rgb"][0], rgb)
    two = np.stack([rgb, rgb[::-1]])
    seq = load_sequence(_hooks.write_image(str(tmp_path / "two.tif"), two, {"rgb": True, "scale": (1.0, 0.5, 0.5)})[0])
    assert seq.shape == (2, 40, 50) and seq.spacing == (0.5, 0.5) and np.array_equal(seq.metadata["rgb"], two)
    with pytest.raises(ValueError, match="colour is stored as .tif"):
        save_stack(tmp_path / "photo.nii.gz", rgb, rgb=True)


def test_palette_colour_dicom_is_converted_through_its_table():
    """PALETTE COLOR pixels are indices into the file's colour table: they were taken as intensities."""
    import pydicom
    from pydicom import examples
    from pydicom.pixels import apply_color_lut

    palette_color = examples.get_path("palette_color")
    seq = load_sequence(palette_color)
    ds = pydicom.dcmread(palette_color)
    rgb = apply_color_lut(ds.pixel_array, ds)
    assert np.array_equal(seq.metadata["rgb"][0], rgb)
    assert np.allclose(seq.frames[0], to_luminance(rgb))


@needs_sunny
def test_monochrome1_folder_is_inverted_alike_in_every_file(tmp_path):
    """Each file was inverted within its own values (max + min - x), so the same stored value came out differently
    in each frame; the stored range (BitsStored) is the same for the whole series."""
    import pydicom

    folder = tmp_path / "mono1"
    folder.mkdir()
    base = pydicom.dcmread(DICOM_FOLDER / "1.dcm").pixel_array
    for i, top in enumerate((1000, 500)):
        ds = pydicom.dcmread(DICOM_FOLDER / f"{i + 1}.dcm")
        a = np.full_like(base, 100)
        a[0, 0] = top  # one pixel differs
        ds.PixelData = a.tobytes()
        ds.PhotometricInterpretation = "MONOCHROME1"
        ds.save_as(folder / f"{i + 1}.dcm")
    seq = load_sequence(folder)
    assert seq.frames[0, 5, 5] == seq.frames[1, 5, 5]
    assert seq.frames[0, 0, 0] < seq.frames[1, 0, 0] < seq.frames[0, 5, 5]  # inverted: brighter stored, darker shown


@needs_sunny
def test_a_file_without_its_trigger_time_does_not_become_the_first_frame(tmp_path):
    """(2026-12-07, DICOM review) One file of a cine slice without TriggerTime was sorted as time 0: phase 10 of 20
    became frame 0, the reference, without a word. Such a slice is ordered by InstanceNumber, and that is said."""
    import shutil

    import pydicom

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    for folder in (whole, cut):
        folder.mkdir()
        for i in range(1, 21):
            shutil.copy(DICOM_FOLDER / f"{i}.dcm", folder / f"{i}.dcm")
    ds = pydicom.dcmread(cut / "10.dcm")
    del ds.TriggerTime
    ds.save_as(cut / "10.dcm")
    want = load_sequence(whole)
    with pytest.warns(UserWarning, match=r"cut: 1 of the 20 files of slice position 0 have no TriggerTime \(10.dcm\): "
                                         r"its frames are ordered by their InstanceNumber"):
        got = load_sequence(cut)
    np.testing.assert_array_equal(got.frames, want.frames)


@needs_sunny
def test_load_slices_holds_its_limit_with_slices_of_different_lengths(tmp_path):
    """The limit was checked with the first slice's size: a 2-phase slice 0 let a 20-phase slice 1 pass it."""
    import shutil

    from napari_tlreg.io import load_slices

    folder = tmp_path / "uneven"
    folder.mkdir()
    for n in [1, 2, *range(21, 41)]:  # slice 0: 2 phases, slice 1: all 20
        shutil.copy(DICOM_FOLDER / f"{n}.dcm", folder / f"{n}.dcm")
    assert [s.shape[0] for s in load_slices(folder)] == [2, 20]
    with pytest.warns(UserWarning, match="loaded slices 0-0 of 2"):
        out = load_slices(folder, max_voxels=5 * 256 * 256)
    assert [s.shape[0] for s in out] == [2]


def test_a_slice_beyond_a_single_slice_source_is_refused(tmp_path):
    """``slice=5`` of a TIFF, an npy, a 3-D NIfTI or a sample returned the one sequence there is (so
    ``batch --slice 5`` registered slice 0); a multi-slice source refused it."""
    arr = _stack()
    paths = [save_stack(tmp_path / "a.tif", arr), save_stack(tmp_path / "a.nii.gz", arr)]
    np.save(tmp_path / "a.npy", arr)
    for src in (*paths, tmp_path / "a.npy", "cardiac"):
        with pytest.raises(SequenceReadError, match="slice=5 is out of range"):
            load_sequence(src, slice=5)
        assert load_sequence(src, slice=0).shape == load_sequence(src).shape


@pytest.mark.parametrize("shape", [(1, 16, 16), (1, 2, 16, 16), (2, 1, 16, 16), (3, 1, 16)])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.float64])
def test_save_stack_keeps_axes_of_length_one(tmp_path, shape, dtype):
    """An ImageJ hyperstack reads back squeezed: one frame of a displacement, (1, 2, H, W), came back as two frames
    (2, H, W). Such arrays are written as plain TIFFs, and OME-TIFF, which squeezes too, refuses them."""
    arr = np.random.default_rng(0).random(shape).astype(dtype)
    save_stack(tmp_path / "a.tif", arr, spacing=(0.5, 0.7))
    back, spacing, unit = load_stack(tmp_path / "a.tif")
    assert back.shape == shape and back.dtype == dtype and np.array_equal(back, arr)
    assert spacing == (0.5, 0.7) and unit == "mm"
    with pytest.raises(ValueError, match="OME-TIFF cannot keep the axes of length 1"):
        save_stack(tmp_path / "a.ome.tif", arr)
    assert not (tmp_path / "a.ome.tif").exists()


# ---- found in review (2026-12-05): napari meets the plugin's reader and writers ----
def test_a_result_folders_images_read_with_the_folders_spacing(tmp_path):
    """A result folder's frames / warped / jacobian TIFFs hold no spacing of their own; its labels do: read alone,
    the images came at scale 1 and the labels at the spacing, so the overlay drifted. The folder's result.json has it."""
    from napari_tlreg.result import RegistrationResult

    fr = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    res = RegistrationResult(frames=fr, warped=fr.copy(), displacement=np.zeros((3, 2, 16, 16), np.float32),
                             jacobian=np.ones((3, 16, 16), np.float32), method="x", reference=0, spacing=(1.5, 0.5),
                             unit="mm")
    folder = res.save(tmp_path / "res")
    for name in ("frames.tif", "warped.tif", "jacobian.tif"):
        seq = load_sequence(folder / name)
        assert (seq.spacing, seq.unit) == ((1.5, 0.5), "mm"), name
    import shutil

    import tifffile

    # (2026-12-05, CLI review) the same file out of its folder had no spacing: a slice of 1.37 mm pixels registered as
    # pixels, at another scale (MSE 0.00198 vs 0.00097, "worse than none"); each image now carries it, in metres too
    shutil.copy(folder / "frames.tif", tmp_path / "frames.tif")
    assert (load_sequence(tmp_path / "frames.tif").spacing, load_sequence(tmp_path / "frames.tif").unit) == (
        (1.5, 0.5), "mm")
    sat = RegistrationResult(frames=fr, warped=fr.copy(), displacement=np.zeros((3, 2, 16, 16), np.float32),
                             jacobian=np.ones((3, 16, 16), np.float32), method="x", spacing=(10.0, 10.0), unit="m")
    for name in ("frames", "warped", "jacobian"):
        seq = load_sequence(sat.save(tmp_path / "sat") / f"{name}.tif")
        assert (seq.spacing, seq.unit) == ((10.0, 10.0), "m")
    back = RegistrationResult.load(tmp_path / "sat")
    assert back.displacement.shape == (3, 2, 16, 16) and back.displacement.dtype == np.float32
    # a folder written before the images carried it: result.json gives it; a damaged record: pixels
    for name in ("frames", "warped"):
        tifffile.imwrite(folder / f"{name}.tif", fr, photometric="minisblack")
    assert load_sequence(folder / "frames.tif").spacing == (1.5, 0.5)
    (folder / "result.json").write_text("{not json")
    assert load_sequence(folder / "warped.tif").spacing is None


def test_a_result_without_spacing_says_pixels(tmp_path):
    """result.json and metrics.json said "unit": "mm" beside "spacing": null (the multi-frame DICOM, a GeoTIFF in
    degrees), and RegistrationResult.load gave "mm"."""
    import json

    from napari_tlreg.result import RegistrationResult

    fr = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    res = RegistrationResult(frames=fr, warped=fr.copy(), displacement=np.zeros((3, 2, 16, 16), np.float32),
                             jacobian=np.ones((3, 16, 16), np.float32), method="x")
    assert res.unit == "px"
    folder = res.save(tmp_path / "r")
    assert json.loads((folder / "result.json").read_text())["unit"] == "px"
    meta = json.loads((folder / "result.json").read_text())
    meta["unit"] = "mm"  # as written before
    (folder / "result.json").write_text(json.dumps(meta))
    assert RegistrationResult.load(folder).unit == "px"


def test_napari_shows_why_a_writer_refuses_and_opens_every_suffix_the_readers_take(make_napari_viewer, tmp_path):
    """Saving a 4-D image as NIfTI through napari: napari reads a writer's ValueError as "not a valid writer" and
    said only that; the plugin's reason now reaches the user. The manifest's patterns cover .dicom, .ima and .mov,
    which load_sequence reads (napari said "not a compatible reader" for a DICOM file named .ima)."""
    import shutil

    from npe2 import PluginManifest
    from pydicom.data import get_testdata_file

    import napari_tlreg
    from napari_tlreg import _hooks
    from napari_tlreg.io.readers import SUPPORTED_SUFFIXES

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((2, 3, 8, 8), np.float32), name="four")
    with pytest.raises(_hooks.WriteRefused, match=r"napari-tlreg saves \(H, W\) and \(T, H, W\) layers"):
        viewer.layers.save(str(tmp_path / "four.nii.gz"), selected=True, plugin="napari-tlreg")
    assert not (tmp_path / "four.nii.gz").exists()
    mf = PluginManifest.from_file(Path(napari_tlreg.__file__).parent / "napari.yaml")
    assert set(mf.contributions.readers[0].filename_patterns) == {f"*{s}" for s in _hooks.READER_SUFFIXES}
    # every suffix load_sequence reads, but .npy (napari's own reader opens arrays), .ome.tif (a .tif) and pictures
    # (napari's own reader opens them, and a folder of them: no choice of reader asked for every PNG)
    assert {s for s, kind in SUPPORTED_SUFFIXES.items() if s != ".npy" and not s.startswith(".ome")
            and kind != "picture"} == set(_hooks.READER_SUFFIXES)
    ima = tmp_path / "heart.ima"
    shutil.copy(get_testdata_file("MR_small.dcm"), ima)
    layers = viewer.open(str(ima), plugin="napari-tlreg")
    assert layers and layers[0].data.shape[-2:] == (64, 64)


def test_a_map_opens_with_its_fields_in_the_grey_scale(shared_data, make_napari_viewer):
    """(noticed, sessions 37-38) The real Sentinel-2 pair opened dark: napari's min-max (600-4149) put 99.5 % of its
    pixels in the lowest 40 % of the grey scale (a few bright roofs set the top). A map opens on its 0.5-99.5 %
    window; images in mm or px keep napari's own."""
    from napari_tlreg import _hooks

    viewer = make_napari_viewer()
    path = shared_data / "satellite" / "arosics_S2A_crop512_r1044_c1044.npz"
    [layer] = viewer.open(str(path), plugin="napari-tlreg")
    pixels = np.stack([np.load(path)[k] for k in ("ref", "tgt")]).astype(np.float64)
    assert layer.contrast_limits == pytest.approx(np.percentile(pixels, [0.5, 99.5]))
    assert layer.contrast_limits[1] < 0.5 * pixels.max()
    layer.reset_contrast_limits()  # napari's "reset": the shown frame's min-max, as before
    assert layer.contrast_limits == pytest.approx([pixels[0].min(), pixels[0].max()])
    for sample in ("cardiac", "echo"):
        assert "contrast_limits" not in _hooks.sequence_to_layers(load_sequence(sample))[0][1]
    flat = load_sequence(path)
    flat.frames[:] = 3.0
    assert "contrast_limits" not in _hooks.sequence_to_layers(flat)[0][1]
    holes = pixels.copy()
    holes[:, :100] = np.nan  # no-data as NaN: the window of the numbers
    assert _hooks.map_window(holes) == pytest.approx(tuple(np.nanpercentile(holes, [0.5, 99.5])))
    # (2026-12-06, satellite review) no-data as a fill, 0 at a tile's edge or 65535: the window of the land (a 0 border
    # opened the pair at 0-1926, a 65535 strip at 700-65535: black)
    for fill in (0.0, 65535.0):
        filled = pixels.copy()
        filled[1, :60] = fill
        filled[1, :, :40] = fill
        land = np.concatenate([pixels[0].ravel(), pixels[1, 60:, 40:].ravel()])
        assert _hooks.map_window(filled) == pytest.approx(tuple(np.percentile(land, [0.5, 99.5])), rel=0.02)


def test_a_samples_landmarks_are_rings_that_leave_the_image_visible():
    """The satellite sample's landmarks: hollow rings sized to the image (napari's default filled white discs of 10 px
    hid the corners they mark)."""
    from napari_tlreg import _hooks

    seq = load_sequence("satellite")
    _, kw, kind = next(layer for layer in _hooks.sequence_to_layers(seq) if layer[2] == "points")
    assert kw["face_color"] == "transparent" and kw["border_color"] == "white"
    assert kw["size"] == max(3.0, round(max(seq.frames.shape[-2:]) / 40))


def test_max_voxels_refuses_what_a_header_claims_before_reading_it(tmp_path, monkeypatch):
    """``load_sequence(..., max_voxels=)`` (the command line and a batch pass what tl.register takes): an 8x8192x8192
    TIFF was read whole (2.85 GB, 16 s) only to be refused by the registration. Every reader refuses from the header,
    before a pixel is read, and counts one sequence: a slice position of a stack, the frames of a colour clip."""
    import nibabel as nib

    from napari_tlreg.io import readers

    frames = (np.random.default_rng(0).random((6, 48, 64)) * 1000).astype(np.uint16)  # 18,432 voxels (a multiple of 16 a side: the video keeps its size)
    files = {
        "tif": save_stack(tmp_path / "s.tif", frames),
        "nii": tmp_path / "s.nii.gz",
        "npy": tmp_path / "s.npy",
        "npz": tmp_path / "s.npz",
        "dcm": tmp_path / "s.dcm",
        "avi": tmp_path / "s.avi",
        "rgb": save_stack(tmp_path / "rgb.tif", np.stack([frames.astype(np.uint8)] * 3, -1), rgb=True),
    }
    nib.save(nib.Nifti1Image(np.transpose(frames, (2, 1, 0)), np.eye(4)), files["nii"])
    np.save(files["npy"], frames)
    np.savez(files["npz"], frames=frames)
    _write_dicom(files["dcm"], frames)
    _write_video(files["avi"], frames.astype(np.float32) / 1000, codec="ffv1")
    read = []
    import pydicom.pixels

    for mod, name in ((readers, "_as_thw"), (readers, "_nifti_to_napari"), (pydicom.pixels, "apply_rescale")):
        real = getattr(mod, name)  # each reader's first step once the pixels are in
        monkeypatch.setattr(mod, name, lambda *a, _real=real, **k: (read.append(1), _real(*a, **k))[1])
    for kind, path in files.items():
        with pytest.raises(SequenceReadError, match=r"sequence of 6x48x64 = 18,432 voxels exceeds the limit of 18,431; "
                                                    r"crop, downsample or split it \(as its header says: nothing was read\)"):
            load_sequence(path, max_voxels=18_431)
        assert read == [], kind
        assert load_sequence(path, max_voxels=18_432).shape == (6, 48, 64), kind  # at the limit: read
        read.clear()
    stack = tmp_path / "stack.npz"
    np.savez(stack, frames=np.stack([frames] * 3))  # (S, T, H, W): 3 x 18,432 voxels, 18,432 a slice position
    assert load_sequence(stack, slice=2, max_voxels=18_432).shape == (6, 48, 64)
    nib.save(nib.Nifti1Image(np.stack([np.transpose(frames, (2, 1, 0))] * 3, 2), np.eye(4)), tmp_path / "stack.nii")
    assert load_sequence(tmp_path / "stack.nii", slice=1, max_voxels=18_432).shape == (6, 48, 64)
    assert load_sequence(files["tif"]).shape == (6, 48, 64)  # no limit by default (the viewer's own, 2**30)


def test_cli_and_batch_refuse_a_too_large_sequence_before_reading_it(tmp_path, monkeypatch, capsys):
    from napari_tlreg import api, cli
    from napari_tlreg.io import readers

    monkeypatch.setattr(api, "MAX_VOXELS", 11_999)
    monkeypatch.setattr(readers, "_as_thw", lambda *a, **k: pytest.fail("the pixels were read"))
    path = save_stack(tmp_path / "big.tif", np.zeros((6, 48, 64), np.uint16))
    assert cli.main(["register", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["napari-tlreg register: error: big.tif: sequence of 6x48x64 = 18,432 voxels exceeds the limit of "
                   "11,999; crop, downsample or split it (as its header says: nothing was read)"]
    from napari_tlreg import batch

    row = batch.register_one({"name": "big", "source": str(path)}, "tlrn", str(tmp_path / "out"))
    assert row["status"] == "failed" and "exceeds the limit of 11,999" in row["error"]


def _geotiff(path, frames, scale=(10.0, 20.0), model=1, linear=None, origin=(626000.0, 5220000.0), epsg=None):
    import tifffile

    keys = [1024, 0, 1, model, 1025, 0, 1, 1] + ([3072, 0, 1, epsg] if epsg else []) + ([3076, 0, 1, linear] if linear else [])
    tags = [(33550, "d", 3, (scale[0], scale[1], 0.0), True), (33922, "d", 6, (0, 0, 0, *origin, 0.0), True),
            (34735, "H", 4 + len(keys), (1, 1, 0, len(keys) // 4, *keys), True)]
    tifffile.imwrite(path, frames, extratags=tags, photometric="minisblack")
    return path


def test_a_geotiff_pairs_results_lie_where_its_frames_do(tmp_path):
    """(2026-12-05, CLI review) A result's images held no georeference: a GIS could not place warped.tif over the
    dates. Each image (and the labels) now carries the source GeoTIFF's tags, kept in result.json too."""
    import tifffile
    from scipy.ndimage import gaussian_filter, shift

    from napari_tlreg import cli
    from napari_tlreg.result import RegistrationResult

    a = gaussian_filter(np.random.default_rng(0).random((48, 56)), 2) * 4000
    (tmp_path / "pair").mkdir()
    _geotiff(tmp_path / "pair" / "d1.tif", a.astype(np.uint16), scale=(10.0, 10.0))
    _geotiff(tmp_path / "pair" / "d2.tif", shift(a, (1.5, -1.0)).astype(np.uint16), scale=(10.0, 10.0))
    lab = np.zeros((2, 48, 56), np.int32)
    lab[0, 10:20, 10:30] = 1
    save_stack(tmp_path / "lab.tif", lab)
    out = tmp_path / "out"
    assert cli.main(["register", str(tmp_path / "pair"), "--method", "multistep", "--labels", str(tmp_path / "lab.tif"),
                     "--out", str(out), "--no-montage"]) == 0
    with tifffile.TiffFile(tmp_path / "pair" / "d1.tif") as tif:
        source = tif.geotiff_metadata
    for name in ("frames", "warped", "jacobian", "displacement", "labels", "propagated_labels"):
        with tifffile.TiffFile(out / f"{name}.tif") as tif:
            assert tif.is_geotiff and tif.geotiff_metadata == source, name
    assert load_sequence(out / "warped.tif").spacing == (10.0, 10.0) and load_sequence(out / "warped.tif").unit == "m"
    res = RegistrationResult.load(out)
    assert res.geotiff == load_sequence(tmp_path / "pair").metadata["geotiff"]
    assert RegistrationResult.load(res.save(tmp_path / "again")).geotiff == res.geotiff
    with pytest.raises(ValueError, match="georeferencing .* is kept in a grey .tif, not in NIfTI"):
        save_stack(tmp_path / "x.nii.gz", lab, geotiff=res.geotiff)
    # dates on two map grids: one georeference would be wrong for the other frame, so none, and said
    _geotiff(tmp_path / "pair" / "d2.tif", a.astype(np.uint16), scale=(10.0, 10.0), origin=(626010.0, 5220000.0))
    with pytest.warns(UserWarning, match=r"d2.tif: its georeferencing differs from d1.tif's .* the results carry no "
                                         r"georeferencing"):
        seq = load_sequence(tmp_path / "pair")
    assert "geotiff" not in seq.metadata and seq.spacing == (10.0, 10.0)


def test_every_geotiff_tag_goes_through_and_a_bad_list_is_one_line(tmp_path):
    """(2026-12-05, mutation review) A model transformation, GeoDoubleParams and GeoAsciiParams (text outside ASCII:
    the save failed after the whole run, "TIFF strings must be 7-bit ASCII") are carried too; a pixel size given in
    place of the map's drops the georeference (warped.tif read 10 m beside result.json's 1 mm); a malformed list is
    a ValueError naming geotiff (was struct.error from inside tifffile)."""
    import tifffile

    import napari_tlreg as tl
    from napari_tlreg.result import RegistrationResult

    rng = np.random.default_rng(0)
    frames = (rng.random((2, 24, 28)) * 4000).astype(np.uint16)
    transform = (10.0, 0, 0, 626000.0, 0, -10.0, 0, 5220000.0, 0, 0, 0, 0, 0, 0, 0, 1.0)
    keys = (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 34737, 7, 0)
    tags = [(34264, "d", 16, transform, True), (34735, "H", 16, keys, True), (34736, "d", 2, (6378137.0, 298.25), True),
            (34737, "s", 0, "Réseau|".encode("latin-1"), True)]
    tifffile.imwrite(tmp_path / "m.tif", frames, extratags=tags, photometric="minisblack")
    seq = load_sequence(tmp_path / "m.tif")
    assert [t[0] for t in seq.metadata["geotiff"]] == [34264, 34735, 34736, 34737]
    res = tl.register(seq, method="multistep")
    res.save(tmp_path / "r")
    with tifffile.TiffFile(tmp_path / "r" / "warped.tif") as tif:
        tags_out = tif.pages[0].tags
        assert tags_out[34264].value == transform and tags_out[34736].value == (6378137.0, 298.25)
        assert tags_out[34737].value == "R?seau|" and tags_out[34735].value == keys
    assert load_sequence(tmp_path / "r" / "warped.tif").spacing == (10.0, 10.0)
    other = tl.register(seq, method="multistep", spacing=(1.0, 1.0), unit="mm")
    assert other.geotiff is None and RegistrationResult.load(other.save(tmp_path / "o")).geotiff is None
    assert load_sequence(tmp_path / "o" / "warped.tif").spacing == (1.0, 1.0)
    assert tl.register(seq, method="multistep", spacing=(10.0, 10.0)).geotiff == seq.metadata["geotiff"]  # the same
    for bad, said in (([[33550, 12, 3, [1, 2]]], "says 3 values and holds 2"), ([[33550, 12, 3, "abc"]], "numbers"),
                      ([[33550, 12, 3]], r"must be \[\[code"), ("abc", "got str"), ([[256, 3, 1, [5]]], "not a GeoTIFF tag")):
        with pytest.raises(ValueError, match=rf"^x.tif: geotiff= .*{said}"):
            save_stack(tmp_path / "x.tif", frames, geotiff=bad)
    for path, kw, what in ((tmp_path / "x.ome.tif", {}, "an OME-TIFF"), (tmp_path / "c.tif", {"rgb": True}, "colour")):
        with pytest.raises(ValueError, match=f"georeferencing .* is kept in a grey .tif, not in {what}$"):
            save_stack(path, np.zeros((2, 8, 8, 3), np.uint8) if kw else frames, geotiff=seq.metadata["geotiff"], **kw)


def test_a_geotiffs_pixel_size_is_its_spacing(tmp_path):
    """A Sentinel-2 GeoTIFF (UTM: ModelPixelScale 10 m) read as pixels, without a word: TRE in px only. ModelPixelScale
    is (x, y): columns, then rows."""
    frames = np.random.default_rng(0).integers(0, 4000, (2, 40, 50)).astype(np.uint16)
    seq = load_sequence(_geotiff(tmp_path / "utm.tif", frames))
    assert seq.spacing == pytest.approx((20.0, 10.0)) and seq.unit == "m"
    feet = load_sequence(_geotiff(tmp_path / "ft.tif", frames, scale=(3.0, 3.0), linear=9002))
    assert feet.spacing == pytest.approx((0.9144, 0.9144)) and feet.unit == "m"
    with pytest.warns(UserWarning, match=r"deg.tif: its GeoTIFF pixel size \(0.0001, 0.0001\) is not in a known length "
                                         r"unit \(a geographic model's degrees\?\); measuring in pixels"):
        deg = load_sequence(_geotiff(tmp_path / "deg.tif", frames, scale=(1e-4, 1e-4), model=2))
    assert deg.spacing is None and deg.unit == "px"
    north_up = load_sequence(_geotiff(tmp_path / "neg.tif", frames, scale=(10.0, -10.0)))  # a negative y step
    assert north_up.spacing == pytest.approx((10.0, 10.0))
    import tifffile  # a model transformation in place of the pixel scale: 5 m columns, 7 m rows, north up

    matrix = (5.0, 0, 0, 626000.0, 0, -7.0, 0, 5220000.0, 0, 0, 0, 0, 0, 0, 0, 1.0)
    tifffile.imwrite(tmp_path / "mt.tif", frames, photometric="minisblack",
                     extratags=[(34264, "d", 16, matrix, True), (34735, "H", 8, (1, 1, 0, 1, 1024, 0, 1, 1), True)])
    assert load_sequence(tmp_path / "mt.tif").spacing == pytest.approx((7.0, 5.0))


def test_a_tiff_of_images_of_different_sizes_says_so(tmp_path, capsys):
    """Two dates of different sizes in one TIFF: the first image was read alone, and the error was "a sequence needs
    at least 2 frames, got 1"; the reader says why."""
    import tifffile

    from napari_tlreg import cli

    with tifffile.TiffWriter(tmp_path / "pair.tif") as tw:
        tw.write(np.zeros((64, 64), np.uint16), photometric="minisblack")
        tw.write(np.zeros((60, 48), np.uint16), photometric="minisblack")
    with pytest.warns(UserWarning, match=r"pair.tif: its images differ in size \(64x64, 60x48\): read the first only; "
                                         r"resample the frames onto one grid"):
        assert load_sequence(tmp_path / "pair.tif").shape == (1, 64, 64)
    assert cli.main(["register", str(tmp_path / "pair.tif"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "its images differ in size (64x64, 60x48)" in err[0] and "at least 2 frames" in err[-1]
    with tifffile.TiffWriter(tmp_path / "thumb.tif") as tw:  # a thumbnail after the image: no warning
        tw.write(np.zeros((64, 64), np.uint16), photometric="minisblack")
        tw.write(np.zeros((16, 16), np.uint16), photometric="minisblack")
    import warnings

    with tifffile.TiffWriter(tmp_path / "pyramid.tif") as tw:  # odd-sized pyramid levels, a mask of another type
        tw.write(np.zeros((101, 101), np.uint16), photometric="minisblack")
        tw.write(np.zeros((51, 51), np.uint16), photometric="minisblack")
    with tifffile.TiffWriter(tmp_path / "mask.tif") as tw:
        tw.write(np.zeros((64, 64), np.uint16), photometric="minisblack")
        tw.write(np.zeros((64, 64), np.uint8), photometric="minisblack")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_sequence(tmp_path / "mask.tif").shape[0] == 1
    # a thumbnail or pyramid level looks like a 20 m date beside a 10 m one: one frame read, and what else it holds
    with pytest.warns(UserWarning, match=r"thumb.tif: read its first image only \(64x64\), one frame; it also holds "
                                         r"16x16, taken for a thumbnail or pyramid level \(if a frame, resample it "
                                         r"onto the first's grid\)"):
        assert load_sequence(tmp_path / "thumb.tif").shape[0] == 1
    with pytest.warns(UserWarning, match=r"pyramid.tif: read its first image only \(101x101\), one frame; it also "
                                         r"holds 51x51,"):
        assert load_sequence(tmp_path / "pyramid.tif").shape[0] == 1
    with tifffile.TiffWriter(tmp_path / "clip_thumb.tif") as tw:  # frames, then a thumbnail: nothing to say
        tw.write(np.zeros((3, 64, 64), np.uint16), photometric="minisblack")
        tw.write(np.zeros((16, 16), np.uint16), photometric="minisblack")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_sequence(tmp_path / "clip_thumb.tif").shape == (3, 64, 64)
    with tifffile.TiffWriter(tmp_path / "stacks.tif") as tw:  # (README review) two stacks: the second was dropped
        tw.write(np.zeros((3, 32, 32), np.uint16), photometric="minisblack")  # without a word
        tw.write(np.zeros((3, 30, 30), np.uint16), photometric="minisblack")
    with pytest.warns(UserWarning, match=r"stacks.tif: read its first series only \(3x32x32\); it also holds "
                                         r"3x30x30, left out"):
        assert load_sequence(tmp_path / "stacks.tif").shape == (3, 32, 32)
    with tifffile.TiffWriter(tmp_path / "image_stack.tif") as tw:  # (third review) an image, then a stack: silent
        tw.write(np.zeros((32, 32), np.uint16), photometric="minisblack")
        tw.write(np.zeros((4, 32, 32), np.uint16), photometric="minisblack")
    with pytest.warns(UserWarning, match=r"image_stack.tif: read its first image only \(32x32\), one frame; it also "
                                         r"holds 4x32x32, left out"):
        assert load_sequence(tmp_path / "image_stack.tif").shape == (1, 32, 32)


def _date_pair(shared_data, folder, crop=128):
    """The real Sentinel-2 pair as it is delivered: one 10 m GeoTIFF a date, named by date (the later date first in
    the npz: ``ref`` is 2016-06-08, ``tgt`` 2016-05-29)."""
    d = np.load(shared_data / "satellite" / "arosics_S2A_crop512_r1044_c1044.npz")
    folder.mkdir()
    _geotiff(folder / "S2A_20160608.tif", d["ref"][:crop, :crop], scale=(10.0, 10.0))
    _geotiff(folder / "S2A_20160529.tif", d["tgt"][:crop, :crop], scale=(10.0, 10.0))
    return d["tgt"][:crop, :crop], d["ref"][:crop, :crop]


def test_a_folder_of_one_geotiff_a_date_is_a_sequence(shared_data, tmp_path, capsys):
    """A bi-temporal pair comes as one GeoTIFF a date. Its folder was taken for a DICOM series ("holds no readable
    DICOM image files", after a warning that named every TIFF), so the pair could not be registered at all."""
    import napari_tlreg as tl
    from napari_tlreg import _hooks, cli

    early, late = _date_pair(shared_data, tmp_path / "pair")
    (tmp_path / "pair" / "notes.txt").write_text("Sentinel-2A, band 4")  # other files are left out
    seq = load_sequence(tmp_path / "pair")
    np.testing.assert_array_equal(seq.frames, np.stack([early, late]).astype(np.float32))  # in date (name) order
    assert seq.spacing == pytest.approx((10.0, 10.0)) and seq.unit == "m" and seq.name == "pair"
    assert seq.metadata["files"] == [str(tmp_path / "pair" / n) for n in ("S2A_20160529.tif", "S2A_20160608.tif")]
    assert _hooks.get_reader(str(tmp_path / "pair")) is not None
    assert cli.main(["register", str(tmp_path / "pair"), "--method", "multistep", "--out", str(tmp_path / "r")]) == 0
    res = tl.RegistrationResult.load(tmp_path / "r")
    assert res.displacement.shape == (2, 2, 128, 128) and res.spacing == pytest.approx((10.0, 10.0))
    shift = np.median(res.displacement[1], axis=(1, 2))  # the pair's real misregistration, about (1.7, -0.6) px
    assert np.abs(shift).max() > 0.3


def test_register_takes_the_dates_as_files(shared_data, tmp_path, capsys):
    """(2026-12-07) Two GeoTIFFs, one a date, given to ``register`` as they come (`register a.tif b.tif`) were refused
    ("unrecognized arguments"): only their folder was read. Several files are the frames of one sequence in the order
    given, as a folder of them is; the result records them, and a re-evaluation keeps the record."""
    import json

    import napari_tlreg as tl
    from napari_tlreg import cli

    _date_pair(shared_data, tmp_path / "pair")
    late, early = (str(tmp_path / "pair" / n) for n in ("S2A_20160608.tif", "S2A_20160529.tif"))
    assert cli.main(["register", early, late, "--method", "multistep", "--out", str(tmp_path / "r")]) == 0
    by_folder = tl.RegistrationResult.load(tmp_path / "r")
    assert cli.main(["register", str(tmp_path / "pair"), "--method", "multistep", "--out", str(tmp_path / "f")]) == 0
    np.testing.assert_array_equal(by_folder.displacement, tl.RegistrationResult.load(tmp_path / "f").displacement)
    assert by_folder.spacing == pytest.approx((10.0, 10.0))
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["files"] == [early, late]
    assert cli.main(["evaluate", str(tmp_path / "r")]) == 0
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["files"] == [early, late]
    assert cli.main(["register", late, early, "--method", "multistep", "--out", str(tmp_path / "back")]) == 0
    back = tl.RegistrationResult.load(tmp_path / "back").frames  # the order given: the later date is the reference
    np.testing.assert_array_equal(back[::-1], by_folder.frames)
    # which file the others were registered to, said (a folder of dates: the earlier, by name; remote-sensing review)
    err = capsys.readouterr().err
    assert "napari-tlreg register: 2 files as frames, in name order: the reference, frame 0, is S2A_20160529.tif" in err
    assert "napari-tlreg register: 2 files as frames: the reference, frame 0, is S2A_20160608.tif" in err
    # not of a DICOM series' own files, ordered by their tags (diff review: "20 files as frames, in name order")
    assert cli.main(["register", str(shared_data / "sunnybrook" / "dicom_SCD0000101"), "--slice", "3", "--method",
                     "voxelmorph", "--out", str(tmp_path / "d"), "--no-montage"]) == 0
    assert "files as frames" not in capsys.readouterr().err
    assert cli.main(["register", early, str(tmp_path / "none.tif"), "--out", str(tmp_path / "x")]) == 2
    assert "none.tif: no such file or folder" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert cli.main(["register", early, late, "--slice", "1", "--out", str(tmp_path / "x")]) == 2
    assert "files stacked as frames have 1 slice position" in capsys.readouterr().err and not (tmp_path / "x").exists()
    # (diff review) a labels file among them is no date (it was registered as one)
    labels = tmp_path / "pair" / "S2A_20160529_labels.tif"
    save_stack(labels, np.ones((128, 128), np.uint8), labels=True)
    assert cli.main(["register", early, str(labels), "--out", str(tmp_path / "x")]) == 2
    assert f"{labels}: a labels file (its name says so), not a frame: give it as --labels" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_stacked_files_must_be_one_image_of_one_size_each(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "a.tif", np.zeros((40, 50), np.float32))
    tifffile.imwrite(tmp_path / "clip.tif", np.zeros((5, 40, 50), np.float32), photometric="minisblack")
    tifffile.imwrite(tmp_path / "small.tif", np.zeros((30, 50), np.float32))
    with pytest.raises(SequenceReadError, match=r"^clip.tif: holds 5 frames; files are stacked one image a file"):
        load_sequence([tmp_path / "a.tif", tmp_path / "clip.tif"])
    cines = tmp_path / "subject"  # M&Ms-2's: its SA and LA cines side by side (said of a file, "open it on its own")
    cines.mkdir()
    for name in ("001_LA_CINE.tif", "001_SA_CINE.tif"):
        tifffile.imwrite(cines / name, np.zeros((5, 40, 50), np.float32), photometric="minisblack")
    with pytest.raises(SequenceReadError, match=r"^subject: holds sequences of their own \(001_LA_CINE.tif: 5 frames\), "
                                                r"not one image a file to stack: open one of them \(batch registers"):
        load_sequence(cines)
    stray = tmp_path / "stray"  # frames and one clip: that file is said, as before (review: "the folder holds sequences")
    stray.mkdir()
    for k in range(3):
        tifffile.imwrite(stray / f"f{k}.tif", np.zeros((40, 50), np.float32))
    tifffile.imwrite(stray / "f1b.tif", np.zeros((5, 40, 50), np.float32), photometric="minisblack")
    with pytest.raises(SequenceReadError, match=r"^f1b.tif: holds 5 frames; files are stacked one image a file"):
        load_sequence(stray)
    with pytest.raises(SequenceReadError, match=r"^small.tif: is 30x50, but a.tif is 40x50: files are stacked as "
                                                r"frames of one size"):
        load_sequence([tmp_path / "a.tif", tmp_path / "small.tif"])
    # the stack's size is checked from the first file, before the others are read
    with pytest.raises(SequenceReadError, match=r"^a.tif: sequence of 3x40x50 = 6,000 voxels exceeds the limit"):
        load_sequence([tmp_path / "a.tif", tmp_path / "a.tif", tmp_path / "nope.tif"], max_voxels=5000)
    with pytest.raises(SequenceReadError, match="slice=1 is out of range"):
        load_sequence([tmp_path / "a.tif", tmp_path / "a.tif"], slice=1)
    (tmp_path / "one").mkdir()  # a folder of one file is that file's sequence, frames and all
    tifffile.imwrite(tmp_path / "one" / "clip.tif", np.zeros((5, 40, 50), np.float32), photometric="minisblack")
    one = load_sequence(tmp_path / "one")
    assert one.shape == (5, 40, 50) and one.name == "clip"


def test_which_folders_are_folders_of_frames(tmp_path):
    """Natural name order; labels files are not frames; a folder with a DICOM file (one without a suffix too) is a
    DICOM series, and a result folder is not a sequence."""
    import shutil

    import tifffile
    from pydicom.data import get_testdata_file

    import napari_tlreg as tl
    from napari_tlreg.io.readers import frame_files

    frames = tmp_path / "frames"
    frames.mkdir()
    for k in (10, 2, 1):
        tifffile.imwrite(frames / f"t{k}.tif", np.full((8, 8), k, np.float32))
    tifffile.imwrite(frames / "t1_labels.tif", np.ones((8, 8), np.uint8))
    assert [p.name for p in frame_files(frames)] == ["t1.tif", "t2.tif", "t10.tif"]
    assert load_sequence(frames).frames[:, 0, 0].tolist() == [1, 2, 10]
    shutil.copy(get_testdata_file("MR_small.dcm"), frames / "IM0001")
    assert frame_files(frames) is None
    with pytest.warns(UserWarning, match=r"frames: skipped 4 non-DICOM or image-less file\(s\): t1.tif"):
        assert load_sequence(frames).frames.shape[-2:] == (64, 64)  # the DICOM series, as before
    res = tl.register(np.random.default_rng(0).random((2, 16, 16)).astype(np.float32), method="multistep")
    res.save(tmp_path / "result")
    assert frame_files(tmp_path / "result") is None
    (tmp_path / "empty").mkdir()
    assert frame_files(tmp_path / "empty") is None


def test_open_files_as_stack_in_napari_gives_one_sequence(make_napari_viewer, shared_data, tmp_path):
    """napari's "Open Files as Stack" hands the reader the files picked: one sequence, a frame a file (they were one
    layer a file, single frames that the Register dock cannot register)."""
    from napari_tlreg import _hooks

    _date_pair(shared_data, tmp_path / "pair", crop=64)
    viewer = make_napari_viewer()
    files = [str(tmp_path / "pair" / n) for n in ("S2A_20160529.tif", "S2A_20160608.tif")]
    layers = viewer.open(files, stack=True, plugin="napari-tlreg")
    assert [layer.name for layer in layers] == ["S2A_20160529..S2A_20160608"] and layers[0].data.shape == (2, 64, 64)
    assert tuple(layers[0].scale) == pytest.approx((1.0, 10.0, 10.0))
    assert layers[0].metadata["napari_tlreg"]["unit"] == "m"
    one = viewer.open(files[0], plugin="napari-tlreg")  # one file alone: its own layer, as before
    assert one[0].data.shape == (1, 64, 64)
    assert len(_hooks.read_sequences(files)) == 1
    # (2026-12-07, readers review) in name order, as a folder of frames opens: sorted by napari, frame10 came before 2
    frames = [np.full((8, 8), k, np.float32) for k in range(12)]
    for k, f in enumerate(frames):
        save_stack(tmp_path / f"frame{k}.tif", f[None])
    picked = sorted(str(tmp_path / f"frame{k}.tif") for k in range(12))  # frame0, frame1, frame10, frame11, frame2, ...
    [layer] = viewer.open(picked, stack=True, plugin="napari-tlreg")
    assert layer.data[:, 0, 0].tolist() == list(range(12))


def test_a_suffixless_dicom_file_whose_preamble_is_a_tiff_header_is_read_as_dicom(tmp_path):
    """pydicom's MR_small.dcm begins with a TIFF header in its 128-byte preamble (a dual DICOM/TIFF file). Without
    its suffix (IM0001, as scanners name them) it was sniffed as TIFF: "not a readable TIFF file (... list index out
    of range)"; the DICM magic decides first."""
    import shutil

    from pydicom.data import get_testdata_file

    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "IM0001")
    seq = load_sequence(tmp_path / "IM0001")
    assert seq.metadata["reader"] == "dicom" and seq.shape == (1, 64, 64) and seq.spacing == pytest.approx((0.3125, 0.3125))


def test_a_samples_size_is_held_to_max_voxels_too():
    with pytest.raises(SequenceReadError, match=r"^cardiac: sequence of 20x128x128 = 327,680 voxels exceeds the limit "
                                                r"of 1,000; crop, downsample or split it$"):
        load_sequence("cardiac", max_voxels=1000)
    assert load_sequence("cardiac", max_voxels=327_680).shape == (20, 128, 128)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_cut_off_dicom_says_truncated_not_imageless(tmp_path, keep):
    """The real echo clip cut short (a copy interrupted) was "DICOM file holds no image (no pixel data)", with
    pydicom's raw "End of file reached before delimiter" warning beside it: the user looked for a DICOM without pixels."""
    import warnings

    import pydicom

    data = Path(pydicom.examples.get_path("ybr_color")).read_bytes()
    bad = tmp_path / "echo.dcm"
    bad.write_bytes(data[: int(len(data) * keep)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SequenceReadError, match=r"^echo.dcm: not a readable DICOM file \(truncated: it ends inside "
                                                    r"its data\)$"):
            load_sequence(bad)


@pytest.mark.parametrize("keep", [300, 600, 1000])
def test_a_dicom_cut_before_its_image_attributes_says_truncated(tmp_path, keep):
    """MR_small cut in its header (before Rows) was "DICOM file holds no image (no pixel data)"; its meta header says
    it is an MR image. A DICOM that holds no image (a structured report) still says so."""
    import pydicom

    data = Path(pydicom.examples.get_path("mr")).read_bytes()
    bad = tmp_path / "mr.dcm"
    bad.write_bytes(data[:keep])
    with pytest.raises(SequenceReadError, match=r"^mr.dcm: not a readable DICOM file \(truncated: it says it is an MR "
                                                r"Image Storage object, and ends before its image\)$"):
        load_sequence(bad)
    ds = pydicom.dcmread(pydicom.examples.get_path("mr"))
    del ds.PixelData, ds.Rows, ds.Columns
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = pydicom.uid.UID("1.2.840.10008.5.1.4.1.1.88.11")  # SR
    ds.save_as(tmp_path / "sr.dcm")
    with pytest.raises(SequenceReadError, match=r"^sr.dcm: DICOM file holds no image \(no pixel data\)$"):
        load_sequence(tmp_path / "sr.dcm")


def test_stacked_files_keep_colour_and_warn_of_another_pixel_size(tmp_path):
    import tifffile

    rgb = np.random.default_rng(0).integers(0, 255, (2, 20, 30, 3)).astype(np.uint8)
    for k in range(2):
        tifffile.imwrite(tmp_path / f"c{k}.tif", rgb[k], photometric="rgb")
    seq = load_sequence([tmp_path / "c0.tif", tmp_path / "c1.tif"])
    assert seq.shape == (2, 20, 30) and seq.metadata["rgb"].shape == (2, 20, 30, 3)
    np.testing.assert_array_equal(seq.metadata["rgb"], rgb)
    _geotiff(tmp_path / "a.tif", np.zeros((20, 30), np.uint16), scale=(10.0, 10.0))
    _geotiff(tmp_path / "b.tif", np.ones((20, 30), np.uint16), scale=(20.0, 20.0))
    with pytest.warns(UserWarning, match=r"b.tif: pixel size \(20.0, 20.0\) m differs from a.tif's \(\(10.0, 10.0\) m\); "
                                         r"a.tif's is used"):
        seq = load_sequence([tmp_path / "a.tif", tmp_path / "b.tif"])
    assert seq.spacing == pytest.approx((10.0, 10.0)) and seq.metadata["source"] == str(tmp_path / "a.tif")


def test_stacked_dates_of_other_colour_or_coordinate_systems_are_said_as_they_are(tmp_path):
    """(2026-12-07, satellite review) A grey date beside a colour one was said as "a.tif and 1 more: its colour is not
    as a.tif's", the first file differing from itself; two dates in two UTM zones as "another place or pixel grid"."""
    import tifffile

    from napari_tlreg.io.readers import geotiff_crs, geotiff_tags

    rng = np.random.default_rng(0)
    tifffile.imwrite(tmp_path / "grey.tif", rng.integers(0, 255, (20, 30)).astype(np.uint8))
    tifffile.imwrite(tmp_path / "rgb.tif", rng.integers(0, 255, (20, 30, 3)).astype(np.uint8), photometric="rgb")
    tifffile.imwrite(tmp_path / "rgba.tif", rng.integers(0, 255, (20, 30, 4)).astype(np.uint8), photometric="rgb",
                     extrasamples=[2])
    with pytest.warns(UserWarning, match=r"^the files' colour differs \(grey: grey.tif; RGB: rgb.tif\): the frames are "
                                         r"shown grey, with no colour layer$"):
        assert "rgb" not in load_sequence([tmp_path / "grey.tif", tmp_path / "rgb.tif"]).metadata
    with warnings.catch_warnings():  # RGB beside RGBA: the colour kept, alpha dropped
        warnings.simplefilter("error")
        assert load_sequence([tmp_path / "rgb.tif", tmp_path / "rgba.tif"]).metadata["rgb"].shape == (2, 20, 30, 3)
    _geotiff(tmp_path / "z33.tif", np.zeros((20, 30), np.uint16), scale=(10.0, 10.0), epsg=32633)
    _geotiff(tmp_path / "z32.tif", np.ones((20, 30), np.uint16), scale=(10.0, 10.0), epsg=32632)
    with tifffile.TiffFile(tmp_path / "z33.tif") as tif:
        assert geotiff_crs(geotiff_tags(tif.pages[0])) == "EPSG:32633"
    assert geotiff_crs([]) is None and geotiff_crs(None) is None
    with pytest.warns(UserWarning, match=r"z32.tif: its georeferencing differs from z33.tif's \(another coordinate "
                                         r"system, EPSG:32632 against EPSG:32633: reproject one date onto the other's "
                                         r"grid first\)"):
        assert "geotiff" not in load_sequence([tmp_path / "z33.tif", tmp_path / "z32.tif"]).metadata
    _geotiff(tmp_path / "z33b.tif", np.ones((20, 30), np.uint16), scale=(10.0, 10.0), epsg=32633,
             origin=(626100.0, 5220000.0))  # the first's system, 100 m on: the file in the other system is named
    with pytest.warns(UserWarning, match=r"z32.tif: its georeferencing differs from z33.tif's \(another coordinate "
                                         r"system, EPSG:32632 against EPSG:32633: .*, 2 files\)"):
        load_sequence([tmp_path / "z33.tif", tmp_path / "z33b.tif", tmp_path / "z32.tif"])


def test_a_folder_of_series_folders_says_to_open_one(tmp_path):
    """(review of the session's diff) A patient's folder of series folders was "the folder is empty"."""
    (tmp_path / "patient" / "series1").mkdir(parents=True)
    (tmp_path / "patient" / "series2").mkdir()
    with pytest.raises(SequenceReadError, match=r"^patient: holds no image files, only folders \(series1, series2\): "
                                                r"open one of them$"):
        load_sequence(tmp_path / "patient")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SequenceReadError, match=r"^empty: the folder is empty"):
        load_sequence(tmp_path / "empty")


def test_an_npz_of_2d_images_of_one_size_is_a_sequence(shared_data, tmp_path):
    """The real Sentinel-2 pair (``ref``, ``tgt``, ``pixel_size_m``) was "npz holds no image array": the pair could
    not be opened without repacking it."""
    seq = load_sequence(shared_data / "satellite" / "arosics_S2A_crop512_r1044_c1044.npz")
    assert seq.shape == (2, 512, 512) and seq.spacing == pytest.approx((10.0, 10.0)) and seq.unit == "m"
    assert seq.metadata["npz_keys"] == ["ref", "tgt"]
    np.savez(tmp_path / "odd.npz", a=np.zeros((20, 20)), b=np.zeros((20, 30)))
    with pytest.raises(SequenceReadError, match=r"^odd.npz: npz's images differ in size \(a 20x20 float64, b 20x30 "
                                                r"float64\): crop or resample them to one size$"):
        load_sequence(tmp_path / "odd.npz")
    np.savez(tmp_path / "bare.npz", spacing=np.ones(2), landmarks=np.zeros((3, 4)))
    with pytest.raises(SequenceReadError, match=r"^bare.npz: npz holds no image array \(keys: spacing, landmarks\); "
                                                r"expected 'frames' with shape \(T, H, W\), or 2-D images of one size$"):
        load_sequence(tmp_path / "bare.npz")
    np.savez(tmp_path / "none.npz")  # (2026-12-05 review) was "not a NumPy .npy/.npz file (unrecognised header)"
    with pytest.raises(SequenceReadError, match=r"^none.npz: npz holds no arrays$"):
        load_sequence(tmp_path / "none.npz")
    np.savez(tmp_path / "one.npz", a=np.zeros((20, 20)), mask=np.ones((20, 20)))
    with pytest.raises(SequenceReadError, match=r"^one.npz: npz holds one image \(a 20x20 float64\): a sequence needs "
                                                r"at least 2 frames"):
        load_sequence(tmp_path / "one.npz")
    # (satellite review) each said "holds no image array", of a file holding two images
    g = np.arange(400, dtype=np.uint16).reshape(20, 20)
    np.savez(tmp_path / "size.npz", ref=g, tgt=g[:10, :12])
    with pytest.raises(SequenceReadError, match=r"^size.npz: npz's images differ in size \(ref 20x20 uint16, tgt 10x12 "
                                                r"uint16\): crop or resample"):
        load_sequence(tmp_path / "size.npz")
    np.savez(tmp_path / "dtype.npz", ref=g, tgt=g.astype(np.float32) / 1e4)  # DN beside reflectance
    with pytest.raises(SequenceReadError, match=r"^dtype.npz: npz's images differ in type or size \(ref 20x20 uint16, "
                                                r"tgt 20x20 float32\): the frames are images of one size and type"):
        load_sequence(tmp_path / "dtype.npz")
    # (reviews of the change) images named as no frame (whole words: clouds, grids, a DEM, quick-looks) are left out;
    # several sets of images are asked which
    f32, grid = g.astype(np.float32), np.zeros((20, 20))
    for name, sets, want in (("clouds", dict(ref=f32, tgt=f32, cloud_ref=g.astype(np.uint8), cloud_tgt=g.astype(np.uint8)),
                              ["ref", "tgt"]),
                             ("dem", dict(dem_a=g.astype(np.int16), dem_b=g.astype(np.int16), ref=f32, tgt=f32), ["ref", "tgt"]),
                             ("looks", dict(a=g, b=g, quicklook_a=np.stack([g] * 3, -1), thumb_b=np.stack([g] * 3, -1)),
                              ["a", "b"]),
                             ("words", dict(latest=g, demo=g, invalid=g), ["latest", "demo", "invalid"])):
        np.savez(tmp_path / f"{name}.npz", **sets)
        assert load_sequence(tmp_path / f"{name}.npz").metadata["npz_keys"] == want, name
    np.savez(tmp_path / "latlon.npz", ref=grid + 1, tgt=grid + 2, lat=grid, lon=grid)  # of the pair's own kind
    with pytest.warns(UserWarning, match=r"latlon.npz: lat, lon left out of the frames \(named as masks, grids or "
                                         r"quick-looks\); the frames: ref, tgt"):
        assert load_sequence(tmp_path / "latlon.npz").metadata["npz_keys"] == ["ref", "tgt"]
    for name, sets in (("sets", dict(a=g, b=g, c=g.astype(np.uint8), d=g.astype(np.uint8))),
                       ("grids", dict(p=grid, q=grid, ref=f32, tgt=f32))):
        np.savez(tmp_path / f"{name}.npz", **sets)
        with pytest.raises(SequenceReadError, match=rf"^{name}.npz: npz holds several sets of images .*: which are the "
                                                    "frames"):
            load_sequence(tmp_path / f"{name}.npz")


def test_an_npz_pair_of_colour_dates_is_a_sequence(tmp_path):
    """(satellite review) Two RGB dates saved as ``ref=``, ``tgt=`` (each ``(H, W, 3)``) opened as one frame, the
    second date dropped without a word: they are the frames, as two grey dates are (colour kept for the viewer)."""
    rng = np.random.default_rng(0)
    a = (rng.random((24, 32, 3)) * 4000).astype(np.uint16)
    np.savez(tmp_path / "rgb.npz", ref=a, tgt=a[::-1], pixel_size_m=np.array([10.0, 10.0]))
    seq = load_sequence(tmp_path / "rgb.npz")
    assert seq.shape == (2, 24, 32) and seq.metadata["npz_keys"] == ["ref", "tgt"] and seq.unit == "m"
    assert not np.allclose(seq.frames[0], seq.frames[1])
    np.testing.assert_allclose(seq.frames[1], seq.frames[0][::-1], atol=1e-6)
    assert load_sequence(tmp_path / "rgb.npz").frames.shape == (2, 24, 32)
    np.savez(tmp_path / "one.npz", ref=a)  # one colour image: one frame (register refuses it)
    assert load_sequence(tmp_path / "one.npz").shape == (1, 24, 32)
    # (review of the change) colour dates of other types or sizes, or colour beside grey: refused, naming them (one
    # frame, the other date dropped without a word)
    for name, other, what in (("types", a.astype(np.float32), "type or size"), ("sizes", a[:20], "size"),
                              ("grey", a[..., 0], "type or size")):
        np.savez(tmp_path / f"{name}.npz", ref=a, tgt=other)
        with pytest.raises(SequenceReadError, match=rf"^{name}.npz: npz's images differ in {what} \(ref 24x32x3 uint16"):
            load_sequence(tmp_path / f"{name}.npz")
    grey = a[..., 0]  # a grey pair beside a colour quick-look: the pair
    np.savez(tmp_path / "look.npz", a=grey, b=grey[::-1], c=a)
    assert load_sequence(tmp_path / "look.npz").metadata["npz_keys"] == ["a", "b"]


def test_a_series_of_dicom_files_named_by_uid_stays_a_series_beside_a_preview(tmp_path):
    """Code read: DICOM files named by UID (``1.3.12.2.1107.5.2.0``: suffix ".0") were not looked at, so a preview
    TIFF beside them made the folder a "folder of frames" of that one TIFF."""
    import shutil

    import tifffile
    from pydicom.data import get_testdata_file

    from napari_tlreg.io.readers import frame_files

    for k in range(3):
        shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / f"1.3.12.2.1107.5.2.{k}")
    tifffile.imwrite(tmp_path / "preview.tif", np.zeros((32, 32), np.uint8))
    assert frame_files(tmp_path) is None
    with pytest.warns(UserWarning, match="preview.tif"):
        assert load_sequence(tmp_path).metadata["reader"] == "dicom"


def test_an_npz_pair_beside_coordinate_grids_is_the_pair(tmp_path):
    pair = np.random.default_rng(0).integers(0, 4000, (2, 20, 20)).astype(np.uint16)
    lat, lon = np.meshgrid(np.linspace(45, 46, 20), np.linspace(7, 8, 20), indexing="ij")
    np.savez(tmp_path / "geo.npz", ref=pair[0], tgt=pair[1], lat=lat, lon=lon, pixel_size_m=10.0)
    seq = load_sequence(tmp_path / "geo.npz")
    assert seq.metadata["npz_keys"] == ["ref", "tgt"] and seq.unit == "m"
    np.testing.assert_array_equal(seq.frames, pair)
    np.savez(tmp_path / "first.npz", lat=lat, lon=lon, ref=pair[0], tgt=pair[1])  # (review) the grids stored first
    assert load_sequence(tmp_path / "first.npz").metadata["npz_keys"] == ["ref", "tgt"]
    np.savez(tmp_path / "cloud.npz", cloud=(pair[0] > 9).astype(np.uint8), ref=pair[0], tgt=pair[1])  # a mask first
    assert load_sequence(tmp_path / "cloud.npz").metadata["npz_keys"] == ["ref", "tgt"]


def test_a_volumes_slices_read_as_frames_are_said_and_two_stacked_axes_are_named(tmp_path):
    """ACDC's ``patientNNN_frameNN.nii.gz`` (X, Y, Z of 10 mm) and an ImageJ stack saved with ``slices=`` were read as
    cine without a word; a TZYX/TCYX stack was refused without naming its axes. A CAMUS-like (X, Y, T) NIfTI, whose
    third step is 1, and ImageJ frames are read as before, silently."""
    import warnings

    import nibabel as nib
    import tifffile

    vol = np.random.default_rng(0).integers(0, 200, (24, 20, 6)).astype(np.int16)
    nii = nib.Nifti1Image(vol, np.diag([-1.5, -1.5, 10.0, 1.0]))
    nii.header.set_xyzt_units("mm")
    nib.save(nii, tmp_path / "patient001_frame01.nii.gz")
    with pytest.warns(UserWarning, match=r"patient001_frame01.nii.gz: its third axis steps 10 mm, as a volume's "
                                         r"slices do .* read its 6 planes as the frames"):
        seq = load_sequence(tmp_path / "patient001_frame01.nii.gz")
    assert seq.shape == (6, 20, 24)
    cine = nib.Nifti1Image(vol, np.diag([0.15, 0.3, 1.0, 1.0]))
    cine.header.set_xyzt_units("mm")
    nib.save(cine, tmp_path / "half_sequence.nii.gz")
    timed = nib.Nifti1Image(vol, np.diag([1.3, 1.3, 0.034, 1.0]))  # (X, Y, T) with its frame time as the third step
    timed.header.set_xyzt_units("mm")
    nib.save(timed, tmp_path / "timed.nii.gz")
    microns = nib.Nifti1Image(vol, np.diag([0.5, 0.5, 2.0, 1.0]))
    microns.header.set_xyzt_units("micron")
    nib.save(microns, tmp_path / "microns.nii.gz")
    with pytest.warns(UserWarning, match=r"microns.nii.gz: its third axis steps 0.002 mm"):  # its unit, as spacing's
        assert load_sequence(tmp_path / "microns.nii.gz").spacing == pytest.approx((0.0005, 0.0005))
    stack = vol.transpose(2, 1, 0).astype(np.uint16)
    tifffile.imwrite(tmp_path / "frames.tif", stack, imagej=True, metadata={"axes": "TYX"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_sequence(tmp_path / "half_sequence.nii.gz").shape == (6, 20, 24)
        assert load_sequence(tmp_path / "timed.nii.gz").shape == (6, 20, 24)
        assert load_sequence(tmp_path / "frames.tif").shape == (6, 20, 24)
    tifffile.imwrite(tmp_path / "slices.tif", stack, imagej=True, metadata={"axes": "ZYX"})
    with pytest.warns(UserWarning, match=r"slices.tif: its 6 z-slices \(axes ZYX, no time axis\) are read as the "
                                         r"frames"):
        assert load_sequence(tmp_path / "slices.tif").shape == (6, 20, 24)
    tifffile.imwrite(tmp_path / "tzyx.tif", np.stack([stack[:3], stack[3:]], 1), imagej=True,
                     metadata={"axes": "TZYX"})
    with pytest.raises(SequenceReadError, match=r"tzyx.tif: image has axes TZYX of shape \(3, 2, 20, 24\) "
                                                r"\(T=3, Z=2\); expected \(T, H, W\), one axis of frames"):
        load_sequence(tmp_path / "tzyx.tif")


@pytest.mark.parametrize("value,expected,warned", [
    ([2.0], None, True), ([0, 1], None, True), ([-2, 1], None, True), (["nan", 1], None, True),
    ([2.0, 1.0], (2.0, 1.0), False)])
def test_a_dicom_pixel_spacing_that_is_not_two_positive_numbers_is_said_and_left_out(tmp_path, value, expected, warned):
    """(2026-12-05, anisotropy review) One PixelSpacing value refused the whole file as "truncated or corrupt: object
    of type 'DSfloat' has no len()"; 0, negative or NaN values were dropped without a word. As the other readers: the
    frames read, in pixels, with a warning that names the element."""
    import pydicom

    p = tmp_path / "b.dcm"
    _write_dicom(p, np.random.default_rng(0).integers(0, 4000, (3, 20, 30)).astype(np.uint16))
    ds = pydicom.dcmread(p)
    ds.PixelSpacing = value if len(value) > 1 else value[0]
    ds.save_as(p)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        seq = load_sequence(p)
    assert seq.shape == (3, 20, 30) and seq.spacing == expected
    said = [str(w.message) for w in seen if "PixelSpacing" in str(w.message)]
    assert bool(said) == warned and all(m.startswith("b.dcm: DICOM PixelSpacing: ignoring pixel spacing") for m in said)


def test_an_enhanced_dicom_with_its_pixel_spacing_per_frame_only_reads_it(tmp_path):
    """(2026-12-05, anisotropy review) Enhanced multi-frame files may give PixelMeasuresSequence per frame only (no
    shared group, no top-level PixelSpacing): read in pixels before."""
    import pydicom
    from pydicom.dataset import Dataset

    p = tmp_path / "e.dcm"
    _write_dicom(p, np.random.default_rng(0).integers(0, 4000, (3, 20, 30)).astype(np.uint16))
    ds = pydicom.dcmread(p)
    del ds.PixelSpacing
    frames = []
    for _ in range(3):
        measures, group = Dataset(), Dataset()
        measures.PixelSpacing = [2.0, 1.0]
        group.PixelMeasuresSequence = [measures]
        frames.append(group)
    ds.PerFrameFunctionalGroupsSequence = frames
    ds.save_as(p)
    seq = load_sequence(p)
    assert seq.spacing == (2.0, 1.0) and seq.unit == "mm"


def test_a_result_folder_given_as_a_sequence_is_named_for_what_it_is(tmp_path):
    """(2026-12-05, paths review) ``register results/a`` said "folder holds no readable DICOM image files", with a
    warning that listed the result's TIFFs as "not DICOM"."""
    import napari_tlreg as tl

    res = tl.register(np.random.default_rng(0).random((3, 24, 24)).astype(np.float32), method="voxelmorph")
    res.save(tmp_path / "a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SequenceReadError, match=r"^a: is a napari-tlreg result folder, not a sequence: its frames, "
                                                    r"scaled to \[0, 1\], are a/frames.tif"):
            load_sequence(tmp_path / "a")
    assert load_sequence(tmp_path / "a" / "frames.tif").shape == (3, 24, 24)


def test_colour_frames_turn_grey_a_frame_at_a_time():
    """(2026-12-05, memory review) The float32 copy of every frame's three channels, made at once, took 3x the grey
    result on top of it (a 150-frame 640x480 video read peaked at 2.7x what it kept). The values are as before."""
    import tracemalloc

    from napari_tlreg.io.readers import to_luminance

    rgb = np.random.default_rng(0).integers(0, 256, (20, 64, 80, 4), dtype=np.uint8)
    tracemalloc.start()
    try:
        grey = to_luminance(rgb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * grey.nbytes
    w = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    np.testing.assert_allclose(grey, rgb[..., :3].astype(np.float32) @ w, rtol=1e-6)
    np.testing.assert_array_equal(to_luminance(rgb[0]), grey[0])  # one frame as in a sequence


def test_an_npz_member_of_no_numbers_is_refused_from_its_header(tmp_path, monkeypatch):
    """(2026-12-05, hostile files review) A 4 MB npz of four 1 GiB void items (4 voxels: within every limit) took
    6.2 GB and 39 s to be refused, after numpy decompressed it. Every member's header is checked before any is read."""
    import zipfile

    from napari_tlreg.io.readers import SequenceReadError

    for name, arr in (("frames", np.zeros(4, dtype="V1048576")), ("landmarks", np.zeros(3, dtype="V1048576"))):
        path = tmp_path / f"{name}.npz"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            with zf.open(f"{name}.npy", "w") as fp:
                np.lib.format.write_array(fp, arr)
            if name != "frames":
                with zf.open("frames.npy", "w") as fp:
                    np.lib.format.write_array(fp, np.zeros((2, 8, 8), np.float32))
        read = []
        monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda self, key: read.append(key))
        with pytest.raises(SequenceReadError, match=rf"array '{name}' has dtype \|V1048576 \([0-9,]+ bytes\): expected numbers"):
            load_sequence(path)
        assert name not in read  # refused from its header, never decompressed
        monkeypatch.undo()
    np.savez(tmp_path / "ok.npz", frames=np.zeros((2, 8, 8), np.float32), unit=np.array("m"), spacing=np.array([2.0, 2.0]))
    assert load_sequence(tmp_path / "ok.npz").unit == "m"
    # (diff review) the members the reader does not use are not read, whatever they hold: a meta dict (pickled),
    # dates, records, a long list of file names
    np.savez(tmp_path / "extra.npz", frames=np.zeros((2, 8, 8), np.float32), meta=np.array({"a": 1}, dtype=object),
             times=np.array(["2026-01-01", "2026-02-01"], dtype="datetime64[D]"),
             names=np.array([f"file{i:07d}.dcm" for i in range(40000)]))
    assert load_sequence(tmp_path / "extra.npz").frames.shape == (2, 8, 8)


def test_a_landmarks_csv_larger_than_landmarks_take_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """(2026-12-05, hostile files review) 10 million rows took 89 s and 5.9 GB (the GUI's import and evaluate's
    --landmarks alike), with no bound and no word."""
    from napari_tlreg.io import writers

    path = tmp_path / "many.csv"
    path.write_text("id,t,row,col\n" + "".join(f"{i},0,1.5,2.5\n" for i in range(2000)))
    assert load_points_csv(path).shape == (2000, 4)
    monkeypatch.setattr(writers, "MAX_POINTS_CSV_BYTES", path.stat().st_size - 1)
    with pytest.raises(ValueError, match=r"many.csv: 0 MiB is more than landmarks take \(at most 0 MiB"):
        load_points_csv(path)


def _enhanced_mr(path, frames, per_frame, shared=None, photometric="MONOCHROME2"):
    """An enhanced multi-frame MR file of ``frames`` (uint16) whose per-frame functional groups are ``per_frame``."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence as Seq
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "MR", generate_uid(), generate_uid()
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.NumberOfFrames = 1, photometric, len(frames)
    ds.Rows, ds.Columns = frames.shape[1:]
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 0
    ds.PixelData = frames.astype("<u2").tobytes()
    ds.PerFrameFunctionalGroupsSequence = Seq(per_frame)
    ds.SharedFunctionalGroupsSequence = Seq([shared if shared is not None else Dataset()])
    ds.save_as(path, enforce_file_format=True)
    assert pydicom.dcmread(path).NumberOfFrames == len(frames)
    return path


def test_enhanced_dicom_rescale_and_slice_positions_are_read(tmp_path):
    """(2026-12-05, DICOM review) An enhanced multi-frame file keeps its rescale in its functional groups: per-frame
    slopes 1-6 were read as 1 (a flicker nobody acquired), a CT's -1024 intercept left out; a file of 2 slice
    positions x 3 phases was one cine of 6 frames, jumping between the slices."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as Seq

    frames = np.stack([np.full((16, 24), 10 * (t + 1), np.uint16) for t in range(6)])
    per = []
    for t in range(6):
        item, pvt = Dataset(), Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept = float(t + 1), -5.0
        item.PixelValueTransformationSequence = Seq([pvt])
        per.append(item)
    seq = load_sequence(_enhanced_mr(tmp_path / "rescale.dcm", frames, per))
    np.testing.assert_allclose(seq.frames[:, 0, 0], [10 * (t + 1) * (t + 1) - 5.0 for t in range(6)])
    shared, pvt = Dataset(), Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept = 1.0, -1024.0
    shared.PixelValueTransformationSequence = Seq([pvt])
    seq = load_sequence(_enhanced_mr(tmp_path / "ct.dcm", frames, [Dataset() for _ in range(6)], shared))
    np.testing.assert_allclose(seq.frames[:, 0, 0], [10 * (t + 1) - 1024.0 for t in range(6)])
    # (diff review) MONOCHROME1 with the rescale in the groups: flipped within the rescaled range, as at the top level
    top = _enhanced_mr(tmp_path / "m1top.dcm", frames, [Dataset() for _ in range(6)], photometric="MONOCHROME1")
    import pydicom

    ds = pydicom.dcmread(top)
    ds.RescaleSlope, ds.RescaleIntercept = 1.0, -1024.0
    ds.save_as(top)
    grouped = _enhanced_mr(tmp_path / "m1groups.dcm", frames, [Dataset() for _ in range(6)], shared,
                           photometric="MONOCHROME1")
    np.testing.assert_array_equal(load_sequence(grouped).frames, load_sequence(top).frames)

    per = []
    for t in range(6):  # stored slice by slice, the phases of the second slice backwards
        s, phase = divmod(t, 3)
        item, plane, content = Dataset(), Dataset(), Dataset()
        plane.ImagePositionPatient = [0.0, 0.0, 10.0 * s]
        content.TemporalPositionIndex = (phase + 1) if s == 0 else (3 - phase)
        item.PlanePositionSequence, item.FrameContentSequence = Seq([plane]), Seq([content])
        per.append(item)
    from napari_tlreg.io import load_slices

    slices = load_slices(_enhanced_mr(tmp_path / "cine.dcm", frames, per))
    assert [s.frames.shape for s in slices] == [(3, 16, 24), (3, 16, 24)]
    np.testing.assert_array_equal(slices[0].frames[:, 0, 0], [10, 20, 30])
    np.testing.assert_array_equal(slices[1].frames[:, 0, 0], [60, 50, 40])  # in temporal order
    assert load_sequence(tmp_path / "cine.dcm", slice=1).metadata["n_slices"] == 2
    with pytest.raises(SequenceReadError, match="slice=2 is out of range: the file has 2 slice positions"):
        load_sequence(tmp_path / "cine.dcm", slice=2)


def test_a_folder_of_several_dicom_clips_is_not_one_sequence(tmp_path):
    """(2026-12-05, DICOM review) Two 30-frame echo clips of one series in a folder were glued into one sequence of 60
    (the viewer and `register` registered across the join), where `batch` takes each clip on its own."""
    import copy

    import pydicom
    from pydicom.uid import generate_uid

    for k in range(2):
        clip = copy.deepcopy(pydicom.examples.ybr_color)
        clip.InstanceNumber, clip.SOPInstanceUID = k + 1, generate_uid()
        clip.save_as(tmp_path / f"clip{k}.dcm")
    with pytest.raises(SequenceReadError, match=r"holds 2 multi-frame clips of one series \(clip0.dcm, clip1.dcm\): "
                                                 r"each is a sequence of its own; open one file"):
        load_sequence(tmp_path)
    assert load_sequence(tmp_path / "clip1.dcm").frames.shape[0] == 30


def test_a_damaged_jpeg_dicom_is_still_truncated_or_corrupt(tmp_path):
    """(2026-12-05, diff review) A JPEG frame whose header was damaged (Pillow installed, and it tried) was told to
    install a decoder."""
    import copy

    import pydicom
    from pydicom.encaps import generate_fragmented_frames

    ds = copy.deepcopy(pydicom.examples.ybr_color)
    data = bytearray(ds.PixelData)
    first = next(generate_fragmented_frames(ds.PixelData))[0]
    start = bytes(data).index(first)
    data[start:start + 64] = bytes(64)
    ds.PixelData = bytes(data)
    ds.save_as(tmp_path / "bad.dcm")
    with pytest.raises(SequenceReadError, match="truncated or corrupt") as info:
        load_sequence(tmp_path / "bad.dcm")
    assert "install a decoder" not in str(info.value)


def test_a_dicom_compression_no_decoder_reads_says_what_to_install():
    """(2026-12-05, DICOM review) A JPEG-LS file was "truncated or corrupt: Unable to decompress ... because all
    plugins are missing dependencies:", cut at the colon before the packages that would read it."""
    from pydicom.data import get_testdata_file

    # the wheel's own file (download=False: pydicom tried the network for the first name, and warned of it)
    path = get_testdata_file("JPEG-LL.dcm", download=False) or get_testdata_file("MR_small_jpeg_ls_lossless.dcm",
                                                                                  download=False)
    assert path is not None
    try:
        load_sequence(path)
    except SequenceReadError as exc:
        text = str(exc)
        assert "truncated or corrupt" not in text and "cannot be decoded with the packages installed" in text
        assert "requires" in text and "install a decoder" in text
    else:  # a decoder is installed here: nothing to say
        pytest.skip("this environment decodes the file")


def test_a_killed_file_write_is_removed_by_the_next_write_and_one_going_on_is_not(tmp_path):
    """(2026-12-06, write-failure review) A write killed outright (SIGKILL) left its full-size hidden temporary file
    beside the target for good, one per kill (folders' were removed by the next write). The next write of the target
    removes them now; a temporary file another write holds is left alone."""
    import subprocess
    import sys

    from napari_tlreg.io.writers import _sibling_prefix, atomic_path

    target = tmp_path / "out.tif"
    child = ("import os, sys, time\nfrom napari_tlreg.io.writers import atomic_path\n"
             f"with atomic_path({str(target)!r}) as tmp:\n"
             "    open(tmp, 'wb').write(b'x' * 1000)\n    print(tmp, flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    held = Path(proc.stdout.readline().strip())
    assert held.is_file() and held.name.startswith(_sibling_prefix(target, "tmp"))
    with atomic_path(target) as tmp:  # another write while that one goes on: its file is left alone
        tmp.write_bytes(b"first")
    assert held.is_file() and target.read_bytes() == b"first"
    proc.kill()
    proc.wait()
    assert held.is_file()  # killed: nothing removed it
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"second")
    assert not held.exists() and target.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]
    with pytest.raises(OSError, match="out.tif: nothing was written"):
        with atomic_path(target):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]


def test_a_full_disk_is_said_naming_the_output_asked_for(tmp_path, monkeypatch):
    """(2026-12-06, write-failure review) A full disk was "[Errno 28] No space left on device" with no path, or named
    the hidden temporary file, gone by then: it names the output the user asked for now (a folder's, and the file in
    it that failed)."""
    import errno

    from napari_tlreg.io.writers import atomic_dir, atomic_path

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=rf"^\[Errno 28\] no space left on the device while writing {tmp_path / 'a.csv'}$"):
        with atomic_path(tmp_path / "a.csv") as tmp:
            full(tmp)
    with pytest.raises(OSError) as info:
        with atomic_dir(tmp_path / "res", replaces="result.json") as tmp:
            with atomic_path(tmp / "jacobian.tif") as inner:
                full(inner)
    assert info.value.strerror == f"no space left on the device while writing {tmp_path / 'res'} (its jacobian.tif)"
    assert sorted(p.name for p in tmp_path.iterdir()) == []

    def quota(*_a, **_k):  # a quota is said as one (df shows free space)
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    with pytest.raises(OSError) as info:
        with atomic_path(tmp_path / "b.csv") as tmp:
            quota(tmp)
    assert info.value.errno == errno.EDQUOT
    assert info.value.strerror == f"disk quota exceeded while writing {tmp_path / 'b.csv'}"


def test_a_corrupt_tiff_in_a_folder_logs_nothing_of_tifffiles_own(tmp_path):
    """(cohort review) A corrupt TIFF in a cohort folder printed tifffile's log line ("<tifffile.TiffPages @...>
    invalid offset to first page") over the one clear error, when ``batch`` looked whether the file is one image."""
    import subprocess
    import sys

    import tifffile

    tifffile.imwrite(tmp_path / "a.tif", np.zeros((3, 32, 32), np.uint8))
    data = (tmp_path / "a.tif").read_bytes()
    (tmp_path / "bad.tif").write_bytes(data[:4] + (1 << 30).to_bytes(4, "little") + data[8:])
    code = "import sys; from napari_tlreg.io.readers import one_image; print(one_image(sys.argv[1]))"
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bad.tif")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "None" and r.stderr == "", r.stderr  # unreadable: neither


def test_a_result_written_again_keeps_what_the_user_saved_in_its_folder(tmp_path, monkeypatch):
    """(2026-12-06, interoperability review) A segmentation saved beside warped.tif (ITK-SNAP) and notes were deleted
    without a word when `register` wrote to the folder again: they go into the new folder; the old outputs do not
    (a labels.tif of an earlier run with labels is not kept beside a run without them). A failed swap puts them back."""
    import os

    from napari_tlreg import report
    from napari_tlreg.io import writers
    from napari_tlreg.result import RegistrationResult

    T, H, W = 3, 16, 16
    frames = np.random.default_rng(0).random((T, H, W)).astype(np.float32)
    res = RegistrationResult(frames=frames, warped=frames, displacement=np.zeros((T, 2, H, W), np.float32),
                             jacobian=np.ones((T, H, W), np.float32), method="x")
    out = tmp_path / "res"
    labels = np.zeros((T, H, W), np.int32)
    labels[0, 4:9, 4:9] = 1
    report.write(res, out, labels=labels, montage=False)
    assert (out / "labels.tif").exists() and (out / "propagated_labels.tif").exists()
    (out / "notes.txt").write_text("mine")
    (out / "seg").mkdir()
    (out / "seg" / "seg.nii.gz").write_bytes(b"x")
    report.write(res, out, montage=False)
    assert (out / "notes.txt").read_text() == "mine" and (out / "seg" / "seg.nii.gz").read_bytes() == b"x"
    assert not (out / "labels.tif").exists() and not (out / "propagated_labels.tif").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # nothing left beside it
    # every name a result or a report folder holds is one napari-tlreg knows as its own (else it would be kept)
    report.write(res, out, labels=labels, landmarks=np.array([[0, 0, 5.0, 5.0], [0, 1, 5.0, 5.0]]), montage=True)
    rep = report.export_report({"x": res}, tmp_path / "rep", labels=labels,
                               landmarks=np.array([[0, 0, 5.0, 5.0], [0, 1, 5.0, 5.0]]))
    for folder, marker in ((out, "result.json"), (rep, "report.json")):
        assert {p.name for p in folder.iterdir()} - {"notes.txt", "seg"} <= writers.OUTPUT_FILES[marker]
    # the swap fails: the user's files are back where they were, the old result as it was
    real = os.rename

    def failing(a, b):
        if Path(b) == out and ".tmp-" in Path(a).name:  # the new folder into place
            raise OSError("rename failed")
        return real(a, b)

    monkeypatch.setattr(writers.os, "rename", failing)
    with pytest.raises(OSError, match="rename failed"):
        report.write(res, out, montage=False)
    monkeypatch.undo()
    assert (out / "notes.txt").read_text() == "mine" and (out / "labels.tif").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep", "res"]
    # (diff review) a name another kind of folder writes is the user's here: a report keeps a labels.tif put in it
    (rep / "labels.tif").write_bytes(b"mine")
    (rep / "result.json").write_text("mine")
    report.export_report({"x": res}, rep)
    assert (rep / "labels.tif").read_bytes() == b"mine" and (rep / "result.json").read_text() == "mine"
    # killed after the swap, before the user's files were moved: the old folder holds them; the next write takes them
    old = tmp_path / ".res.old-0123abcd"
    old.mkdir()
    (old / "result.json").write_text("{}")
    (old / "later.txt").write_text("kept")
    report.write(res, out, montage=False)
    assert (out / "later.txt").read_text() == "kept" and not old.exists()
    # one that cannot be moved (a mount point in the folder): the old folder is kept with it, and said
    real = os.rename

    def busy(a, b):
        if Path(a).name == "notes.txt" and ".old-" in Path(a).parent.name:
            raise OSError(16, "Device or resource busy")
        return real(a, b)

    monkeypatch.setattr(writers.os, "rename", busy)
    with pytest.warns(UserWarning, match=r"notes\.txt, kept in it before, could not be moved into it \(.*\): they are in"):
        report.write(res, out, montage=False)
    monkeypatch.undo()
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(".res.old-")]
    assert len(kept) == 1 and (kept[0] / "notes.txt").read_text() == "mine" and not (out / "notes.txt").exists()
    assert (out / "seg" / "seg.nii.gz").exists()  # the others were moved
    # (second review) a later write tries again, and says it again while it cannot: nothing kept silently for good
    (out / "notes.txt").write_text("newer")  # a name the folder holds now
    with pytest.warns(UserWarning, match=r"notes\.txt, kept in it before, could not be moved"):
        report.write(res, out, montage=False)
    assert (kept[0] / "notes.txt").read_text() == "mine" and (out / "notes.txt").read_text() == "newer"
    # a leftover of another kind of output beside it (an ITK export's) is not taken for the user's files
    other = tmp_path / ".res.old-89abcdef"
    other.mkdir()
    (other / "itk.json").write_text("{}")
    (other / "frame_000.nii.gz").write_bytes(b"x")
    import shutil

    shutil.rmtree(kept[0])
    report.write(res, out, montage=False)
    assert not other.exists() and not (out / "itk.json").exists() and not (out / "frame_000.nii.gz").exists()


def test_a_mount_point_as_the_output_is_refused_before_the_run(tmp_path, monkeypatch):
    """(2026-12-06, interoperability review) `--out` a mount point (a Docker volume) failed after the whole run with
    "Device or resource busy: '/out' -> '/.out.old-12c3a78d'": it cannot be moved aside; said before any work."""
    from napari_tlreg.io import writers

    out = tmp_path / "vol"
    out.mkdir()
    monkeypatch.setattr(writers.os.path, "ismount", lambda p: Path(p) == out)
    with pytest.raises(FileExistsError, match=r"is a mount point.*inside it for the output \(.*vol/result\)"):
        writers.check_replaceable(out, "result.json", "result")
    writers.check_replaceable(out / "result", "result.json", "result")  # a folder inside it is fine


def test_a_stacks_frame_time_is_written_where_its_format_keeps_it_and_read_back(tmp_path):
    """(2026-12-06, interoperability review) A NIfTI cine of 40 ms frames saved from napari came out with pixdim[4]
    1 and no time unit (ITK read 1 s between frames), and a result's warped.tif had no frame interval for Fiji."""
    import nibabel as nib
    import tifffile

    from napari_tlreg._hooks import write_image
    from napari_tlreg.io import save_stack

    frames = np.random.default_rng(1).random((4, 10, 12)).astype(np.float32)
    nii = save_stack(tmp_path / "c.nii.gz", frames, spacing=(1.5, 1.5), frame_time_ms=40.0)
    hdr = nib.load(nii).header
    assert hdr.get_zooms()[3] == pytest.approx(40.0) and hdr.get_xyzt_units() == ("mm", "msec")
    tif = save_stack(tmp_path / "c.tif", frames, spacing=(1.5, 1.5), frame_time_ms=40.0)
    with tifffile.TiffFile(tif) as f:
        assert f.imagej_metadata["finterval"] == pytest.approx(0.04)
    # (2026-12-07, readers review) OME-TIFF keeps it too (TimeIncrement), and a file in seconds, OME's default unit
    ome = save_stack(tmp_path / "c.ome.tif", frames, spacing=(1.5, 1.5), frame_time_ms=40.0)
    for p in (nii, tif, ome):
        seq = load_sequence(p)
        assert seq.metadata["frame_time_ms"] == pytest.approx(40.0)
        np.testing.assert_array_equal(seq.frames, frames)
    tifffile.imwrite(tmp_path / "s.ome.tif", frames, ome=True, metadata={"axes": "TYX", "TimeIncrement": 0.025})
    assert load_sequence(tmp_path / "s.ome.tif").metadata["frame_time_ms"] == pytest.approx(25.0)
    # (diff review) a z-stack's slices have no frame time, whatever its TimeIncrement
    tifffile.imwrite(tmp_path / "z.ome.tif", frames, ome=True, metadata={"axes": "ZYX", "TimeIncrement": 0.04})
    with pytest.warns(UserWarning, match="z-slices"):
        assert "frame_time_ms" not in load_sequence(tmp_path / "z.ome.tif").metadata
    # (diff review) 1 ms apart was read as no frame time (1 was taken for a placeholder whatever its unit)
    assert load_sequence(save_stack(tmp_path / "fast.nii", frames, frame_time_ms=1.0)).metadata["frame_time_ms"] == 1.0
    # without one: as before (no time unit, no interval); a single image has none to keep
    assert nib.load(save_stack(tmp_path / "n.nii", frames)).header.get_xyzt_units()[1] == "unknown"
    assert "frame_time_ms" not in load_sequence(save_stack(tmp_path / "n.tif", frames)).metadata
    save_stack(tmp_path / "one.nii", frames[0], frame_time_ms=40.0)
    with pytest.raises(ValueError, match="frame_time_ms must be a positive number"):
        save_stack(tmp_path / "bad.tif", frames, frame_time_ms=float("nan"))
    assert not (tmp_path / "bad.tif").exists()
    # File > Save Layers: the layer's (its reader's) frame time goes with it
    meta = {"scale": (1.0, 1.5, 1.5), "metadata": {"napari_tlreg": {"frame_time_ms": 33.3, "unit": "mm",
                                                                   "spacing": (1.5, 1.5)}}}
    write_image(str(tmp_path / "layer.nii.gz"), frames, meta)
    assert load_sequence(tmp_path / "layer.nii.gz").metadata["frame_time_ms"] == pytest.approx(33.3)
    from napari_tlreg._hooks import write_labels  # (final review) labels as NIfTI too (a TIFF of labels keeps none)

    write_labels(str(tmp_path / "lab.nii.gz"), (frames > 0.5).astype(np.int32), meta)
    assert nib.load(tmp_path / "lab.nii.gz").header.get_zooms()[3] == pytest.approx(33.3)


def test_the_layer_writers_refuse_what_the_readers_would_not_open_again(tmp_path):
    """(2026-12-06, napari review) File > Save Layers of a (C, T, H, W) image with the plugin's writer wrote a TCYX
    TIFF that the plugin's reader then refused ("expected (T, H, W)"): said at the save, nothing written. The writers
    take .tiff and .nii too (the readers did; "not a valid writer")."""
    import yaml

    from napari_tlreg import _hooks

    four = np.zeros((3, 4, 16, 16), np.float32)
    for write in (_hooks.write_image, _hooks.write_labels):
        with pytest.raises(_hooks.WriteRefused, match=r"\(3, 4, 16, 16\): save one channel or z-plane a file"):
            write(str(tmp_path / "4d.tif"), four.astype(np.int32), {})
    assert not list(tmp_path.iterdir())
    frames = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    for name in ("a.tiff", "a.nii"):
        np.testing.assert_array_equal(load_sequence(_hooks.write_image(str(tmp_path / name), frames, {})[0]).frames,
                                      frames)
    manifest = yaml.safe_load((Path(_hooks.__file__).parent / "napari.yaml").read_text())
    for w in manifest["contributions"]["writers"][:2]:
        assert set(w["filename_extensions"]) == {".tif", ".tiff", ".nii.gz", ".nii"}


def test_an_itk_export_holds_the_fields_as_itk_and_ants_read_them(tmp_path, capsys):
    """(2026-12-06, interoperability review) A result's fields could not be taken to ITK or ANTs (NIfTI refused 4-D
    stacks). `save_itk` / `napari-tlreg itk` write each frame's pull field as ANTs writes a warp: a NIfTI vector
    image (W, H, 1, 1, 2), intent VECTOR, vectors (x, y) = (col, row) * spacing in ITK's physical space on the grid of
    the frames' NIfTI (ITK: identity direction, origin 0). Checked here by resampling as ITK does, from the files;
    SimpleITK 2.5.7 reading the same files (DisplacementFieldTransform + Resample) gave the result's warped frames to
    4e-6 on the cardiac sample, square and 0.5 x 0.25 mm pixels (session of 2026-12-06)."""
    import json

    import nibabel as nib
    from scipy.ndimage import map_coordinates

    from napari_tlreg.cli import main
    from napari_tlreg.result import RegistrationResult

    T, H, W = 3, 12, 16
    rng = np.random.default_rng(3)
    frames = rng.random((T, H, W)).astype(np.float32)
    u = np.zeros((T, 2, H, W), np.float32)
    rr, cc = np.mgrid[0:H, 0:W].astype(np.float32)
    u[1, 0], u[1, 1] = 0.7 + 0.05 * cc, -1.3 + 0.02 * rr  # row and col parts differ: a swap or a sign shows
    u[2] = -0.5 * u[1]
    warped = np.stack([map_coordinates(frames[0].astype(np.float64), [rr + u[t, 0], cc + u[t, 1]], order=1,
                                       mode="nearest") for t in range(T)]).astype(np.float32)
    res = RegistrationResult(frames=frames, warped=warped, displacement=u, jacobian=np.ones((T, H, W), np.float32),
                             method="x", spacing=(0.5, 0.25))
    out = res.save_itk(tmp_path / "itk")
    # (diff review) a map in metres: ITK reads NIfTI's lengths as mm, so the export is in mm, grid and vectors alike
    # (the vectors were metres on a grid ITK read as 1000x larger); another reference, and the command names the next
    import dataclasses

    geo = dataclasses.replace(res, unit="m", spacing=(10.0, 5.0), reference=1)
    m_out = geo.save_itk(tmp_path / "itk_m")
    d = nib.load(m_out / "displacement_002.nii.gz")
    assert d.header.get_xyzt_units()[0] == "mm" and np.allclose(d.header.get_zooms()[:2], (5000.0, 10000.0))
    v = np.asarray(d.dataobj)[:, :, 0, 0, :].transpose(1, 0, 2)
    np.testing.assert_allclose(v[..., 0], u[2, 1] * 5000.0, rtol=1e-6)
    np.testing.assert_allclose(v[..., 1], u[2, 0] * 10000.0, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(nib.load(m_out / "reference.nii.gz").dataobj).T, frames[1])
    m_doc = json.loads((m_out / "itk.json").read_text())
    assert m_doc["unit"] == "mm" and "-r frame_002.nii.gz -t displacement_002.nii.gz" in m_doc["ants"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["itk.json", "reference.nii.gz"] + [f"{k}_{t:03d}.nii.gz" for k in ("frame", "displacement") for t in range(T)])
    ref = nib.load(out / "reference.nii.gz")
    np.testing.assert_array_equal(np.asarray(ref.dataobj).T, frames[0])
    for t in range(T):
        d = nib.load(out / f"displacement_{t:03d}.nii.gz")
        assert d.shape == (W, H, 1, 1, 2) and int(d.header["intent_code"]) == 1007
        assert d.header.get_xyzt_units()[0] == "mm"
        np.testing.assert_allclose(d.affine, nib.load(out / f"frame_{t:03d}.nii.gz").affine)
        np.testing.assert_allclose(d.header.get_zooms()[:2], (0.25, 0.5))
        v = np.asarray(d.dataobj)[:, :, 0, 0, :].transpose(1, 0, 2)  # (H, W, 2): ITK's (x, y)
        # ITK: pixel (row, col) at physical (col * 0.25, row * 0.5); p + d(p) back to pixels on the reference
        rows, cols = (rr * 0.5 + v[..., 1]) / 0.5, (cc * 0.25 + v[..., 0]) / 0.25
        again = map_coordinates(frames[0].astype(np.float64), [rows, cols], order=1, mode="nearest")
        np.testing.assert_allclose(again, warped[t], atol=1e-5)
    doc = json.loads((out / "itk.json").read_text())
    assert doc["ants"].startswith("antsApplyTransforms -d 2 -i reference.nii.gz -r frame_001.nii.gz -t displacement_001")
    # the CLI, from a result folder; into a folder that holds something else: refused before anything is written
    res.save(tmp_path / "res")
    assert main(["itk", str(tmp_path / "res"), "--out", str(tmp_path / "cli")]) == 0
    assert "warps the reference onto frame 1" in capsys.readouterr().out
    for name in ("displacement_002.nii.gz", "frame_000.nii.gz"):
        a, b = nib.load(tmp_path / "cli" / name), nib.load(out / name)
        np.testing.assert_allclose(np.asarray(a.dataobj), np.asarray(b.dataobj), atol=1e-6)
        np.testing.assert_allclose(a.affine, b.affine, rtol=1e-6)
    assert main(["itk", str(tmp_path / "res"), "--out", str(tmp_path / "res")]) == 2
    assert "res: is a napari-tlreg result, not an ITK export folder (no itk.json)" in capsys.readouterr().err
    assert (tmp_path / "res" / "result.json").exists()
    with pytest.raises(ValueError, match="NaN"):
        bad = u.copy()
        bad[1, 0, 0, 0] = np.nan
        from napari_tlreg.io.writers import save_itk_displacement

        save_itk_displacement(tmp_path / "bad.nii.gz", bad[1])
    assert not (tmp_path / "bad.nii.gz").exists()


def test_a_folder_of_other_pictures_is_told_what_a_folder_of_frames_holds(tmp_path):
    """(2026-12-07, readers review) A folder of pictures no reader takes was refused with "folder holds no readable
    DICOM image files" alone: what a folder of frames holds is said now (PNG and JPEG frames are read: below)."""
    from PIL import Image

    (tmp_path / "ppms").mkdir()
    for k in range(3):
        Image.fromarray(np.full((8, 8), 50 * k, np.uint8)).save(tmp_path / "ppms" / f"frame{k}.ppm")
    with pytest.warns(UserWarning, match="skipped 3 non-DICOM"):
        with pytest.raises(SequenceReadError, match=r"no readable DICOM image files, and its \.ppm files are pictures "
                                                     r"napari-tlreg does not read \(a folder of frames holds one TIFF, "
                                                     r"NIfTI, PNG, JPEG, BMP, GIF or WebP image a file\)"):
            load_sequence(tmp_path / "ppms")
    # (diff review) DICOM files named by UID without an image (".100", ".101"): no "kinds" listed, no advice to convert
    (tmp_path / "uids").mkdir()
    for k in range(3):
        (tmp_path / "uids" / f"1.2.840.1{k}.100").write_bytes(b"not an image")
    with pytest.warns(UserWarning), pytest.raises(SequenceReadError) as err:
        load_sequence(tmp_path / "uids")
    assert str(err.value).endswith("folder holds no readable DICOM image files")


def test_pictures_are_frames_and_an_animated_gif_a_sequence(tmp_path):
    """(2026-12-07) A folder of PNG or JPEG frames, the commonest export of a clip, was refused (only TIFF and NIfTI
    frames were read): it is a sequence now, in name order, 16-bit PNG values kept, colour kept beside its luminance;
    an animated GIF (an echo clip saved for slides) is a sequence of its own with its frame interval; a damaged
    picture is said to be one; a lone picture is one frame (napari's own reader keeps opening pictures in napari)."""
    import imageio.v3 as iio
    from PIL import Image

    from napari_tlreg import _hooks

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 65535, (12, 9, 11)).astype(np.uint16)
    (tmp_path / "png16").mkdir()
    for k in range(12):  # frame10 after frame9, not after frame1
        iio.imwrite(tmp_path / "png16" / f"frame{k}.png", grey[k])
    seq = load_sequence(tmp_path / "png16")
    assert seq.frames.shape == (12, 9, 11) and seq.frames.dtype == np.float32 and seq.spacing is None
    np.testing.assert_array_equal(seq.frames, grey.astype(np.float32))
    assert seq.metadata["reader"] == "stack" and "rgb" not in seq.metadata and seq.metadata["bits"] == 16
    # napari offers a folder to every reader of folders and asks which: ours reads it (it said "refused the file")
    assert _hooks.get_reader(str(tmp_path / "png16")) is not None and _hooks.get_reader(str(tmp_path / "a.png")) is None
    layers = _hooks.get_reader(str(tmp_path / "png16"))(str(tmp_path / "png16"))
    assert layers[0][0].shape == (12, 9, 11) and layers[0][1]["name"] == "png16"

    colour = rng.integers(0, 255, (2, 9, 11, 3)).astype(np.uint8)
    (tmp_path / "rgb").mkdir()
    for k in range(2):
        iio.imwrite(tmp_path / "rgb" / f"t{k}.png", colour[k])
    seq = load_sequence(tmp_path / "rgb")
    np.testing.assert_array_equal(seq.metadata["rgb"], colour)
    np.testing.assert_allclose(seq.frames, colour.astype(np.float32) @ np.float32([0.299, 0.587, 0.114]), rtol=1e-6)

    clip = np.repeat(np.arange(5, dtype=np.uint8)[:, None, None] * 40, 16 * 20).reshape(5, 16, 20)
    clip[:, 4:8, 5:9] = 255
    iio.imwrite(tmp_path / "clip.gif", clip, duration=40, loop=0)
    seq = load_sequence(tmp_path / "clip.gif")
    assert seq.frames.shape == (5, 16, 20) and "rgb" not in seq.metadata  # a grey palette: grey, no colour layer
    np.testing.assert_array_equal(seq.frames, clip.astype(np.float32))
    assert seq.metadata["frame_time_ms"] == 40.0 and seq.metadata["reader"] == "picture"

    Image.fromarray(clip[1]).save(tmp_path / "one.jpg", quality=100)
    seq = load_sequence(tmp_path / "one.jpg")
    assert seq.frames.shape == (1, 16, 20) and abs(float(seq.frames[0, 0, 0]) - 40) <= 2
    (tmp_path / "noname").write_bytes((tmp_path / "one.jpg").read_bytes())  # by its first bytes
    assert load_sequence(tmp_path / "noname").frames.shape == (1, 16, 20)

    # (diff review) an animated WebP gave its first frame and failed; its durations were read before decoding
    clip_rgb = np.stack([clip, clip[::-1], 255 - clip], -1)
    Image.fromarray(clip_rgb[0]).save(tmp_path / "clip.webp", save_all=True, lossless=True, duration=[40, 40, 40, 40, 40],
                                      append_images=[Image.fromarray(f) for f in clip_rgb[1:]])
    seq = load_sequence(tmp_path / "clip.webp")
    assert seq.frames.shape == (5, 16, 20) and seq.metadata["frame_time_ms"] == 40.0
    np.testing.assert_array_equal(seq.metadata["rgb"], clip_rgb)
    # (diff review) uneven durations: the frames' times, said, as a video's
    Image.fromarray(clip[0]).save(tmp_path / "uneven.gif", save_all=True, duration=[40, 80, 40, 40, 40],
                                  append_images=[Image.fromarray(f) for f in clip[1:]])
    with pytest.warns(UserWarning, match=r"uneven\.gif: its frames are not evenly spaced in time \(40 to 80 ms apart\)"):
        seq = load_sequence(tmp_path / "uneven.gif")
    assert seq.metadata["trigger_times_ms"] == [0.0, 40.0, 120.0, 160.0, 200.0]
    # (diff review) a loop's last frame held longer is no uneven interval
    Image.fromarray(clip[0]).save(tmp_path / "hold.gif", save_all=True, duration=[40, 40, 40, 40, 1000],
                                  append_images=[Image.fromarray(f) for f in clip[1:]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seq = load_sequence(tmp_path / "hold.gif")
    assert seq.metadata["frame_time_ms"] == 40.0 and "trigger_times_ms" not in seq.metadata
    # (diff review) a CMYK JPEG's four channels were taken for RGBA: grey 94 for 161
    rgb = np.zeros((16, 20, 3), np.uint8)
    rgb[...] = (170, 176, 57)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    seq = load_sequence(tmp_path / "cmyk.jpg")
    want = float(np.float32([170, 176, 57]) @ np.float32([0.299, 0.587, 0.114]))
    assert abs(float(seq.frames.mean()) - want) < 3 and seq.metadata["rgb"].shape == (1, 16, 20, 3)

    # (diff review) a folder mixing 8- and 16-bit frames, or grey among colour, was stacked without a word
    (tmp_path / "mixed").mkdir()
    iio.imwrite(tmp_path / "mixed" / "a.png", grey[0].astype(np.uint8))
    iio.imwrite(tmp_path / "mixed" / "b.png", grey[1])
    with pytest.warns(UserWarning, match=r"grey values are of different bit depths \(8-bit a\.png, 16-bit b\.png\): "
                                         r"their values are on other scales \(0-255 beside 0-65535\)"):
        load_sequence(tmp_path / "mixed")
    # (diff review) a grey frame among colour ones is grey in the colour layer (the colour of all was dropped)
    iio.imwrite(tmp_path / "rgb" / "t2.png", colour[0, ..., 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seq = load_sequence(tmp_path / "rgb")
    np.testing.assert_array_equal(seq.metadata["rgb"][:2], colour)
    np.testing.assert_array_equal(seq.metadata["rgb"][2], np.repeat(colour[0, ..., :1], 3, axis=-1))
    iio.imwrite(tmp_path / "rgb" / "t3.png", np.concatenate([colour[1], colour[1, ..., :1]], axis=-1))  # RGBA:
    assert load_sequence(tmp_path / "rgb").metadata["rgb"].shape == (4, 9, 11, 3)  # its alpha dropped, as RGB
    # (third diff review) a 16-bit grey picture among 8-bit colour ones: not wrapped into the colour layer's uint8
    # (40000 showed as 64), said as another depth
    iio.imwrite(tmp_path / "rgb" / "t4.png", grey[4])
    with pytest.warns(UserWarning) as said:
        seq = load_sequence(tmp_path / "rgb")
    assert "rgb" not in seq.metadata and any("8-bit t0.png, 16-bit t4.png" in str(w.message) for w in said)
    # RGBA TIFF frames beside RGB ones keep their colour, alpha dropped (as pictures'; all colour was dropped)
    (tmp_path / "tifs").mkdir()
    save_stack(tmp_path / "tifs" / "t0.tif", colour[0], rgb=True)
    save_stack(tmp_path / "tifs" / "t1.tif", np.concatenate([colour[1], colour[1, ..., :1]], axis=-1), rgb=True)
    np.testing.assert_array_equal(load_sequence(tmp_path / "tifs").metadata["rgb"], colour)

    data = (tmp_path / "png16" / "frame3.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(SequenceReadError, match=r"^cut\.png: not a readable picture file \(truncated or corrupt"):
        load_sequence(tmp_path / "cut.png")
    (tmp_path / "png16" / "frame3.png").write_bytes(data[: len(data) // 2])  # one frame of the folder damaged
    with pytest.raises(SequenceReadError, match=r"^frame3\.png: not a readable picture file"):
        load_sequence(tmp_path / "png16")


def test_a_colour_stack_keeps_its_frame_time(tmp_path):
    """(carried since session 53) A colour layer saved to TIFF lost its frame time: ImageJ's finterval, where the grey
    stacks keep it, has no RGB stack to go with. It is in the colour TIFF's JSON description, and read back."""
    from napari_tlreg import _hooks

    colour = np.random.default_rng(0).integers(0, 255, (4, 8, 9, 3)).astype(np.uint8)
    save_stack(tmp_path / "c.tif", colour, spacing=(0.5, 0.5), rgb=True, frame_time_ms=33.3)
    seq = load_sequence(tmp_path / "c.tif")
    assert seq.metadata["frame_time_ms"] == 33.3 and seq.spacing == (0.5, 0.5)
    np.testing.assert_array_equal(seq.metadata["rgb"], colour)
    meta = {"rgb": True, "scale": (1.0, 0.5, 0.5), "metadata": {"napari_tlreg": {"frame_time_ms": 40.0}}}
    _hooks.write_image(str(tmp_path / "layer.tif"), colour, meta)  # the napari writer of a colour layer
    assert load_sequence(tmp_path / "layer.tif").metadata["frame_time_ms"] == 40.0
    save_stack(tmp_path / "one.tif", colour[0], rgb=True, frame_time_ms=33.3)  # one picture: no frame time
    assert "frame_time_ms" not in load_sequence(tmp_path / "one.tif").metadata


def test_an_itk_displacement_field_is_said_to_be_one(tmp_path):
    """(2026-12-07, DICOM review) `napari-tlreg itk`'s displacement_000.nii.gz, a vector image (X, Y, 1, 1, 2), was "not
    a readable NIfTI file (truncated or corrupt: cannot reshape ...)"."""
    import napari_tlreg as tl

    res = tl.register(np.random.default_rng(0).random((3, 16, 16)).astype(np.float32), method="tlrn")
    res.save_itk(tmp_path / "itk")
    with pytest.raises(SequenceReadError, match=r"displacement_001.nii.gz: holds 2 values a voxel \(shape \(16, 16, 1, "
                                                r"1, 2\)\): a displacement \(vector\) field, not an image sequence"):
        load_sequence(tmp_path / "itk" / "displacement_001.nii.gz")
    assert load_sequence(tmp_path / "itk" / "frame_001.nii.gz").shape == (1, 16, 16)


@needs_sunny
def test_a_series_file_cut_off_in_its_header_fails_the_folder_naming_it(tmp_path):
    """(2026-12-07, DICOM review) A phase file cut off inside its header was skipped as "image-less" and the cine
    registered a phase short; one cut inside its pixels failed the folder. Both fail it now, naming the file."""
    import shutil

    folder = tmp_path / "cut"
    folder.mkdir()
    for i in range(1, 21):
        shutil.copy(DICOM_FOLDER / f"{i}.dcm", folder / f"{i}.dcm")
    data = (folder / "7.dcm").read_bytes()
    (folder / "7.dcm").write_bytes(data[:400])
    with pytest.raises(SequenceReadError, match=r"^cut: 7.dcm is not readable \(truncated: it says it is an MR Image "
                                                r"Storage object, and ends before its image\)$"):
        load_sequence(folder)
    # (diff review) a file of another slice position, cut where its place is known, fails that slice alone
    two = tmp_path / "two"
    two.mkdir()
    for i in range(1, 41):
        shutil.copy(DICOM_FOLDER / f"{i}.dcm", two / f"{i}.dcm")
    data = (two / "25.dcm").read_bytes()
    (two / "25.dcm").write_bytes(data[:data.index(b"\x28\x00\x10\x00")])  # cut before Rows (0028,0010)
    assert load_sequence(two, slice=0).shape == (20, 256, 256)
    with pytest.raises(SequenceReadError, match=r"^two: 25.dcm is not readable \(truncated"):
        load_sequence(two, slice=1)
    # (third diff review) cut before its SliceLocation (placed by its position, which no slice is keyed by), or the
    # only file of its slice: every slice of the series fails (one was read a phase short, the other "out of range")
    (two / "25.dcm").write_bytes(data[:data.index(b"\x20\x00\x41\x10")])  # before SliceLocation (0020,1041)
    for k in (0, 1):
        with pytest.raises(SequenceReadError, match=r"^two: 25.dcm is not readable \(truncated"):
            load_sequence(two, slice=k)
    last = tmp_path / "last"
    last.mkdir()
    for i in range(1, 22):
        shutil.copy(DICOM_FOLDER / f"{i}.dcm", last / f"{i}.dcm")
    data = (last / "21.dcm").read_bytes()
    (last / "21.dcm").write_bytes(data[:data.index(b"\x28\x00\x10\x00")])
    with pytest.raises(SequenceReadError, match=r"^last: 21.dcm is not readable \(truncated"):
        load_sequence(last)


def test_cli_register_says_a_file_given_twice(tmp_path, capsys):
    """(2026-12-07, bad-input review) `register a.png a.png` registered the picture against itself, said only as a
    field "worse than none"."""
    from napari_tlreg import cli

    seq = load_sequence("satellite")
    save_stack(tmp_path / "a.tif", seq.frames[:1])
    save_stack(tmp_path / "b.tif", seq.frames[1:])
    assert cli.main(["register", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), str(tmp_path / "a.tif"),
                     "--method", "hsyn", "--out", str(tmp_path / "r"), "--no-montage"]) == 0
    assert (f"napari-tlreg register: warning: {tmp_path / 'a.tif'} is given twice, as frames 0 and 2: the same file, "
            "registered against itself") in capsys.readouterr().err
    with pytest.warns(UserWarning, match="a.tif is given twice, as frames 0 and 1"):  # the API's (and napari's) list
        load_sequence([tmp_path / "a.tif", tmp_path / "a.tif"])
