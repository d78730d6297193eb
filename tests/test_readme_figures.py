"""The README's benchmark tables say what the benchmarks' ``results.json`` files hold.

Every number in those tables was printed by a script in ``benchmarks/``; after a re-run of some of
its sections the README has to follow. These read the NMSR tables (``benchmarks/results/nmsr``: the
NMSR-vs-ANTs table, the real echo's, pace, radius, symmetric, objective) and the TLRN ones
(``benchmarks/results/tlrn``: lemniscate, phantoms, Sunnybrook, speed) and the satellite pairs' table,
and compare each figure with the stored results, at the precision the table shows it; the peers and
scaling benchmarks store their tables' markdown, which the README has to show as printed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.nmsr import mean_rows

ROOT = Path(__file__).resolve().parents[1]
HEADER = "| case | method | MSE | LCC10 | Dice | EPE | bias | EPE out | twist % | folding % | s |"
COLUMNS = ("mse", "lncc10", "dice", "epe_px", "bias_px", "epe_outer_px", "twist_pct", "folding_pct", "seconds")
#: the table's method names (bold and notes in brackets dropped) -> the benchmark's row keys
METHODS = {"none": "none", "nmsr": "nmsr", "nmsr, noise_compensation=False": "nmsr noise_compensation=False",
           "nmsr, the paper's shared network": "nmsr shared network", "nmsr, smooth=1": "nmsr smooth=1",
           "nmsr, consecutive": "nmsr consecutive", "ANTs SyN": "ants SyN", "ANTs SyN-CC": "ants SyNCC"}


def table_rows() -> list[tuple[str, str, list[str]]]:
    """(case, method, cells) of the table under :data:`HEADER`; a blank case cell repeats the one above."""
    rows, case = [], ""
    for line in table_lines(HEADER):
        cells = [c.strip() for c in line.split("|")]
        case = cells[0] or case
        rows.append((case, cells[1], cells[2:]))
    return rows


def method_key(label: str) -> str:
    name = re.sub(r"\s*\(.*\)\s*$", "", label.replace("**", "")).replace("‡", "").strip()
    return METHODS[name]


def sources(R: dict) -> dict[str, object]:
    """Each case of the table (its label's start) -> a function of the method key giving the stored row(s)."""
    held = {k: v for k, v in R["heldout"].items() if k.startswith("phantom")}
    echoes = [v for k, v in R["heldout"].items() if k.startswith("echo")]
    return {
        "bundled echo": lambda m: R["synthetic"]["echo (bundled)"][m],
        "8 unseen phantoms": lambda m: R["phantom_mean"][m],
        "8 fresh phantoms": lambda m: R["fresh_mean"][m],
        "real echo (pydicom": lambda m: (R["echo_real_syncc"] if m == "ants SyNCC" else R["echo_real"])[m],
        "**held out**": lambda m: mean_rows([rows[m] for rows in held.values()]),  # as the benchmark averages
        "held out: echo": lambda m: [rows[m] for rows in echoes],
    }


def _check(cell: str, value) -> bool:
    digits = len(cell.split(".")[1]) if "." in cell else 0
    return abs(float(value) - float(cell)) <= 0.5 * 10.0**-digits + 1e-9  # the figure, rounded as shown


def test_readme_nmsr_table_matches_the_stored_results():
    R = json.loads((ROOT / "benchmarks" / "results" / "nmsr" / "results.json").read_text())
    src = sources(R)
    checked, wrong, seen = 0, [], set()
    for case, method, cells in table_rows():
        prefix = next((p for p in src if case.startswith(p)), None)
        if prefix is None:  # the Sunnybrook line: its figures are in the text of the cell
            continue
        seen.add(prefix)
        getter = src[prefix]
        stored = getter(method_key(method))
        stored = stored if isinstance(stored, list) else [stored]
        for col, cell in zip(COLUMNS, cells):
            parts = [p.strip() for p in cell.split("/")]  # "a / b": one figure per held-out echo
            for row, part in zip(stored if len(parts) > 1 else stored[:1], parts):
                if part in ("–", ""):
                    continue
                checked += 1
                if not _check(part, row[col]):
                    wrong.append(f"{case[:30]} | {method[:30]} | {col}: README {part}, results.json {row[col]}")
    assert not wrong, "\n".join(wrong)
    assert seen == set(src) and checked > 200  # every block of the table was read


@pytest.mark.parametrize("cell, value, ok", [("0.942", 0.9421, True), ("0.942", 0.9426, False), ("64.4", 64.44, True),
                                             ("90", 90.4, True), ("90", 90.6, False), ("0.0090", 0.00901, True),
                                             ("0.874", 0.8736, True), ("0.875", 0.8736, False)])
def test_a_figure_matches_at_the_precision_shown(cell, value, ok):
    assert _check(cell, value) is ok


REAL_HEADER = "| method | MSE | LCC10 | \\|∇u\\|² | jitter px | folding % | s |"
REAL_COLUMNS = ("mse", "lncc10", "grad2", "jitter_px", "folding_pct", "seconds")


def real_key(label: str) -> str:
    """A row of the real-echo (frames 0-5) table -> its key in ``echo_real_0_5``."""
    name = re.sub(r"\s*\([^)]*\)\s*$", "", label.replace("**", "")).strip()
    if name.startswith("ANTs") or name == "none":
        return METHODS[name]
    name = name.replace(" at every scale, patience 40", "")
    return {"nmsr": "nmsr", "nmsr, smooth=0.2, diffeomorphic": "nmsr smooth=0.2 diffeomorphic"}.get(name, name.replace("nmsr, ", "nmsr "))


def test_readme_real_echo_table_matches_the_stored_results():
    R = json.loads((ROOT / "benchmarks" / "results" / "nmsr" / "results.json").read_text())["echo_real_0_5"]
    rows = {real_key(label): rest for label, rest in row_cells(REAL_HEADER).items()}
    assert set(rows) == set(R)  # every stored row is in the table, once
    for key, rest in rows.items():
        assert_row(rest, [R[key][col] for col in REAL_COLUMNS], key)


def numbers(text: str) -> list[str]:
    """The figures of a table row, in order, as written (bold and the 'x' of ratios dropped)."""
    return re.findall(r"\d+(?:\.\d+)?", text.replace("**", ""))


def table_lines(header_start: str) -> list[str]:
    """The body rows of the README table whose header starts with ``header_start``."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    body = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        body.append(line.strip().strip("|"))
    return body


def row_cells(header_start: str) -> dict[str, str]:
    """First cell -> the rest of the row, for the README table whose header starts with ``header_start``."""
    return {first.replace("**", "").strip(): rest for first, rest in (line.split("|", 1) for line in table_lines(header_start))}


def assert_row(text: str, expected: list, what: str) -> None:
    got = numbers(text)
    assert len(got) == len(expected), (what, got, expected)
    wrong = [(g, e) for g, e in zip(got, expected) if not _check(g, e)]
    assert not wrong, (what, wrong)


def test_readme_pace_radius_and_symmetric_tables_match_the_stored_results():
    R = json.loads((ROOT / "benchmarks" / "results" / "nmsr" / "results.json").read_text())
    pace = row_cells("| case | NMSR s (3 rounds) |")
    names = {"real echo, frames 0–5": "echo_real 0-5"}
    assert len(pace) == len(R["pace"])
    for label, rest in pace.items():
        p = R["pace"][names.get(label, label)]
        assert_row(rest, [*p["nmsr_s"], *p["syncc_s"], *p["ratios"], p["median_ratio"]], label)

    radius = row_cells("| radius | 16 phantoms: mean Dice |")
    assert len(radius) == len(R["radius"]["summary"])
    for label, rest in radius.items():
        r = label.split()[0]
        s, cases = R["radius"]["summary"][f"radius={r}"], R["radius"]["cases"]
        assert_row(rest, [s["phantom_dice_mean"], s["phantom_epe_mean"], s["phantoms_at_least_syncc"], s["phantoms"],
                          cases["echo (bundled)"][f"radius={r}"]["dice"], cases["echo (bundled)"][f"radius={r}"]["epe_px"],
                          cases["echo_real 0-5"][f"radius={r}"]["lncc10"], s["sunnybrook_dice_mean"],
                          s["sunnybrook_at_least_syncc"], s["sunnybrook_slices"]], label)

    sym = row_cells("| NMSR | 16 phantoms: Dice |")
    assert set(sym) == set(R["symmetric"]["summary"])
    for label, rest in sym.items():
        s, h, echo = R["symmetric"]["summary"][label], R["symmetric"]["summary"][label]["held_out"], R["symmetric"]["cases"]["echo (bundled)"][label]
        want = [s["phantom_dice_mean"], s["phantom_epe_mean"], s["phantom_epe_inner_mean"], s["phantoms_at_least_syncc"], s["phantoms"],
                h["phantom_dice_mean"], h["phantom_epe_mean"], h["phantom_epe_inner_mean"], h["phantoms_at_least_syncc"], h["phantoms"],
                echo["dice"], echo["lncc10"], echo["mse"], s["sunnybrook_dice_mean"], s["sunnybrook_at_least_syncc"],
                s["sunnybrook_slices"], s["seconds"]]
        if label == "symmetric":
            want.append(R["symmetric"]["time_ratio"])
        assert_row(rest, want, label)


def test_readme_objective_table_matches_the_stored_results():
    o = json.loads((ROOT / "benchmarks" / "results" / "nmsr" / "results.json").read_text())["objective"]
    rows = row_cells("| phantom | similarity, truth |")
    cases, s = o["cases"], o["summary"]
    for label, rest in rows.items():
        if label.startswith("all"):
            smoother = sum(c["grad_l2_nmsr"] < c["grad_l2_truth"] for c in cases.values())
            assert_row(rest, [s["nmsr_matches_better_than_truth"], smoother, s["phantoms"] - len(s["below_syncc"])], label)
            assert numbers(label) == [str(s["phantoms"])]
            continue
        c = cases[f"phantom {label.split()[0]}"]
        # the similarities are negative (−LNCC): the table writes them with a minus sign
        assert rest.count("−") == 2 and c["similarity_truth"] < 0 and c["similarity_nmsr"] < 0
        assert_row(rest, [-c["similarity_truth"], -c["similarity_nmsr"], c["grad_l2_truth"], c["grad_l2_nmsr"],
                          c["dice_nmsr"], c["dice_syncc"]], label)
    assert {f"phantom {k.split()[0]}" for k in rows if not k.startswith("all")} == set(s["below_syncc"])


# ---- TLRN vs VoxelMorph vs ANTs (benchmarks/tlrn_paper.py) ----------------------------------------
#: the TLRN tables' method labels (first cell, bold dropped) -> the benchmark's keys
TLRN_METHODS = {
    "none": "none", "tlrn, `tlrn_synth64` (trained on lemniscate + phantoms)": "tlrn synth64",
    "voxelmorph, `voxelmorph_synth64` (the same training)": "voxelmorph synth64",
    "tlrn, default `tlrn_cine64` (cardiac)": "tlrn", "voxelmorph, default `voxelmorph_cine64` (cardiac)": "voxelmorph",
    "ANTs SyN": "ants", "tlrn (default `tlrn_cine64`)": "tlrn", "voxelmorph (default `voxelmorph_cine64`)": "voxelmorph",
    "tlrn, synthetic-only weights (`tlrn_synth64`)": "tlrn synth64",
    "voxelmorph, synthetic-only weights (`voxelmorph_synth64`)": "voxelmorph synth64",
    "tlrn (auto scale: 128 px run at 64 px)": "tlrn", "tlrn, scale=1 (native 128 px)": "tlrn scale=1",
    "voxelmorph": "voxelmorph", "voxelmorph, scale=1": "voxelmorph scale=1", "tlrn, synthetic-only weights": "tlrn synth64",
    "voxelmorph, synthetic-only weights": "voxelmorph synth64", "ANTs SyN (ED/ES pair only)": "ants",
}


def test_readme_tlrn_tables_match_the_stored_results():
    R = json.loads((ROOT / "benchmarks" / "results" / "tlrn" / "results.json").read_text())
    tables = {
        "| method | t=1 |": ("lemniscate", lambda r: [1e3 * v for v in r["mse_per_step"][1:]] + [1e3 * r["mse_mean"], r["folding_pct"]]),
        "| method | Dice (mean over frames) |": ("cardiac", lambda r: [r["dice_mean"], r["dice_min_frame"], r["hd95_mean"],
                                                                      r["folding_pct"], r["seconds_per_sequence"]]),
        "| method | Dice ED→ES (28 slices) |": ("sunnybrook", lambda r: [r["dice_mean"], *(r["dice_by_patient"][p] for p in
                                                                      ("SCD0000101", "SCD0000201", "SCD0000301")), r["seconds_per_case"]]),
    }
    for header, (section, figures) in tables.items():
        rows = row_cells(header)
        assert {TLRN_METHODS[label] for label in rows} == set(R[section]), section  # every stored method, once
        assert len(rows) == len(R[section]), section
        for label, rest in rows.items():
            assert_row(rest, figures(R[section][TLRN_METHODS[label]]), f"{section}: {label}")
    speed = table_lines("| sequence | threads | tlrn |")  # first cells repeat: one row per sequence and thread count
    assert len(speed) == sum(len(v) for v in R["speed"].values())
    for line in speed:
        seq, threads, rest = line.split("|", 2)
        s = R["speed"][f"{threads.strip()} thread(s)"][seq.strip()]
        assert_row(rest, [s["tlrn_cpu"], s["voxelmorph_cpu"], s["ants_per_pair"], s["ants_sequence"], s["ratio_ants_over_tlrn"]],
                   f"speed {seq.strip()} {threads.strip()}")


def test_readme_pairs_table_matches_the_stored_results():
    """The satellite pair engines' table (``benchmarks/pairs.py``, 256 px pairs)."""
    R = json.loads((ROOT / "benchmarks" / "results" / "pairs" / "results.json").read_text())["synthetic"]["256"]
    keys = {"unregistered": "none", "affine only": "affine", "ANTs SyN": "ants"}
    rows = row_cells("| method | buildings dx / dy / ds |")
    assert len(rows) == 7
    for label, rest in rows.items():
        r = R[keys.get(label, label.replace(", ", " "))]
        want = [r[part][k] for part in ("buildings", "roads") for k in ("dx", "dy", "ds")] + [r["all"]["ds"]]
        if r["method"] != "none":  # "–" for the unregistered pairs
            want += [r["folding_pct"], r["seconds_per_pair"]]
        assert_row(rest, want, label)


@pytest.mark.parametrize("bench", ["peers", "scaling"])
def test_readme_shows_the_tables_the_benchmark_printed(bench):
    """``benchmarks/peers.py`` and ``scaling.py`` store the markdown of their tables: the README shows each one as printed."""
    stored = json.loads((ROOT / "benchmarks" / "results" / bench / "results.json").read_text())["table_markdown"]
    readme = (ROOT / "README.md").read_text()
    blocks = [b for b in re.split(r"\n\s*\n", stored) if b.lstrip().startswith("|")]
    assert blocks
    for block in blocks:
        assert block.strip() + "\n" in readme, f"{bench}: the README's table differs from the stored one:\n{block}"
