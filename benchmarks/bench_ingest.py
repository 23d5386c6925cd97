"""Ingest benchmark: validate + ingest 1,000,000 case-event rows from a Dutch Excel CSV.

Targets (issue 4): at most 15 s wall time and 2 GB peak memory, and faster than
pandera's lazy validation of the same rules. Each measurement runs in its own
child process, which reports its own peak resident memory (Linux ``VmHWM``).
It also times the two XLSX readers on the demo's case-event workbook.

Run with ``python -m benchmarks ingest`` (``make bench`` runs everything).
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

ROWS = 1_000_000
ERROR_SHARE = 0.002
HEADER = (
    "gebeurtenis_id;casus_id;bsn;gemeentecode;domein;organisatietype;organisatie;coach;"
    "gebeurtenis;datum;crisis;uitkomst"
)
STEPS = ["aanmelding", "eerste_gesprek", "plan_van_aanpak", "start_traject", "uitstroom"]


def valid_bsns(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n`` distinct-ish valid BSNs (they pass the elfproef) as strings."""
    out: list[np.ndarray] = []
    weights = np.array([9, 8, 7, 6, 5, 4, 3, 2])
    while sum(len(o) for o in out) < n:
        digits = rng.integers(0, 10, size=(n, 8))
        digits[:, 0] = rng.integers(1, 10, size=n)
        check = (digits @ weights) % 11
        ok = check < 10
        full = np.column_stack([digits[ok], check[ok]])
        out.append(full)
    arr = np.vstack(out)[:n]
    return np.array(["".join(map(str, r)) for r in arr])


def write_csv(path: Path, rows: int = ROWS, seed: int = 1) -> int:
    """Write a case-event CSV as Dutch Excel exports it; return how many rows carry an error."""
    rng = np.random.default_rng(seed)
    cases = rows // len(STEPS)
    persons = valid_bsns(cases, rng)
    case_ids = np.char.add("D", np.char.zfill(np.arange(cases).astype(str), 7))
    start = np.datetime64("2022-01-01") + rng.integers(0, 1000, size=cases).astype("timedelta64[D]")
    gaps = rng.integers(1, 40, size=(cases, len(STEPS))).cumsum(axis=1)
    dates = start[:, None] + gaps.astype("timedelta64[D]")
    municipality = np.char.add("GM", np.char.zfill(rng.integers(1, 400, size=cases).astype(str), 4))
    domain = rng.choice(["schulden", "onderwijs", "wonen", "werk", "inkomen", "zorg"], size=cases)
    org = rng.choice(["gemeente", "schuldhulp", "jongerencoach", "school", "uwv"], size=cases)
    idx = np.repeat(np.arange(cases), len(STEPS))
    step = np.tile(np.arange(len(STEPS)), cases)
    date_text = np.datetime_as_string(dates.reshape(-1), unit="D")
    dutch = np.char.add(
        np.char.add(
            np.char.add(
                np.char.add([d[8:10] for d in date_text], "-"), [d[5:7] for d in date_text]
            ),
            "-",
        ),
        [d[:4] for d in date_text],
    )
    columns = {
        "id": np.char.add("E", np.arange(len(idx)).astype(str)),
        "case": case_ids[idx],
        "bsn": persons[idx],
        "gm": municipality[idx],
        "domain": domain[idx],
        "orgtype": org[idx],
        "org": np.char.add("Organisatie ", (idx % 97).astype(str)),
        "coach": np.char.add("C", (idx % 500).astype(str)),
        "type": np.array(STEPS)[step],
        "date": np.asarray(dutch),
        "crisis": rng.choice(["nee", "ja"], size=len(idx), p=[0.95, 0.05]),
        "outcome": np.where(step == len(STEPS) - 1, "werk", ""),
    }
    n_bad = int(len(idx) * ERROR_SHARE)
    bad_rows = rng.choice(len(idx), size=n_bad, replace=False)
    kinds = np.arange(n_bad) % 5
    columns["bsn"] = columns["bsn"].astype("<U12")
    columns["bsn"][bad_rows[kinds == 0]] = "123456789"  # fails the elfproef
    columns["date"] = columns["date"].astype("<U12")
    columns["date"][bad_rows[kinds == 1]] = "31-02-2024"  # impossible date
    columns["gm"][bad_rows[kinds == 2]] = "GM12"  # pattern
    columns["domain"] = columns["domain"].astype("<U12")
    columns["domain"][bad_rows[kinds == 3]] = "onbekend"  # not allowed
    columns["crisis"] = columns["crisis"].astype("<U6")
    columns["crisis"][bad_rows[kinds == 4]] = "soms"  # not a yes/no
    lines = [";".join(values) for values in zip(*columns.values(), strict=True)]
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return n_bad


