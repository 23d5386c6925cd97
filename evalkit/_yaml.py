"""The project's YAML loaders: libyaml's parser where present, repeated keys refused.

A leaf module (like :mod:`evalkit.errors`) because two packages of the same layer read
YAML: :mod:`evalkit.protocol` (protocols, and the schemas' column names) and
:mod:`evalkit.ingest` (the schemas themselves), and neither may import the other.
``yaml.safe_load`` keeps the last of two equal keys without a word, so an alias list or
a whole column written twice in a schema would silently replace the first; every file
evalkit reads is parsed here with such a key refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

__all__ = ["UniqueKeyLoader", "load_unique", "safe_load", "yaml_problem"]

#: libyaml's parser where PyYAML was built with it (the wheels are): the same documents
#: and marks, about ten times faster than the pure-Python one; a run reads its protocols
#: and schemas dozens of times.
_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(_BASE):
    """A safe loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping as the safe loader does, refusing a repeated key first."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # ``<<`` merges are resolved by the base loader
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable: the base loader reports it
            if first is not None:
                raise ConstructorError(
                    None,
                    None,
                    f"the key {key!r} is given twice (first on line {first}); "
                    "write each field once",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def safe_load(text: str) -> Any:
    """Parse YAML text as ``yaml.safe_load`` does, with libyaml's parser if present.

    Parameters
    ----------
    text : str
        The YAML document.

    Returns
    -------
    Any
        The parsed document; of two equal keys the last wins, as in ``yaml.safe_load``.
    """
    return yaml.load(text, Loader=_BASE)


def load_unique(text: str) -> Any:
    """Parse YAML text safely, refusing a key given twice in one mapping.

    Parameters
    ----------
    text : str
        The YAML document.

    Returns
    -------
    Any
        The parsed document.

    Raises
    ------
    yaml.YAMLError
        Not valid YAML, or a repeated key (a ``ConstructorError`` whose problem names
        the key and both lines); :func:`yaml_problem` words it for a message.
    """
    return yaml.load(text, Loader=UniqueKeyLoader)


def yaml_problem(path: Path | str, exc: yaml.YAMLError) -> str:
    """Return ``exc`` as one line naming the file, the line and column, and the problem.

    Parameters
    ----------
    path : path
        The file that was read.
    exc : yaml.YAMLError
        What the loader raised.

    Returns
    -------
    str
        ``"PATH: not valid YAML (line L, column C): PROBLEM"``.
    """
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{path}: not valid YAML{where}: {problem}"
