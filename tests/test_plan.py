"""Plan files: validation with locations, defaults, durations."""

from __future__ import annotations

from pathlib import Path

import pytest

from hypertrail.errors import PlanError
from hypertrail.plan import load_plan, parse_duration


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_inline_space_and_defaults(tmp_path: Path) -> None:
    plan = load_plan(
        write(
            tmp_path / "p.yaml",
            "name: my study\nspace: {params: {x: {type: float, low: 0, high: 1}}}\n"
            "objective: mod:fn\nmetrics: {loss: minimize}\nbudget: {trials: 5, wall_time: 10m}\n",
        )
    )
    assert plan.storage == f"sqlite:///{tmp_path / 'my-study.db'}"
    assert plan.budget.trials == 5 and plan.budget.wall_time == 600.0
    assert plan.optimizer == {"name": "gp"} and plan.seed == 0 and plan.workers == 1


def test_relative_sqlite_storage_is_beside_the_plan(tmp_path: Path) -> None:
    plan = load_plan(
        write(
            tmp_path / "p.yaml",
            "name: s\nspace: {params: {x: {type: float, low: 0, high: 1}}}\nobjective: m:f\n"
            "metrics: {v: maximize}\nbudget: {trials: 1}\nstorage: sqlite:///data/s.db\n",
        )
    )
    assert plan.storage == f"sqlite:///{tmp_path / 'data' / 's.db'}"


def test_errors_name_file_line_and_path(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.yaml",
        "name: s\n"
        "space: {params: {x: {type: float, low: 1, high: 0}}}\n"
        "objective: not-a-callable\n"
        "metrics: {v: up}\n"
        "budget: {trials: 0}\n"
        "optimizer: {name: sobol, scrambel: true}\n"
        "timeout: soon\n",
    )
    with pytest.raises(PlanError) as info:
        load_plan(path)
    issues = {i.path: i for i in info.value.issues}
    assert issues["space.params.x.low"].line == 2
    assert issues["objective"].line == 3
    assert (
        issues["metrics.v"].line == 4 and "'minimize' or 'maximize'" in issues["metrics.v"].message
    )
    assert issues["budget.trials"].line == 5
    assert "did you mean 'scramble'" in issues["optimizer.scrambel"].message
    assert issues["timeout"].line == 7
    assert all(i.file == str(path) for i in info.value.issues)


def test_space_file_errors_point_into_the_space_file(tmp_path: Path) -> None:
    write(
        tmp_path / "space.yaml",
        "params:\n  x: {type: float, low: 0, high: 1}\n  y: {type: int, low: 3, high: 1}\n",
    )
    path = write(
        tmp_path / "p.yaml",
        "name: s\nspace: space.yaml\nobjective: m:f\nmetrics: {v: minimize}\nbudget: {trials: 1}\n",
    )
    with pytest.raises(PlanError) as info:
        load_plan(path)
    (issue,) = info.value.issues
    assert issue.file is not None and issue.file.endswith("space.yaml") and issue.line == 3


def test_grid_on_a_continuous_space_fails_before_running(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.yaml",
        "name: s\nspace: {params: {x: {type: float, low: 0, high: 1}}}\nobjective: m:f\n"
        "metrics: {v: minimize}\nbudget: {trials: 1}\noptimizer: grid\n",
    )
    with pytest.raises(PlanError, match="grid search needs a discrete space"):
        load_plan(path)


def test_command_placeholders_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.yaml",
        "name: s\nspace: {params: {lr: {type: float, low: 0.1, high: 1}}}\n"
        "objective: {command: 'python train.py --lr {lrr}'}\nmetrics: {v: minimize}\nbudget: {trials: 1}\n",
    )
    with pytest.raises(
        PlanError, match=r"placeholder \{lrr\} names no parameter \(did you mean 'lr'\?\)"
    ):
        load_plan(path)


def test_fidelity_placeholders_need_a_fidelity(tmp_path: Path) -> None:
    head = "name: s\nspace: {params: {lr: {type: float, low: 0.1, high: 1}}}\n"
    tail = "metrics: {v: minimize}\nbudget: {trials: 1}\n"
    command = (
        "objective: {command: 'python train.py --epochs {fidelity} --state {checkpoint_dir}'}\n"
    )
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path / "p.yaml", head + command + tail))
    text = str(caught.value)
    assert "placeholder {fidelity} needs a fidelity in the plan" in text
    assert "placeholder {checkpoint_dir} needs a fidelity in the plan" in text
    fidelity = "fidelity: {name: epochs, min: 1, max: 9, eta: 3}\n"
    plan = load_plan(write(tmp_path / "q.yaml", head + command + tail + fidelity))
    assert plan.objective.command is not None and "{fidelity}" in plan.objective.command


def test_a_fidelity_may_not_share_a_parameter_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.yaml",
        "name: s\n"
        "space: {params: {lr: {type: float, low: 0.1, high: 1}, epochs: {type: fixed, value: 40}}}\n"
        "objective: m:f\nmetrics: {v: minimize}\nbudget: {trials: 1}\n"
        "fidelity: {name: epochs, min: 1, max: 27, eta: 3}\n",
    )
    with pytest.raises(PlanError, match=r"p\.yaml:6: fidelity\.name: 'epochs' is also a parameter"):
        load_plan(path)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0), ("2 min", 120.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", -1, 0, "5 weeks", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
