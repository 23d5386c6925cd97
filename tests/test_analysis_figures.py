"""Monitoring figures, tested through the data that goes into them."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd

from evalkit.analysis.questionnaire import questionnaire_tables
from evalkit.analysis.throughput import throughput_tables
from evalkit.report.figures_monitoring import (
    km_plot,
    norm_series,
    norm_share_plot,
    report_figures,
    response_funnel_plot,
    zrm_domains_plot,
)

sys.path.insert(0, str(Path(__file__).parent))
from test_analysis_questionnaire import INSTRUMENTS, long, panel
from test_analysis_throughput import ev


def events() -> pd.DataFrame:
    rows = []
    for i in range(30):
        mun = "GM0001" if i % 2 else "GM0002"
        start = pd.Timestamp("2024-10-01") + pd.Timedelta(days=7 * i)
        rows.append(ev(f"c{i}", "registration", start, mun=mun))
        if i % 5 != 4:
            rows.append(
                ev(f"c{i}", "first_conversation", start + pd.Timedelta(days=3 + i), mun=mun)
            )
    return pd.DataFrame(rows)


def tables():
    return throughput_tables(
        events(),
        reference_date=date(2025, 6, 30),
        pilot_starts={"GM0001": date(2025, 1, 1)},
        comparison_units=["GM0002"],
    )


def test_km_plot_marks_the_norm_and_hides_small_risk_sets():
    tabs = tables()
    p = km_plot(
        tabs["km_curve"], interval="registration_to_first_conversation", norm_days=28, threshold=5
    )
    assert p.data["n_risk"].min() >= 5
    assert set(p.data["curve"]) == {"Vóór de pilot", "Tijdens de pilot"}
    vlines = [layer for layer in p.layers if type(layer.geom).__name__ == "geom_vline"]
    assert len(vlines) == 1 and float(vlines[0].geom.data["xintercept"].iloc[0]) == 28.0
    assert (
        p.data["surv"].diff().fillna(0)[p.data["curve"].eq(p.data["curve"].shift())] <= 1e-12
    ).all()  # non-increasing within a curve
    p.draw()  # renders


def test_norm_share_plot_drops_small_months():
    tabs = tables()
    p = norm_share_plot(tabs["norms_monthly"], norm="debt_help_first_conversation", threshold=2)
    assert set(p.data["group"]) <= {"pilot", "comparison"}
    for col in ("n_within", "n_breach"):
        assert ((p.data[col] == 0) | (p.data[col] >= 2)).all()
    assert p.data["share_within"].between(0, 1).all()
    p.draw()
    q = norm_share_plot(
        tabs["norms_quarterly"], norm="debt_help_first_conversation", pilot_start="2025-01"
    )
    quarters = tabs["norms_quarterly"]
    assert set(quarters["quarter"]) >= {"2024-Q4", "2025-Q1"}
    assert set(q.data["date"].dt.strftime("%Y-%m")) <= {"2024-10", "2025-01", "2025-04"}
    row = quarters.loc[
        (quarters["norm"] == "debt_help_first_conversation")
        & (quarters["group"] == "all")
        & (quarters["quarter"] == "2024-Q4")
    ]
    assert row["n"].item() == 14  # weekly from Tue 1 Oct to Tue 31 Dec 2024
    vlines = [layer for layer in q.layers if type(layer.geom).__name__ == "geom_vline"]
    assert len(vlines) == 1
    q.draw()


def test_norm_series_drops_a_series_selected_on_its_outcome():
    rows = []
    for i, (w, b) in enumerate([(20, 0), (18, 2), (19, 1), (20, 0), (17, 12), (15, 15)]):
        rows.append(
            {
                "norm": "x",
                "group": "pilot",
                "quarter": f"{2024 + i // 4}-Q{i % 4 + 1}",
                "n_within": w,
                "n_breach": b,
                "n_unknown": 0,
                "n": w + b,
                "share_within": w / (w + b),
            }
        )
    for i in range(4):
        rows.append(
            {
                "norm": "x",
                "group": "comparison",
                "quarter": f"2024-Q{i + 1}",
                "n_within": 30,
                "n_breach": 10 + i,
                "n_unknown": 0,
                "n": 40 + i,
                "share_within": 30 / (40 + i),
            }
        )
    frame = pd.DataFrame(rows)
    shown = norm_series(frame, norm="x", threshold=10)
    # pilot: 2 of 6 periods have 1-9 breaches (a third > a quarter): the series is dropped
    assert set(shown["group"]) == {"comparison"} and len(shown) == 4
    lenient = norm_series(frame, norm="x", threshold=2)  # only the (19, 1) period hidden
    assert len(lenient.loc[lenient["group"] == "pilot"]) == 5


def test_questionnaire_figures_and_report_hook():
    rows = panel(1)
    zrm = []
    for i in range(12):
        zrm += long(f"z{i}", "T0", "zrm", [2] * 13)
        zrm += long(f"z{i}", "T12m", "zrm", [4] * 13)
    q = questionnaire_tables(pd.concat([rows, pd.DataFrame(zrm)]), instruments=INSTRUMENTS)
    z = zrm_domains_plot(q["zrm_domains"], group="pilot")
    assert set(z.data["wave"]) == {"T0", "T12m"} and len(z.data) == 26
    assert z.data.loc[z.data["wave"] == "T12m", "mean"].eq(4).all()
    # pilot: 72 at T0, 62 at T12m; comparison: 60 and 50
    f = response_funnel_plot(q["response"], threshold=61)
    assert f.data["n_responded"].tolist() == [72, 62] and set(f.data["group"]) == {"pilot"}
    bundle = {
        "throughput": {k: v.to_dict("records") for k, v in tables().items()},
        "questionnaire": {k: v.to_dict("records") for k, v in q.items()},
    }
    mon = report_figures(bundle, section="monitor", lang="en", threshold=1)
    names = [n for n, _, _ in mon]
    assert "km_registration_to_first_conversation" in names
    assert "norm_debt_help_first_conversation" in names
    assert all("Dashed line" in c for n, c, _ in mon if n.startswith("km_"))
    qf = report_figures(bundle, section="questionnaire", lang="nl", threshold=3)
    assert [n for n, _, _ in qf] == ["zrm_domains", "response_funnel"]
    assert report_figures({}, section="questionnaire", lang="nl", threshold=10) == []


def test_figures_are_deterministic():
    from evalkit.report.figures import png_bytes

    tabs = tables()
    first = png_bytes(
        km_plot(tabs["km_curve"], interval="registration_to_first_conversation", norm_days=28)
    )
    again = png_bytes(
        km_plot(tables()["km_curve"], interval="registration_to_first_conversation", norm_days=28)
    )
    assert first == again and first[:8] == b"\x89PNG\r\n\x1a\n"


def _manual_colours(plot) -> dict:
    """Label -> colour of a plot's manual colour/fill scales (their palette is the mapping)."""
    out = {}
    for scale in plot.scales:
        values = scale.palette(0)
        if isinstance(values, dict):
            out.update(values)
    return out


