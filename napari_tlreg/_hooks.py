"""npe2 glue: the reader, writers and sample-data commands named in ``napari.yaml``.

Nothing here imports Qt or napari: napari LayerData tuples are plain ``(data, kwargs, type)``
tuples, and the real work is done by :mod:`napari_tlreg.io` (imported on first use, so that
napari's start-up, which imports this module to list contributions, stays cheap).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence as _Seq

import numpy as np

from napari_tlreg.core.arrays import frame_time_ms, recorded_frames
from napari_tlreg.io.sequence import MAP_UNIT, is_map

LayerData = tuple  # (data, kwargs, layer_type): napari's LayerDataTuple without importing napari
#: key in a colour layer's ``metadata["napari_tlreg"]``: the grey image it shows in colour (display only, no input)
COLOUR_OF = "colour_of"
#: a Points layer's metadata key: its points are ``(t, row, col)`` pixels of its image, whatever either is drawn at
#: (the layers napari-tlreg makes; another's is read through the world napari draws both in)
IN_PIXELS = "napari_tlreg_pixels"
#: a layer's metadata key: how many of its pixels one of its image's holds along each axis (the Register dock's grid,
#: drawn on a finer raster than small frames); its pixel size is its image's divided by it
FINE_KEY = "napari_tlreg_fine"

#: Colours of label ids 1, 2, 3... (then again) on the plugin's labels layers, the expert's and the propagated ones
#: alike: bright, and none of them near the grid's cyan (a light blue merged with it where an outline ran along a
#: grid line), the frame's green, the warped reference's magenta or, before the last, the folds' yellow (napari's own
#: gave label 1 a dark brown that vanished on the dark frame, and label 2 the grid's light cyan)
LABEL_PALETTE = ((1.0, 0.15, 0.15, 1.0), (1.0, 0.62, 0.0, 1.0), (0.6, 0.4, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0),
                 (1.0, 0.9, 0.1, 1.0))


#: the palette's colour of a structure whatever id its file gives it, by a word of its name: the wall red, the cavity
#: orange (the bundled samples number the wall 1 and the cavity 2, the expert's contours the cavity 1 and the
#: myocardium 2: the same heart's cavity read orange in one and red in the other; cine review)
STRUCTURE_COLOURS = (("myocard", 0), ("wall", 0), ("cavity", 1), ("blood pool", 1))


def _structure_colour(name) -> int | None:
    said = str(name).lower()
    return next((colour for word, colour in STRUCTURE_COLOURS if word in said), None)


def label_colormap(names: dict | None = None) -> list:
    """A Labels layer's ``colormap``: 0 transparent, then :data:`LABEL_PALETTE` over and over (napari reads a list of
    colours as a cycle, so an id painted later has a colour too). ``names`` (``{id: name}``): a structure named in
    :data:`STRUCTURE_COLOURS` takes its colour (one id a colour), the other ids the palette's others in order."""
    n = len(LABEL_PALETTE)
    chosen: dict[int, int] = {}
    for key, name in sorted((names or {}).items(), key=lambda kv: str(kv[0])):
        try:
            k = int(key)
        except (TypeError, ValueError):
            continue
        colour = _structure_colour(name)
        if 1 <= k <= n and colour is not None and colour not in chosen.values():
            chosen[k] = colour
    free = iter(c for c in range(n) if c not in chosen.values())
    return [(0.0, 0.0, 0.0, 0.0), *(LABEL_PALETTE[chosen[k] if k in chosen else next(free)] for k in range(1, n + 1))]


#: File name endings the reader takes (the same patterns as in napari.yaml); a picture (PNG, JPEG, GIF, ...), which
#: ``load_sequence`` reads too, is left to napari's own reader (no choice of reader asked for every PNG); a folder of
#: them is read (napari offers a folder to every reader that takes folders, and asks which).
READER_SUFFIXES = (".tif", ".tiff", ".nii", ".nii.gz", ".dcm", ".dicom", ".ima", ".avi", ".mp4", ".mov", ".npz")


