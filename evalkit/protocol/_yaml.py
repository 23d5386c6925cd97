"""Read a protocol's YAML safely: bounded size and depth, no duplicate keys, no code.

``yaml.safe_load`` alone already refuses Python tags, but it keeps the last of two
equal keys without a word (so ``estimator: twfe`` can be silently overridden further
down), it recurses without limit (10,000 nested brackets raise ``RecursionError``) and
it reads a 50 MB file for minutes.  A protocol is a few kilobytes of hand-written text,
so every one of these is refused as a clear ``ProtocolError`` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from evalkit.errors import ProtocolError

#: Largest protocol file read (the shipped ones are under 20 kB).
MAX_PROTOCOL_BYTES = 1_000_000


#: libyaml's parser where PyYAML was built with it (the wheels are): the same documents
#: and marks, about ten times faster than the pure-Python one; a run reads its protocols
#: and schemas dozens of times.
_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_BASE):
    """A safe loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
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
    """Parse trusted YAML text as ``yaml.safe_load`` does, with libyaml's parser if present.

    For the repository's own schema and analysis files; a protocol goes through
    :func:`read_yaml`, which also refuses repeated keys and oversized files.
    """
    return yaml.load(text, Loader=_BASE)


def read_yaml(path: Path | str) -> Any:
    """Read a YAML file safely; a missing file or bad YAML is a ProtocolError.

    Parameters
    ----------
    path : path
        The YAML file.

    Returns
    -------
    Any
        The parsed document.

    Raises
    ------
    ProtocolError
        Missing file, larger than ``MAX_PROTOCOL_BYTES``, not UTF-8, not valid YAML,
        a key given twice, nested too deeply, or a date or number Python cannot build.
    """
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(f"{path}: no such protocol file")
    size = path.stat().st_size
    if size > MAX_PROTOCOL_BYTES:
        raise ProtocolError(
            f"{path}: {size:,} bytes is too large for a protocol; "
            f"at most {MAX_PROTOCOL_BYTES:,} bytes are read"
        )
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):  # libyaml's limit
            raise ProtocolError(f"{path}: nested too deeply to be a protocol") from exc
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProtocolError(f"{path}: not valid YAML{where}: {problem}") from exc
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{path}: not UTF-8 text ({exc})") from exc
    except RecursionError as exc:
        raise ProtocolError(f"{path}: nested too deeply to be a protocol") from exc
    except ValueError as exc:
        # a value YAML recognises but Python cannot build: a date that does not exist
        # (2026-02-30), an integer of more than 4,300 digits (int_max_str_digits)
        reason = str(exc).split("; use sys.")[0]
        raise ProtocolError(f"{path}: not valid YAML: a value cannot be read: {reason}") from exc
