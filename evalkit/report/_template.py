"""The pandoc HTML template and stylesheet of evalkit's own engine (no CDN, no MathJax)."""

from __future__ import annotations

__all__ = ["CSS", "TEMPLATE"]

TEMPLATE = """<!DOCTYPE html>
<html lang="$lang$" xml:lang="$lang$">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="evalkit">
<title>$pagetitle$</title>
<style>
$css$
$if(highlighting-css)$
$highlighting-css$
$endif$
</style>
</head>
<body>
<main>
$body$
</main>
</body>
</html>
"""

CSS = """
:root { --ink: #1d2733; --muted: #5b6673; --line: #d5dbe1; --accent: #00577a; --warn: #8a4b00; }
html { font-family: "Segoe UI", "Noto Sans", "DejaVu Sans", Arial, sans-serif; color: var(--ink);
  line-height: 1.5; font-size: 16px; background: #fff; }
/* wide enough for the widest result table on a 1280-px laptop; prose keeps 48rem lines */
main { max-width: 76rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.8rem; color: var(--accent); margin: 0 0 .5rem; }
h2 { font-size: 1.35rem; border-bottom: 2px solid var(--accent); padding-bottom: .2rem;
  margin-top: 2.2rem; }
h3 { font-size: 1.1rem; margin-top: 1.6rem; }
p, li { max-width: 48rem; }
table { border-collapse: collapse; margin: .8rem 0 1.4rem; font-size: .9rem;
  display: block; max-width: 100%; overflow-x: auto; }
/* a table wider than the screen scrolls, its first column (the row's label) stays put */
th:first-child, td:first-child { position: sticky; left: 0; background: #fff; z-index: 1; }
th:first-child { background: #eef3f6; }
td { max-width: 24rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .6rem; vertical-align: top; }
th { background: #eef3f6; text-align: left; }
td { font-variant-numeric: tabular-nums; }
td.num { text-align: right; white-space: nowrap; }
td.token { overflow-wrap: anywhere; }  /* a long path breaks, not overlaps */
figure { margin: 1rem 0 1.6rem; }
figure img, p img { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; }
pre { background: #f5f7f9; padding: .6rem; overflow-x: auto; font-size: .8rem; }
code { font-family: "DejaVu Sans Mono", Consolas, monospace; }
.callout-note, .callout-warning, .callout-important { border-left: 4px solid var(--accent);
  background: #f2f7fa; padding: .4rem 1rem; margin: 1rem 0; }
.callout-warning, .callout-important { border-left-color: var(--warn); background: #fbf5ec; }
.table-notes { font-size: .85rem; color: var(--muted); margin: -.8rem 0 1.4rem; max-width: 48rem; }
.table-notes p { margin: 0 0 .2rem; }
.table-notes ol { margin: 0; padding-left: 1.4rem; }
.keyfacts td:first-child { font-weight: 600; }
.retrospective { color: #b3261e; font-weight: 600; }
/* Print on A4: every table whole within the page width (no scrolling box on paper, which
   would cut off the right-hand columns), smaller type, headers repeated on each page. */
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  html { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  p, li { max-width: none; }
  h1, h2, h3, caption { break-after: avoid; }
  figure, tr { break-inside: avoid; }
  figure img, p img { max-height: 230mm; }
  table { display: table; width: auto; max-width: 100%; overflow: visible; font-size: 7.5pt;
    margin: .4rem 0 .9rem; }
  thead { display: table-header-group; }
  th, td { padding: 1.5pt 3pt; max-width: none; overflow-wrap: break-word; hyphens: auto; }
  th:first-child, td:first-child { position: static; }
  td.num { white-space: nowrap; overflow-wrap: normal; }
  td.token { overflow-wrap: anywhere; }  /* a path or a code breaks rather than widen */
  table.wide { font-size: 6pt; }
  table.wide th, table.wide td { padding: 1pt 2pt; }
  a { color: inherit; text-decoration: none; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; overflow: visible; font-size: 7pt; }
}
"""