# ---------------------------------------------------------------------------------------------
# Sequence -> napari layers
# ---------------------------------------------------------------------------------------------
#: percentiles of a map's pixels its grey scale spans when opened (a satellite image; QGIS cuts 2-98 %): napari's
#: min-max put the Sentinel-2 pair's fields in the lowest third (600-4149, 99.5 % of the pixels under 1997), dark
MAP_WINDOW = (0.5, 99.5)
#: a share of a map's pixels at its lowest or highest value that is taken for a no-data fill, left out of its window
MAP_FILL_SHARE = 0.01


def map_window(frames: np.ndarray, nodata: float | None = None) -> tuple[float, float] | None:
    """The contrast limits :data:`MAP_WINDOW` gives ``frames`` (read on at most ~4 M of their pixels), their no-data
    value left out (a file's own, however few pixels hold it: 0.7 % of -9999 set the window's low end there, the land
    all white), or None where they are flat."""
    step = max(1, int(np.ceil(np.sqrt(frames.size / 4e6))))
    sample = np.asarray(frames[..., ::step, ::step], dtype=np.float64)
    sample = sample[np.isfinite(sample) & (sample != (np.nan if nodata is None else nodata))]
    # a no-data fill (0 at a tile's edge, 65535): the window of the land (it opened at 0-1926 for 700-1997); a map
    # all fill is emptied by the first
    for fill in (sample.min(), sample.max()) if sample.size else ():
        if sample.size and (sample == fill).mean() >= MAP_FILL_SHARE:
            sample = sample[sample != fill]
    if sample.size == 0:
        return None
    lo, hi = (float(v) for v in np.percentile(sample, MAP_WINDOW))
    return (lo, hi) if hi > lo else None


