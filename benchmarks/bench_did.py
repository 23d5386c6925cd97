"""Callaway–Sant'Anna speed and memory: evalkit versus diff-diff and csdid, side by side.

A staggered panel of 50,000 units × 24 periods (1.2M rows; four cohorts plus
never treated) is written once to a NumPy ``.npz`` file. Each tool then runs in
its own child process, which loads the file into the same DataFrame (the four
arrays as they are, not copied into one block), imports the tool (timed
separately), estimates every ATT(g, t) with never-treated controls (doubly
robust, no covariates) and the aggregations the tool offers, and reports its
wall time (estimation + aggregation) and its peak resident memory (``VmHWM``
of the child: the whole process, and the part above the baseline of Python,
pandas and the loaded data, which every tool shares; that part includes
importing the tool). Every tool is run with analytic standard errors and with
a 1,000-draw multiplier bootstrap; the wall time is the best of two runs (one
when a run takes over a minute), the memory the larger peak.

Ratios (evalkit / peer; the target of issue #5 is ≤ 0.5 against diff-diff):
``time_ratio`` of wall times; ``memory_ratio`` of whole-process peaks;
``own_memory_ratio`` of the peaks above the shared baseline.

diff-diff has no calendar aggregation, so it computes three aggregations
(simple, event study, group); evalkit and csdid compute all four. The peers are
optional (``pip install -e .[bench]``); a missing peer is reported, not fatal.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

N_UNITS = 50_000
N_PERIODS = 24
COHORTS = (0, 6, 10, 14, 18)
N_BOOT = 1_000
TIMEOUT_S = 1_800


def make_panel(n_units: int = N_UNITS, n_periods: int = N_PERIODS, seed: int = 1) -> pd.DataFrame:
    """Generate the staggered panel (unit and period effects, dynamic effects, noise).

    Parameters
    ----------
    n_units, n_periods : int
        Size.
    seed : int
        Random seed.

    Returns
    -------
    pandas.DataFrame
        Columns ``unit, time, cohort, y`` (cohort 0 = never treated).
    """
    rng = np.random.default_rng(seed)
    g = rng.choice(np.array(COHORTS), size=n_units)
    unit = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(1, n_periods + 1), n_units)
    gg = np.repeat(g, n_periods)
    effect = np.where((gg > 0) & (t >= gg), 0.5 + 0.05 * (t - gg), 0.0)
    y = np.repeat(rng.normal(size=n_units), n_periods) + 0.1 * t + effect
    y = y + rng.normal(size=n_units * n_periods)
    return pd.DataFrame({"unit": unit, "time": t, "cohort": gg, "y": y})


def _run_evalkit(df: pd.DataFrame, boot: bool) -> float:
    from evalkit.did.cs import callaway_santanna

    res = callaway_santanna(
        df,
        outcome="y",
        unit="unit",
        time="time",
        cohort="cohort",
        bootstrap=boot,
        n_boot=N_BOOT,
        seed=1,
    )
    return float(res.att)


def _run_diff_diff(df: pd.DataFrame, boot: bool) -> float:
    from diff_diff import CallawaySantAnna

    est = CallawaySantAnna(
        control_group="never_treated",
        estimation_method="dr",
        n_bootstrap=N_BOOT if boot else 0,
        seed=1,
    )
    res = est.fit(df, outcome="y", unit="unit", time="time", first_treat="cohort")
    simple = res.aggregate("simple")
    res.aggregate("event_study")
    res.aggregate("group")
    return float(np.asarray(getattr(simple, "att", np.nan)).ravel()[0])


def _run_csdid(df: pd.DataFrame, boot: bool) -> float:
    from csdid.att_gt import ATTgt

    att = ATTgt(
        yname="y",
        tname="time",
        idname="unit",
        gname="cohort",
        data=df,
        control_group=["nevertreated"],
        biters=N_BOOT,
    )
    att.fit(est_method="dr", bstrap=boot)
    out = np.nan
    for typec in ("simple", "group", "dynamic", "calendar"):
        agg = att.aggte(typec=typec, bstrap=boot)
        if typec == "simple":
            out = (
                float(np.asarray(agg.atte["overall_att"]).ravel()[0])
                if hasattr(agg, "atte")
                else np.nan
            )
    return out


RUNNERS = {"evalkit": _run_evalkit, "diff-diff": _run_diff_diff, "csdid": _run_csdid}
MODULES = {"evalkit": "evalkit.did.cs", "diff-diff": "diff_diff", "csdid": "csdid.att_gt"}


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    ``VmHWM`` belongs to the process image and starts afresh at ``exec``;
    ``ru_maxrss`` would carry over the parent's peak from before the fork (Linux
    folds it into the child at ``exec``), which made every tool look as large as
    the benchmark runner.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(tool: str, path: str, boot: bool) -> None:
    """Run one tool on the panel file and print its figures as JSON (child process).

    Parameters
    ----------
    tool : str
        ``evalkit``, ``diff-diff`` or ``csdid``.
    path : str
        ``.npz`` file of the panel.
    boot : bool
        Bootstrap instead of analytic standard errors.
    """
    import contextlib
    import importlib
    import io
    import warnings

    warnings.simplefilter("ignore")
    # The loaded arrays become the frame's columns: copying them into one block
    # would double the data for a moment and raise every tool's baseline alike.
    with np.load(path) as arrays:
        df = pd.DataFrame({k: arrays[k] for k in ("unit", "time", "cohort", "y")}, copy=False)
    base_rss = _peak_rss_mb()
    start = time.perf_counter()
    importlib.import_module(MODULES[tool])
    import_s = time.perf_counter() - start
    import_rss = _peak_rss_mb()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        att = RUNNERS[tool](df, boot)
    wall = time.perf_counter() - start
    peak = _peak_rss_mb()
    print(
        json.dumps(
            {
                "wall_s": wall,
                "import_s": import_s,
                "peak_rss_mb": peak,
                "rss_after_load_mb": base_rss,
                "rss_after_import_mb": import_rss,
                "att": att,
            }
        )
    )


def _measure(tool: str, path: str, boot: bool) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_did",
        "--child",
        tool,
        path,
        "boot" if boot else "analytic",
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {TIMEOUT_S} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": tail[:300]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> dict[str, Any]:
    """Run the side-by-side benchmark and print times, memory and ratios.

    Returns
    -------
    dict
        Per mode (``analytic``, ``bootstrap``) and tool: wall time, peak RSS and
        the evalkit / peer ratios.
    """
    figures: dict[str, Any] = {
        "units": N_UNITS,
        "periods": N_PERIODS,
        "rows": N_UNITS * N_PERIODS,
        "n_boot": N_BOOT,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "panel.npz")
        panel = make_panel()
        np.savez(path, **{c: panel[c].to_numpy() for c in panel.columns})
        del panel
        for mode, boot in (("analytic", False), ("bootstrap", True)):
            row: dict[str, Any] = {}
            for tool in RUNNERS:
                # Best of two runs (the machine is shared); one run when it takes > 60 s.
                first = _measure(tool, path, boot)
                if "error" not in first and first["wall_s"] < 60:
                    second = _measure(tool, path, boot)
                    if "error" not in second:
                        first["wall_s"] = min(first["wall_s"], second["wall_s"])
                        first["import_s"] = min(first["import_s"], second["import_s"])
                        for key in ("peak_rss_mb", "rss_after_load_mb", "rss_after_import_mb"):
                            first[key] = max(first[key], second[key])
                row[tool] = first
            ours = row["evalkit"]
            for peer in ("diff-diff", "csdid"):
                theirs = row[peer]
                if "error" in ours or "error" in theirs:
                    continue
                row[f"time_ratio_vs_{peer}"] = ours["wall_s"] / theirs["wall_s"]
                row[f"memory_ratio_vs_{peer}"] = ours["peak_rss_mb"] / theirs["peak_rss_mb"]
                own = ours["peak_rss_mb"] - ours["rss_after_load_mb"]
                other = theirs["peak_rss_mb"] - theirs["rss_after_load_mb"]
                row[f"own_memory_ratio_vs_{peer}"] = own / other if other > 0 else float("nan")
            figures[mode] = row
    print(
        "\nwall: estimation + aggregation (best of two). peak: VmHWM of the tool's process."
        "\nbaseline: peak after loading the data (Python, pandas, the DataFrame), before the"
        "\ntool is imported; above: peak − baseline (the tool's import and its estimation)."
        "\nratios evalkit / peer: time = wall / wall; memory = peak / peak (whole process);"
        "\nown memory = above / above. Issue #5 asks for ≤ 0.5 against diff-diff."
    )
    for mode in ("analytic", "bootstrap"):
        print(f"\n{mode} standard errors ({N_UNITS:,} units × {N_PERIODS} periods)")
        print(
            f"  {'tool':10s} {'wall':>8s}   {'import':>6s}   {'peak':>7s}   {'baseline':>8s}"
            f"   {'above':>7s}   {'of which import':>15s}   simple ATT"
        )
        for tool in RUNNERS:
            r = figures[mode][tool]
            if "error" in r:
                print(f"  {tool:10s} unavailable: {r['error']}")
            else:
                own = r["peak_rss_mb"] - r["rss_after_load_mb"]
                imp = r["rss_after_import_mb"] - r["rss_after_load_mb"]
                print(
                    f"  {tool:10s} {r['wall_s']:6.2f} s   {r['import_s']:4.1f} s"
                    f"   {r['peak_rss_mb']:4.0f} MB   {r['rss_after_load_mb']:5.0f} MB"
                    f"   {own:4.0f} MB   {imp:12.0f} MB   {r['att']:.4f}"
                )
        for key, value in figures[mode].items():
            if key.endswith(("diff-diff", "csdid")) and "ratio" in key:
                print(f"  {key:30s} {value:.2f}")
    return figures


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4] == "boot")
    else:
        main()
