"""The command line: run, status, trials, validate of plans, error exits."""

from __future__ import annotations

import csv
import io
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from hypertrail.cli.main import cli

OBJECTIVE = textwrap.dedent(
    """
    def evaluate(trial):
        c = trial.config
        width = sum(c[f"layers.{i}.width"] for i in range(c["n_layers"]))
        penalty = 0.1 if c["act"] == "tanh" else 0.0
        return {"loss": (c["lr"] - 0.01) ** 2 + width / 1000 + penalty, "width": width}
    """
)

SPACE = textwrap.dedent(
    """
    params:
      lr: {type: float, low: 1.0e-4, high: 1.0, log: true}
      act: {type: categorical, choices: [relu, tanh]}
      n_layers: {type: int, low: 1, high: 2}
      layers:
        type: repeat
        count: n_layers
        max: 2
        item:
          width: {type: int, low: 4, high: 64, log: true}
    """
)


def module_name(folder: Path) -> str:
    """A module name unique to ``folder``: tests share one interpreter's sys.modules."""
    import hashlib

    return "toy_" + hashlib.sha1(str(folder).encode()).hexdigest()[:10]


def write_plan(folder: Path, trials: int = 8, extra: str = "", optimizer: str = "random") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module_name(folder)}.py").write_text(OBJECTIVE)
    (folder / "space.yaml").write_text(SPACE)
    plan = folder / "plan.yaml"
    plan.write_text(
        textwrap.dedent(
            f"""
            name: toy
            seed: 5
            space: space.yaml
            objective: {module_name(folder)}:evaluate
            metrics: {{loss: minimize}}
            budget: {{trials: {trials}}}
            optimizer: {optimizer}
            """
        )
        + extra
    )
    return plan


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_run_writes_a_sqlite_study_beside_the_plan_and_continues(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "a")
    code, out, err = invoke("run", str(plan), "--no-progress")
    assert code == 0, err
    assert (tmp_path / "a" / "toy.db").is_file()
    assert "best trial #" in out and "8 trials (8 complete" in out
    code, out, _ = invoke("run", str(plan), "--no-progress", "--trials", "12")
    assert code == 0 and "12 trials (12 complete" in out


def test_same_plan_twice_gives_the_same_configurations(tmp_path: Path) -> None:
    configs = []
    for name in ("one", "two"):
        plan = write_plan(tmp_path / name, trials=10)
        assert invoke("run", str(plan), "--no-progress")[0] == 0
        code, out, _ = invoke("trials", str(plan), "--format", "json")
        assert code == 0
        configs.append([t["config"] for t in json.loads(out)])
    assert configs[0] == configs[1] and len(configs[0]) == 10