def sequence_to_layers(seq) -> list[LayerData]:
    """Turn a :class:`napari_tlreg.io.Sequence` into napari LayerData tuples.

    An Image layer ``(T, H, W)`` (scale = ``(1, *spacing)``), a hidden RGB Image layer ``"<name> colour"``
    ``(T, H, W, 3|4)`` when the file held colour (``metadata["rgb"]``: the original kept for display; the grey
    frames are what is registered), a Labels layer when the sequence has labels, a hidden 2-D Labels layer ``"<name> mask"`` when it has a region mask (``metadata["mask"]``,
    e.g. the echo sector), and a Points layer ``(t, row, col)`` with ``features["id"]`` when it has landmarks.
    """
    name = getattr(seq, "name", "") or "sequence"
    spacing = getattr(seq, "spacing", None)
    scale = (1.0, float(spacing[0]), float(spacing[1])) if spacing is not None else (1.0, 1.0, 1.0)
    info = {
        "name": name,
        "spacing": None if spacing is None else (float(spacing[0]), float(spacing[1])),
        "unit": getattr(seq, "unit", "px"),
    }
    source = (getattr(seq, "metadata", None) or {}).get("source")
    if source is not None:
        from napari_tlreg.api import recorded_source

        # by its absolute path, as the API records it (a file opened as mnms/x.nii.gz was recorded so: its result
        # could not be registered again from another folder)
        info["source"] = recorded_source(source)
    if (getattr(seq, "metadata", None) or {}).get("reader") == "napari_tlreg.io.bundled":
        info["sample"] = name  # a result's provenance names it: load_sequence(name), not its stored file, gives it
    for key in ("instance_numbers", "slice_instance_numbers"):  # a DICOM folder's: what expert contours name
        if (getattr(seq, "metadata", None) or {}).get(key):
            info[key] = list(seq.metadata[key])
    if int((getattr(seq, "metadata", None) or {}).get("n_slices", 1)) > 1:  # one slice position of several
        info["slice"] = int(seq.metadata.get("slice", 0))
        info["n_slices"] = int(seq.metadata["n_slices"])  # a result's provenance records both, as the CLI's does
    own_nodata = (getattr(seq, "metadata", None) or {}).get("nodata")
    if own_nodata is not None:  # a GeoTIFF's, where some pixel holds it (as the API takes it): the form starts on it
        from napari_tlreg.api import given_nodata

        if given_nodata(seq.frames, own_nodata).any():
            info["nodata"] = float(own_nodata)
    if (ms := frame_time_ms(getattr(seq, "metadata", None))) is not None:
        info["frame_time_ms"] = ms  # a run's provenance takes it: the reports' and plots' time
    geotiff = (getattr(seq, "metadata", None) or {}).get("geotiff")
    if geotiff:
        # where the map lies: a result registered in the dock and a layer saved take it (they were saved without it,
        # the command line's with it; satellite review)
        info["geotiff"] = geotiff
        info["map_size"] = [int(n) for n in np.shape(seq.frames)[-2:]]  # the grid the tags place (a crop is not on it)
        if info["unit"] != MAP_UNIT:
            info["map"] = True  # a GeoTIFF in degrees, measured in pixels: a map all the same (its method, its window)
    weights = (getattr(seq, "metadata", None) or {}).get("weights")
    if isinstance(weights, dict) and weights:
        info["weights"] = {str(k): str(v) for k, v in weights.items()}  # a sample's model: the dock's form starts on it
    reference = (getattr(seq, "metadata", None) or {}).get("reference")
    if isinstance(reference, (int, np.integer)) and 0 <= reference < len(seq.frames):
        info["reference"] = int(reference)  # the sequence's own (a sample's): the dock starts on it

    frames = np.asarray(seq.frames)
    # the axes' names, as napari shows them (the time slider said "-3"; napari takes the longest named, and a layer
    # left unnamed beside them is not said to differ). Not napari's ``units``: with them, every layer added without
    # (a script's, another reader's) made napari notify "Inconsistent units across layers" (its scale bar says
    # "pixel" for the world's mm)
    axes = {"axis_labels": ("t", "row", "col")}
    image_kw = {"name": name, "scale": scale, "metadata": {"napari_tlreg": info}, **axes}
    if is_map(seq) and (window := map_window(frames, (getattr(seq, "metadata", None) or {}).get("nodata"))) is not None:
        image_kw["contrast_limits"] = window  # the slider spans it; its popup's "reset" goes back to min-max
    layers: list[LayerData] = [(frames, image_kw, "image")]
    rgb = (getattr(seq, "metadata", None) or {}).get("rgb")
    if rgb is not None and np.shape(rgb)[:-1] == frames.shape and np.shape(rgb)[-1] in (3, 4):
        # the colour frames as the file holds them, for display only (hidden; registration uses the grey ones)
        layers.append(
            (
                np.asarray(rgb),
                {"name": f"{name} colour", "scale": scale, "rgb": True, "visible": False, **axes,
                 "metadata": {"napari_tlreg": {**info, COLOUR_OF: name}}},
                "image",
            )
        )
    labels = getattr(seq, "labels", None)
    if labels is not None:
        layers.append(
            (
                np.asarray(labels).astype(np.int32, copy=False),
                {"name": f"{name} labels", "scale": scale, "opacity": 0.5,
                 "colormap": label_colormap(_label_names(seq).get("label_names")), **axes,
                 # what each id is (a sample's: myocardium, LV blood pool), as the Evaluation plots dock lists them
                 "metadata": {"napari_tlreg": info, **_label_names(seq)}},
                "labels",
            )
        )
    mask = (getattr(seq, "metadata", None) or {}).get("mask")
    if mask is not None and np.ndim(mask) == 2:  # e.g. the echo sector: NMSR's mask, one click away in its form
        layers.append(
            (
                np.asarray(mask).astype(np.int32),
                # a white veil when shown: napari's first label colour, dark brown at 0.25, was all but invisible over
                # an echo's dark fan (echo review)
                {"name": f"{name} mask", "scale": scale[1:], "opacity": 0.3, "visible": False,
                 "colormap": [(0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 1.0, 1.0)],
                 **{k: v[1:] for k, v in axes.items()},
                 "metadata": {"napari_tlreg": info}},
                "labels",
            )
        )
    landmarks = getattr(seq, "landmarks", None)
    if landmarks is not None and len(landmarks):
        from napari_tlreg.landmarks import point_size

        lm = np.asarray(landmarks, dtype=float).reshape(-1, 4)
        layers.append(
            (
                lm[:, 1:4].copy(),  # (t, row, col)
                {
                    "name": f"{name} landmarks",
                    "scale": scale,
                    **axes,
                    "features": {"id": lm[:, 0].astype(np.int64)},
                    # rings the size the Landmarks dock gives its points: napari's filled white discs hid what
                    # they mark (a building's corner)
                    "size": point_size(frames.shape),
                    "face_color": "transparent",
                    "border_color": "white",
                    "border_width": 0.2,
                    "metadata": {"napari_tlreg": info, IN_PIXELS: True},
                },
                "points",
            )
        )
    return layers


