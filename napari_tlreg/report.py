"""Headless outputs of a registration: result arrays, per-frame metrics (JSON + CSV), a PNG montage.

Used by the CLI (``register``/``evaluate``) and the main job; matplotlib with the Agg backend, no Qt.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import platform
from pathlib import Path

import numpy as np

from .metrics import reference_only, summarize, unannotated_reference  # noqa: F401 (said by the CLI, batch, the viewer)
from .metrics import folds
from .core.arrays import frame_time_ms as _frame_ms
from .core.notes import say
from .core.labels import as_label_ids, label_names as names_by_id, labelled_frames
from .landmarks import as_table
from .result import RegistrationResult, core_versions


def _clean(value):
    """A table value as plain Python: NaN (no value: an unlabelled frame, the reference) is ``None``; an infinity
    stays (a Hausdorff distance where a label was lost is infinite, not missing)."""
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


#: the montage's outlines of the propagated labels, a colour a label id in order (yellow first, as before)
OUTLINE_COLOURS = ("#ffcc00", "#00e5ff", "#ff4da6", "#7cff4d")


def in_unit(obj, unit: str | None):
    """Rows (a dict, or a list of them) with their physical columns (``*_mm``, in the spacing's unit) named after
    ``unit`` when it is not mm: ``tre_m`` for a satellite sequence in metres, whose ``tre_mm`` held metres."""
    if unit in (None, "mm", "px"):
        return obj
    if isinstance(obj, list):
        return [in_unit(r, unit) for r in obj]
    return {(k[:-3] + f"_{unit}" if isinstance(k, str) and k.endswith("_mm") else k): v for k, v in obj.items()}


def _json_value(value):
    """:func:`_clean`, with infinities as the strings ``"inf"`` / ``"-inf"`` (standard JSON has no number for them)."""
    value = _clean(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


#: labels with more ids than this are refused (an image passed as labels: per-label Dice and HD of each)
MAX_LABEL_IDS = 1000


def one_labels_frame(labels, shape) -> bool:
    """Whether ``labels`` is one frame, ``(H, W)`` or ``(1, H, W)`` (the latter for frames of ``shape`` ``(T, H, W)``
    with T > 1): the reference frame's labels, as :func:`check_annotations` takes them (its size checked there)."""
    return np.ndim(labels) == 2 or (np.ndim(labels) == 3 and np.shape(labels)[0] == 1 and int(shape[0]) > 1)


def labels_misfit(shape, labels_shape) -> str | None:
    """Why labels of ``labels_shape`` do not fit frames of ``shape`` ``(T, H, W)`` (None when they do: every frame's,
    or one frame's, :func:`one_labels_frame`); from the shapes alone, before anything is copied or run."""
    t, h, w = (int(s) for s in shape)
    got = tuple(int(s) for s in labels_shape)
    if got in ((t, h, w), (h, w), (1, h, w)):
        return None
    return (f"labels of shape {got} do not match the frames {(t, h, w)}: expected (T, H, W) = {(t, h, w)} or one "
            f"{h}x{w} frame on the reference")


def _said_by_caller(_message: str) -> None:
    """:func:`napari_tlreg.metrics.evaluate`'s notes are said by the callers of these tables (the CLI, batch, the
    viewer: :func:`unannotated_reference`), once."""


def check_annotations(shape, labels=None, landmarks=None, reference: int = 0):
    """Check labels and landmarks against frames of ``shape`` ``(T, H, W)``, before any work is done.

    labels: ``(T, H, W)`` (manual labels per frame, zero where none), or one ``(H, W)`` / ``(1, H, W)``
        frame, taken as the labels of the reference frame. Values must be integers.
    landmarks: ``(N, 4)`` rows ``(id, t, row, col)``: finite, ``t`` an integer frame index in ``[0, T)``,
        the position inside the image (pixel centres ``0 .. H-1``, half a pixel of margin).
    Returns ``(labels (T, H, W) int32 or None, landmarks (N, 4) float64 or None)``; raises
    ``ValueError`` with a plain message for anything that does not match.
    """
    from .api import check_reference

    t, h, w = (int(s) for s in shape)
    ref = check_reference(reference, t)
    if labels is not None:
        lab = np.asarray(labels)
        if lab.ndim == 3 and one_labels_frame(lab, shape):
            lab = lab[0]
        if lab.ndim == 2 and lab.shape == (h, w):
            full = np.zeros((t, h, w), dtype=lab.dtype)
            full[ref] = lab
            lab = full
        if lab.shape != (t, h, w):
            raise ValueError(labels_misfit(shape, lab.shape))
        labels = as_label_ids(lab)
        n_ids = len(np.unique(labels)) - 1
        if n_ids > MAX_LABEL_IDS:  # an image given as labels: per-label metrics would run for hours
            raise ValueError(f"labels hold {n_ids:,} different ids (at most {MAX_LABEL_IDS:,}): is this an image "
                             "rather than a segmentation?")
    if landmarks is not None:
        pts = as_table(landmarks, t, (h, w))
        landmarks = pts
    return labels, landmarks


def metrics_tables(res: RegistrationResult, labels=None, landmarks=None) -> tuple[list[dict], dict]:
    from .metrics import evaluate, summarize

    raw = evaluate(res, labels=labels, landmarks=landmarks, on_warning=_said_by_caller)
    return [{k: _clean(v) for k, v in row.items()} for row in raw], {k: _clean(v) for k, v in summarize(raw).items()}


def readable_params(params: dict) -> dict:
    """A result's parameters for the reports (``metrics.json``, ``report.json``): a mask given as a region, kept in
    ``result.json`` as ``"mask:HxW:<base64>"`` (12,800 characters for the echo's sector, in the middle of the
    parameters a reader looks at), said as its size."""
    from .core.region import decode_mask, is_encoded_mask

    out = {}
    for key, value in (params or {}).items():
        if is_encoded_mask(value):
            try:
                m = decode_mask(value)
                value = f"mask: {int(m.sum())} of {m.shape[0]}x{m.shape[1]} px (the whole mask in result.json)"
            except ValueError:
                value = "mask (in result.json)"
        out[key] = value
    return out


def region_note(res: RegistrationResult, rows: list[dict]) -> str:
    """Where the MSE, local CC and folding of a result's tables (``rows``) were taken
    (:func:`napari_tlreg.metrics.evaluate`; the key ``mse_lncc_region`` is older than folding's being taken there too)."""
    m = res.mask
    t, h, w = res.frames.shape
    where = "whole frame" if m is None else f"mask: {int(m.sum())} of {h}x{w} px" + (
        ", the intensities scaled from its pixels" if getattr(res, "scaled_apart", None) is not None else "")
    if not any(r.get("data_only") for r in rows):
        return where
    # a date's no-data fill left out of the image match (it said "whole frame" over figures taken on the data only)
    return f"{where}, no-data left out of the MSE and local CC: {int(res.data_region.sum())} of {t}x{h}x{w} px compared"


def _versions() -> dict:
    return core_versions()


def frame_time_ms(*results) -> float | None:
    """Milliseconds between frames as the source recorded them (a DICOM's FrameTime or trigger times, a NIfTI's
    pixdim[4], a video's rate; ``provenance["frame_time_ms"]``), from the first result that has it, else None."""
    for res in results:
        if (ms := _frame_ms(getattr(res, "provenance", None))) is not None:
            return ms
    return None


def timed(rows: list[dict], ms: float | None) -> list[dict]:
    """Rows with ``time_ms`` (``t`` times the frame time, from frame 0) beside ``t`` when the frame time is known."""
    if ms is None:
        return rows
    return [{**r, "time_ms": round(r["t"] * ms, 3)} if "t" in r else r for r in rows]


def _write_metrics_files(folder: Path, res: RegistrationResult, rows: list[dict], summary: dict, source: str | None,
                         extra: dict | None = None) -> dict:
    ms = frame_time_ms(res)
    rows, summary = timed(in_unit(rows, res.unit), ms), in_unit(summary, res.unit)
    if source is None:  # the file register read (the API's report.write gave "source": null beside the provenance's)
        source = (res.provenance or {}).get("source")
    doc = {"method": res.method, "params": readable_params(res.params), "reference": res.reference, "device": res.device,
           "runtime_s": res.runtime_s, "normalization": res.normalization, "source": source, "spacing": res.spacing,
           "unit": res.unit, "frame_time_ms": ms, "versions": _versions(),
           "mse_lncc_region": region_note(res, rows), **(extra or {}), "summary": summary, "frames": rows}
    (folder / "metrics.json").write_text(json.dumps(finite_json(doc), indent=2, default=_json_default))
    # the columns in evaluate's order, as per_frame.csv has them (sorted, is_reference sat between hd_mm and lncc,
    # and hd95_1_before_mm before hd95_1_mm)
    _write_csv(folder / "metrics.csv", rows, first=("t", "time_ms"))
    return summary


def write_metrics(res: RegistrationResult, folder, labels=None, landmarks=None, source: str | None = None,
                  extra: dict | None = None, tables: tuple[list[dict], dict] | None = None) -> dict:
    """(Re)write ``metrics.json`` and ``metrics.csv`` in a result folder, each file atomically (``extra``: more keys
    for ``metrics.json``; ``tables``: :func:`metrics_tables` of these annotations, when the caller has them)."""
    from .io.writers import atomic_path

    folder = Path(folder)
    if tables is None:
        labels, landmarks = check_annotations(res.frames.shape, labels, landmarks, res.reference)
        tables = metrics_tables(res, labels, landmarks)
    rows, summary = tables
    tmpdir = folder / ".metrics-tmp"
    tmpdir.mkdir(exist_ok=True)
    try:
        summary = _write_metrics_files(tmpdir, res, rows, summary, source, extra)  # as written: named after the unit
        for name in ("metrics.json", "metrics.csv"):
            with atomic_path(folder / name) as tmp:
                tmp.write_bytes((tmpdir / name).read_bytes())
    finally:
        for p in tmpdir.iterdir():
            p.unlink()
        tmpdir.rmdir()
    return summary


def write(res: RegistrationResult, out, labels=None, landmarks=None, montage: bool = True, source: str | None = None,
          extra: dict | None = None, region=None, on_warning=None) -> Path:
    """Write everything for one run into ``out`` atomically: arrays, metrics, montage, labels. ``extra``: more keys
    for ``metrics.json`` (a batch's run record and warnings). ``region``: the image's own region (an ``(H, W)`` mask,
    e.g. the echo's sector), for the montage of a run without a mask of its own (:func:`montage_figure`).
    ``on_warning``: where what the write says goes (files of the user's it could not keep; :func:`~.io.writers.atomic_dir`)."""
    from .io.writers import atomic_dir, save_points_csv

    out = Path(out)
    labels, landmarks = check_annotations(res.frames.shape, labels, landmarks, res.reference)
    with atomic_dir(out, replaces="result.json", kind="result", on_warning=on_warning) as tmp:
        res.write_into(tmp)
        rows, summary = metrics_tables(res, labels, landmarks)
        _write_metrics_files(tmp, res, rows, summary, source, extra)
        propagated = None if labels is None else save_label_files(tmp, res, labels)
        if landmarks is not None and len(landmarks):
            save_points_csv(tmp / LANDMARKS_FILE, landmarks)
        if montage:
            save_montage(res, tmp / "montage.png", propagated=propagated, region=region)
    return out


#: the annotations a result was evaluated against, kept in its folder (``napari-tlreg evaluate FOLDER`` reads them),
#: and the reference's labels carried to every frame
LABELS_FILE, LANDMARKS_FILE, PROPAGATED_FILE = "labels.tif", "landmarks.csv", "propagated_labels.tif"


def _unit_of(res: RegistrationResult, spacing) -> str:
    """The unit of a result's physical figures: its own; a spacing given for a result without one is in mm (its
    unit says px)."""
    return res.unit if res.spacing is not None or spacing is None else "mm"


def save_label_files(folder: Path, res: RegistrationResult, labels: np.ndarray) -> np.ndarray:
    """Write ``labels`` ``(T, H, W)`` (checked) and the reference frame's labels propagated through ``res`` into a
    result folder, each atomically, as labels stacks (the plugin's reader opens them as Labels layers); returns
    the propagated labels."""
    from .io.writers import save_stack

    propagated = res.warp_labels(labels[res.reference])
    spacing, unit = res.file_spacing  # a unit the files cannot hold: the labels without their spacing, not no result
    for name, arr in ((LABELS_FILE, labels), (PROPAGATED_FILE, propagated)):
        save_stack(folder / name, np.asarray(arr, np.int32), spacing=spacing, unit=unit, labels=True,
                   geotiff=res.geotiff)
    return propagated


def saved_annotations(folder: Path, shape, reference: int, labels: bool = True, landmarks: bool = True) -> tuple:
    """The labels and landmarks a result folder keeps (``None`` for each it lacks, and for a kind not asked for),
    checked against frames of ``shape``."""
    from .io import load_stack
    from .io.writers import load_points_csv

    folder = Path(folder)
    labels = load_stack(folder / LABELS_FILE)[0] if labels and (folder / LABELS_FILE).is_file() else None
    landmarks = load_points_csv(folder / LANDMARKS_FILE) if landmarks and (folder / LANDMARKS_FILE).is_file() else None
    try:
        return check_annotations(shape, labels, landmarks, reference)
    except ValueError as exc:
        raise ValueError(f"{folder}: its {LABELS_FILE} / {LANDMARKS_FILE}: {exc}") from None


def jacobian_limits(jacobian: np.ndarray, minimum: float = 0.05) -> tuple[float, float]:
    """Contrast limits ``(1 - d, 1 + d)`` symmetric about 1, with ``d`` the 99th percentile of ``|det - 1|`` (at least
    ``minimum``) over the finite values (NaN: outside the region a field was fitted in): the viewer's Jacobian layer
    and the montage's."""
    jac = np.asarray(jacobian, dtype=np.float64)
    finite = jac[np.isfinite(jac)]
    d = float(np.percentile(np.abs(finite - 1.0), 99)) if finite.size else 0.0
    d = max(d, float(minimum))
    return 1.0 - d, 1.0 + d


def save_montage(res: RegistrationResult, path, propagated=None, n_cols: int = 6, region=None) -> None:
    """PNG: for a few frames, the frame with propagated labels, the warped reference, |difference|, and the Jacobian
    (:func:`montage_figure`)."""
    # tight: the colour bar's label was cut at the right edge when its ticks were wide ("1.05")
    montage_figure(res, propagated, n_cols, region=region).savefig(path, dpi=110, bbox_inches="tight")


def montage_figure(res: RegistrationResult, propagated=None, n_cols: int = 6, region=None):
    """The montage's matplotlib ``Figure`` (on Agg): rows of frames, warped reference, |difference| (the input's
    no-data grey: ``res.data_region``; outside the run's mask, grey too) and Jacobian (inside the run's mask only, its
    scale taken there: :func:`jacobian_limits`, as the viewer's), a column a frame for up to ``n_cols`` frames.
    A run without a mask of its own is drawn so inside ``region``, the image's own (the echo's sector), as the
    viewer draws it; the figures beside it are the whole frame's (``mse_lncc_region``)."""
    # a Figure of its own on Agg, not pyplot: the viewer's "save result…" writes it too, and pyplot's backend set to
    # Agg there stopped the user's plt.show() for the rest of the session
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

    T = res.n_frames
    ts = np.unique(np.linspace(0, T - 1, min(n_cols, T)).round().astype(int))
    ms = frame_time_ms(res)  # the columns' times, where the source gave its frame time
    # where the field was fitted (the run's mask), else the image's own region (the sector: outside it a field no
    # tissue constrained, over burned-in text and black)
    own = res.mask if res.mask is not None else region
    mask = None if own is None else np.asarray(own, dtype=bool)
    if mask is not None and mask.shape != res.frames.shape[1:]:
        raise ValueError(f"montage: a region of shape {mask.shape} does not match frames of "
                         f"{res.frames.shape[1]}x{res.frames.shape[2]}")
    region = res.data_region  # the pixels the metrics beside it compare
    diff_cmap = matplotlib.colormaps["magma"].with_extremes(bad="0.6")
    where = "mask" if res.mask is not None else "image's region"
    grey = "\n(no-data grey)" if region is not None else f"\n(outside the {where} grey)" if mask is not None else ""
    rows = ["frame" + (" (+ propagated labels)" if propagated is not None else ""), "reference warped to frame",
            "|frame - warped|" + grey,
            "Jacobian det (folds: black)" + ("\n(no-data grey)" if region is not None else "")]
    fig = Figure(figsize=(2.1 * len(ts) + 1.2, 2.1 * len(rows) + 0.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), len(ts), squeeze=False)
    # the viewer's scale, over the field where it was fitted: one outlier pixel's 35 set a scale on which expansion
    # vanished (the real echo's, whose det is 3 at its 99th percentile)
    jac = res.jacobian if mask is None else np.where(mask, res.jacobian, np.nan)
    if region is not None:  # nor over a date's no-data: a field no data constrained, drawn as ground that moved
        jac = np.where(region, jac, np.nan)
    lo, hi = jacobian_limits(jac)
    norm = TwoSlopeNorm(vcenter=1.0, vmin=lo, vmax=hi)
    jac_cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.6")
    # each label its outline, a colour an id over every frame (one outline around them all hid the cavity in the wall)
    ids = [] if propagated is None else [int(i) for i in np.unique(np.asarray(propagated)[list(ts)]) if i != 0]
    colour = {i: OUTLINE_COLOURS[k % len(OUTLINE_COLOURS)] for k, i in enumerate(ids)}
    for j, t in enumerate(ts):
        axes[0, j].imshow(res.frames[t], cmap="gray", vmin=0, vmax=1)
        for lab in ids:
            if (this := propagated[t] == lab).any():
                axes[0, j].contour(this, levels=[0.5], colors=[colour[lab]], linewidths=1.0)
        diff = np.abs(res.frames[t] - res.warped[t])
        if region is not None:  # the input's no-data (its fill, the reference's moved onto the frame): grey, not error
            diff = np.ma.masked_where(~region[t], diff)
        elif mask is not None:  # nothing fitted there (the echo's burned-in text, moved by the field): grey
            diff = np.ma.masked_where(~mask, diff)
        axes[1, j].imshow(res.warped[t], cmap="gray", vmin=0, vmax=1)
        axes[2, j].imshow(diff, cmap=diff_cmap, vmin=0, vmax=0.5)
        im = axes[3, j].imshow(np.ma.masked_invalid(jac[t]), cmap=jac_cmap, norm=norm)
        # where the figures count them, as the viewer's folds layer: the run's mask, not the image's region
        folded = np.ma.masked_where(~folds(res.jacobian[t], res.mask), np.ones_like(res.jacobian[t]))
        axes[3, j].imshow(folded, cmap="gray_r", vmin=0, vmax=1)
        axes[0, j].set_title(f"t={t}" + (f", {t * ms:.0f} ms" if ms is not None else "")
                             + (" (ref)" if t == res.reference else ""), fontsize=9)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    for i, name in enumerate(rows):
        axes[i, 0].set_ylabel(name, fontsize=8)
    fig.colorbar(im, ax=axes[3, :].tolist(), fraction=0.02, pad=0.01, label="det(I+∇u)", extend="both")
    fig.suptitle(f"{res.method}: {T} frames, reference {res.reference}, {res.runtime_s:.2f} s on {res.device}", fontsize=10)
    return fig


# --------------------------------------------------------------------------- per-frame curves
def _series(rows: list[dict], col: str) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, values)`` of a column of an evaluation table (None: NaN)."""
    return (np.array([int(r["t"]) for r in rows], dtype=int),
            np.array([np.nan if r.get(col) is None else float(r[col]) for r in rows], dtype=np.float64))


#: The per-frame curves of the plots (the TLRN paper's Figs. 3 and 5): key -> (title, better).
PLOT_METRICS: dict[str, tuple[str, str]] = {
    "dice": ("Dice", "higher"),
    "hd": ("HD max", "lower"),
    "hd95": ("HD95", "lower"),
    "tre": ("TRE", "lower"),
    "mse": ("MSE", "lower"),
    "folding": ("% folding", "lower"),
}
_DISTANCES = ("hd", "hd95", "tre")
#: the most markers a plotted curve has (on longer sequences a marker every few frames, :func:`plot_tables`)
MARKERS_PER_CURVE = 40


def metric_column(metric: str, label: int | None = None, physical: bool = False) -> str:
    """The :func:`metrics.evaluate` column of a plot metric (``label``: per-label Dice/HD; ``physical``: ``_mm``)."""
    if metric not in PLOT_METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(PLOT_METRICS)}")
    if metric == "mse":
        return "mse"
    if metric == "folding":
        return "folding_pct"
    if metric == "tre":
        return "tre_mm" if physical else "tre"
    col = metric if label is None else f"{metric}_{int(label)}"
    return col + ("_mm" if physical and metric != "dice" else "")


def metric_series(rows: list[dict], metric: str, label: int | None = None, physical: bool = False) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(t, values, physical_used)`` of one metric over the frames of an evaluate table.

    Falls back to the foreground column when the per-label one is absent (a single label) and to
    pixels when the physical one is absent (no spacing). Missing values are NaN.
    """
    keys = set().union(*(r.keys() for r in rows)) if rows else set()
    if label is not None and metric in ("dice", "hd", "hd95") and metric_column(metric, label) not in keys:
        label = None
    col = metric_column(metric, label, physical)
    if physical and col not in keys:
        col, physical = metric_column(metric, label, False), False
    t, v = _series(rows, col)
    return t, v, physical


