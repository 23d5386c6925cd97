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

from evalkit._yaml import load_unique, safe_load, yaml_problem
from evalkit.errors import ProtocolError

__all__ = ["MAX_PROTOCOL_BYTES", "read_yaml", "safe_load"]

#: Largest protocol file read (the shipped ones are under 20 kB).
MAX_PROTOCOL_BYTES = 1_000_000


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
        return load_unique(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):  # libyaml's limit
            raise ProtocolError(f"{path}: nested too deeply to be a protocol") from exc
        raise ProtocolError(yaml_problem(path, exc)) from exc
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{path}: not UTF-8 text ({exc})") from exc
    except RecursionError as exc:
        raise ProtocolError(f"{path}: nested too deeply to be a protocol") from exc
    except ValueError as exc:
        # a value YAML recognises but Python cannot build: a date that does not exist
        # (2026-02-30), an integer of more than 4,300 digits (int_max_str_digits)
        reason = str(exc).split("; use sys.")[0]
        raise ProtocolError(f"{path}: not valid YAML: a value cannot be read: {reason}") from exc
