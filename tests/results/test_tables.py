"""The one table module (issue 14): Markdown for reports, fixed-width text for the terminal."""

from __future__ import annotations

import pandas as pd

from medmim_tasks.results.tables import markdown_table, text_table


def test_markdown_table_escapes_pipes() -> None:
    frame = pd.DataFrame({"model": ["a|b"], "acc": ["0.50"]})
    assert markdown_table(frame) == "| model | acc |\n|---|---|\n| a\\|b | 0.50 |"


def test_text_table_aligns_text_left_numbers_right_without_trailing_spaces() -> None:
    lines = text_table(["name", "n", "flag"], [["long name", 7, ""], ["x", 12, ""]], text_columns=1)
    assert lines == [
        "  name        n  flag",
        "  ---------  --  ----",
        "  long name   7",
        "  x          12",
    ]
    assert text_table(["a", "", "c"], [["b", "flag", "1"]], text_columns=1)[1] == "  -        -"