def clip_info(info: dict, start: int, stop: int, n: int) -> dict:
    """The plugin's record (:func:`sequence_to_layers`' ``metadata["napari_tlreg"]``) of a layer of ``n`` frames, for a
    layer of its frames ``start .. stop - 1``: what there is one of a frame (a DICOM series' image numbers) cut with
    them, its own reference where it is among them (else none), and ``"frames"``, ``[start, stop, step]`` of the
    source's frames, as ``Sequence[start:stop]`` records it (a result's provenance takes it: read again, scored by
    ``evaluate``, its sub-clip of the source)."""
    out = dict(info)
    numbers = out.get("instance_numbers")
    if isinstance(numbers, list) and len(numbers) == n:
        out["instance_numbers"] = numbers[start:stop]
    else:
        out.pop("instance_numbers", None)
    ref = out.pop("reference", None)
    if isinstance(ref, int) and start <= ref < stop:
        out["reference"] = ref - start
    outer = recorded_frames(out)
    if outer is not None:
        first, step = outer[0] + outer[2] * start, outer[2]
    else:
        first, step = start, 1
    out["frames"] = [first, first + step * (stop - start), step]
    return out


def _label_names(seq) -> dict:
    """``{"label_names": {id: name}}`` of a sequence that names its labels, else ``{}``."""
    from napari_tlreg.core.labels import label_names

    names = label_names((getattr(seq, "metadata", None) or {}).get("label_names"))
    return {"label_names": names} if names else {}


# ---------------------------------------------------------------------------------------------
# Sample data
# ---------------------------------------------------------------------------------------------
def _sample(name: str) -> Callable[[], list[LayerData]]:
    def load() -> list[LayerData]:
        from napari_tlreg.io import load_sequence

        return sequence_to_layers(load_sequence(name))

    load.__name__ = load.__qualname__ = f"sample_{name}"
    load.__doc__ = f"napari sample data: the bundled {name!r} sequence."
    return load


sample_lemniscate = _sample("lemniscate")
sample_cardiac = _sample("cardiac")
sample_echo = _sample("echo")
sample_satellite = _sample("satellite")
sample_echo_real = _sample("echo_real")


# ---------------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------------
def _is_dicom_file(path: Path) -> bool:
    if path.suffix.lower() == ".dcm" or path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _is_dicom_folder(path: Path, probe: int = 16) -> bool:
    try:
        entries = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        return False
    return any(_is_dicom_file(p) for p in entries[:probe])


def _holds_no_files(path: Path) -> bool:
    """A folder with no file in it (none but hidden ones): empty, or of sub-folders only (a patient's series), which
    no reader opens; :func:`read_sequences` says which."""
    if path.suffix.lower() == ".zarr":  # an OME-Zarr's folder holds folders and hidden files only: napari's own
        return False
    try:
        entries = list(path.iterdir())
    except OSError:
        return False
    if any(p.name in (".zgroup", ".zarray", ".zattrs", "zarr.json") for p in entries):
        return False
    return not any(p.is_file() and not p.name.startswith(".") for p in entries)


