"""A small, safe expression language for outcome definitions and population rules.

An expression is parsed with :mod:`ast` and only a whitelist of node types is
accepted; it is then evaluated column-wise on a DataFrame. Nothing is ever
passed to Python's ``eval``. What is allowed:

* column names of the data schema named in the outcome's ``source``;
* numbers, strings (``'2025-10'``), ``True``, ``False``, ``None``;
* comparisons ``== != < <= > >=`` (chains too), ``x in ['a', 'b']``, ``x not in [...]``;
* ``and``, ``or``, ``not``; arithmetic ``+ - * /`` and unary minus;
* ``a if condition else b``;
* the functions in :data:`FUNCTIONS` (``turns_18_between('2025-10', '2025-12')``,
  ``age_at('2025-10')``, ``coalesce(a, b)``, ``days_between('registration', 'plan')``, ...).

Missing values stay missing: ``and``/``or``/``not`` follow three-valued logic
(``False and missing`` is ``False``, ``True and missing`` is missing).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.errors import ProtocolError
from evalkit.protocol._evaluator import Evaluator

__all__ = ["FUNCTIONS", "check_expression", "evaluate", "names_used"]

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class _Function:
    """Signature of one built-in function: argument counts and literal arguments."""

    min_args: int
    max_args: int | None
    literal: str  # "" (none), "months" (all literal YYYY-MM), "strings", "age_months", "instrument"
    needs: tuple[str, ...]  # columns the function reads implicitly
    doc: str


FUNCTIONS: dict[str, _Function] = {
    "turns_18_between": _Function(
        2, 2, "months", ("birth_month",), "turns 18 in a month from START to END (YYYY-MM)"
    ),
    "turns_age_between": _Function(
        3, 3, "age_months", ("birth_month",), "turns AGE in a month from START to END"
    ),
    "age_at": _Function(1, 1, "months", ("birth_month",), "age in whole years at a month"),
    "months_since": _Function(1, 1, "months", ("month",), "months from a month to the row's month"),
    "month_between": _Function(
        2, 2, "months", ("month",), "the row's month lies from START to END (inclusive)"
    ),
    "between": _Function(3, 3, "", (), "LOW <= x <= HIGH"),
    "coalesce": _Function(2, None, "", (), "the first non-missing value"),
    "is_missing": _Function(1, 1, "", (), "the value is missing"),
    "not_missing": _Function(1, 1, "", (), "the value is present"),
    "any_of": _Function(1, None, "", (), "at least one is true"),
    "all_of": _Function(1, None, "", (), "all are true"),
    "count_of": _Function(1, None, "", (), "how many are true"),
    "sum_of": _Function(1, None, "", (), "row-wise sum, skipping missing"),
    "mean_of": _Function(1, None, "", (), "row-wise mean, skipping missing"),
    "scale_mean": _Function(1, 1, "instrument", (), "mean of a questionnaire instrument's items"),
    "contains": _Function(2, 2, "second_string", (), "text column contains a piece of text"),
    "abs": _Function(1, 1, "", (), "absolute value"),
    "days_between": _Function(
        2,
        2,
        "strings",
        ("case_id", "event_type", "event_date"),
        "days from a case's first FROM event to its first TO event (case_events)",
    ),
}

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Call,
    ast.IfExp,
)

_NODE_HINTS: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (a.b) is not allowed",
    ast.Subscript: "indexing (a[...]) is not allowed",
    ast.BitAnd: "'&' is not allowed; use 'and'",
    ast.BitOr: "'|' is not allowed; use 'or'",
    ast.Invert: "'~' is not allowed; use 'not'",
    ast.Pow: "'**' is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Is: "'is' is not allowed; use is_missing(x) or ==",
    ast.IsNot: "'is not' is not allowed; use not_missing(x) or !=",
}


def _parse(expr: str) -> tuple[ast.Expression | None, list[str]]:
    if not isinstance(expr, str) or not expr.strip():
        return None, ["empty expression"]
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at character {exc.offset}" if exc.offset else ""
        return None, [f"cannot parse {expr!r}{where}: {exc.msg}"]
    except (RecursionError, MemoryError):
        # ast.parse recurses per operator: 20,000 chained '+' exhaust the stack.
        return None, [f"cannot parse {expr[:60]!r}...: nested too deeply; split it up"]
    problems: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            hint = _NODE_HINTS.get(type(node), f"'{type(node).__name__}' is not allowed")
            problems.append(f"in {expr!r}: {hint}")
    return tree, problems


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def names_used(expr: str) -> set[str]:
    """Return the column names an expression reads (including implicit ones).

    Parameters
    ----------
    expr : str
        The expression.

    Returns
    -------
    set of str
        Column names; empty when the expression does not parse.
    """
    tree, _ = _parse(expr)
    if tree is None:
        return set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            spec = FUNCTIONS.get(node.func.id)
            if spec is not None:
                used.update(spec.needs)
        elif isinstance(node, ast.Name) and not _is_function_name(tree, node):
            used.add(node.id)
    return used


def _is_function_name(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name for n in ast.walk(tree))


def check_expression(
    expr: str,
    columns: Iterable[str] | Mapping[str, Mapping[str, Any]],
    *,
    instruments: Iterable[str] = (),
) -> list[str]:
    """Return every problem with an expression, without evaluating it.

    Parameters
    ----------
    expr : str
        The expression.
    columns : iterable of str or mapping of str to column spec
        The columns of the data schema. With a mapping (as in ``data_schemas``),
        string values compared with a category column are checked against its
        ``allowed`` values.
    instruments : iterable of str, optional
        Questionnaire instruments that ``scale_mean`` may name.

    Returns
    -------
    list of str
        Problems, each saying what is wrong and what is allowed; empty when fine.
    """
    tree, problems = _parse(expr)
    if tree is None:
        return problems
    specs: Mapping[str, Mapping[str, Any]] = (
        columns if isinstance(columns, Mapping) else {c: {} for c in columns}
    )
    instruments = list(instruments)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            problems.extend(_check_call(expr, node, specs, instruments))
        elif isinstance(node, ast.Name) and not _is_function_name(tree, node):
            if node.id not in specs:
                problems.append(
                    f"in {expr!r}: unknown column '{node.id}'{_suggest(node.id, specs)}; "
                    f"columns of this source: {', '.join(sorted(specs))}"
                )
        elif isinstance(node, ast.Compare):
            problems.extend(_check_compare(expr, node, specs))
    return problems


def _check_call(
    expr: str, node: ast.Call, specs: Mapping[str, Mapping[str, Any]], instruments: list[str]
) -> list[str]:
    if not isinstance(node.func, ast.Name):
        return [f"in {expr!r}: only the built-in functions can be called"]
    name = node.func.id
    spec = FUNCTIONS.get(name)
    if spec is None:
        return [
            f"in {expr!r}: unknown function '{name}'{_suggest(name, FUNCTIONS)}; "
            f"allowed: {', '.join(sorted(FUNCTIONS))}"
        ]
    problems: list[str] = []
    if node.keywords:
        problems.append(f"in {expr!r}: {name}() takes no keyword arguments")
    n = len(node.args)
    if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
        want = (
            f"{spec.min_args}"
            if spec.max_args == spec.min_args
            else f"at least {spec.min_args}"
            if spec.max_args is None
            else f"{spec.min_args} to {spec.max_args}"
        )
        problems.append(f"in {expr!r}: {name}() takes {want} argument(s), got {n}")
        return problems
    for column in spec.needs:
        if column not in specs:
            problems.append(f"in {expr!r}: {name}() needs column '{column}', not in this source")
    literal_positions: dict[str, list[int]] = {
        "months": list(range(n)),
        "age_months": [1, 2],
        "strings": list(range(n)),
        "instrument": [0],
        "second_string": [1],
    }
    for i in literal_positions.get(spec.literal, []):
        arg = node.args[i]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            problems.append(f"in {expr!r}: argument {i + 1} of {name}() must be a quoted text")
            continue
        if spec.literal in ("months", "age_months") and not _MONTH.match(arg.value):
            problems.append(
                f"in {expr!r}: argument {i + 1} of {name}() must be a month 'YYYY-MM', "
                f"got {arg.value!r}"
            )
        if spec.literal == "instrument" and arg.value not in instruments:
            problems.append(
                f"in {expr!r}: unknown instrument {arg.value!r}; allowed: "
                f"{', '.join(instruments) or 'none (not a questionnaire source)'}"
            )
        if name == "days_between":
            allowed = (specs.get("event_type") or {}).get("allowed") or []
            if allowed and arg.value not in allowed:
                problems.append(
                    f"in {expr!r}: unknown event type {arg.value!r}"
                    f"{_suggest(arg.value, allowed)}; allowed: {', '.join(allowed)}"
                )
    if spec.literal == "age_months":
        age = node.args[0]
        if not (isinstance(age, ast.Constant) and isinstance(age.value, int)):
            problems.append(f"in {expr!r}: argument 1 of {name}() must be a whole number (age)")
    return problems


def _check_compare(
    expr: str, node: ast.Compare, specs: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    problems: list[str] = []
    operands = [node.left, *node.comparators]
    for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, ast.List | ast.Tuple):
                problems.append(f"in {expr!r}: 'in' needs a list of values, e.g. x in ['a', 'b']")
                continue
            values = right.elts
        else:
            values = [right]
            if isinstance(left, ast.Constant) and isinstance(right, ast.Name):
                left, values = right, [left]
        if not isinstance(left, ast.Name):
            continue
        allowed = (specs.get(left.id) or {}).get("allowed")
        if not allowed:
            continue
        for value in values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                if value.value not in allowed:
                    problems.append(
                        f"in {expr!r}: '{left.id}' never equals {value.value!r}"
                        f"{_suggest(value.value, allowed)}; allowed values: {', '.join(allowed)}"
                    )
    return problems


# ---------------------------------------------------------------- evaluation


def evaluate(expr: str, frame: pd.DataFrame) -> pd.Series:
    """Evaluate an expression on every row of a DataFrame, column-wise.

    Parameters
    ----------
    expr : str
        The expression (see the module documentation).
    frame : pandas.DataFrame
        Data with the columns the expression uses.

    Returns
    -------
    pandas.Series
        One value per row, aligned with ``frame.index``. Conditions give a
        nullable boolean Series.

    Raises
    ------
    ProtocolError
        When the expression is not allowed or uses a column the frame lacks.
    """
    tree, problems = _parse(expr)
    if tree is None or problems:
        raise ProtocolError(f"expression {expr!r} is not allowed: {'; '.join(problems)}", problems)
    missing = sorted(names_used(expr) - set(frame.columns))
    if missing:
        raise ProtocolError(
            f"expression {expr!r} uses column(s) the data lack: {', '.join(missing)}",
            [f"available columns: {', '.join(map(str, frame.columns))}"],
        )
    result = Evaluator(frame, expr).visit(tree.body)
    if not isinstance(result, pd.Series):
        result = pd.Series([result] * len(frame), index=frame.index)
    return result
