"""Find raw codes and English words in the visible text of a Dutch report (test tooling).

A Dutch document must say everything in Dutch: captions, column headers, value labels,
units. The check reads what a reader sees (the HTML without scripts, styles, verbatim
blocks and figure data), splits it into words and flags

- raw codes: ``snake_case`` tokens (``debt_help_first_conversation``, ``working_days``),
  file names excepted (``throughput_caseload.csv``, ``data/raw/demo/case_events.xlsx``);
- English words: a list of English words that are not also Dutch words (``the``,
  ``weeks``, ``switches``, ``did`` …). Proper names and established abbreviations
  (``DiD``, ``NPS``, ``ZRM``, ``MHI-5``, ``Kaplan–Meier``) are not on it, and ``DiD``
  is told from the English ``did`` by its capitals.

The table exports keep their canonical column names (data for scripts), but a value
that is a code of ``evalkit/report/translations.yaml`` (``debt_help``, ``weeks``,
``all``) must be written in words there as in the document: :func:`export_codes`
lists the cells of a release's CSV files and workbook that are not, names copied
verbatim from the protocol or the data (columns ``field``, ``old``, ``new``,
``column``, ``rule``) and the mark of a hidden cell, ``suppressed``, excepted.

Run as a script on rendered files (or a ``*_tables`` folder) to list what it finds::

    python tests/language.py build/reports/*.html build/reports/demo_tables
"""

from __future__ import annotations

import html as htmllib
import re
import sys
from collections import Counter
from pathlib import Path

import openpyxl
import pandas as pd

from evalkit.report.cells import code_label

__all__ = ["ENGLISH", "export_codes", "foreign_words", "visible_text"]

#: English words that are not Dutch words (so ``in``, ``is``, ``had``, ``was``, ``over``,
#: ``later``, ``data``, ``score``, ``plan``, ``start``, ``open``, ``status``, ``norm``,
#: ``caseload``, ``coach``, ``school``, ``interval``, ``significant``, ``item``, ``cohort``
#: and ``software`` are absent on purpose).
ENGLISH = frozenset(
    """
    the and or to with without for from by on at into than then this that these those which
    who when where while are be been being has have not no yes only each every all any can
    cannot could would should will may might must its their there here because since until both
    between after before during above below within upper lower did does switches change changes
    changed mean means median average weeks days working months years quarter quarters month
    year registration conversation decision application payment advance first second
    municipality municipalities comparison treated untreated treatment estimate estimates
    estimator estimated effects outcome outcomes response responded respondents rate rates
    promoters passives detractors retention nonresponse incomplete unhealthy agree disagree
    satisfaction summary statistic method period periods group groups baseline questionnaire
    events case cases youth young people debt debts housing care dropout handover handovers
    organisation organisations organization holder holders breach unknown share low high bound
    bounds missing warning warnings units cells obs observations cohorts single shocks told
    apart smallest largest intervals unbounded wave waves domain domains scale scales
    corporation descriptive estimable singular sex age female male other total counts number
    numbers rows row column columns table tables figure figures note notes see shown shows page
    report reports
    """.split()
)

_DROP = re.compile(r"(?is)<(script|style|pre|code|svg)\b.*?</\1\s*>|<!--.*?-->")
_TAG = re.compile(r"<[^>]+>")
_DATA_URI = re.compile(r"data:[a-z/+.-]+;base64,[A-Za-z0-9+/=]+")
_TOKEN = re.compile(r"[^\W\d][\w'’./-]*[\w]|[^\W\d]", re.UNICODE)
_FILE = re.compile(r"[/.](csv|xlsx|sav|dta|parquet|yaml|yml|json|html|qmd|py)$", re.I)


def visible_text(html: str) -> str:
    """Return the text a reader sees: no scripts, styles, verbatim blocks, tags or image data.

    Table cells and headings are separated by line breaks, so words never run together.
    """
    body = _DROP.sub(" ", _DATA_URI.sub(" ", html))
    body = re.sub(r"<(td|th|li|p|h\d|caption|figcaption|div|br)\b", r"\n<\1", body, flags=re.I)
    return htmllib.unescape(_TAG.sub(" ", body))


def foreign_words(html: str, names: frozenset[str] = frozenset()) -> Counter[str]:
    """Count the raw codes and English words in a Dutch document's visible text.

    Parameters
    ----------
    html : str
        The rendered HTML document.
    names : frozenset of str
        Identifiers that are names here (the protocol's id, shown as such).

    Returns
    -------
    collections.Counter
        Offending token -> number of times seen (empty when the text is Dutch throughout).
    """
    found: Counter[str] = Counter()
    for token in _TOKEN.findall(visible_text(html)):
        token = token.strip("'’.-/")
        if not token or _FILE.search(token) or "/" in token or token in names:
            continue  # a file name, path or the protocol's id is a name, not a word
        if "_" in token.strip("_"):
            found[token] += 1
            continue
        for word in re.split(r"[-.]", token):
            if word.lower() in ENGLISH and word != "DiD":
                found[word] += 1
    return found


#: Export columns of names copied verbatim from the protocol or the data (shown as code).
VERBATIM = frozenset({"field", "old", "new", "column", "rule"})


def export_codes(folder: Path, lang: str = "nl") -> list[tuple[str, str, str]]:
    """List the cells of a release's exports that are a known code not written in words.

    Parameters
    ----------
    folder : Path
        A release's ``<id>_tables`` folder; its workbook ``<id>.xlsx`` beside it is
        read too.
    lang : str
        The exports' language.

    Returns
    -------
    list of (str, str, str)
        ``(file or sheet, column, value)`` for every such cell, each once.
    """
    frames = {
        p.name: pd.read_csv(p, dtype=str, keep_default_na=False) for p in folder.glob("*.csv")
    }
    book = folder.with_name(folder.name.removesuffix("_tables") + ".xlsx")
    workbook = openpyxl.load_workbook(book, read_only=True)
    try:  # a read-only workbook keeps its file open until closed
        for sheet in workbook.worksheets:
            rows = list(sheet.iter_rows(values_only=True))
            frames[f"{book.name}:{sheet.title}"] = pd.DataFrame(
                rows[1:], columns=rows[0], dtype=object
            )
    finally:
        workbook.close()
    found = set()
    for name, frame in frames.items():
        for column in (c for c in frame.columns if c not in VERBATIM):
            # ``suppressed`` is the exports' mark of a hidden cell (README), kept as typed
            for value in set(frame[column].dropna().unique()) - {"suppressed"}:
                # a code's words in this language differ from the code (``all`` -> "alle")
                words = code_label(value, lang) if isinstance(value, str) else None
                if words is not None and words != value:
                    found.add((name, str(column), value))
    return sorted(found)


def _main(paths: list[str]) -> int:
    bad = 0
    for path in paths:
        if Path(path).is_dir():
            cells = export_codes(Path(path))
            bad += bool(cells)
            listed = ", ".join(f"{f} {c}={v}" for f, c, v in cells)
            print(f"{path}: {len(cells)} — {listed or 'codes in words'}")
            continue
        stem = Path(path).name.split(".")[0]  # the protocol's id names its files
        found = foreign_words(Path(path).read_text(encoding="utf-8"), frozenset({stem}))
        bad += bool(found)
        listed = ", ".join(f"{w} ({n})" for w, n in found.most_common())
        print(f"{path}: {sum(found.values())} — {listed or 'Dutch throughout'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
