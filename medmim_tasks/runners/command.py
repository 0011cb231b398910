"""The one builder of lmms-eval command lines (used by `medmim sweep` and `medmim demo`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def _limit_text(limit: float) -> str:
    """An integer as it is; a fraction (lmms-eval's share of each task) in its shortest form."""
    return str(limit) if isinstance(limit, int) else f"{limit:g}"


def lmms_eval_cli_command(
    launcher: Sequence[str],
    model: str,
    tasks: str,
    output_path: Path,
    *,
    model_args: str | None = None,
    include_path: Path | None = None,
    batch_size: str = "1",
    gen_kwargs: str | None = None,
    limit: float | None = None,
    use_cache: Path | None = None,
) -> list[str]:
    """`launcher` (e.g. `python -m lmms_eval`) with lmms-eval's CLI options, samples always logged.

    Options left as None (or empty) are not passed, so lmms-eval's (or the task's) defaults apply.
    """
    command = [*launcher, "--model", model]
    if model_args:
        command += ["--model_args", model_args]
    command += ["--tasks", tasks]
    if include_path is not None:
        command += ["--include_path", str(include_path)]
    command += ["--batch_size", batch_size]
    if gen_kwargs:
        command += ["--gen_kwargs", gen_kwargs]
    if limit is not None:
        command += ["--limit", _limit_text(limit)]
    command.append("--log_samples")
    if use_cache is not None:
        command += ["--use_cache", str(use_cache)]
    command += ["--output_path", str(output_path)]
    return command