def test_one_colour_for_pilot_and_one_for_comparison_in_every_figure():
    from evalkit.report.palette import COLOURS

    rows = panel(1)
    zrm = []
    for i in range(12):
        for grp in ("pilot", "comparison"):
            zrm += long(f"{grp}{i}z", "T0", "zrm", [2] * 13, group=grp)
            zrm += long(f"{grp}{i}z", "T12m", "zrm", [4] * 13, group=grp)
    q = questionnaire_tables(pd.concat([rows, pd.DataFrame(zrm)]), instruments=INSTRUMENTS)
    bundle = {
        "throughput": {k: v.to_dict("records") for k, v in tables().items()},
        "questionnaire": {k: v.to_dict("records") for k, v in q.items()},
    }
    plots = report_figures(bundle, section="monitor", lang="nl", threshold=1)
    plots += report_figures(bundle, section="questionnaire", lang="nl", threshold=1)
    seen = 0
    for name, _, plot in plots:
        colours = _manual_colours(plot)
        if {"pilot", "vergelijking"} <= {k.lower() for k in colours}:
            seen += 1
            # one legend entry, spelled as in every other figure of the report
            assert colours["Pilot"] == COLOURS["pilot"], name
            assert colours["Vergelijking"] == COLOURS["comparison"], name
    # the Kaplan–Meier curve (pilot vs comparison, not pooled), norm, ZRM and response charts
    assert seen >= 4, [n for n, _, _ in plots]


