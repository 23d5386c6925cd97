"""Report figures: axis labels in the report language that name the breaks they stand at."""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.report.figures import effects_plot, number_labels


def test_effect_axis_labels_name_the_breaks_they_stand_at():
    """The one-municipality example's effects (pp): plotnine breaks at -7.5, -5, -2.5, 0.

    Labels with the decimals of the break distance read "-8", "-5", "-2", "0", which put
    the -2.0 estimate to the right of "-2".
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    effects = pd.DataFrame(
        {
            "outcome_label": ["Problematische schuld", "NEET"],
            "estimate": [-1.96, -1.14],
            "conf_low": [-8.92, -4.64],
            "conf_high": [1.83, -0.52],
        }
    )
    figure = effects_plot(effects, "nl").draw()  # type: ignore[attr-defined]
    axis = figure.axes[0]
    figure.canvas.draw()
    ticks = [(t.get_position()[0], t.get_text()) for t in axis.get_xticklabels() if t.get_text()]
    plt.close(figure)
    assert len(ticks) >= 3
    for position, text in ticks:
        assert float(text.replace("\u2212", "-").replace(",", ".")) == pytest.approx(position)


@pytest.mark.parametrize(
    ("breaks", "lang", "shown"),
    [
        ([-7.5, -5.0, -2.5, 0.0], "nl", ["\u22127,5", "\u22125,0", "\u22122,5", "0,0"]),
        ([0.0, 0.1, 0.2, 0.1 + 0.2], "en", ["0.0", "0.1", "0.2", "0.3"]),  # float noise
        ([0.0, 10.0, 20.0], "nl", ["0", "10", "20"]),
        ([0.0125, 0.025, None], "en", ["0.0125", "0.0250", "\u2013"]),
    ],
)
def test_number_labels_use_the_decimals_the_breaks_need(breaks, lang, shown):
    assert number_labels(lang)(breaks) == shown