#: the files of a result folder (``RegistrationResult.save``) that are no image sequence: ``(T, 2, H, W)`` fields
FIELD_FILES = ("displacement.tif", "inverse.tif")


def _can_read(path: str | os.PathLike) -> bool:
    p = Path(path)
    if p.is_dir():
        if _is_dicom_folder(p) or _holds_no_files(p):  # (empty, or a patient's folder of series: the reader says
            return True  # so; napari said "refused the file", or that no plugin reads it)
        from napari_tlreg.io.readers import frame_files

        return frame_files(p) is not None  # a folder of pictures too: napari offers every folder to both readers
    if p.name in FIELD_FILES and (p.parent / "result.json").is_file():
        return False  # a field: napari's own reader shows it as the 4-D array it is
    return p.name.lower().endswith(READER_SUFFIXES)


def get_reader(path: str | os.PathLike | _Seq[str]) -> Callable[[Any], list[LayerData]] | None:
    """napari reader hook: a function reading ``path`` into layers, or ``None`` if not ours.

    Takes the file types in :data:`READER_SUFFIXES`, folders of DICOM files (one cine series) and folders of frames
    (one TIFF, NIfTI or picture image a file); a list of paths (napari's "Open Files as Stack") is one sequence, a frame a file.
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths or not all(_can_read(p) for p in paths):
        return None
    return read_sequences


def read_sequences(path: str | os.PathLike | _Seq[str]) -> list[LayerData]:
    """Read one path (or several) into layers: every slice position of a multi-slice cine as a time series of its own
    (:func:`napari_tlreg.io.load_slices`, layers ``"<name>_slice<k>"``), the first shown and the others hidden, so
    that the Register widget can take any one. napari passes a list of paths for "Open Files as Stack" only: they are
    one sequence, a frame a file (:func:`napari_tlreg.io.readers.stack_files`)."""
    from napari_tlreg.io import load_slices
    from napari_tlreg.io.readers import _natural_key, holds_integers, is_labels_file, is_labels_stack

    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if len(paths) > 1:  # in name order, as a folder of frames opens (date2 before date10; napari gives them as picked)
        paths = sorted(paths, key=lambda p: _natural_key(Path(p).name))
        return [layer for seq in load_slices(paths) for layer in sequence_to_layers(seq)]
    layers: list[LayerData] = []
    for p in paths:
        if is_labels_stack(p):  # a segmentation saved as one (the Labels writer): a Labels layer again
            layers.append(_labels_layer(p))
            continue
        if is_labels_file(p) and holds_integers(p):  # a dataset's ground truth (ACDC, M&Ms, CAMUS): it opened as grey
            try:  # images of its planes, offered to register
                layers += _named_labels_layers(Path(p))
                continue
            except ValueError:  # no ids (an RGB TIFF, a NIfTI scaled to fractions): an image, as before
                pass
        for k, seq in enumerate(load_slices(p)):
            for data, kwargs, kind in sequence_to_layers(seq):
                layers.append((data, {**kwargs, "visible": False} if k else kwargs, kind))
    return layers


def _named_labels_layers(path: Path) -> list[LayerData]:
    """A labels file named as a sequence's (``<stem>_labels``, ``<stem>_gt``) as Labels layers named as that
    sequence's own (``"<stem> labels"``; a 4-D NIfTI, M&Ms' ``_sa_gt``, one a slice position: ``"<stem>_slice<k>
    labels"``), so the docks take them for that image's labels."""
    from napari_tlreg.core.labels import as_label_ids
    from napari_tlreg.io import load_slices
    from napari_tlreg.io.readers import LABELS_ENDINGS, _stem

    stem = _stem(path)
    base = next(stem[: -len(end)] for end in LABELS_ENDINGS if stem.endswith(end))
    seqs = load_slices(path)
    layers = []
    for k, seq in enumerate(seqs):
        name = f"{base}_slice{k} labels" if len(seqs) > 1 else f"{base} labels"
        sp = tuple(float(v) for v in seq.spacing) if seq.spacing is not None else (1.0, 1.0)
        info = {"name": name, "spacing": None if seq.spacing is None else sp, "unit": seq.unit, "source": str(path)}
        layers.append((as_label_ids(seq.frames), {"name": name, "scale": (1.0, *sp), "visible": not k,
                                                  "metadata": {"napari_tlreg": info}}, "labels"))
    return layers


