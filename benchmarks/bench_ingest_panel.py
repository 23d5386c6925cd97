"""Outcome-panel ingest side by side with pandas, and ``evalkit did --data`` on Parquet.

Issue #17's targets on this 2-core machine: 1,000,000 outcome-panel rows read,
validated, pseudonymised and stored in at most half the time of a plain
``pandas.read_csv(sep=';', decimal=',', dtype=str)`` of the same file and in
≤ 1 GB; a file whose rows are mostly rejected costs no more per row than an accepted
one; an export with irregular rows stays bounded (the issue's target is a 2 GB CSV
under 1 GB resident; ``EVALKIT_BENCH_IRREGULAR_MB`` sets the size here, default 100);
the same panel as typed Parquet (dates, integers, booleans validated on their values);
``evalkit did --data panel.parquet`` on the 1.2M-row panel in at most half of
diff-diff's whole-process time. Every figure comes from its own child process
(wall time of the whole process, peak resident memory ``VmHWM``), measured side by
side so the ratios hold under load; the load average is printed with them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 1_000_000
MONTHS = 10
KEY = "benchmark-key-not-secret-4b7e1a9d2c5f8036"
HEADER = (
    "BSN;Maand;Gemeentecode;Geboortemaand;Geslacht;Leeftijd;Problematische schuld;"
    "Schuldbedrag;Ingeschreven onderwijs;Startkwalificatie behaald;Voortijdig schoolverlaten;"
    "Dakloos;Werkend;Bijstandsuitkering;Geen werk geen opleiding"
)


def _bsns(n: int, skip: int = 0) -> np.ndarray:
    """Return ``n`` elfproef-valid BSNs, after the first ``skip`` ones."""
    weights = np.array([9, 8, 7, 6, 5, 4, 3, 2])
    start = 10_000_000 + 12 * skip  # 11 of every 12 bases, or fewer, give a valid BSN
    base = np.arange(start, start + 12 * n)
    digits = (base[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    check = (digits @ weights) % 11
    ok = check < 10
    numbers = base[ok] * 10 + check[ok]
    return np.char.zfill(numbers[:n].astype(str), 9)


def write_panel(
    path: Path, rows: int = ROWS, repeat_share: float = 0.0, first_person: int = 0
) -> None:
    """Write a Dutch Excel outcome-panel CSV; ``repeat_share`` of rows repeat earlier keys.

    ``first_person`` shifts the BSNs, so panels written with different shifts share no key.
    """
    persons = rows // MONTHS
    rng = np.random.default_rng(1)
    person = np.repeat(np.arange(persons), MONTHS)
    month = np.tile(np.arange(1, MONTHS + 1), persons)
    if repeat_share:
        fresh = int(rows * (1 - repeat_share))
        again = rng.integers(0, fresh, size=rows - fresh)  # a cumulative export repeats rows
        person = np.concatenate([person[:fresh], person[again]])
        month = np.concatenate([month[:fresh], month[again]])
    bsn = _bsns(persons, first_person)[person]
    month_text = np.char.add(np.char.add(np.char.zfill(month.astype(str), 2), "-"), "2025")
    gm = np.char.add("GM", np.char.zfill((person % 300 + 1).astype(str), 4))
    age = np.where(month < 5, "19", "20")
    debt = np.where(person % 7 == 0, "ja", "nee")
    amount = np.where(person % 7 == 0, "1.234,50", "0")
    sex = np.where(person % 2 == 0, "M", "V")
    cols = [bsn, month_text, gm, "05-2005", sex, age, debt, amount, "ja", "nee", "nee", "nee"]
    cols += ["nee", "nee", "nee"]
    lines = np.full(rows, "", dtype=object)
    for i, col in enumerate(cols):
        lines = lines + (";" if i else "") + np.broadcast_to(np.asarray(col, dtype=object), rows)
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")


def panel_frame(rows: int = ROWS) -> pd.DataFrame:
    """Return the panel of :func:`write_panel` typed, as a Parquet or SPSS export has it.

    Months and birth months are dates, age an integer, the amount a float and the
    flags booleans; the BSN stays text (nine digits, leading zeros kept).
    """
    persons = rows // MONTHS
    person = np.repeat(np.arange(persons), MONTHS)
    month = np.tile(np.arange(MONTHS), persons)
    debt = person % 7 == 0
    names = [h.replace(" ", "_") for h in HEADER.split(";")]
    values: list[object] = [
        _bsns(persons)[person],
        (np.datetime64("2025-01", "M") + month).astype("datetime64[s]"),
        np.char.add("GM", np.char.zfill((person % 300 + 1).astype(str), 4)),
        np.full(rows, np.datetime64("2005-05-01", "s")),
        np.where(person % 2 == 0, "M", "V"),
        np.where(month < 4, 19, 20).astype(np.int64),
        debt,
        np.where(debt, 1234.5, 0.0),
        np.ones(rows, dtype=bool),
        *(np.zeros(rows, dtype=bool) for _ in range(6)),
    ]
    return pd.DataFrame(dict(zip(names, values, strict=True)))


def write_panel_parquet(path: Path, rows: int = ROWS) -> None:
    """Write the panel as Parquet, months and birth months as Parquet dates."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = panel_frame(rows)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name in ("Maand", "Geboortemaand"):
        days = pa.array(frame[name].to_numpy(dtype="datetime64[D]"), type=pa.date32())
        table = table.set_column(table.schema.get_field_index(name), name, days)
    pq.write_table(table, path)


