"""Bundled sample sequences: four synthetic ones with ground truth, one real echo.

The synthetic samples are stored as compressed ``.npz`` files in ``sample_sequences/`` (found
with :func:`napari_tlreg._paths.samples_dir`), written by ``scripts/make_samples.py`` from the
recipes in :data:`RECIPES`; ``echo_real`` is read at run time from the example DICOM that ships
inside pydicom's wheel (MIT licence). See ``sample_sequences/README.md``.

``samples()`` is cheap (no file access); ``load_sample(name)`` returns a :class:`Sequence`.
"""
from __future__ import annotations

import importlib
import json

import numpy as np

from ..core.labels import label_names
from .sequence import Sequence

__all__ = ["samples", "load_sample", "RECIPES", "pack_sequence", "unpack_sequence", "sample_path"]

# name -> (generator "module:function", keyword arguments); the stored file is <name>.npz
RECIPES: dict[str, tuple[str, dict]] = {
    "lemniscate": ("napari_tlreg.synth.lemniscate:lemniscate_split", {"split": "test", "index": 0}),
    "cardiac": ("napari_tlreg.synth.cardiac:cardiac_phantom", {"n_frames": 20, "size": 128, "seed": 2}),
    "echo": ("napari_tlreg.synth.echo:echo_sequence", {"n_frames": 24, "size": 128, "seed": 0}),
    "satellite": ("napari_tlreg.synth.satellite:satellite_pair", {"size": 256, "seed": 0}),
}

_DESCRIPTIONS = {
    "lemniscate": "Synthetic TLRN lemniscate series, 12x64x64: affine motion growing to 24 deg / 1.2x scale; ground-truth field",
    "cardiac": "Synthetic cine short-axis MRI phantom, 20x128x128, one heart cycle; myocardium + LV pool labels on every frame; ground truth",
    "echo": "Synthetic apical echo (75 deg sector, tissue-bound speckle), 24x128x128; LV wall + cavity labels; ground truth",
    "satellite": "Synthetic bi-temporal VHR satellite pair, 2x256x256 (1 m): shift, 3.6 deg rotation, warp, radiometric change; 15 landmark pairs",
    "echo_real": "Real apical echo cine, 30x240x320 RGB -> grey, 1.02 mm (pydicom's example 'ybr_color', MIT licence)",
}

#: the shipped model each method starts on for a sample other than its default's data (``metadata["weights"]``, taken as
#: a mask or a no-data value of the sequence's own is: :func:`napari_tlreg.api.own_region_params`): the cine models left
#: the lemniscate's MSE 12x the lemniscate model's (0.0099 against 0.0008; packaging review)
SAMPLE_WEIGHTS = {"lemniscate": {"tlrn": "tlrn_synth64", "voxelmorph": "voxelmorph_synth64"}}

def sample_models(source) -> dict:
    """``{method: model}`` a sample registers with (:data:`SAMPLE_WEIGHTS`), for a sample's name or a file of it (a copy
    opened by its path names the sample inside, as :func:`unpack_sequence` takes it); ``{}`` for anything else, a file
    that cannot be read included (its run says what is wrong with it)."""
    from pathlib import Path

    from .readers import PACKED_KEYS

    path = Path(str(source)).expanduser()
    if path.exists():
        if path.suffix.lower() != ".npz" or not path.is_file():
            return {}
        try:
            with np.load(path) as data:
                source = str(data["name"]) if set(PACKED_KEYS) <= set(data.files) else ""
        except Exception:
            return {}
    return dict(SAMPLE_WEIGHTS.get(str(source), {}))


# stored frames are quantised to uint16 over [0, 1]
_FRAME_LEVELS = 65535


def samples() -> dict[str, str]:
    """``{name: one-line description}`` of the bundled samples."""
    return dict(_DESCRIPTIONS)


def sample_path(name: str):
    """Path of a stored sample file (``<samples_dir>/<name>.npz``)."""
    from .._paths import samples_dir

    return samples_dir() / f"{name}.npz"


def generate(name: str) -> Sequence:
    """Run the recipe of a synthetic sample (what ``scripts/make_samples.py`` stores)."""
    if name not in RECIPES:
        raise ValueError(f"{name!r} is not a synthetic sample; synthetic samples: {', '.join(RECIPES)}")
    target, kwargs = RECIPES[name]
    module, _, func = target.partition(":")
    seq = getattr(importlib.import_module(module), func)(**kwargs)
    seq.name = name
    return seq


def _json(obj) -> str:
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(type(o).__name__)

    return json.dumps(obj, default=default, sort_keys=True)