def available_metrics(tables: dict[str, list[dict]]) -> list[str]:
    """The plot metrics that have at least one finite value in one of the tables."""
    out = []
    for m in PLOT_METRICS:
        if any(np.isfinite(metric_series(rows, m)[1]).any() for rows in tables.values() if rows):
            out.append(m)
    return out


def worst_frame(rows: list[dict], metric: str, label: int | None = None) -> int | None:
    """The frame with the worst value of ``metric`` (lowest Dice, highest otherwise); ``None`` if no values."""
    t, v, _ = metric_series(rows, metric, label)
    ok = np.isfinite(v) | np.isposinf(v)
    if not ok.any():
        return None
    v = np.where(ok, v, np.nan)
    i = int(np.nanargmin(v)) if PLOT_METRICS[metric][1] == "higher" else int(np.nanargmax(v))
    return int(t[i])


def per_frame_tables(results: dict, labels=None, landmarks=None, spacing=None) -> dict[str, list[dict]]:
    """``{name: metrics.evaluate(result, labels, landmarks)}`` with NaN cleaned to ``None`` (infinities kept).

    ``spacing`` fills in a result's missing spacing (physical units of HD/TRE).
    """
    import dataclasses

    from .metrics import evaluate

    out = {}
    for name, res in results.items():
        if spacing is not None and getattr(res, "spacing", None) is None:
            res = dataclasses.replace(res, spacing=tuple(float(s) for s in spacing))
        out[name] = [{k: _clean(v) for k, v in row.items()} for row in evaluate(res, labels=labels, landmarks=landmarks,
                                                                                  on_warning=_said_by_caller)]
    return out


