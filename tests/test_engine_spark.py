"""The in-engine estimators on Spark (local mode) give DuckDB's numbers (make test-spark)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.spark,
    # pyspark 4.3 warns that it is not tested with pandas 3; the numbers are checked below.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # py4j (pyspark's bridge to the JVM) leaves its local sockets to the garbage
    # collector; pytest reports each as an unraisable exception. Only sockets are let through.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.skipif(
        os.environ.get("EVALKIT_TEST_SPARK") != "1", reason="Spark tests run with make test-spark"
    ),
]


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evalkit.synth import plan_national, write_national

    out = tmp_path_factory.mktemp("national")
    write_national(plan_national(1, 0.01), out)
    return out


def test_spark_equals_duckdb_on_the_small_national_panel(panel: Path) -> None:
    pytest.importorskip("pyspark")
    import yaml

    from evalkit.pipeline.national import estimate_national, national_table, starts_from_protocol

    protocol = Path(__file__).parents[1] / "protocols" / "national" / "law_2026.yaml"
    starts = starts_from_protocol(yaml.safe_load(protocol.read_text(encoding="utf-8")))
    outcomes = ("neet", "early_school_leaving")
    duck = estimate_national(national_table(panel, starts, "duckdb"), outcomes)
    spark = estimate_national(national_table(panel, starts, "spark"), outcomes)
    for outcome in outcomes:
        for estimator in ("callaway_santanna", "twfe", "event_study"):
            a, b = duck[outcome][estimator], spark[outcome][estimator]
            assert b["estimate"] == pytest.approx(a["estimate"], abs=1e-12)
            assert b["std_error"] == pytest.approx(a["std_error"], abs=1e-12)
            if estimator == "callaway_santanna":
                for kind, agg in a["aggregations"].items():
                    other = b["aggregations"][kind]
                    assert other["overall"]["se"] == pytest.approx(agg["overall"]["se"], abs=1e-12)
                    for row_a, row_b in zip(agg["rows"], other["rows"], strict=True):
                        assert row_b["att"] == pytest.approx(row_a["att"], abs=1e-12)
                        assert row_b["se"] == pytest.approx(row_a["se"], abs=1e-12)


def test_spark_streams_covariates_as_duckdb_does(panel: Path) -> None:
    pytest.importorskip("pyspark")
    import yaml

    from evalkit.pipeline.national import estimate_national, national_table, starts_from_protocol
    from evalkit.spec import Spec

    protocol = Path(__file__).parents[1] / "protocols" / "national" / "law_2026.yaml"
    starts = starts_from_protocol(yaml.safe_load(protocol.read_text(encoding="utf-8")))
    spec = Spec("callaway_santanna", control="notyet", method="reg", covariates=("age",))
    found = {}
    for engine in ("duckdb", "spark"):
        table = national_table(panel, starts, engine)
        table = table.filter(table.period < 2027 * 12 + 3)  # see test_pipeline_national
        found[engine] = estimate_national(table, ("neet",), spec=spec)["neet"]
    for estimator in ("callaway_santanna", "twfe", "event_study"):
        a, b = found["duckdb"][estimator], found["spark"][estimator]
        assert a["path"] == b["path"] == "in_memory:streamed"
        assert b["estimate"] == pytest.approx(a["estimate"], abs=1e-12)
        assert b["std_error"] == pytest.approx(a["std_error"], abs=1e-12)
