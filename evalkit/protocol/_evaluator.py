"""Column-wise evaluation of a checked expression tree (see :mod:`evalkit.protocol.expressions`)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import ProtocolError

__all__ = ["Evaluator", "month_index"]

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _as_bool(value: Any, index: pd.Index) -> pd.Series:
    if not isinstance(value, pd.Series):
        return pd.Series([value] * len(index), index=index, dtype="boolean")
    if isinstance(value.dtype, pd.BooleanDtype):
        return value
    if value.dtype == bool:
        return value.astype("boolean")
    numeric = pd.to_numeric(value, errors="coerce")
    return (numeric != 0).astype("boolean").mask(numeric.isna())


def month_index(values: pd.Series) -> pd.Series:
    """Return months as a number ``year * 12 + month - 1`` (float; NaN when missing).

    Accepts datetimes, periods and texts starting with ``YYYY-MM``.
    """
    if isinstance(values.dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(values):
        return (values.dt.year * 12 + values.dt.month - 1).astype("float64")
    text = values.astype("string").str.slice(0, 7)
    parsed = pd.to_datetime(text, format="%Y-%m", errors="coerce")
    return (parsed.dt.year * 12 + parsed.dt.month - 1).astype("float64")


def _literal_month(text: str) -> int:
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1


def _coerce_literal(series: pd.Series, value: Any) -> Any:
    """Turn a month text into the series' type so that ``month >= '2025-10'`` works."""
    if isinstance(value, str) and _MONTH.match(value):
        if pd.api.types.is_datetime64_any_dtype(series):
            return pd.Timestamp(value + "-01").tz_localize(getattr(series.dt, "tz", None))
        if isinstance(series.dtype, pd.PeriodDtype):
            return pd.Period(value, freq=series.dtype.freq)
    return value


class Evaluator:
    """Evaluate a checked expression tree column-wise on a DataFrame."""

    def __init__(self, frame: pd.DataFrame, expr: str) -> None:
        self.frame = frame
        self.expr = expr
        self.index = frame.index

    def visit(self, node: ast.AST) -> Any:
        method: Callable[[Any], Any] = getattr(self, f"_{type(node).__name__}")
        return method(node)

    def _Name(self, node: ast.Name) -> Any:
        return self.frame[node.id]

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _List(self, node: ast.List) -> list[Any]:
        return [self.visit(e) for e in node.elts]

    _Tuple = _List

    def _BoolOp(self, node: ast.BoolOp) -> pd.Series:
        values = [_as_bool(self.visit(v), self.index) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return ~_as_bool(value, self.index)
        return -value if isinstance(node.op, ast.USub) else value

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        left, right = _numeric(left), _numeric(right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        with np.errstate(divide="ignore", invalid="ignore"):
            out = left / right
        return out.replace([np.inf, -np.inf], np.nan) if isinstance(out, pd.Series) else out

    def _Compare(self, node: ast.Compare) -> pd.Series:
        operands = [self.visit(node.left)] + [self.visit(c) for c in node.comparators]
        result: pd.Series | None = None
        for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
            part = self._compare_pair(op, left, right)
            result = part if result is None else (result & part)
        if result is None:  # pragma: no cover - ast guarantees one comparison
            raise ProtocolError(f"empty comparison in {self.expr!r}")
        return result

    def _compare_pair(self, op: ast.cmpop, left: Any, right: Any) -> pd.Series:
        if isinstance(op, ast.In | ast.NotIn):
            series = left if isinstance(left, pd.Series) else pd.Series([left] * len(self.index))
            values = [_coerce_literal(series, v) for v in right]
            hit = series.isin(values).astype("boolean").mask(series.isna())
            return hit if isinstance(op, ast.In) else ~hit
        if isinstance(left, pd.Series) and not isinstance(right, pd.Series):
            right = _coerce_literal(left, right)
        if isinstance(right, pd.Series) and not isinstance(left, pd.Series):
            left = _coerce_literal(right, left)
        if isinstance(left, pd.Series) and left.dtype == bool and isinstance(right, bool):
            left = left.astype("boolean")
        ops: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
            ast.Eq: lambda a, b: a == b,
            ast.NotEq: lambda a, b: a != b,
            ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b,
            ast.Gt: lambda a, b: a > b,
            ast.GtE: lambda a, b: a >= b,
        }
        out = ops[type(op)](left, right)
        if not isinstance(out, pd.Series):
            return pd.Series([bool(out)] * len(self.index), index=self.index, dtype="boolean")
        missing = _isna(left, self.index) | _isna(right, self.index)
        return out.astype("boolean").mask(missing)

    def _IfExp(self, node: ast.IfExp) -> pd.Series:
        cond = _as_bool(self.visit(node.test), self.index)
        body = _broadcast(self.visit(node.body), self.index)
        other = _broadcast(self.visit(node.orelse), self.index)
        out = body.where(cond.fillna(False).astype(bool), other)
        return out.mask(cond.isna())

    def _Call(self, node: ast.Call) -> Any:
        from evalkit.protocol import _functions

        name = node.func.id if isinstance(node.func, ast.Name) else ""

        args = [self.visit(a) for a in node.args]
        return _functions.call(name, args, self.frame)


def _numeric(value: Any) -> Any:
    if isinstance(value, pd.Series):
        if value.dtype == bool or isinstance(value.dtype, pd.BooleanDtype):
            return value.astype("Float64").astype("float64")
        return pd.to_numeric(value, errors="coerce").astype("float64")
    if isinstance(value, bool):
        return float(value)
    return value


def _broadcast(value: Any, index: pd.Index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value
    return pd.Series([value] * len(index), index=index)


def _isna(value: Any, index: pd.Index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.isna()
    return pd.Series(value is None, index=index)