def pack_sequence(seq: Sequence, description: str = "", recipe: tuple[str, dict] | None = None) -> dict:
    """The arrays stored for a synthetic sample (frames uint16, labels uint8, field float16)."""
    f = np.asarray(seq.frames, np.float64)
    if f.min() < 0 or f.max() > 1:
        raise ValueError("synthetic sample frames must lie in [0, 1]")
    out = {
        "frames": np.round(f * _FRAME_LEVELS).astype(np.uint16),
        "frame_levels": np.int64(_FRAME_LEVELS),
        "spacing": np.asarray(seq.spacing if seq.spacing is not None else (1.0, 1.0), np.float64),
        "unit": np.str_(seq.unit),
        "name": np.str_(seq.name),
        "description": np.str_(description),
    }
    if seq.labels is not None:
        out["labels"] = seq.labels.astype(np.uint8)
    if seq.landmarks is not None:
        out["landmarks"] = np.asarray(seq.landmarks, np.float64)
    md = dict(seq.metadata)
    if "displacement" in md:
        out["displacement"] = np.asarray(md.pop("displacement"), np.float16)
    if "mask" in md:
        out["mask"] = np.asarray(md.pop("mask"), bool)
    if "activation" in md:
        out["activation"] = np.asarray(md.pop("activation"), np.float32)
    md.pop("matchable", None)  # (T, H, W) bool, from the mask and the field: not stored
    if recipe is not None:
        md["recipe"] = {"generator": recipe[0], "kwargs": recipe[1]}
    out["metadata_json"] = np.str_(_json(md))
    return out


def unpack_sequence(data, source: str = "") -> Sequence:
    """Inverse of :func:`pack_sequence` (``data``: an ``NpzFile`` or dict of arrays)."""
    levels = float(data["frame_levels"]) if "frame_levels" in data else float(_FRAME_LEVELS)
    frames = np.asarray(data["frames"]).astype(np.float32) / np.float32(levels)
    md = json.loads(str(data["metadata_json"])) if "metadata_json" in data else {}
    if "label_names" in md:
        md["label_names"] = label_names(md["label_names"])
    if "displacement" in data:
        md["displacement"] = np.asarray(data["displacement"]).astype(np.float32)
    if "mask" in data:
        md["mask"] = np.asarray(data["mask"], bool)
    if "activation" in data:
        md["activation"] = np.asarray(data["activation"], np.float32)
    md["description"] = str(data["description"]) if "description" in data else ""
    if str(data["name"]) in SAMPLE_WEIGHTS:  # the sample's model (a copy of its file, opened by its path, too)
        md["weights"] = dict(SAMPLE_WEIGHTS[str(data["name"])])
    md["source"] = source
    md["reader"] = "napari_tlreg.io.bundled"
    sp = np.asarray(data["spacing"], np.float64)
    return Sequence(
        frames=frames,
        labels=np.asarray(data["labels"]) if "labels" in data else None,
        spacing=(float(sp[0]), float(sp[1])),
        unit=str(data["unit"]),
        landmarks=np.asarray(data["landmarks"], np.float64) if "landmarks" in data else None,
        name=str(data["name"]),
        metadata=md,
    )


def _load_stored(name: str) -> Sequence:
    path = sample_path(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"sample file {path} is missing; regenerate it with `python scripts/make_samples.py` in a source checkout"
        )
    with np.load(path, allow_pickle=False) as data:
        return unpack_sequence(data, source=str(path))


def _load_echo_real() -> Sequence:
    import pydicom
    from pydicom import examples
    from pydicom.pixels import convert_color_space, pixel_array

    from .readers import to_luminance, ultrasound_mask, ultrasound_region_box, ultrasound_region_scale

    path = examples.get_path("ybr_color")
    ds = pydicom.dcmread(path)
    raw = pixel_array(ds, raw=True)  # (30, 240, 320, 3) in the stored colour space
    pi = str(ds.PhotometricInterpretation)
    if pi.startswith("YBR_FULL"):  # YBR_FULL_422 is upsampled to full YBR by the JPEG decoder
        rgb = convert_color_space(raw, "YBR_FULL", "RGB")
    elif pi == "RGB":
        rgb = raw
    else:
        raise ValueError(f"unexpected PhotometricInterpretation {pi!r} in {path}")
    grey = to_luminance(rgb)
    factor, reg = ultrasound_region_scale(ds)
    spacing = None
    region = None
    if reg is not None and int(reg.get("PhysicalUnitsXDirection", 0)) == 3:  # 3 = cm
        spacing = (float(reg.PhysicalDeltaY) * 10.0 * factor, float(reg.PhysicalDeltaX) * 10.0 * factor)
        region = ultrasound_region_box(ds)
    return Sequence(
        frames=grey,
        spacing=spacing,
        unit="mm" if spacing is not None else "px",
        name="echo_real",
        metadata={
            "rgb": rgb,
            "source": str(path),
            "reader": "napari_tlreg.io.bundled",
            "description": _DESCRIPTIONS["echo_real"],
            "licence": "MIT (pydicom test data, pydicom/data/test_files/examples_ybr_color.dcm)",
            "frame_time_ms": float(ds.FrameTime) if ds.get("FrameTime") not in (None, "") else None,
            "photometric_interpretation": pi,
            "ultrasound_region_rc": region,  # (row0, row1, col0, col1) of the imaging region
            "mask": ultrasound_mask(grey, ds),  # the fan: NMSR's mask by default (viewer, CLI)
            "spacing_note": (
                f"PhysicalDelta of the ultrasound region refers to a grid {factor}x finer than the stored "
                f"pixels; spacing multiplied by {factor}"
                if factor != 1
                else ""
            ),
        },
    )


def load_sample(name: str) -> Sequence:
    """Load a bundled sample by name (see :func:`samples`); unknown names raise ``ValueError``."""
    if name not in _DESCRIPTIONS:
        raise ValueError(f"unknown sample {name!r}; known samples: {', '.join(_DESCRIPTIONS)}")
    if name == "echo_real":
        return _load_echo_real()
    return _load_stored(name)
