"""The report's chart: multiple-choice accuracy per split per model, with interval whiskers and chance."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")  # files only, no display; set before pyplot is imported

import matplotlib.pyplot as plt
import numpy as np

from medmim_tasks.results.report import ACCURACY_COLUMNS, MEANS, Report

# the six splits and the overall macro mean, as in the leaderboard
CHART_COLUMNS: tuple[tuple[str, str], ...] = (*ACCURACY_COLUMNS[:6], (MEANS[-1][0], MEANS[-1][1]))
DPI = 100


def accuracy_chart_png(report: Report) -> bytes:
    """The chart as PNG bytes (deterministic for the same report)."""
    board = report.leaderboard
    models = list(board["model"])
    n_models = max(len(models), 1)
    width = 0.8 / n_models
    positions = np.arange(len(CHART_COLUMNS))
    figure, axes = plt.subplots(figsize=(min(4 + 1.3 * len(CHART_COLUMNS) * (0.6 + 0.25 * n_models), 16), 4.2), dpi=DPI)
    colours = matplotlib.color_sequences["tab10"]
    chance = _chance_per_column(report)
    for index, model in enumerate(models):
        row = board.iloc[index]
        offsets = positions - 0.4 + width * (index + 0.5)
        values = np.array([_number(row[key]) for key, _ in CHART_COLUMNS])
        lows = np.array([_number(row[f"{key}_ci_low"]) for key, _ in CHART_COLUMNS])
        highs = np.array([_number(row[f"{key}_ci_high"]) for key, _ in CHART_COLUMNS])
        colour = colours[index % len(colours)]
        axes.bar(offsets, np.nan_to_num(values), width=width * 0.92, color=colour, label=model, zorder=2)
        shown = ~np.isnan(values)
        axes.errorbar(
            offsets[shown],
            values[shown],
            yerr=[values[shown] - lows[shown], highs[shown] - values[shown]],
            fmt="none",
            ecolor="black",
            elinewidth=1,
            capsize=3,
            zorder=3,
        )
        for offset, level in zip(offsets, chance[index]):
            if not math.isnan(level):
                axes.hlines(level, offset - width * 0.46, offset + width * 0.46, colors="dimgray", linestyles="--", linewidth=1.2, zorder=4)
    axes.plot([], [], color="dimgray", linestyle="--", linewidth=1.2, label="chance level")
    axes.axvline(len(CHART_COLUMNS) - 1.5, color="lightgray", linewidth=1)
    axes.set_xticks(positions, [title for _, title in CHART_COLUMNS])
    axes.set_ylabel(f"MC accuracy, % ({report.confidence:.0%} CI)")
    axes.set_ylim(0, 100)
    axes.grid(axis="y", color="#e5e5e5", zorder=0)
    axes.set_axisbelow(True)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    axes.set_title("Med-MIM multiple-choice accuracy per split")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _chance_per_column(report: Report) -> list[list[float]]:
    """Chance level (%) per model and chart column: the split's, or the macro mean for Overall."""
    levels: list[list[float]] = []
    for model, overall_chance in zip(report.leaderboard["model"], report.leaderboard["chance"]):
        per_split = report.splits[report.splits["model"] == model].set_index("split")["chance"]
        row = [_number(per_split.get(title, math.nan)) for _, title in CHART_COLUMNS[:-1]]
        levels.append([*row, _number(overall_chance)])
    return levels


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
