"""Results bundles: plain JSON, same bytes for the same content, version checked on read."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import ReportError
from evalkit.report.bundle import BUNDLE_VERSION, jsonable, read_bundle, write_bundle


def test_jsonable_converts_numpy_pandas_and_missing_values() -> None:
    value = {
        "a": np.int64(3),
        "b": np.float64("nan"),
        "c": [np.bool_(True), pd.NA, pd.Timestamp("2025-10-01")],
        "d": pd.DataFrame({"x": [1, 2]}),
        "e": dt.date(2025, 1, 2),
        "f": Path("a/b"),
        "g": float("inf"),
    }
    assert jsonable(value) == {
        "a": 3,
        "b": None,
        "c": [True, None, "2025-10-01T00:00:00"],
        "d": [{"x": 1}, {"x": 2}],
        "e": "2025-01-02",
        "f": "a/b",
        "g": None,
    }


def test_jsonable_keeps_plain_values_and_converts_their_subclasses() -> None:
    # plain text, whole numbers, booleans and finite floats are told by their exact type;
    # numpy's float64 (a float subclass) and bool_ still become plain floats and booleans
    text, number, share = "Zwolle", 12, 0.25
    out = jsonable({"t": text, "n": number, "s": share, True: [False, None, -0.0]})
    assert out == {"t": "Zwolle", "n": 12, "s": 0.25, "True": [False, None, -0.0]}
    assert out["t"] is text and out["n"] is number and out["s"] is share
    assert type(out["True"][0]) is bool
    for value, expected in [
        (np.float64(1.5), 1.5),
        (np.float64("nan"), None),
        (float("-inf"), None),
        (float("nan"), None),
        (np.bool_(False), False),
        (np.int32(-4), -4),
    ]:
        got = jsonable(value)
        assert got == expected and type(got) is type(expected), value


def test_write_is_byte_identical_and_versioned(tmp_path: Path) -> None:
    bundle = {"protocol_id": "p", "x": [1.5, np.float32(2.0)], "é": "ë"}
    a = write_bundle(bundle, tmp_path / "a" / "results.json").read_bytes()
    b = write_bundle(dict(bundle), tmp_path / "b" / "results.json").read_bytes()
    assert a == b
    loaded = read_bundle(tmp_path / "a" / "results.json")
    assert loaded["bundle_version"] == BUNDLE_VERSION and loaded["é"] == "ë"


def test_read_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="results bundle not found"):
        read_bundle(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ReportError, match="not a valid results bundle"):
        read_bundle(bad)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"bundle_version": 0}), encoding="utf-8")
    with pytest.raises(ReportError, match="bundle_version 0"):
        read_bundle(old)
