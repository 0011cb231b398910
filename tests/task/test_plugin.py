"""`--tasks med_mim` without --include_path: the lmms_eval.models entry point adds our folder."""

from __future__ import annotations

from importlib.metadata import entry_points

from medmim_tasks.task.task_path import tasks_path

TASKS = {
    "med_mim_held_in_temporal",
    "med_mim_held_in_reasoning",
    "med_mim_held_in_comparison",
    "med_mim_held_in_coreference",
    "med_mim_held_out_odir",
    "med_mim_held_out_rad",
}
GROUPS = {"med_mim", "med_mim_held_in", "med_mim_held_out"}


def test_entry_point_is_declared() -> None:
    [entry] = [ep for ep in entry_points(group="lmms_eval.models") if ep.name == "medmim_tasks"]
    assert entry.value == "medmim_tasks.task.plugin:register"


def test_lmms_eval_models_import_registers_our_tasks() -> None:
    import lmms_eval.models  # noqa: F401  (loads the entry points, as the lmms-eval CLI does)
    from lmms_eval.tasks import TaskManager

    manager = TaskManager(include_defaults=False)
    assert TASKS | GROUPS <= set(manager.all_tasks)
    assert GROUPS <= set(manager.all_groups)


def test_explicit_include_path_is_not_added_twice() -> None:
    from lmms_eval.tasks import TaskManager

    from medmim_tasks.task.plugin import add_tasks_to_task_manager

    assert add_tasks_to_task_manager()
    assert add_tasks_to_task_manager()  # idempotent
    seen: list[list[str]] = []
    original = TaskManager._get_task_and_group

    def spy(self, task_dir):  # type: ignore[no-untyped-def]
        seen.append(task_dir)
        return original(self, task_dir)

    TaskManager._get_task_and_group = spy
    try:
        TaskManager(include_path=str(tasks_path()), include_defaults=False)
        TaskManager(include_path=[str(tasks_path()) + "/"], include_defaults=False)
    finally:
        TaskManager._get_task_and_group = original
    assert len(seen) == 2


def test_register_never_breaks_lmms_eval(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import warnings

    from medmim_tasks.task import plugin

    def broken() -> bool:
        raise RuntimeError("lmms-eval changed shape")

    monkeypatch.setattr(plugin, "add_tasks_to_task_manager", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert plugin.register() == []
    assert any("--include_path" in str(w.message) for w in caught)


def test_tasks_path_holds_every_yaml() -> None:
    names = {path.stem for path in tasks_path().glob("*.yaml")}
    assert TASKS | GROUPS <= names
    assert (tasks_path() / "_default_template_yaml").is_file()
    assert all((tasks_path() / "manifests" / f"{task}.jsonl").is_file() for task in TASKS)


def test_cli_prints_tasks_path(capsys) -> None:  # type: ignore[no-untyped-def]
    from medmim_tasks.cli.main import main

    assert main(["tasks-path"]) == 0
    assert capsys.readouterr().out.strip() == str(tasks_path())