def _labels_layer(path) -> LayerData:
    """A labels stack (``save_stack(..., labels=True)``) as a Labels layer, scaled by its spacing."""
    from napari_tlreg.io import load_stack
    from napari_tlreg.io.readers import _result_folder_spacing, _stem

    arr, spacing, unit = load_stack(path)
    if spacing is None:  # a result folder's labels, saved without their spacing before 2026-12-04
        spacing, unit = _result_folder_spacing(Path(path))
    sp = tuple(float(v) for v in spacing) if spacing is not None else (1.0, 1.0)
    info = {"name": _stem(Path(path)), "spacing": None if spacing is None else sp,
            "unit": unit if spacing is not None else "px", "source": str(path)}
    return (arr, {"name": info["name"], "scale": (1.0,) * (arr.ndim - 2) + sp, "metadata": {"napari_tlreg": info}},
            "labels")


# ---------------------------------------------------------------------------------------------
# Writers (single-layer: napari calls ``writer(path, data, meta)`` and expects the paths written)
# ---------------------------------------------------------------------------------------------
def _layer_length_units(units) -> tuple[float, str] | None:
    """The factor and unit (mm, or m) of the lengths of a layer's row and column axes as napari's ``units`` give them
    (``layer.units``: pint units, or their names); ``None`` where they are napari's default ``pixel``, or not two of
    the lengths the readers know (:func:`napari_tlreg.io.readers._unit_scale`), or not one unit for both axes."""
    from napari_tlreg.io.readers import _unit_scale

    if units is None or len(units) < 2:
        return None
    names = [str(u) for u in tuple(units)[-2:]]
    if names[0] != names[1] or names[0] in ("pixel", "px", "", "dimensionless"):
        return None
    return _unit_scale(names[0])


def spacing_of(scale, metadata, units=None) -> tuple[tuple[float, float] | None, str]:
    """``(spacing, unit)`` of an image layer, from its ``scale``, ``metadata`` and napari ``units``: the pixel size
    napari draws it at, in the unit its reader gave (mm if none). A scale set on the layer (the layer's properties,
    ``layer.scale``, a header put right by hand) is taken over the reader's; ``(None, "px")`` at scale 1 when the reader
    measured in pixels, or gave nothing (its nominal 1 is no physical size). The docks and the writers both read it
    here: the docks took the reader's spacing over a scale the user set and the writers the scale, so one layer was
    measured in pixels and saved at 3 x 1.5 mm. A flipped layer's (a negative scale) is its size. Length ``units``
    set on the layer (napari's ``layer.units``, e.g. ``("s", "um", "um")``) say what its scale is in, over the reader's
    unit: a 0.5 µm pixel was measured, reported and saved as 0.5 mm. The spacing is then given in mm (or m), as the
    readers give it."""
    sp = (abs(float(scale[-2])), abs(float(scale[-1]))) if scale is not None and len(scale) >= 2 else None
    given = _layer_length_units(units)
    if given is not None and sp is not None:
        return (sp[0] * given[0], sp[1] * given[0]), given[1]
    info = (metadata or {}).get("napari_tlreg") or {}
    recorded = info.get("spacing")
    unit = info.get("unit")
    length = str(unit) if unit and unit != "px" else "mm"
    # a negative scale flips the display only (sp above): its size is the pixel's (a flipped layer was refused for a
    # "spacing" the user never set)
    if recorded is not None and unit != "px" and (sp is None or np.allclose(sp, [float(s) for s in recorded])):
        return (float(recorded[0]), float(recorded[1])), length
    if sp is None or sp == (1.0, 1.0):
        return None, "px"
    return sp, length