def _value_beside(ax, x: np.ndarray, y: np.ndarray, colour) -> None:
    """A pair's one frame: its value written beside its point, with room above and below (a pair of dates drew one
    dot a method and one grey cross, the cross against the top edge and under the frame marker). One result's only:
    several results' values fell on one another (their curves' colours and the axis tell them apart)."""
    if len(y) == 1 and np.isfinite(y[0]):
        ax.annotate(f"{y[0]:.3g}", (x[0], y[0]), textcoords="offset points", xytext=(7, 0), va="center", fontsize=7,
                    color=colour)
        ax.margins(y=0.25)


#: a curve of at most this many scored frames, with frames left unscored, has the frame of each point alone (no
#: scored frame beside it) written beside it (the x axis is shared: its frame numbers are under the lowest panels only)
FEW_POINTS = 3


def _curve(rows: list[dict], t: np.ndarray, v: np.ndarray, start: int, every: int):
    """``(x, y, markers)`` of a curve: the non-reference frames, NaN where the metric was not measured, so the line
    breaks there (landmarks placed on frames 6 and 19 drew a line from one to the other, read as a TRE of frames 7-18
    that nobody measured; the reference, never scored, is joined across), and a marker every ``every`` frames from
    ``start`` and on every point alone between gaps (a line of one point draws nothing)."""
    other = ~np.array([bool(r.get("is_reference", False)) for r in rows], dtype=bool)
    x, y = t[other], np.where(np.isfinite(v), v, np.nan)[other]
    ok = np.isfinite(y)
    alone = ok & ~np.r_[False, ok[:-1]] & ~np.r_[ok[1:], False]
    marks = sorted({i for i in range(start, len(y), every) if ok[i]} | {int(i) for i in np.flatnonzero(alone)})
    return x, y, marks