def test_outcome_trend_and_synthetic_control_take_the_same_two_colours():
    from evalkit.report.figures import trend_plot
    from evalkit.report.palette import COLOURS
    from evalkit.report.sections_synthetic import trajectory_plot

    trends = pd.DataFrame(
        {
            "outcome": ["debts"] * 4,
            "month": ["2025-01", "2025-01", "2025-02", "2025-02"],
            "group": ["comparison", "pilot", "comparison", "pilot"],  # comparison first on purpose
            "mean": [0.3, 0.2, 0.31, 0.18],
        }
    )
    plot = trend_plot(trends, {"debts": "Schulden"}, "2025-02", "nl")
    colours = {k.lower(): v for k, v in _manual_colours(plot).items()}
    assert colours == {"pilot": COLOURS["pilot"], "vergelijking": COLOURS["comparison"]}
    frame = pd.DataFrame(
        {"outcome_label": ["Schulden"] * 2, "time": [1, 2], "start": [1.5, 1.5]}
        | {"treated": [0.2, 0.1], "synthetic": [0.2, 0.2]}
    )
    colours = {k.lower(): v for k, v in _manual_colours(trajectory_plot(frame, "nl")).items()}
    assert sorted(colours.values()) == sorted([COLOURS["pilot"], COLOURS["comparison"]])
    assert colours["pilot"] == COLOURS["pilot"]


def test_no_figure_module_picks_its_own_colours():
    """Colours are defined once (report/palette.py); a hex colour elsewhere would drift from it."""
    import re

    report = Path(__file__).parents[1] / "evalkit" / "report"
    own = {"palette.py", "_template.py"}  # the palette, and the stylesheet's page colours
    strays = {
        f.name: re.findall(r"#[0-9a-fA-F]{6}\b", f.read_text(encoding="utf-8"))
        for f in report.glob("*.py")
        if f.name not in own
    }
    assert {k: v for k, v in strays.items() if v} == {}


def _y_tick_labels(plot) -> list[str]:
    """The y-axis tick labels of a drawn figure, as a reader sees them."""
    import matplotlib.pyplot as plt

    figure = plot.draw()
    labels = [t.get_text() for ax in figure.axes for t in ax.get_yticklabels() if t.get_text()]
    plt.close(figure)
    return labels


def test_share_axes_write_decimals_in_the_report_language():
    """The waiting curves and the norm shares read "0,25" in Dutch, as the trend figure does."""
    tabs = tables()
    interval = "registration_to_first_conversation"
    norm = "debt_help_first_conversation"
    for lang, mark in (("nl", ","), ("en", ".")):
        km = km_plot(tabs["km_curve"], interval=interval, norm_days=28, lang=lang)
        share = norm_share_plot(tabs["norms_quarterly"], norm=norm, lang=lang)
        for plot in (km, share):
            labels = _y_tick_labels(plot)
            assert f"0{mark}50" in labels, labels
            assert all({",", "."} - {mark} & set(label) == set() for label in labels), labels


def test_a_trend_of_yes_no_outcomes_reads_percentages():
    """The trend of shares reads "5%" under "Aandeel", as the monitor's table beside it."""
    from evalkit.report.figures import trend_plot

    trends = pd.DataFrame(
        {
            "outcome": ["neet"] * 4,
            "month": ["2025-01", "2025-01", "2025-02", "2025-02"],
            "group": ["pilot", "comparison", "pilot", "comparison"],
            "mean": [0.041, 0.052, 0.063, 0.049],
        }
    )
    plot = trend_plot(trends, {"neet": "NEET"}, "2025-02", "nl", shares=True)
    labels = _y_tick_labels(plot)
    assert labels and all(label.endswith("%") for label in labels), labels
    assert "5%" in labels or "5,0%" in labels, labels
    assert plot.labels.y == "Aandeel"  # type: ignore[attr-defined]
    means = _y_tick_labels(trend_plot(trends, {"neet": "NEET"}, "2025-02", "nl"))
    assert not any(label.endswith("%") for label in means), means


def test_the_norm_share_line_breaks_at_a_left_out_period():
    """A month with a small count is left out; the line must not join across it."""
    months = [f"2025-{m:02d}" for m in range(1, 9)]
    rows = [
        {
            "norm": "n1",
            "group": group,
            "month": month,
            "n_within": 3 if (group, month) == ("pilot", "2025-04") else 20,
            "n_breach": 15,
            "share_within": 0.5,
        }
        for group in ("pilot", "comparison")
        for month in months
    ]
    plot = norm_share_plot(pd.DataFrame(rows), norm="n1", threshold=10)
    plot.draw()  # the layers' data are computed by drawing
    line = plot.layers[0].data
    for _, part in line.groupby("group"):
        steps = part.sort_values("x")["x"].diff().dropna()
        assert (steps < 40).all(), part  # consecutive months only (days between starts)
    pilot = plot.data.loc[plot.data["group"] == "pilot"]
    assert "2025-04" not in set(pilot["month"]) and pilot["segment"].nunique() == 2