def write_panel_sav(path: Path, rows: int = ROWS) -> None:
    """Write the panel as an SPSS file (flags as 1/0 numbers: SPSS has no yes/no type)."""
    import pyreadstat

    frame = panel_frame(rows)
    flags = [c for c in frame.columns if frame[c].dtype == bool]
    frame[flags] = frame[flags].astype(float)
    for name in ("Maand", "Geboortemaand"):  # pyreadstat writes second-unit dates as 1970
        frame[name] = frame[name].astype("datetime64[us]")
    pyreadstat.write_sav(frame, str(path))


def write_irregular(path: Path, megabytes: int) -> None:
    """Append panels of new persons (valid rows, new keys) with a short row every 100,000 rows."""
    block = Path(str(path) + ".block")
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        copy = 0
        while out.tell() < megabytes * 1_000_000:
            write_panel(block, rows=200_000, first_person=copy * 20_000)
            lines = block.read_text(encoding="utf-8").splitlines()[1:]
            for i, line in enumerate(lines):
                out.write(line + "\n")
                if i % 100_000 == 0:
                    out.write(line[:20] + "\n")  # a short row: the export broke a line
            copy += 1
    block.unlink()


INGEST = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from evalkit._cli._memory import turn_off_huge_pages
turn_off_huge_pages()  # as the `evalkit` command does first
from evalkit.ingest import ingest_files
clean_first = sys.argv[3:] != ["chunked"]
r = ingest_files("outcome_panel", [Path(sys.argv[1])], store_path=Path(sys.argv[2]),
                 clean_first=clean_first)[0]
from benchmarks.bench_ingest import peak_kb
import os
cpu = os.times()
print(json.dumps({"inside_s": time.perf_counter() - t0, "rows_read": r.rows_read,
                  "accepted": r.accepted, "rejected": r.rejected, "peak_kb": peak_kb(),
                  "cpu_s": round(cpu.user + cpu.system, 2)}))
"""
PANDAS = """
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
frame = pd.read_csv(sys.argv[1], sep=";", decimal=",", dtype=str)
from benchmarks.bench_ingest import peak_kb
import os
cpu = os.times()
print(json.dumps({"inside_s": time.perf_counter() - t0, "rows_read": len(frame),
                  "peak_kb": peak_kb(), "cpu_s": round(cpu.user + cpu.system, 2)}))