def label_title(label: int | None, names: dict | None = None) -> str:
    """How the plots and the report name ``label``: ``"label 2 (myocardium)"`` with its name in ``names``
    (``{id: name}``, a labels layer's ``label_names``), ``"label 2"`` without, ``"all labels (foreground)"`` for None."""
    if label is None:
        return "all labels (foreground)"
    name = names_by_id(names).get(int(label))
    return f"label {label}" + (f" ({name})" if name else "")


def draw_metrics(fig, tables: dict[str, list[dict]], metrics: list[str] | None = None, *, label: int | None = None,
                 physical: bool = True, unit: str = "mm", current: int | None = None, ncols: int | None = None,
                 label_names: dict | None = None, frame_ms: float | None = None,
                 empty: str = "no results to plot yet:\nregister a sequence first",
                 theme: tuple[str, str] | None = None) -> dict:
    """Draw per-frame curves on a matplotlib ``Figure`` (cleared first): one axes per metric, one line per result
    (``empty``: what it says where there is none).

    Dashed grey: the same metric without registration (TRE, MSE, and Dice/HD of the foreground or of ``label``), where
    every table's is the same; else each table's own, dashed in its colour (MSE in a mask, or with no-data left out).
    ``current``: a vertical marker at that frame. ``label_names`` (``{id: name}``) names ``label`` in the titles.
    ``frame_ms``: the time between frames (:func:`frame_time_ms`), said on the frame axis. ``theme``: ``(background,
    text)`` colours (a viewer's theme; white and black without): the greys are mixed between them. Returns
    ``{axes: metric}`` (for picking) and stores the frame markers in ``fig._tlreg_markers``.
    """
    import matplotlib.colors as mcolors
    from matplotlib.ticker import MaxNLocator

    fig.clear()
    face, ink = theme or ("white", "black")
    face_rgb, ink_rgb = np.array(mcolors.to_rgb(face)), np.array(mcolors.to_rgb(ink))

    def grey(light: float):  # matplotlib's grey ``light`` ("0.35") on white with black ink, between face and ink
        return tuple(ink_rgb + light * (face_rgb - ink_rgb))

    fig.set_facecolor(face)
    fig.set_layout_engine("constrained", h_pad=0.04, w_pad=0.04, hspace=0.02, wspace=0.02)
    tables = {k: v for k, v in tables.items() if v}
    metrics = [m for m in (metrics or available_metrics(tables)) if m in PLOT_METRICS]
    if not tables or not metrics:
        fig.text(0.5, 0.5, empty, ha="center", va="center", fontsize=10, color=ink)
        fig._tlreg_markers = []
        return {}
    n = len(metrics)
    ncols = ncols or (1 if n == 1 else 2)
    nrows = int(np.ceil(n / ncols))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    # each method its own colour (Okabe and Ito's, told apart with every colour-vision deficiency), marker and dashes:
    # with hue alone, red and green (two methods) were one olive to a red-green-blind eye, blue and purple one blue
    colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", ink]
    if face_rgb.mean() < 0.5:  # on a dark theme the dark blue first method was hard to see: Okabe and Ito's sky blue
        colours[0], colours[5] = colours[5], colours[0]
    shapes, dashes = ["o", "s", "^", "D", "v", "P", "X"], ["-", "--", "-.", ":"]
    out, markers = {}, []
    T = max(len(rows) for rows in tables.values())
    # at most ~40 markers a curve, each method's staggered: a marker on every one of 400 frames fused the curves into
    # bands (one method's squares hid another's curve, and the shapes and dashes that tell them apart)
    every = max(1, T // MARKERS_PER_CURVE)
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            ax.set_visible(False)
            continue
        ax.set_facecolor(face)
        for spine in ax.spines.values():
            spine.set_edgecolor(grey(0.2))
        m = metrics[k]
        used_phys = scored = False
        named: set = set()  # the frames written beside their points
        for j, (name, rows) in enumerate(tables.items()):
            t, v, ph = metric_series(rows, m, label, physical)
            used_phys |= ph
            x, y, marks = _curve(rows, t, v, j * every // len(tables), every)
            scored |= bool(np.isfinite(y).any())
            ax.plot(x, y, color=colours[j % len(colours)], marker=shapes[j % len(shapes)],
                    linestyle=dashes[j % len(dashes)], ms=3.5, lw=1.4, label=name,
                    markevery=marks, picker=True, pickradius=6)
            if len(tables) == 1:  # (several results' values fell on one another)
                _value_beside(ax, x, y, colours[j % len(colours)])
            ok = np.isfinite(y)
            alone = ok & ~np.r_[False, ok[:-1]] & ~np.r_[ok[1:], False]  # no line through it to read its frame by
            if 0 < ok.sum() <= min(FEW_POINTS, len(y) - 1):  # a lone dot's frame (TRE on the frames where landmarks
                for xi, yi in zip(x[alone], y[alone]):  # were): the frame numbers were panels below
                    if xi not in named:  # once a frame: each method's fell on the others'
                        named.add(xi)
                        ax.annotate(f"t={xi:g}", (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=6.5,
                                    color=colours[j % len(colours)] if len(tables) == 1 else grey(0.3))
        if not scored and m in ("dice", "hd", "hd95"):  # empty axes said nothing (the epicardium drawn at ED only)
            what = "these labels are" if label is None else f"{label_title(label, label_names)} is"
            keys = {m} if label is None else {m, f"{m}_{label}"}
            labelled = any(keys & r.keys() for rows in tables.values() for r in rows)
            # without labels at all, "drawn on no frame but the reference" sent the user looking for the frames
            note = f"{what} drawn on no frame\nbut the reference: nothing to score" if labelled else \
                "no labels: choose a labels layer\nto score Dice and Hausdorff"
            ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=8, color=grey(0.35))
            ax.set_yticks([])  # a scale of nothing (-0.04..0.04) read as values
        base = {"tre": "tre_before", "dice": "dice_before", "hd": "hd_before", "hd95": "hd95_before",
                "mse": "mse_before"}.get(m)
        if base is not None:
            if label is not None and m in ("dice", "hd", "hd95"):  # the label's own, without registration
                base = f"{m}_{label}_before"
            col = base + ("_mm" if used_phys and m in _DISTANCES else "")  # in the unit of the curves above
            before = [(j, name, rows, *_series(rows, col)) for j, (name, rows) in enumerate(tables.items())
                      if any(col in r for r in rows)]
            # one grey curve where every result's is the same; else each its own, in its colour (results measured on
            # other pixels, a mask or a date's no-data left out: the first's drawn under all read as their baseline)
            own = any(not (np.array_equal(b[3], before[0][3]) and np.allclose(b[4], before[0][4], equal_nan=True))
                      for b in before[1:])
            for j, name, rows, bt, bv in before if own else before[:1]:
                x, y, marks = _curve(rows, bt, bv, every // 2, every)
                if np.isfinite(y).any():
                    ax.plot(x, y, "--x", color=colours[j % len(colours)] if own else grey(0.55), lw=1.0, ms=3.5,
                            alpha=0.6 if own else 1.0, markevery=marks,
                            label=f"{name} before registration" if own else "before registration")
                    if len(tables) == 1:
                        _value_beside(ax, x, y, grey(0.4))
        lo, hi = ax.get_ylim()
        if T == 2 and lo < 0 <= ax.dataLim.ymin:  # a pair's room around its point: no negative TRE or MSE on the axis
            ax.set_ylim(-0.04 * hi, hi)
        elif m in _DISTANCES and lo > 0 and np.isfinite(hi):  # distances from 0: 2.547 and 2.530 mm filled the panel,
            # a gain of 0.7 % read as a large one (clinician review); above the highest, room (it sat on the border)
            top = ax.dataLim.ymax
            ax.set_ylim(0.0, max(hi, 1.08 * top) if np.isfinite(top) else hi)
        if m == "folding":
            top = max([np.nanmax(np.r_[metric_series(rows, m)[1], 0.0]) for rows in tables.values()])
            ax.set_ylim(-0.02 * max(top, 0.1), max(top * 1.1, 0.1))
        title, better = PLOT_METRICS[m]
        if m in _DISTANCES:
            title += f" ({unit if used_phys else 'px'})"
        said = []  # on a line of their own: beside the metric, two columns' titles ran into each other and were cut
        if label is not None and m in ("dice", "hd", "hd95"):
            said.append(label_title(label, label_names))
        if m in ("mse", "folding"):  # taken in the registration's mask (metrics.evaluate): say so, and for which
            for flag, words in (("in_mask", "in the mask"), ("data_only", "no-data left out")):  # (a pair engine's)
                if m == "folding" and flag == "data_only":  # the folds are counted in the mask only
                    continue
                named = [n for n, rows in tables.items() if any(r.get(flag) for r in rows)]
                if named:
                    said.append(words + ("" if len(named) == len(tables) else f" for {', '.join(named)}"))
        ax.set_title(f"{title} {'↑' if better == 'higher' else '↓'}" + "".join(f"\n{w}" for w in said), fontsize=8.5,
                     color=ink)
        ax.tick_params(labelsize=7.5, colors=ink)
        ax.grid(True, lw=0.4, alpha=0.5, color=grey(0.7))
        ax.set_xlim(-0.5, T - 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))
        if k >= n - ncols:  # nothing below this one: label its axis
            ax.set_xlabel("frame" if frame_ms is None else f"frame ({frame_ms:.4g} ms apart)", fontsize=8, color=ink)
            ax.xaxis.set_tick_params(labelbottom=True)
        # a pale band, under the curves: a grey dotted line ran through the grey "before" cross of a pair's one frame
        markers.append(ax.axvline(current if current is not None else -10, color=grey(0.88), lw=5, zorder=0.5))
        out[ax] = m
    handles, names = {}, []
    for ax in out:
        for h, nm in zip(*ax.get_legend_handles_labels()):
            if nm not in handles:
                handles[nm] = h
                names.append(nm)
    if handles:  # ↑ / ↓ in the titles: higher / lower is better (those drawn: "↑ higher" beside TRE, MSE alone)
        drawn = {PLOT_METRICS[m][1] for m in out.values()}
        says = "   ".join(w for d, w in (("higher", "↑ higher is better"), ("lower", "↓ lower is better")) if d in drawn)
        legend = fig.legend([handles[n] for n in names], names, loc="outside upper center", ncol=min(3, len(names)),
                            fontsize=7.5, frameon=False, title=says, title_fontsize=7, labelcolor=ink)
        legend.get_title().set_color(ink)
    fig._tlreg_markers = markers
    return out


def save_plots(tables: dict[str, list[dict]], path, *, label: int | None = None, physical: bool = True,
               unit: str = "mm", metrics: list[str] | None = None, label_names: dict | None = None,
               frame_ms: float | None = None) -> None:
    """Write the per-frame curves of every available metric to a PNG (Agg canvas, no pyplot, no Qt)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = metrics or available_metrics(tables) or ["mse"]
    ncols = 1 if len(metrics) == 1 else 2
    nrows = int(np.ceil(len(metrics) / ncols))
    fig = Figure(figsize=(4.2 * ncols, 2.4 * nrows + 0.6))
    FigureCanvasAgg(fig)
    draw_metrics(fig, tables, metrics, label=label, physical=physical, unit=unit, ncols=ncols, label_names=label_names,
                 frame_ms=frame_ms)
    fig.savefig(path, dpi=120, format="png")


# --------------------------------------------------------------------------- report folder
def _csv_value(v):
    from .io.writers import spreadsheet_text

    v = _clean(v)
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    return "" if v is None else spreadsheet_text(v)


def _write_csv(path: Path, rows: list[dict], first: tuple[str, ...] = ()) -> None:
    keys: list[str] = [k for k in first if any(k in r for r in rows)]
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_value(r.get(k)) for k in keys})


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer, np.floating, np.bool_)):
        return _json_value(o.item())
    if isinstance(o, Path):
        return str(o)
    return str(o)


def finite_json(obj):
    """``obj`` with every float JSON can hold: NaN as null, infinities as ``"inf"`` / ``"-inf"``."""
    if isinstance(obj, dict):
        return {str(k): finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return _json_value(obj)


def software_versions() -> dict:
    """Versions of the software a report depends on (napari only if installed; never imported)."""
    from importlib import metadata

    out = _versions()
    for pkg in ("matplotlib", "napari", "tifffile"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    out["platform"] = platform.platform()
    return out


def named_results(results) -> dict:
    """``{name: result}`` of a result, a list of them (named by method: "tlrn", "tlrn #2") or a dict (as it is)."""
    if isinstance(results, RegistrationResult):
        results = [results]
    if isinstance(results, dict):
        return dict(results)
    out: dict = {}
    for res in results:
        name, k = res.method, 2
        while name in out:
            name, k = f"{res.method} #{k}", k + 1
        out[name] = res
    return out


def _signature(pixels) -> str | None:
    """What tells one set of pixels (a bool array) from another; None for None or every pixel."""
    if pixels is None or (pixels := np.asarray(pixels, bool)).all():
        return None
    return hashlib.sha1(np.packbits(pixels).tobytes() + str(pixels.shape).encode()).hexdigest()


def _scale_signature(res) -> str | None:
    """What tells apart the pixels a result's run left out of its intensity scale (None: none left out)."""
    return _signature(getattr(res, "scaled_apart", None))


def _mask_signature(res) -> str | None:
    """What tells apart the regions results' MSE and local CC were taken in (their masks; None: the whole frame)."""
    return _signature(getattr(res, "mask", None))


def _check_one_sequence(named: dict) -> None:
    """Refuse results of different sequences of one shape (two patients' cines): a report would compare them as
    methods. Results scaled alike hold the same frames when they are of one sequence (results scaled otherwise
    cannot be told apart by their frames, and pass)."""
    first: dict = {}
    for name, res in named.items():
        # scaled alike: the same normalisation, and the same pixels left out of the scale (the pair engines' no-data,
        # what lies outside NMSR's mask: a report of tlrn and NMSR on the bundled echo was refused as "scaled otherwise")
        seen = first.setdefault((res.normalization, _scale_signature(res)), (name, res))
        # to float32's rounding of [0, 1] (one sequence normalised by two versions differed by 6e-8)
        a, b = seen[1].frames, res.frames
        if seen[1] is not res and not (a.shape == b.shape and np.allclose(a, b, rtol=0.0, atol=1e-5)):
            source = (seen[1].provenance or {}).get("source")
            cut = (seen[1].provenance or {}).get("frames"), (res.provenance or {}).get("frames")  # two sub-clips of it
            if source and source == (res.provenance or {}).get("source") and cut[0] == cut[1]:  # one file, scaled two ways
                raise ValueError(f"{seen[0]!r} and {name!r} were registered from the same file ({source}) but hold "
                                 "its frames scaled otherwise (one registered by an earlier napari-tlreg, which counted "
                                 "a no-data fill in the scale?): register them again to share a report")
            raise ValueError(f"results of different sequences cannot share a report: {seen[0]!r} and {name!r} hold "
                             "other frames (a report compares methods on one sequence)")


def export_report(results, folder, labels=None, landmarks=None, *, spacing=None, unit: str | None = None,
                  label: int | None = None, source: str | None = None, tables: dict | None = None,
                  extra: dict | None = None, label_names: dict | None = None, frame_ms: float | None = None,
                  on_warning=None) -> Path:
    """Write a report folder atomically (all files appear at once, or none).

    ``results``: a RegistrationResult, a list of them (named by method) or ``{name: result}``, all of
    one sequence. Files:

    * ``per_frame.csv``: one row per result and frame (``method``, ``t``, ``time_ms`` where the results' source
      gave a frame time, then every evaluate column);
    * ``summary.csv``: one row per result, the mean over the non-reference frames;
    * ``plots.png``: the per-frame curves of every available metric, results overlaid;
    * with landmarks: ``landmarks.csv`` (``id,t,row,col``), ``tre.csv`` (per frame and ``all``: before
      and after, mean/std/max/dx/dy/ds, pixels and ``_mm``), ``landmark_pairs.csv`` (every pair's error);
    * ``report.json``: per result its method, parameters, reference, device, runtime, spacing, summary
      and overall TRE; the software versions, the source, the figures and files written.

    An existing ``folder`` is replaced only if it is a previous report (holds ``report.json``).
    ``tables``: precomputed :func:`per_frame_tables` output (the viewer passes what it plotted).
    ``unit``: the spacing's length unit (default: the results'); physical columns are named after it (``_mm``,
    ``_m``). ``label_names`` (``{id: name}``, a labels layer's ``label_names``): in ``report.json`` and the plots'
    titles. ``frame_ms``: milliseconds between frames (default: the results' provenance's, :func:`frame_time_ms`).
    ``on_warning``: as :func:`write`'s.
    """
    import datetime

    from . import landmarks as LM
    from .io.writers import atomic_dir, check_replaceable, save_points_csv

    folder = Path(folder)
    check_replaceable(folder, "report.json", "report")  # before any work
    named = named_results(results)
    if not named:
        raise ValueError("nothing to export: no registration result")
    shapes = {tuple(r.frames.shape) for r in named.values()}
    if len(shapes) != 1:
        raise ValueError(f"results of different sequences cannot share a report: shapes {sorted(shapes)}")
    _check_one_sequence(named)
    shape = next(iter(shapes))
    T = shape[0]
    if labels is not None and tables is None:  # checked as every other writer checks them; one frame: the reference's
        refs = sorted({r.reference for r in named.values()})
        if len(refs) > 1 and one_labels_frame(labels, shape):
            raise ValueError(f"one frame of labels goes on the reference, and these results have references "
                             f"{', '.join(map(str, refs))}: give labels for every frame (T, H, W)")
        labels = check_annotations(shape, labels, None, refs[0])[0]
    lm = LM.as_table(landmarks, T) if landmarks is not None else None
    if lm is not None and not len(lm):
        lm = None
    if tables is None:
        tables = per_frame_tables(named, labels=labels, landmarks=lm, spacing=spacing)
    regions = {name: region_note(res, tables.get(name) or []) for name, res in named.items()}
    # (NMSR's in its mask, at its scale, beside tlrn's whole frame: read as one measure, unsaid; echo review) by the
    # kind of region, not its pixel count: two pair engines' no-data left out differ by where each warps the fill
    kinds = {(_mask_signature(res), any(r.get("data_only") for r in tables.get(name) or []), _scale_signature(res),
              res.normalization) for name, res in named.items()}  # (each frame scaled on its own: MSE 270x apart)
    if len(kinds) > 1:
        say(on_warning, "the results' MSE and local CC are taken over other pixels or at other intensity scales: compare "
            "them within a result, not between (" + "; ".join(
                f"{n}: {r}" + (", each frame scaled on its own" if named[n].normalization == "frame" else "")
                for n, r in regions.items()) + ")")
    methods_doc, per_frame, summaries, tre_rows, pair_rows = [], [], [], [], []
    ms = _frame_ms({"frame_time_ms": frame_ms}) if frame_ms is not None else frame_time_ms(*named.values())
    if source is None:  # the file register read, as the results' provenance has it
        source = next((r.provenance["source"] for r in named.values() if (r.provenance or {}).get("source")), None)
    if unit is None:
        unit = _unit_of(next(iter(named.values())), spacing)
    for name, res in named.items():
        sp = res.spacing if res.spacing is not None else spacing
        rows = tables[name]
        per_frame += [{"method": name, **r} for r in timed(rows, ms)]
        summary = {k: _clean(v) for k, v in summarize(rows).items()}
        summaries.append({"method": name, **summary})
        doc = {"name": name, "method": res.method, "params": readable_params(res.params), "reference": res.reference,
               "device": res.device, "runtime_s": res.runtime_s, "normalization": res.normalization,
               "spacing": list(sp) if sp is not None else None, "mse_lncc_region": region_note(res, rows), "summary": summary}
        if lm is not None:
            tt = LM.tre_table(lm, res.reference, res.displacement, spacing=sp, n_frames=T)
            tre_rows += [{"method": name, **r} for r in tt]
            pairs = LM.match_pairs(lm, res.reference, T)
            pair_rows += [{"method": name, **r} for r in LM.pair_errors(pairs, res.displacement, spacing=sp)]
            doc["tre"] = tt[-1]
            doc["landmark_pairs"] = len(pairs)
        methods_doc.append(doc)
    names = names_by_id(label_names)
    shown = available_metrics(tables) or ["mse"]
    figures = {"plots.png": "per-frame curves: " + ", ".join(PLOT_METRICS[m][0] for m in shown)
               + (f"; Dice and Hausdorff of {label_title(label, names)}"
                  if labels is not None and {"dice", "hd", "hd95"} & set(shown) else "")}
    with atomic_dir(folder, replaces="report.json", kind="report", on_warning=on_warning) as tmp:
        per_frame, summaries, tre_rows, pair_rows = (in_unit(rows, unit) for rows in (per_frame, summaries, tre_rows, pair_rows))
        methods_doc = [{**d, "summary": in_unit(d["summary"], unit), **({"tre": in_unit(d["tre"], unit)} if "tre" in d else {})}
                       for d in methods_doc]
        _write_csv(tmp / "per_frame.csv", per_frame, first=("method", "t", "time_ms"))
        _write_csv(tmp / "summary.csv", summaries, first=("method",))
        save_plots(tables, tmp / "plots.png", label=label, unit=unit, label_names=label_names, frame_ms=ms)
        files = ["per_frame.csv", "summary.csv", "plots.png"]
        if lm is not None:
            save_points_csv(tmp / "landmarks.csv", lm)
            _write_csv(tmp / "tre.csv", tre_rows, first=("method", "t", "n"))
            _write_csv(tmp / "landmark_pairs.csv", pair_rows, first=("method", "id", "t"))
            files += ["landmarks.csv", "tre.csv", "landmark_pairs.csv"]
        files.append("report.json")
        doc = {
            "napari_tlreg_report": 1,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "source": source,
            "frames": list(next(iter(shapes))),
            "unit": unit,
            "frame_time_ms": ms,
            # the unit of the columns named after it; the others (hd, hd95, tre, dx, dy...) are in pixels
            "columns": f"distances in pixels; with the suffix _{unit}, in {unit}" if unit != "px" else "distances in pixels",
            "labels": None if labels is None else {
                "frames_labelled": [int(t) for t in range(T) if np.asarray(labels)[t].any()],
                "label_ids": [int(k) for k in np.unique(labels) if k != 0],
                "label_names": {str(int(k)): names[int(k)] for k in np.unique(labels) if k != 0 and int(k) in names}},
            "landmarks": None if lm is None else {"points": len(lm), "ids": len(np.unique(lm[:, 0]))},
            "results": methods_doc,
            "versions": software_versions(),
            "figures": figures,
            "files": files,
            **(extra or {}),
        }
        (tmp / "report.json").write_text(json.dumps(finite_json(doc), indent=2, default=_json_default))
    return folder


def recorded(folder: Path) -> tuple[str | None, dict]:
    """What ``folder``'s ``metrics.json`` records of how the result was made, which re-evaluating it keeps: the
    source ``register`` read and its slice position, and a batch's run record and warnings (a rerun of the batch
    still skips it). Without one (``RegistrationResult.save``), the source and slice its ``result.json`` records."""
    try:
        doc = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        doc = None
    if not isinstance(doc, dict):  # a folder RegistrationResult.save wrote: the source its result.json records
        try:
            prov = json.loads((folder / "result.json").read_text()).get("provenance")
        except (OSError, ValueError, AttributeError, RecursionError):
            prov = None
        if not isinstance(prov, dict):
            return None, {}
        doc = {"source": prov.get("source"), **({"slice": prov["slice"]} if isinstance(prov.get("slice"), int) else {})}
    source = doc.get("source")
    kept = ("batch", "warnings", "notes", "slice", "label_names", "files")
    return (source if isinstance(source, str) else None), {k: doc[k] for k in kept if k in doc}


def scored_annotations(folder: Path) -> set[str]:
    """``"labels"`` and ``"landmarks"``, each that ``folder``'s ``metrics.json`` holds figures of (a Dice, a Hausdorff
    distance; a TRE)."""
    try:
        summary = json.loads((folder / "metrics.json").read_text()).get("summary")
    except (OSError, ValueError, AttributeError):
        return set()
    if not isinstance(summary, dict):
        return set()
    scored = {k for k, v in summary.items() if v is not None and not k.endswith("_n")}  # a count of 0 pairs scores none
    return ({"labels"} if any(k.startswith(("dice", "hd")) for k in scored) else set()) | (
        {"landmarks"} if any(k.startswith("tre") for k in scored) else set())


def names_of_labels(names) -> dict | None:
    """``{"id": name}`` for ``metrics.json`` (JSON keys are strings) of a sequence's ``label_names``, and back with
    :func:`recorded_label_names`; None without names."""
    return {str(k): v for k, v in names_by_id(names).items()} or None


def recorded_label_names(folder) -> dict:
    """``{id: name}`` of the labels a result folder was evaluated against, as ``metrics.json`` records them."""
    return names_by_id(recorded(Path(folder))[1].get("label_names"))


#: what :func:`write_evaluation` writes with landmarks (and removes without them)
LANDMARK_FILES = ("landmarks.csv", "tre.csv", "landmark_pairs.csv")


def write_evaluation(res: RegistrationResult, folder, labels=None, landmarks=None, *, spacing=None,
                     unit: str | None = None, keep_label_names: bool = True, label_names=None,
                     rows_out: list | None = None) -> dict:
    """``napari-tlreg evaluate`` on one result folder: (re)write ``metrics.json``/``metrics.csv`` (as
    :func:`write_metrics`), ``plots.png``, and with landmarks ``landmarks.csv``, ``tre.csv`` and
    ``landmark_pairs.csv`` (as in :func:`export_report`), each file atomically; without landmarks, removes those an
    earlier evaluation wrote; with labels, ``labels.tif`` and ``propagated_labels.tif``. ``keep_label_names``: the
    labels are the folder's own, whose names ``metrics.json`` keeps (False: other labels, the names go, unless
    ``label_names`` gives theirs: a DICOM series' contours'). Returns the
    summary; ``rows_out``: a list its per-frame rows are appended to (a report of the same annotations takes them)."""
    from . import landmarks as LM
    from .io.writers import atomic_path, check_place, save_points_csv, staged_files

    folder = Path(folder)
    check_place(folder / "metrics.json")  # a folder that cannot be written: said before the work, naming it
    if unit is None:
        unit = _unit_of(res, spacing)
    # the annotations as every step below takes them (one labels frame goes on the reference), and every figure
    # computed before the first file is rewritten: a bad annotation leaves the folder as it was
    labels, landmarks = check_annotations(res.frames.shape, labels, landmarks, res.reference)
    name = res.method
    computed = metrics_tables(res, labels, landmarks)  # evaluated once, for metrics.json and the plots
    if rows_out is not None:
        rows_out.append(computed[0])
    if spacing is None or res.spacing is not None:
        tables = {name: computed[0]}
    else:  # the plots in the spacing given (metrics.json keeps the result's own, pixels)
        tables = per_frame_tables({name: res}, labels=labels, landmarks=landmarks, spacing=spacing)
    lm_files = None
    if landmarks is not None and len(landmarks):
        T = res.n_frames
        lm = LM.as_table(landmarks, T)
        sp = res.spacing if res.spacing is not None else spacing
        tt = LM.tre_table(lm, res.reference, res.displacement, spacing=sp, n_frames=T)
        pairs = LM.pair_errors(LM.match_pairs(lm, res.reference, T), res.displacement, spacing=sp)
        lm_files = (lm, tt, pairs)
    source, kept = recorded(folder)
    if not keep_label_names:  # the names of the labels it was scored on before, not of these
        kept.pop("label_names", None)
        if names_of_labels(label_names):
            kept["label_names"] = names_of_labels(label_names)
    # every file written first, then moved in together: a failure (a full disk at the plots) leaves the folder as it
    # was (it mixed the new metrics and labels with the old plots and landmarks); an earlier evaluation's landmark
    # files would sit beside metrics without TRE: removed once the rest is in
    with staged_files(folder, remove=LANDMARK_FILES if lm_files is None else ()) as stage:
        summary = write_metrics(res, stage, source=source, extra=kept, tables=computed)
        if labels is not None:  # the folder keeps what it was evaluated against (a later `evaluate FOLDER` reads it)
            save_label_files(stage, res, labels)
        with atomic_path(stage / "plots.png") as tmp:
            save_plots(tables, tmp, unit=unit)
        if lm_files is not None:
            lm, tt, pairs = lm_files
            save_points_csv(stage / "landmarks.csv", lm)
            for fname, rows, first in (("tre.csv", tt, ("t", "n")), ("landmark_pairs.csv", pairs, ("id", "t"))):
                with atomic_path(stage / fname) as tmp:
                    _write_csv(tmp, in_unit([{"method": name, **r} for r in rows], unit), first=("method", *first))
            summary = {**summary, "tre_all": in_unit({k: _clean(v) for k, v in tt[-1].items()}, unit)}
    return summary
