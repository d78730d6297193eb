"""Soak: many registrations and cancellations in one process; memory must not grow.

    python benchmarks/soak.py                       # 200 registrations + 20 cancellations, tlrn
    python benchmarks/soak.py --method nmsr --param init=random --param iterations=5 --n 50

1. ``--warmup`` registrations (caches, allocator pools, lazy imports settle), then
2. ``--n`` registrations in a row, sampling memory every ``--every`` runs, then
3. ``--cancels`` registrations cancelled mid-run: half by a ``cancel`` callable that trips on its
   k-th call, half by a ``threading.Event`` set from another thread when the k-th progress step
   is reported (k cycles over the steps of a full run). Each must raise ``tl.Cancelled``.

Memory, measured after ``gc.collect()`` and ``malloc_trim(0)`` (glibc keeps freed pages
otherwise): the process RSS (psutil), Python + NumPy allocations (tracemalloc; NumPy reports its
buffers to it), torch tensors still alive (count and bytes, found through the garbage collector;
torch's CPU allocator has no counter of its own), gc-tracked objects, open files and threads.

Verdict: RSS growth over the measured runs is "within noise" when the least-squares slope of the
RSS samples, times the number of runs, is below max(16 MiB, 3 x the residual std) and below 5 %
of the starting RSS; traced allocations may grow by at most 1 MiB; the torch tensors alive, files
and threads must be the same at the end as at the start. Exit code 1 if any check fails.

Engine: ``tlrn`` with its shipped weights when they exist; otherwise ``tlrn`` with an untrained
checkpoint written to a temporary file (``--weights random``: the same network, integration and
warping code, only the weights differ), and the table says so.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import sys
import tempfile
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MiB = 2**20


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def measure() -> dict:
    import psutil
    import torch

    gc.collect()
    _malloc_trim()
    proc = psutil.Process()
    with warnings.catch_warnings():  # isinstance() on torch's deprecated module proxies warns
        warnings.simplefilter("ignore")
        tensors = [o for o in gc.get_objects() if isinstance(o, torch.Tensor)]
    nbytes = 0
    for t in tensors:
        try:
            nbytes += t.untyped_storage().nbytes()
        except (RuntimeError, NotImplementedError):  # meta / sparse tensors
            pass
    return {
        "rss": proc.memory_info().rss,
        "traced": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0,
        "tensors": len(tensors),
        "tensor_bytes": nbytes,
        "objects": len(gc.get_objects()),
        "fds": proc.num_fds() if hasattr(proc, "num_fds") else len(proc.open_files()),
        "threads": threading.active_count(),
        "os_threads": proc.num_threads(),
    }


def _slope_check(samples: list[tuple[int, int]], n_runs: int, start_rss: int) -> tuple[float, float, bool]:
    """(growth over n_runs from the fitted slope, noise, ok)."""
    import numpy as np

    x = np.array([s[0] for s in samples], float)
    y = np.array([s[1] for s in samples], float)
    if len(x) < 3:
        growth, noise = float(y[-1] - y[0]), 0.0
    else:
        a, b = np.polyfit(x, y, 1)
        growth = float(a * n_runs)
        noise = float(np.std(y - (a * x + b)))
    ok = growth < max(16 * MiB, 3 * noise) and growth < 0.05 * start_rss
    return growth, noise, ok


def _frames(n_frames: int, size: int):
    import numpy as np

    import napari_tlreg as tl

    frames = tl.load_sequence("lemniscate").frames  # 12 x 64 x 64, affine motion, ground truth
    reps = -(-n_frames // frames.shape[0])
    frames = np.concatenate([frames] * reps)[:n_frames]
    if size != frames.shape[-1]:
        import torch
        import torch.nn.functional as F

        frames = F.interpolate(torch.from_numpy(frames)[:, None], size=(size, size), mode="bilinear",
                               align_corners=True)[:, 0].numpy()
    return frames


def _engine_setup(args) -> tuple[dict, str, tempfile.TemporaryDirectory | None]:
    """Engine params and a line saying which engine/weights ran."""
    from napari_tlreg.cli import parse_params

    params = parse_params(args.param)
    if args.method not in ("tlrn", "voxelmorph"):
        return params, f"{args.method} {json.dumps(params)}", None
    from napari_tlreg._paths import resources_dir

    default = {"tlrn": "tlrn_cine64", "voxelmorph": "voxelmorph_cine64"}[args.method]
    shipped = (resources_dir() / "models" / f"{default}.json").is_file()
    weights = args.weights
    if weights == "auto":
        weights = "" if shipped else "random"
    if weights == "random":
        import torch

        from napari_tlreg.engines.tlrn import build_net

        tmp = tempfile.TemporaryDirectory(prefix="soak-")
        path = Path(tmp.name) / "untrained.pt"
        torch.manual_seed(0)
        torch.save({"model": build_net({}).state_dict(), "config": {}, "method": args.method}, path)
        params["weights"] = str(path)
        return params, f"{args.method} with UNTRAINED weights (no shipped {default} model yet; same code path)", tmp
    if weights:
        params["weights"] = weights
        return params, f"{args.method} with weights {weights}", None
    return params, f"{args.method} with the shipped {default} weights", None


class _TripAfter:
    """A ``cancel`` callable that returns True from its k-th call on."""

    def __init__(self, k: int):
        self.k, self.calls = k, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls >= self.k


class _EventFromThread:
    """A ``threading.Event`` set by another thread when the k-th progress step is reported."""

    def __init__(self, k: int):
        self.k, self.steps = k, 0
        self.event = threading.Event()
        self._go = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if self._go.wait(timeout=600):
            self.event.set()

    def progress(self, done, total, message) -> None:
        self.steps += 1
        if self.steps == self.k:
            self._go.set()
            self.event.wait(timeout=10)  # the other thread has set it: the next check sees it

    def close(self) -> None:
        self._go.set()
        self.thread.join(timeout=10)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", default="tlrn")
    ap.add_argument("--weights", default="auto", help="auto (shipped if present, else random) | random | PATH")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--n", type=int, default=200, help="registrations measured")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--cancels", type=int, default=20)
    ap.add_argument("--every", type=int, default=10, help="memory sample interval (runs)")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    import napari_tlreg as tl

    torch.set_num_threads(args.threads)
    params, engine_line, tmp = _engine_setup(args)
    frames = _frames(args.frames, args.size)
    steps = []

    def register(**kw):
        return tl.register(frames, method=args.method, device="cpu", **params, **kw)

    # ---- warm-up, and how many progress steps / cancel checks a full run makes
    counter = _TripAfter(10**9)
    register(cancel=counter, progress=lambda *a: steps.append(a))
    n_checks, n_steps = counter.calls, len(steps)
    for _ in range(max(0, args.warmup - 1)):
        register()

    tracemalloc.start()
    m0 = measure()
    samples = [(0, m0["rss"])]
    t0 = time.perf_counter()
    for i in range(1, args.n + 1):
        res = register()
        del res
        if i % args.every == 0 or i == args.n:
            samples.append((i, measure()["rss"]))
    run_s = (time.perf_counter() - t0) / max(1, args.n)
    m1 = measure()

    # ---- cancellations
    cancelled, where = 0, []
    t0 = time.perf_counter()
    for i in range(args.cancels):
        if i % 2 == 0:  # a callable tripping on its k-th call (k over every check of a full run)
            k = 1 + (i // 2) % max(1, n_checks - 1)
            how = _TripAfter(k)
            kw = {"cancel": how}
        else:  # an Event set from another thread at the k-th progress step
            k = 1 + (i // 2) % max(1, n_steps - 1)
            how = _EventFromThread(k)
            kw = {"cancel": how.event, "progress": how.progress}
        try:
            register(**kw)
        except tl.Cancelled:
            cancelled += 1
            where.append(k)
        finally:
            if isinstance(how, _EventFromThread):
                how.close()
        del how, kw
    cancel_s = (time.perf_counter() - t0) / max(1, args.cancels)
    m2 = measure()
    tracemalloc.stop()

    growth, noise, rss_ok = _slope_check(samples, args.n, m0["rss"])
    checks = {
        f"RSS growth over {args.n} runs within noise": rss_ok,
        "traced (Python+NumPy) growth <= 1 MiB": m1["traced"] - m0["traced"] <= MiB,
        "torch tensors alive unchanged": (m1["tensors"], m1["tensor_bytes"]) == (m0["tensors"], m0["tensor_bytes"]),
        "open files and threads unchanged": (m1["fds"], m1["threads"]) == (m0["fds"], m0["threads"]),
        f"{args.cancels} cancels raised tl.Cancelled": cancelled == args.cancels,
        "no growth across the cancels (RSS <= 16 MiB, traced <= 1 MiB, tensors, files, threads)": (
            m2["rss"] - m1["rss"] <= 16 * MiB and m2["traced"] - m1["traced"] <= MiB
            and (m2["tensors"], m2["tensor_bytes"], m2["fds"], m2["threads"])
            == (m1["tensors"], m1["tensor_bytes"], m1["fds"], m1["threads"])),
    }

    def mib(b):
        return f"{b / MiB:9.1f}"

    def dmib(b):
        return f"{b / MiB:+9.2f}"

    print(f"engine: {engine_line}")
    print(f"sequence: {frames.shape[0]} x {frames.shape[1]} x {frames.shape[2]}, cpu, {args.threads} torch threads; "
          f"warm-up {args.warmup} runs; a full run makes {n_steps} progress steps, {n_checks} cancel checks")
    print()
    head = f"{'phase':<16}{'runs':>6}{'s/run':>8}{'RSS MiB':>10}{'ΔRSS':>10}{'traced MiB':>11}{'Δtraced':>10}" \
           f"{'tensors':>9}{'tensor MiB':>11}{'gc objs':>9}{'fds':>5}{'threads':>8}"
    print(head)
    print("-" * len(head))
    print(f"{'start':<16}{'':>6}{'':>8}{mib(m0['rss']):>10}{'':>10}{mib(m0['traced']):>11}{'':>10}"
          f"{m0['tensors']:>9}{mib(m0['tensor_bytes']):>11}{m0['objects']:>9}{m0['fds']:>5}{m0['threads']:>8}")
    print(f"{'registrations':<16}{args.n:>6}{run_s:>8.3f}{mib(m1['rss']):>10}{dmib(m1['rss'] - m0['rss']):>10}"
          f"{mib(m1['traced']):>11}{dmib(m1['traced'] - m0['traced']):>10}{m1['tensors']:>9}"
          f"{mib(m1['tensor_bytes']):>11}{m1['objects']:>9}{m1['fds']:>5}{m1['threads']:>8}")
    print(f"{'cancellations':<16}{args.cancels:>6}{cancel_s:>8.3f}{mib(m2['rss']):>10}{dmib(m2['rss'] - m1['rss']):>10}"
          f"{mib(m2['traced']):>11}{dmib(m2['traced'] - m1['traced']):>10}{m2['tensors']:>9}"
          f"{mib(m2['tensor_bytes']):>11}{m2['objects']:>9}{m2['fds']:>5}{m2['threads']:>8}")
    print()
    rss = np.array([s[1] for s in samples]) / MiB
    print(f"RSS samples every {args.every} runs (MiB): min {rss.min():.1f}, max {rss.max():.1f}; fitted growth over "
          f"{args.n} runs {growth / MiB:+.2f} MiB, residual noise {noise / MiB:.2f} MiB")
    print(f"cancelled {cancelled}/{args.cancels} (tripped at checks/steps {where})")
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    if args.json:
        Path(args.json).write_text(json.dumps({"engine": engine_line, "start": m0, "after_runs": m1,
                                               "after_cancels": m2, "samples": samples, "growth": growth,
                                               "noise": noise, "s_per_run": run_s, "cancelled": cancelled,
                                               "checks": checks}, indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
