"""GUI responsiveness while the Register widget runs: the longest gap of a 10 ms QTimer heartbeat.

    xvfb-run -a python benchmarks/gui_responsiveness.py [--method tlrn] [--sample cardiac] [--repeat 3]

Reports, per run, the longest heartbeat gap during the registration itself (worker thread busy)
and, separately, while the result layers are added on the GUI thread. Goal: < 50 ms during the
registration. Also measures how long Cancel takes to stop a run (goal: < 1 s).
"""
from __future__ import annotations

import argparse
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
    args = ap.parse_args(argv)

    import napari
    import numpy as np
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    import napari_tlreg as tl
    from napari_tlreg._hooks import sequence_to_layers
    from napari_tlreg._widgets.register import RegisterWidget

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
        b = [t for t in beats if t0 <= t <= t1]
        return max(np.diff(b)) * 1000 if len(b) > 1 else float("nan")

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
        rows.append((i, t_done - t_start, gaps(t_start, t_done), gaps(t_done, t_end)))

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
    print(f"{'run':>3s} {'wall s':>7s} {'max gap during run (ms)':>24s} {'max gap adding layers (ms)':>27s}")
    for i, wall, g_run, g_add in rows:
        print(f"{i:3d} {wall:7.2f} {g_run:24.1f} {g_add:27.1f}")
    print(f"cancel latency (s): {', '.join(f'{c:.3f}' for c in cancel_s)}")
    viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
