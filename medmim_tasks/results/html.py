"""The report as one self-contained HTML page (styles inline, chart embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html

import pandas as pd

from medmim_tasks.results.letter_bias import LETTER_BIAS_TEXT, letter_bias_display
from medmim_tasks.results.report import Report
from medmim_tasks.results.report_text import breakdown_displays, leaderboard_display, method_text, splits_display

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #222; }
h1, h2, h3 { font-weight: 600; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; }
td:first-child, th:first-child, td:nth-child(2) { text-align: left; }
p.method { max-width: 60rem; font-size: 0.9rem; }
img { max-width: 100%; }
"""


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, border=0, na_rep="")


def render_html(report: Report, chart_png: bytes) -> str:
    """The whole report (the same tables as the Markdown and CSV files) as one HTML document."""
    chart = base64.b64encode(chart_png).decode("ascii")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Med-MIM report</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Med-MIM report</h1>",
        "<h2>Leaderboard</h2>",
        _table(leaderboard_display(report)),
        f'<p class="method">{html.escape(method_text(report))}</p>',
    ]
    if report.notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(note)}</li>" for note in report.notes) + "</ul>")
    parts += [
        f'<img alt="Multiple-choice accuracy per split and model" src="data:image/png;base64,{chart}">',
        "<h2>Splits</h2>",
        _table(splits_display(report)),
        "<h2>Letter bias</h2>",
        _table(letter_bias_display(report.letter_bias)),
        f'<p class="method">{html.escape(LETTER_BIAS_TEXT)}</p>',
        "<h2>Breakdowns</h2>",
    ]
    for title, table in breakdown_displays(report):
        parts += [f"<h3>{html.escape(title)}</h3>", _table(table)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