def test_trials_json_and_csv(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    invoke("run", str(plan), "--no-progress")
    db = str(tmp_path / "toy.db")
    code, out, _ = invoke("trials", "toy", "--storage", db, "--format", "json")
    records = json.loads(out)
    assert code == 0 and len(records) == 8
    first = records[0]
    assert {"number", "state", "config", "values"} <= set(first)
    assert first["state"] == "complete" and "loss" in first["values"]
    for record in records:  # active parameters only
        n = record["config"]["n_layers"]
        assert ("layers.1.width" in record["config"]) == (n == 2)
    code, out, _ = invoke("trials", "toy", "-s", db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 8 and {"number", "state", "loss", "lr"} <= set(rows[0])
    assert not {"rung", "parent", "stopped"} & set(rows[0])  # no fidelity, no lineage
    code, out, _ = invoke("trials", "toy", "-s", db)
    assert code == 0 and "toy: 8 trials" in out


def test_trials_of_a_multi_fidelity_study_show_fidelity_rung_parent_and_stops(
    tmp_path: Path,
) -> None:
    from tests import _objectives

    from hypertrail import Float, Space, Study

    db = str(tmp_path / "mf.db")
    fidelity = {"name": "epochs", "min": 1, "max": 9}
    for name, scheduler in (("asha", {"name": "asha"}), ("median", {"name": "median"})):
        spec = {**scheduler, "fidelity": fidelity} | ({"min_trials": 2} if name == "median" else {})
        with Study.create(
            name, Space({"x": Float(0.0, 1.0)}), storage=db, seed=1, metrics="loss", optimizer=spec
        ) as study:
            study.optimize(_objectives.learning_curve, n_trials=14)
            trials = study.trials
        code, out, _ = invoke("trials", name, "-s", db, "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(out)))
        assert code == 0 and list(rows[0])[:4] == ["number", "state", "epochs", "rung"]
        for row, t in zip(rows, trials, strict=True):
            assert float(row["epochs"]) == t.fidelity and int(row["rung"]) == t.rung
            if name == "asha":
                assert row["parent"] == ("" if t.parent is None else str(t.parent))
            else:
                assert "parent" not in row
                assert row["stopped"] == ("" if t.stopped is None else f"{t.stopped:g}")
        if name == "asha":
            promoted = next(t for t in trials if t.parent is not None)
            assert rows[promoted.number]["epochs"] == "3" and rows[promoted.number]["rung"] == "1"
        else:
            assert any(t.stopped is not None for t in trials)
        code, out, _ = invoke("trials", name, "-s", db)
        assert code == 0 and "epochs" in out and "rung" in out


def test_status_lists_studies_with_counts_and_best(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    invoke("run", str(plan), "--no-progress")
    code, out, _ = invoke("status", str(tmp_path / "toy.db"))
    assert code == 0 and "toy" in out and "loss=" in out and "random" in out


def test_failures_are_counted_and_shown(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, trials=4)
    (tmp_path / f"{module_name(tmp_path)}.py").write_text(
        "def evaluate(trial):\n    raise RuntimeError('diverged')\n"
    )
    code, out, _ = invoke("run", str(plan), "--no-progress")
    assert code == 0 and "4 failed" in out and "no complete trial" in out
    code, out, _ = invoke("trials", str(plan), "--format", "csv")
    assert "RuntimeError: diverged" in out


def test_invalid_plan_exits_2_with_every_problem(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, extra="workers: 0\nbudjet: 3\n")
    code, _, err = invoke("run", str(plan))
    assert code == 2
    assert "workers: must be a positive integer" in err
    assert "unknown key 'budjet' (did you mean 'budget'?)" in err
    code, _, err = invoke("validate", str(plan))
    assert code == 2 and "plan.yaml:" in err


def test_validate_a_plan_imports_its_objective(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    code, out, _ = invoke("validate", str(plan))
    assert code == 0 and "valid plan 'toy'" in out and "plan hash: sha256:" in out
    (tmp_path / f"{module_name(tmp_path)}.py").write_text("x = 1\n")
    import sys

    sys.modules.pop(module_name(tmp_path), None)
    code, _, err = invoke("validate", str(plan))
    assert code == 2 and "no attribute 'evaluate'" in err


def test_unknown_study_and_missing_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HYPERTRAIL_STORAGE", raising=False)
    code, _, err = invoke("trials", "nothing")
    assert code == 1 and "where is study 'nothing'" in err
    plan = write_plan(tmp_path)
    invoke("run", str(plan), "--no-progress")
    code, _, err = invoke("trials", "other", "-s", str(tmp_path / "toy.db"))
    assert code == 1 and "studies there: toy" in err


def command_plan(folder: Path, command: str, trials: int, extra: str = "") -> Path:
    """``write_plan``'s plan with ``command`` (its placeholders as written) as objective."""
    plan = write_plan(folder, trials=trials, extra=extra)
    text = plan.read_text().replace(
        f"objective: {module_name(folder)}:evaluate", f'objective: {{command: "{command}"}}'
    )
    plan.write_text(text)
    return plan


def test_command_objective_plan(tmp_path: Path) -> None:
    import sys

    plan = command_plan(
        tmp_path,
        f"{sys.executable} -c 'import json,sys; print(json.dumps({{\\\"loss\\\": float(sys.argv[1])}}))' {{lr}}",
        trials=3,
    )
    code, out, err = invoke("run", str(plan), "--no-progress")
    assert code == 0, err
    assert "3 complete" in out


def test_command_objective_under_asha_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """A command line learns its fidelity and checkpoint folder from placeholders;
    a promoted configuration finds the state its lower rung saved there."""
    import sys

    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, pathlib, sys
            lr, epochs, folder = float(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3])
            state = folder / "epochs.txt"
            start = int(state.read_text()) if state.exists() else 0
            state.write_text(str(epochs))
            print(json.dumps({"loss": (lr - 0.01) ** 2 + 1.0 / epochs, "resumed_from": start}))
            """
        )
    )
    plan = command_plan(
        tmp_path,
        f"{sys.executable} {script} {{lr}} {{fidelity}} {{checkpoint_dir}}",
        trials=20,
        extra="fidelity: {name: epochs, min: 1, max: 9, eta: 3}\n",
    )
    code, out, err = invoke("run", str(plan), "--no-progress")
    assert code == 0, err
    code, out, _ = invoke("trials", str(plan), "--format", "json")
    trials = {t["number"]: t for t in json.loads(out)}
    promoted = [t for t in trials.values() if t.get("parent") is not None]
    assert promoted, "ASHA promoted nothing in 20 trials"
    for t in promoted:
        parent = trials[t["parent"]]
        assert t["config"] == parent["config"]
        below, above = parent["tags"]["fidelity"]["value"], t["tags"]["fidelity"]["value"]
        assert t["extras"]["resumed_from"] == below < above
    fresh = [t for t in trials.values() if t.get("parent") is None]
    assert all(t["extras"]["resumed_from"] == 0 for t in fresh)


def _example(tmp_path: Path) -> Path:
    source = Path(__file__).resolve().parents[2] / "examples" / "mlp_digits"
    folder = tmp_path / "mlp_digits"
    shutil.copytree(
        source,
        folder,
        ignore=shutil.ignore_patterns("*.db*", "__pycache__", "*-checkpoints", "*.html"),
    )
    return folder


def test_multi_fidelity_example_resumes_promotions_from_checkpoints(tmp_path: Path) -> None:
    folder = _example(tmp_path)
    code, out, err = invoke(
        "run", str(folder / "plan-asha.yaml"), "--no-progress", "--trials", "15", "--workers", "1"
    )
    assert code == 0, err
    assert "15 trials (15 complete" in out
    code, out, _ = invoke("trials", str(folder / "plan-asha.yaml"), "--format", "json")
    trials = json.loads(out)
    promoted = [t for t in trials if t["parent"] is not None]
    assert promoted, "ASHA promoted nothing in 15 trials"
    for t in promoted:
        parent = trials[t["parent"]]
        assert t["extras"]["resumed_from"] == parent["tags"]["fidelity"]["value"]
        assert t["extras"]["epochs"] == t["tags"]["fidelity"]["value"]
    saved = list((folder / "mlp-digits-asha-checkpoints").rglob("*.skops"))
    assert saved and all(p.name.startswith("epoch-") for p in saved)


def test_multi_fidelity_example_resumed_equals_trained_straight(tmp_path: Path) -> None:
    """3 epochs, a checkpoint, 6 more: the same network as 9 epochs in one go."""
    import importlib.util

    from hypertrail import Trial

    folder = _example(tmp_path)
    spec = importlib.util.spec_from_file_location("mlp_digits_objective", folder / "objective.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = {
        "n_layers": 1,
        "layers.0.width": 32,
        "activation": "relu",
        "solver": "adam",
        "learning_rate_init": 0.01,
        "alpha": 1e-4,
        "batch_size": 64,
    }

    def trial(number: int, epochs: int, checkpoints: Path) -> Trial:
        task = {"study": "s", "number": number, "config": config, "seed": 3}
        return Trial.from_task(
            {**task, "fidelity": float(epochs), "rung": 0, "checkpoint_dir": str(checkpoints)}
        )

    module.train_epochs(trial(0, 3, tmp_path / "a"))
    resumed = module.train_epochs(trial(4, 9, tmp_path / "a"))
    straight = module.train_epochs(trial(0, 9, tmp_path / "b"))
    assert resumed["resumed_from"] == 3 and straight["resumed_from"] == 0
    assert resumed["val_error"] == straight["val_error"]
    assert resumed["train_error"] == straight["train_error"]
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["epoch-9.skops"]
    import skops.io as sio

    a, b = (sio.load(tmp_path / x / "epoch-9.skops", trusted=module.TRUSTED) for x in "ab")
    weights = zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    assert all((u == v).all() for u, v in weights)


def test_example_plan_runs(tmp_path: Path) -> None:
    folder = _example(tmp_path)
    code, out, err = invoke(
        "run", str(folder / "plan.yaml"), "--no-progress", "--trials", "3", "--workers", "1"
    )
    assert code == 0, err
    assert (folder / "mlp-digits.db").is_file()
    assert "3 trials (3 complete" in out
