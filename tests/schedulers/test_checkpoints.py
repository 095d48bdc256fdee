"""Checkpoint folders of a real SQLite study under ASHA: listing, ranking, pruning,
and the ``hypertrail checkpoints`` command."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from hypertrail import Float, Space, Study
from hypertrail.cli.main import cli
from hypertrail.errors import TrialStateError
from hypertrail.schedulers.checkpoints import checkpoint_folders, prune_checkpoints
from hypertrail.trial import Trial, TrialState

SPACE = Space({"x": Float(0.0, 1.0)})


def _train(trial: Trial) -> float:
    """Writes one KiB per epoch trained into the configuration's folder."""
    assert trial.fidelity is not None
    (trial.checkpoint_dir / "state.bin").write_bytes(b"\0" * 1024 * int(trial.fidelity))
    return float((trial.config["x"] - 0.3) ** 2 + 1.0 / trial.fidelity)


@pytest.fixture
def study(tmp_path: Path) -> Study:
    study = Study.create(
        "ck",
        SPACE,
        storage=f"sqlite:///{tmp_path / 'ck.db'}",
        seed=1,
        metrics="loss",
        optimizer={"name": "asha", "fidelity": {"name": "epochs", "min": 1, "max": 9, "eta": 3}},
    )
    study.optimize(_train, n_trials=30)
    return study


def test_folders_are_one_per_configuration_ranked_furthest_then_lowest(study: Study) -> None:
    trials = study.trials
    folders = checkpoint_folders(study)
    assert len(folders) == len({t.config["x"] for t in trials})
    assert sum(len(f.trials) for f in folders) == len(trials)
    assert all(f.path.parent == study.checkpoint_folder(0).parent for f in folders)
    for f in folders:
        chain = [trials[n] for n in f.trials]
        assert all(t.config == chain[0].config for t in chain)
        assert f.fidelity == max(t.fidelity or 0 for t in chain)
        assert f.size == 1024 * int(f.fidelity or 0)  # the last, furthest write
        at_top = [t for t in chain if t.fidelity == f.fidelity]
        assert f.loss == pytest.approx(min(t.value or math.inf for t in at_top))
    keys = [(-(f.fidelity or 0), f.loss) for f in folders]
    assert keys == sorted(keys)
    assert folders[0].fidelity == 9  # ASHA promoted something to the top in 30 trials


def test_prune_keeps_the_best_and_running_ones(study: Study) -> None:
    before = checkpoint_folders(study)
    running = study.ask()
    assert running.fidelity == 1  # a new configuration at the lowest rung
    _ = running.checkpoint_dir  # created, empty
    with pytest.raises(ValueError, match="keep must be 0 or more"):
        prune_checkpoints(study, -1)
    removed = prune_checkpoints(study, 2)
    after = checkpoint_folders(study)
    assert [f.path for f in after if not f.running] == [f.path for f in before[:2]]
    assert any(f.running for f in after) and running.checkpoint_dir.is_dir()
    assert {f.path for f in removed} == {f.path for f in before[2:]}
    assert not any(f.path.exists() for f in removed)
    assert prune_checkpoints(study, 2) == []
    study.tell(running, _train(running))  # the study goes on; nothing stored changed
    assert study.trials[-1].state is TrialState.COMPLETE
    with pytest.raises(TrialStateError, match="has no trial 99"):
        study.checkpoint_folder(99)


def test_the_checkpoints_command_lists_then_prunes(study: Study, tmp_path: Path) -> None:
    db = str(tmp_path / "ck.db")
    count = len(checkpoint_folders(study))
    study.close()
    listed = CliRunner().invoke(cli, ["checkpoints", "ck", "-s", db])
    assert listed.exit_code == 0, listed.output
    assert f"ck: {count} checkpoint folders" in listed.output and "trained to" in listed.output
    refused = CliRunner().invoke(cli, ["checkpoints", "ck", "-s", db, "--keep", "-1"])
    assert refused.exit_code == 2 and "-1" in refused.output
    pruned = CliRunner().invoke(cli, ["checkpoints", "ck", "-s", db, "--keep", "1"])
    assert pruned.exit_code == 0, pruned.output
    assert f"deleted {count - 1} of {count} checkpoint folders" in pruned.output
    again = CliRunner().invoke(cli, ["checkpoints", "ck", "-s", db])
    assert "ck: 1 checkpoint folder in" in again.output
