"""The Landmarks & TRE dock's pairs table: how long a refresh blocks the GUI thread, by number of pairs, with a row
selected or not: the dock's refresh (cells set with the table's painting off and no row selected, the columns sized
once, the row selected again after) beside the fill as it was (Qt's ResizeToContents header, the selected row
selected again while the cells were set: each cell set measured every row; 200 pairs with a row selected took ~6 s).

    xvfb-run -a python benchmarks/landmarks_table.py [--pairs 50 200] [--repeat 3]

A refresh runs on every point moved or placed, every run shown and every row clicked. Both are timed side by side in
one process on the same cells (this machine is shared: compare the ratio, not the milliseconds). Prints a table;
writes nothing.
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
    ap.add_argument("--pairs", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication, QHeaderView, QTableWidgetItem

    from napari_tlreg._widgets.landmarks import LandmarkWidget

    viewer = napari.Viewer(show=True)
    dock = LandmarkWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Landmarks & TRE")
    rng = np.random.default_rng(0)
    frames = rng.random((10, 256, 256)).astype(np.float32)
    header = dock.pairs_table.horizontalHeader()
    rows = []
    for n in args.pairs:
        for layer in list(viewer.layers):
            viewer.layers.remove(layer)
        viewer.add_image(frames, name="seq")
        points, ids = [], []
        for i in range(1, n + 1):
            r, c = rng.uniform(20, 236, 2)
            points += [[0, r, c], [1 + i % 9, r + 1, c + 1]]
            ids += [i, i]
        viewer.add_points(np.array(points), name="seq landmarks", features={"id": np.array(ids)}, ndim=3)
        QApplication.processEvents()
        table = dock.pairs_table
        dock._refresh_pairs()
        cells = [[table.item(i, j).text() for j in range(table.columnCount())] for i in range(table.rowCount())]

        def as_it_was(chosen):  # the fill before the change, on the same cells
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            table.blockSignals(True)
            table.setRowCount(0)
            table.setRowCount(len(cells))
            for i, row in enumerate(cells):
                for j, text in enumerate(row):
                    table.setItem(i, j, QTableWidgetItem(text))
                if i == chosen:
                    table.selectRow(i)
            table.blockSignals(False)
            header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

        for name, refresh in (("the dock's refresh", lambda chosen: dock._refresh_pairs()), ("as it was", as_it_was)):
            for selected in (False, True):
                times = []
                for _ in range(args.repeat):
                    table.clearSelection()
                    if selected:
                        table.blockSignals(True)  # selected, not acted on (no frame change)
                        table.selectRow(n // 4)
                        table.blockSignals(False)
                    t0 = time.perf_counter()
                    refresh(n // 4 if selected else None)
                    QApplication.processEvents()
                    times.append(time.perf_counter() - t0)
                rows.append((n, name, "yes" if selected else "no", 1000 * min(times), 1000 * max(times)))
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    viewer.close()
    print(f"{'pairs':>5}  {'refresh':<20} {'row selected':<12} {'best ms':>9} {'worst ms':>9}")
    for n, name, sel, best, worst in rows:
        print(f"{n:>5}  {name:<20} {sel:<12} {best:>9.1f} {worst:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