"""
DID = """
import contextlib, io, json, sys, time
from benchmarks.bench_ingest import peak_kb
from evalkit.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["did", "--data", sys.argv[1], "--outcome", "y", "--unit", "unit", "--time", "time",
          "--cohort", "cohort", "--estimator", "callaway_santanna", "--json"])
print(json.dumps({"peak_kb": peak_kb()}))
"""
DIFF_DIFF = """
import json, sys, warnings
warnings.simplefilter("ignore")
import pandas as pd
from benchmarks.bench_ingest import peak_kb
from benchmarks.bench_did import _run_diff_diff
_run_diff_diff(pd.read_parquet(sys.argv[1]), False)
print(json.dumps({"peak_kb": peak_kb()}))
"""


def _child(code: str, *args: str) -> dict[str, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "EVALKIT_PSEUDONYM_KEY": KEY},
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall_s"] = round(wall, 2)
    out["peak_mb"] = round(out.pop("peak_kb") / 1024)
    return out


def _did_side_by_side(tmp: Path) -> dict[str, object]:
    from benchmarks.bench_did import make_panel

    path = tmp / "panel.parquet"
    make_panel().to_parquet(path, index=False)
    ours = _child(DID, str(path))
    peer = _child(DIFF_DIFF, str(path))
    ratio = ours.get("wall_s", np.nan) / peer["wall_s"] if "wall_s" in peer else None
    return {"did_parquet_evalkit": ours, "did_parquet_diff_diff": peer, "did_time_ratio": ratio}


def main() -> dict[str, object]:
    """Write the files, measure each tool in its own child process, print the figures."""
    figures: dict[str, object] = {"load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-") as tmp_text:
        tmp = Path(tmp_text)
        panel, mostly = tmp / "panel_1m.csv", tmp / "panel_1m_repeats.csv"
        write_panel(panel)
        write_panel(mostly, repeat_share=0.9)
        figures["csv_mb"] = round(panel.stat().st_size / 1e6, 1)
        figures["pandas_read_csv"] = _child(PANDAS, str(panel))
        figures["evalkit_ingest"] = _child(INGEST, str(panel), str(tmp / "a.duckdb"))
        figures["evalkit_ingest_chunked_only"] = _child(
            INGEST, str(panel), str(tmp / "a2.duckdb"), "chunked"
        )
        figures["evalkit_ingest_mostly_rejected"] = _child(
            INGEST, str(mostly), str(tmp / "b.duckdb")
        )
        typed = tmp / "panel_1m.parquet"
        write_panel_parquet(typed)
        figures["parquet_mb"] = round(typed.stat().st_size / 1e6, 1)
        figures["evalkit_ingest_parquet"] = _child(INGEST, str(typed), str(tmp / "p.duckdb"))
        ours, theirs = figures["evalkit_ingest"], figures["pandas_read_csv"]
        if isinstance(ours, dict) and isinstance(theirs, dict) and "wall_s" in ours:
            figures["ingest_over_pandas"] = round(ours["wall_s"] / theirs["wall_s"], 2)
        megabytes = int(os.environ.get("EVALKIT_BENCH_IRREGULAR_MB", "100"))
        irregular = tmp / "irregular.csv"
        write_irregular(irregular, megabytes)
        figures["irregular_csv_mb"] = round(irregular.stat().st_size / 1e6)
        figures["evalkit_ingest_irregular"] = _child(INGEST, str(irregular), str(tmp / "c.duckdb"))
        irregular.unlink()
        figures.update(_did_side_by_side(tmp))
    for key, value in figures.items():
        print(f"{key:>32}: {value}")
    print(
        f"{'targets':>32}: ingest/pandas ≤ 0.5 and ≤ 1024 MB; mostly rejected no dearer per "
        "row; 2 GB irregular CSV < 1024 MB; did on Parquet / diff-diff ≤ 0.5"
    )
    return figures


if __name__ == "__main__":
    main()
