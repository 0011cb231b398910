"""The one lmms-eval command builder behind `medmim sweep` and `medmim demo` (issue 14)."""

from __future__ import annotations

from pathlib import Path

from medmim_tasks.runners.command import lmms_eval_cli_command


def test_every_option_in_one_order() -> None:
    command = lmms_eval_cli_command(
        ["py", "-m", "lmms_eval"],
        "qwen2_5_vl",
        "med_mim",
        Path("out"),
        model_args="pretrained=x",
        include_path=Path("tasks"),
        batch_size="2",
        gen_kwargs="max_new_tokens=16",
        limit=0.5,
        use_cache=Path("cache"),
    )
    assert command == [
        "py", "-m", "lmms_eval", "--model", "qwen2_5_vl", "--model_args", "pretrained=x", "--tasks", "med_mim",
        "--include_path", "tasks", "--batch_size", "2", "--gen_kwargs", "max_new_tokens=16", "--limit", "0.5",
        "--log_samples", "--use_cache", "cache", "--output_path", "out",
    ]  # fmt: skip


def test_unset_options_are_not_passed_and_limits_keep_their_digits() -> None:
    command = lmms_eval_cli_command(["lmms-eval"], "dummy", "t", Path("o"), model_args="", gen_kwargs=None)
    assert command == ["lmms-eval", "--model", "dummy", "--tasks", "t", "--batch_size", "1", "--log_samples", "--output_path", "o"]
    assert lmms_eval_cli_command(["x"], "m", "t", Path("o"), limit=1000000)[-4] == "1000000"
    assert lmms_eval_cli_command(["x"], "m", "t", Path("o"), limit=5.0)[-4] == "5"
