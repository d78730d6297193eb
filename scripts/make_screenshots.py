"""Screenshots of the viewer for the README, made under Xvfb, plus a side-by-side montage.

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/make_screenshots.py

For each (sample, method) it runs ``napari-tlreg view SAMPLE --method M --run --screenshot PNG``
(napari with the Register widget docked, registration run, the viewer moved to the middle frame),
then writes ``docs/screenshots/viewer_montage.png`` with the first two side by side; the NMSR shot on
the echo sample (its sector mask, ~1 min on 2 threads) stays a picture of its own.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SHOTS = [("cardiac", "tlrn"), ("satellite", "multistep"), ("echo", "nmsr")]
MONTAGE = 2  # the first shots, side by side


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    from napari_tlreg.api import methods

    paths = []
    for sample, method in SHOTS:
        if method not in methods():
            method = "tlrn"
        png = OUT / f"viewer_{sample}_{method}.png"
        cmd = [sys.executable, "-m", "napari_tlreg.cli", "view", sample, "--method", method, "--run", "--screenshot", str(png)]
        subprocess.run(cmd, check=True, timeout=900)
        paths.append(png)
    from PIL import Image

    imgs = [Image.open(p).convert("RGB") for p in paths[:MONTAGE]]
    h = min(i.height for i in imgs)
    imgs = [i.resize((round(i.width * h / i.height), h)) for i in imgs]
    montage = Image.new("RGB", (sum(i.width for i in imgs) + 10 * (len(imgs) - 1), h), "white")
    x = 0
    for i in imgs:
        montage.paste(i, (x, 0))
        x += i.width + 10
    montage.save(OUT / "viewer_montage.png")
    print("wrote", *paths, OUT / "viewer_montage.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