def _spacing_from_meta(meta: dict) -> tuple[float, float] | None:
    return spacing_of(meta.get("scale"), meta.get("metadata"), meta.get("units"))[0]


def _written(result: Any, path: str) -> list[str]:
    if isinstance(result, (str, os.PathLike)):
        return [str(result)]
    if isinstance(result, (list, tuple)) and result and all(isinstance(r, (str, os.PathLike)) for r in result):
        return [str(r) for r in result]
    return [str(path)]


def geotiff_of(info: dict, spacing, shape=None, translate=None) -> list | None:
    """A layer's GeoTIFF georeferencing (its reader's, kept in ``info``: the plugin's metadata), where the layer is
    still the map's grid: drawn at its pixel size ``spacing``, of its ``(H, W)`` ``shape`` and not moved (``translate``,
    napari's, zero). Else None: another scale, a crop (saved 300 m off where it lay; diff review) or a move would be
    placed wrongly by the map's tags."""
    tags = (info or {}).get("geotiff")
    own = (info or {}).get("spacing")
    if not tags or (spacing is None) != (own is None) or (own is not None and not np.allclose(spacing, own)):
        return None
    if shape is not None and info.get("map_size") is not None and [int(n) for n in tuple(shape)[-2:]] != list(info["map_size"]):
        return None
    if translate is not None and np.any(np.asarray(translate, float)[-2:] != 0):
        return None
    return tags


def _geotiff_from_meta(meta: dict, path: str, shape) -> list | None:
    """The layer's georeferencing where it is saved as a grey ``.tif`` (NIfTI and colour TIFFs hold none)."""
    if meta.get("rgb") or not str(path).lower().endswith((".tif", ".tiff")):
        return None
    return geotiff_of((meta.get("metadata") or {}).get("napari_tlreg"), _spacing_from_meta(meta), shape,
                      meta.get("translate"))


def _unit_from_meta(meta: dict) -> str:
    """The layer's length unit (the one its reader gave, kept in its metadata), mm otherwise."""
    unit = spacing_of(meta.get("scale"), meta.get("metadata"), meta.get("units"))[1]
    return "mm" if unit == "px" else unit


class WriteRefused(OSError):
    """A layer this writer cannot store in the file asked for; the message says why and what to do instead.

    Not a ``ValueError``: napari reads a writer's ``ValueError`` as "not a valid writer" and tells the user only
    that, so the reason was lost and nothing was saved without a word on why."""


def _refusing(write: Callable[..., list[str]]) -> Callable[..., list[str]]:
    def hook(path: str, data: Any, meta: dict) -> list[str]:
        try:
            return write(path, data, meta)
        except ValueError as exc:
            raise WriteRefused(str(exc)) from None

    hook.__name__, hook.__qualname__, hook.__doc__ = write.__name__, write.__qualname__, write.__doc__
    return hook


def _frame_time_from_meta(meta: dict) -> float | None:
    """The layer's frame time (its reader's, kept in its metadata; a result layer's, its image's), or None."""
    return frame_time_ms((meta.get("metadata") or {}).get("napari_tlreg"))


def _opened_again(path: str, arr: np.ndarray) -> None:
    """Refuse a layer of more than ``(T, H, W)``: written, the readers refused it ("expected (T, H, W)")."""
    if arr.ndim > 3:
        raise ValueError(f"{Path(path).name}: napari-tlreg saves (H, W) and (T, H, W) layers, which it opens again; "
                         f"this one is {arr.shape}: save one channel or z-plane a file, or choose napari's own writer")


