"""The table renderers of the command-line outputs: GitHub Markdown and fixed-width text."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table (pipes in cells escaped)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    lines = [header, rule]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], text_columns: int = 2) -> list[str]:
    """Fixed-width table lines, indented by two spaces, a rule of dashes under each column title: the
    first `text_columns` columns left-aligned, the others (numbers) right-aligned; no trailing spaces.
    A column with an empty title (e.g. flags) gets no rule."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = []
    for number, row in enumerate([header, *rows]):
        cells = [
            str(cell).ljust(width) if index < text_columns else str(cell).rjust(width)
            for index, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
        if number == 0:
            lines.append(("  " + "  ".join(("-" if title else " ") * width for title, width in zip(header, widths))).rstrip())
    return lines
