"""GUI responsiveness while the Register widget runs: the longest gap of a 10 ms QTimer heartbeat.

    xvfb-run -a python benchmarks/gui_responsiveness.py [--method tlrn] [--sample cardiac] [--repeat 3]

Reports, per run, the longest heartbeat gap during the registration itself (worker thread busy,
up to the moment its result reaches the GUI thread) and, separately, while the result layers are
created (first run: napari builds each new layer on the GUI thread) or updated in place (re-runs). Goal: < 50 ms during the
registration. Also measures how long Cancel takes to stop a run (goal: < 1 s), and a baseline
without any registration: the viewer idle, and only the progress display (status line and bar)
updating at the widget's throttle rate, which is what the GUI thread itself does during a run.

Each run is appended to ``results.json`` in ``--out`` (written atomically; ``--fresh`` starts the file anew): the
README's figures are the ranges over the runs stored there (``tests/test_readme_figures.py`` checks them).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", default="tlrn")
    ap.add_argument("--sample", default="cardiac")
    ap.add_argument("--tile", type=int, default=5, help="repeat the sample's frames N times (longer run)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-preimport", action="store_true",
                    help="skip the worker's import of what napari loads lazily for new layers (for a side-by-side)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gui_responsiveness"))
    ap.add_argument("--fresh", action="store_true", help="start results.json anew instead of appending this run")
    args = ap.parse_args(argv)

    import napari
    import numpy as np
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    import napari_tlreg as tl
    from napari_tlreg._hooks import sequence_to_layers
    from napari_tlreg._widgets import register as register_module
    from napari_tlreg._widgets.register import RegisterWidget

    if args.no_preimport:
        register_module._preimport_layer_modules = lambda: None

    seq = tl.load_sequence(args.sample)
    viewer = napari.Viewer(show=True)
    data, kwargs, _ = sequence_to_layers(seq)[0]
    layer = viewer.add_image(np.concatenate([data] * args.tile), **kwargs)
    widget = RegisterWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image_combo.setCurrentText(layer.name)
    widget.method_combo.setCurrentIndex(widget.method_combo.findData(args.method))
    app = QApplication.instance()

    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()

    def gaps(t0, t1):
        """Longest heartbeat interval from the last beat before t0 to the last beat before t1."""
        b = np.asarray(beats)
        seg = b[max(int(np.searchsorted(b, t0)) - 1, 0) : int(np.searchsorted(b, t1))]
        return float(np.diff(seg).max() * 1000) if len(seg) > 1 else float("nan")

    def blocked(t0, t1):
        """The interval between the last beat before t0 and the first beat after t1 (a synchronous block)."""
        b = np.asarray(beats)
        i, j = int(np.searchsorted(b, t0)) - 1, int(np.searchsorted(b, t1))
        return float((b[j] - b[max(i, 0)]) * 1000) if j < len(b) else float("nan")

    def heartbeat_alone(seconds: float, update=None) -> float:
        """Longest heartbeat gap over ``seconds`` of the event loop with no registration (``update``: every 50 ms)."""
        beats.clear()
        t0 = last = time.perf_counter()
        k = 0
        while time.perf_counter() - t0 < seconds:
            if update is not None and time.perf_counter() - last >= 0.05:  # the widget's _Throttle interval
                last = time.perf_counter()
                update(k)
                k += 1
            app.processEvents()
            time.sleep(0.001)
        return float(np.diff(beats).max() * 1000)

    def progress_display(k: int) -> None:
        widget.progress_bar.setRange(0, 99)
        widget.progress_bar.setValue(k % 100)
        widget.status_label.setText(f"frames {k % 99}-{k % 99 + 15} of 99 ({k % 100}/99)")

    heartbeat_alone(1.0)  # first paints
    baseline = (heartbeat_alone(2.0), heartbeat_alone(2.0, progress_display))
    widget.status_label.setText("ready")

    returned: list[float] = []
    show = widget._show_result  # split "registration" from "adding result layers" (GUI thread)

    shown: list[float] = []

    def timed_show(*args, **kwargs):
        returned.append(time.perf_counter())
        show(*args, **kwargs)
        shown.append(time.perf_counter())

    widget._show_result = timed_show

    rows = []
    for i in range(args.repeat):
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)
        t_start = time.perf_counter()
        widget.run()
        while widget.running:
            app.processEvents()
            time.sleep(0.001)
        t_done = time.perf_counter()
        for _ in range(50):  # let the result layers draw
            app.processEvents()
            time.sleep(0.005)
        t_end = time.perf_counter()
        t_ret = returned[-1]
        rows.append((i, t_ret - t_start, gaps(t_start, t_ret), blocked(t_ret, shown[-1])))

    # cancellation latency
    cancel_s = []
    for _ in range(3):
        widget.run()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.05:
            app.processEvents()
        t_cancel = time.perf_counter()
        widget.cancel()
        while widget.running:
            app.processEvents()
            time.sleep(0.001)
        cancel_s.append(time.perf_counter() - t_cancel)
    timer.stop()

    T, H, W = layer.data.shape
    print(f"\n{args.method} on {args.sample} x{args.tile}: {T}x{H}x{W}")
    print(f"{'run':>3s} {'wall s':>7s} {'max gap during registration (ms)':>33s} {'max gap adding/updating layers (ms)':>36s}")
    for i, wall, g_run, g_add in rows:
        print(f"{i:3d} {wall:7.2f} {g_run:33.1f} {g_add:36.1f}")
    print(f"cancel latency (s): {', '.join(f'{c:.3f}' for c in cancel_s)}")
    print(f"no registration, max gap (ms): viewer idle {baseline[0]:.1f}, progress display updating {baseline[1]:.1f}")
    viewer.close()
    import qtpy

    record = {"when": datetime.datetime.now().isoformat(timespec="seconds"), "machine": platform.node(),
              "cpus": os.cpu_count(), "qt_api": qtpy.API_NAME, "method": args.method, "sample": args.sample,
              "shape": [T, H, W], "preimport": not args.no_preimport,
              "runs": [{"wall_s": wall, "max_gap_registration_ms": g_run, "blocked_showing_ms": g_add}
                       for _, wall, g_run, g_add in rows],
              "cancel_s": cancel_s, "idle_max_gap_ms": baseline[0], "progress_display_max_gap_ms": baseline[1]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stored = [] if args.fresh or not (out / "results.json").exists() else \
        json.loads((out / "results.json").read_text())["records"]
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps({"records": stored + [record]}, indent=2))
    os.replace(tmp, out / "results.json")
    print(f"appended to {out / 'results.json'} ({len(stored) + 1} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