def _on_its_image(arr: np.ndarray, meta: dict) -> tuple[np.ndarray, dict]:
    """A layer drawn on a finer raster than its image (the Register dock's grid, :data:`FINE_KEY`) as it lies on the
    image's own pixels: each block of ``fine`` x ``fine`` by its brightest (a line a fine pixel wide stays a line), at
    the image's scale and place. Saved finer, it came back at the image's place shifted by the fine raster's offset
    (2/5 of a pixel), which no file keeps."""
    fine = int((meta.get("metadata") or {}).get(FINE_KEY, 1) or 1)
    if fine <= 1 or arr.ndim < 2 or arr.shape[-1] % fine or arr.shape[-2] % fine:
        return arr, meta
    h, w = arr.shape[-2] // fine, arr.shape[-1] // fine
    coarse = arr.reshape(*arr.shape[:-2], h, fine, w, fine).max(axis=(-3, -1))
    scale = np.asarray(meta.get("scale") if meta.get("scale") is not None else np.ones(arr.ndim), float).copy()
    scale[-2:] *= fine
    translate = np.asarray(meta.get("translate") if meta.get("translate") is not None else np.zeros(arr.ndim), float)
    translate = translate.copy()
    translate[-2:] -= scale[-2:] * (-0.5 + 0.5 / fine)  # (rotated or sheared, only a map's check reads it: unmoved)
    inner = {k: v for k, v in (meta.get("metadata") or {}).items() if k != FINE_KEY}
    return coarse, {**meta, "scale": tuple(scale), "translate": tuple(translate), "metadata": inner}


@_refusing
def write_image(path: str, data: Any, meta: dict) -> list[str]:
    """Save an Image layer as ``.tif`` or ``.nii.gz`` (spacing and its unit from the layer; an RGB layer as an
    RGB TIFF)."""
    from napari_tlreg.io import save_stack

    arr = np.asarray(data)
    arr, meta = _on_its_image(arr, meta)
    if not meta.get("rgb"):
        _opened_again(path, arr)
    return _written(save_stack(path, arr, spacing=_spacing_from_meta(meta), unit=_unit_from_meta(meta),
                               rgb=bool(meta.get("rgb")), frame_time_ms=_frame_time_from_meta(meta),
                               geotiff=_geotiff_from_meta(meta, path, arr.shape)), path)


@_refusing
def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Save a Labels layer as ``.tif`` or ``.nii.gz`` (integer; spacing and its unit from the layer)."""
    from napari_tlreg.io import save_stack

    arr = np.asarray(data)
    _opened_again(path, arr)
    if not np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.int32)
    return _written(save_stack(path, arr, spacing=_spacing_from_meta(meta), unit=_unit_from_meta(meta), labels=True,
                               frame_time_ms=_frame_time_from_meta(meta), geotiff=_geotiff_from_meta(meta, path, arr.shape)), path)


def points_with_ids(data: Any, meta: dict) -> np.ndarray:
    """``(N, 4)`` rows ``(id, t, row, col)`` from a Points layer's data and ``features["id"]``.

    2-D points (no time axis) get ``t = 0``; points without an id are numbered from 0.
    """
    pts = np.asarray(data, dtype=float)
    pts = pts.reshape(-1, pts.shape[-1] if pts.ndim == 2 else 3)
    if pts.shape[1] == 2:
        pts = np.column_stack([np.zeros(len(pts)), pts])
    pts = pts[:, -3:]
    ids = None
    features = meta.get("features")
    if features is not None:
        try:
            col = features["id"]
            ids = np.asarray(col, dtype=float).reshape(-1)
        except (KeyError, TypeError, ValueError, IndexError):
            ids = None
    if ids is None or len(ids) != len(pts):
        ids = np.arange(len(pts), dtype=float)
    return np.column_stack([ids, pts])


@_refusing
def write_points(path: str, data: Any, meta: dict) -> list[str]:
    """Save a Points layer as CSV rows ``id, t, row, col`` (the landmark format)."""
    from napari_tlreg.io import save_points_csv

    return _written(save_points_csv(path, points_with_ids(data, meta)), path)