CHILD_EVALKIT = """
import json, sys, time
from pathlib import Path
from benchmarks.bench_ingest import peak_kb
t0 = time.perf_counter()
from evalkit._cli._memory import turn_off_huge_pages
turn_off_huge_pages()  # as the `evalkit` command does first
from evalkit.ingest import ingest_files
r = ingest_files("case_events", [Path(sys.argv[1])], store_path=Path(sys.argv[2]))[0]
print(json.dumps({"seconds": time.perf_counter() - t0, "rows_read": r.rows_read,
                  "accepted": r.accepted, "rejected": r.rejected, "failures": len(r.failures),
                  "peak_kb": peak_kb()}))
"""

CHILD_COMPARE = """
import json, sys
from pathlib import Path
from benchmarks.bench_ingest import compare, peak_kb
out = compare(Path(sys.argv[1]))
out["peak_kb"] = peak_kb()
print(json.dumps(out))
"""


def peak_kb() -> int:
    """Return this process's peak resident memory in KiB.

    Linux's ``VmHWM`` belongs to the process image, so unlike ``ru_maxrss`` it does not
    carry over the parent's memory from before ``exec``.
    """
    import resource

    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _child(code: str, *args: str) -> tuple[dict[str, float], float, float]:
    start = time.perf_counter()
    env = {**os.environ, "EVALKIT_PSEUDONYM_KEY": "benchmark-key-not-secret-4b7e1a9d2c5f8036"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak = result.pop("peak_kb")  # the child's own peak RSS (KiB on Linux)
    return result, wall, peak / 1024


def compare(path: Path) -> dict[str, float]:
    """Time evalkit's checks and pandera's lazy validation of the same rules on the same rows.

    Both start from the same typed frame (read and parsed once by evalkit's reader);
    pandera gets the same rules: required, allowed values, pattern, date range and
    not in the future, unique event id, elfproef, event order per case and one person
    per case. evalkit's figure is its full validation including parsing the text cells.
    """
    import pandas as pd
    import pandera.pandas as pa

    from evalkit.ingest import load_schema
    from evalkit.ingest._pseudonym import elfproef
    from evalkit.ingest._readers import read_raw
    from evalkit.ingest._validate import validate_table

    schema = load_schema("case_events")
    raw = read_raw(path)
    t0 = time.perf_counter()
    ours = validate_table(raw, schema, file=str(path))
    ours_s = time.perf_counter() - t0
    typed = ours.data.copy()
    # Pandera sees the raw BSNs (as a validator run before pseudonymisation would).
    typed["person_id"] = raw.frame["bsn"].to_numpy()
    spec = schema.columns

    def allowed(name: str) -> pa.Check:
        return pa.Check.isin(list(spec[name].allowed or ()))

    def order(df: pd.DataFrame) -> pd.Series:
        ok = pd.Series(True, index=df.index)
        first = df.groupby(["event_type", "case_id"])["event_date"].min()
        for pair in schema.rules[0]["before"]:
            a, b = pair["first"], pair["then"]
            if a not in first.index.get_level_values(0) or b not in first.index.get_level_values(0):
                continue
            limit = df["case_id"].map(first.xs(a, level=0))
            ok &= ~((df["event_type"] == b) & (df["event_date"] < limit)).fillna(False)
        return ok

    def one_person(df: pd.DataFrame) -> pd.Series:
        # as evalkit: only valid BSNs count (an invalid one is already its own failure)
        person = df["person_id"].where(elfproef(df["person_id"].tolist()))
        counts = person.groupby(df["case_id"]).transform("nunique")
        return counts <= 1

    today = pd.Timestamp.today().normalize()
    pandera_schema = pa.DataFrameSchema(
        {
            "event_id": pa.Column(str, nullable=False, unique=True),
            "case_id": pa.Column(str, nullable=False),
            "person_id": pa.Column(
                str,
                nullable=False,
                checks=pa.Check(
                    lambda s: pd.Series(elfproef(s.tolist()), index=s.index), name="elfproef"
                ),
            ),
            "municipality": pa.Column(
                str, nullable=False, checks=pa.Check.str_matches(r"^GM\d{4}$")
            ),
            "domain": pa.Column(str, nullable=False, checks=allowed("domain")),
            "org_type": pa.Column(str, nullable=False, checks=allowed("org_type")),
            "organisation": pa.Column(str, nullable=False),
            "event_type": pa.Column(str, nullable=False, checks=allowed("event_type")),
            "event_date": pa.Column(
                "datetime64[s]",
                nullable=False,
                checks=[pa.Check.ge(pd.Timestamp("2000-01-01")), pa.Check.le(today)],
            ),
            "crisis": pa.Column("boolean", nullable=True),
        },
        checks=[
            pa.Check(order, name="event_order"),
            pa.Check(one_person, name="one_person_per_case"),
        ],
        coerce=False,
        strict=False,
    )
    t0 = time.perf_counter()
    try:
        pandera_schema.validate(typed, lazy=True)
        cases, rows = 0, 0
    except pa.errors.SchemaErrors as exc:
        cases = len(exc.failure_cases)
        rows = int(exc.failure_cases["index"].dropna().nunique())
    pandera_s = time.perf_counter() - t0
    return {
        "evalkit_validate_s": ours_s,
        "evalkit_failures": len(ours.failures),
        "pandera_validate_s": pandera_s,
        "pandera_failure_cases": cases,
        "pandera_rows_failing": rows,
        "evalkit_rows_failing": int((~ours.accepted).sum()),
    }


def xlsx_read() -> dict[str, float]:
    """Time both XLSX readers on the demo's case-event workbook (best of three)."""
    from evalkit.ingest import _xlsx
    from evalkit.synth import PilotDesign, generate
    from evalkit.synth._write import write_case_events_xlsx

    events = generate(PilotDesign.preset("pilot"), 1).case_events
    figures: dict[str, float] = {"xlsx_rows": len(events)}
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-") as tmp:
        path = write_case_events_xlsx(events, Path(tmp) / "case_events.xlsx")
        for name, read in (("calamine", _xlsx._read_calamine), ("openpyxl", _xlsx._read_openpyxl)):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                read(path, None)
                times.append(time.perf_counter() - start)
            figures[f"xlsx_read_{name}_s"] = round(min(times), 3)
    return figures


def main() -> dict[str, float]:
    """Generate the CSV, run ingest and the pandera comparison in child processes; print figures."""
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-") as tmp:
        csv_path = Path(tmp) / "case_events_1m.csv"
        n_bad = write_csv(csv_path)
        size_mb = csv_path.stat().st_size / 1e6
        ingest, wall, peak_mb = _child(
            CHILD_EVALKIT, str(csv_path), str(Path(tmp) / "bench.duckdb")
        )
        try:
            comparison, _wall, compare_peak = _child(CHILD_COMPARE, str(csv_path))
        except RuntimeError as exc:  # pandera missing: install the bench extra
            comparison, compare_peak = {"error": str(exc).strip().splitlines()[-1]}, float("nan")
    figures = {
        "rows": ROWS,
        "csv_mb": round(size_mb, 1),
        "rows_with_errors": n_bad,
        "ingest_wall_s": round(wall, 2),
        "ingest_inside_s": round(ingest["seconds"], 2),
        "ingest_peak_rss_mb": round(peak_mb, 0),
        "rows_read": ingest["rows_read"],
        "accepted": ingest["accepted"],
        "rejected": ingest["rejected"],
        **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in comparison.items()},
        "compare_peak_rss_mb": round(compare_peak, 0),
        **xlsx_read(),
        "target_wall_s": 15,
        "target_peak_mb": 2048,
    }
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    ok_time = figures["ingest_wall_s"] <= 15
    ok_mem = figures["ingest_peak_rss_mb"] <= 2048
    faster = figures.get("evalkit_validate_s", np.inf) < figures.get("pandera_validate_s", 0)
    print(
        f"{'verdict':>24}: time {'ok' if ok_time else 'OVER'}, "
        f"memory {'ok' if ok_mem else 'OVER'}, "
        f"{'faster' if faster else 'NOT faster'} than pandera"
    )
    return figures


if __name__ == "__main__":
    main()
