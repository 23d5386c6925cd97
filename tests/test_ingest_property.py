"""Property: random corruption of rows never crashes the ingest and never loses a row."""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_corpus import make_bad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.ingest import validate_file

KINDS = {
    "outcome_panel": (make_bad.PANEL_HEADER, make_bad.panel_rows(8)),
    "case_events": (make_bad.EVENT_HEADER, make_bad.event_rows()),
    "questionnaire": (make_bad.Q_HEADER, make_bad.q_rows()),
}
# Anything a broken export may hold in a cell, delimiters included; quotes and line breaks
# are left out because they legitimately merge lines into one record.
CELL = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_characters='"\r\n', blacklist_categories=("Cs",)),
        max_size=12,
    ),
    st.sampled_from(
        [
            "",
            " ",
            ";",
            ";;",
            "9",
            "-1",
            "1e9",
            "31-02-2025",
            "01-2099",
            "NaN",
            "ja",
            "n.v.t.",
            "000000000",
            "123456789",
            "GM12",
            "1.234,5",
            "\t",
            "€ 12,50",
            "ü",
            "0x1F",
        ]
    ),
)


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[str, str, int]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    header, rows = KINDS[kind]
    rows = [list(r) for r in rows]
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(rows) - 1))
        action = draw(
            st.sampled_from(["cell", "cell", "cell", "drop_field", "add_field", "copy_row"])
        )
        if action == "cell":
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(CELL)
        elif action == "drop_field" and len(rows[i]) > 1:
            rows[i].pop(draw(st.integers(0, len(rows[i]) - 1)))
        elif action == "add_field":
            rows[i].append(draw(CELL))
        elif action == "copy_row":
            rows.append(list(rows[i]))
    # A row whose cells are all blank is no data row (Excel leaves those behind): keep one cell.
    rows = [r if any(c.strip(" ;\t") for c in r) else ["x", *r[1:]] for r in rows]
    text = ";".join(header) + "\n" + "\n".join(";".join(r) for r in rows) + "\n"
    return kind, text, len(rows)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "property-test-key-2d6f9b1e4a7c8035e9f2")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=corrupted())
def test_corruption_never_crashes_or_loses_a_row(
    case: tuple[str, str, int], tmp_path: Path
) -> None:
    kind, text, n_rows = case
    path = tmp_path / f"{kind}.csv"
    path.write_text(text, encoding="utf-8")
    report = validate_file(kind, path)
    assert report.rows_read == n_rows
    assert report.accepted + report.rejected == report.rows_read
    rows = set(report.failures["row"])
    assert len(rows) == report.rejected
    assert rows <= set(range(1, n_rows + 1))
    assert report.failures["message"].notna().all()
