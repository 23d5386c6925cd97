"""The hostile-file generator (``tests/data/bad/make_bad.py``) as a module, loaded once.

It is a script (``python tests/data/bad/make_bad.py`` writes the corpus), so the tests
that build single hostile files from its helpers import it from here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _load() -> ModuleType:
    loaded = sys.modules.get("make_bad")
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(
        "make_bad", Path(__file__).parent / "data" / "bad" / "make_bad.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_bad"] = module
    spec.loader.exec_module(module)
    return module


make_bad = _load()
