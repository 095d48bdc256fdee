"""The multistart scheduler: screen, local searches from far-apart starts, compare, polish."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hypertrail import Categorical, Float, Int, Repeat, Space, Study, Trial
from hypertrail.errors import OptimizerError
from hypertrail.optimizers.base import Optimizer
from hypertrail.replay import verify
from hypertrail.schedulers.base import fidelity_cost, is_promotion
from hypertrail.schedulers.multistart import MultiStart, _gap, box_space
from hypertrail.testing import OptimizerConformance

EPOCHS = {"name": "epochs", "min": 1, "max": 9, "eta": 3}
SPACE = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
SMALL: dict[str, Any] = {"screen": 12, "regions": 2, "steps": 6, "width": 0.2}


def two_basins(trial: Trial) -> float:
    """A wide, shallow basin at (0.75, 0.75) and a narrow, deeper one at (0.2, 0.2),
    the cheap fidelities shifted by a constant (their ranking is the top's)."""
    x, y = trial.config["x"], trial.config["y"]
    wide = -1.0 * math.exp(-((x - 0.75) ** 2 + (y - 0.75) ** 2) / (2 * 0.2**2))
    narrow = -1.5 * math.exp(-((x - 0.2) ** 2 + (y - 0.2) ** 2) / (2 * 0.06**2))
    assert trial.fidelity is not None
    return wide + narrow + 0.1 * (1.0 - trial.fidelity / 9.0)


def _study(url: str, name: str = "ms", seed: int = 0, **options: Any) -> Study:
    return Study.create(
        name,
        SPACE,
        storage=url,
        seed=seed,
        metrics="loss",
        optimizer={"name": "multistart", "fidelity": EPOCHS, **SMALL, **options},
        load_if_exists=True,
    )


def _phases(study: Study) -> list[str]:
    return [str(t.tags["multistart"]["phase"]) for t in study.trials]


def test_phases_run_in_order_and_the_log_replays(sqlite_url: str) -> None:
    study = _study(sqlite_url)
    study.optimize(two_basins, n_trials=12 + 2 * 6 + 2 + 6)
    phases = _phases(study)
    assert phases == ["screen"] * 12 + ["region"] * 12 + ["compare"] * 2 + ["polish"] * 6
    trials = study.trials
    assert {
        t.fidelity for t in trials if t.tags["multistart"]["phase"] in ("screen", "region")
    } == {1.0}
    assert {
        t.fidelity for t in trials if t.tags["multistart"]["phase"] in ("compare", "polish")
    } == {9.0}
    # Regions take turns, each remembers the screened configuration it started from.
    regions = [t for t in trials if t.tags["multistart"]["phase"] == "region"]
    assert [t.tags["multistart"]["region"] for t in regions] == [0, 1] * 6
    starts = {t.tags["multistart"]["region"]: t.tags["multistart"]["start"] for t in regions}
    assert len(set(starts.values())) == 2
    assert all(trials[n].tags["multistart"]["phase"] == "screen" for n in starts.values())
    # A comparison continues a region trial's training: a promotion with its parent.
    compares = [t for t in trials if t.tags["multistart"]["phase"] == "compare"]
    for t in compares:
        assert is_promotion(t)
        parent = trials[t.parent or 0]
        assert parent.config == t.config and parent.fidelity == 1.0
    assert fidelity_cost(trials) == 24 * 1 + 2 * 8 + 6 * 9
    assert all("multistart:" in t.reason for t in trials)
    report = verify(study.storage, "ms")
    assert report.ok and report.checked == len(trials)


def test_it_finds_the_narrow_deeper_basin_a_wide_one_would_hide(sqlite_url: str) -> None:
    study = _study(sqlite_url, screen=30, regions=3, steps=12)
    study.optimize(two_basins, n_trials=30 + 36 + 3 + 8)
    top = [t for t in study.trials if t.fidelity == 9.0 and t.values is not None]
    best = min(top, key=lambda t: t.values["loss"] if t.values else math.inf)
    assert abs(best.config["x"] - 0.2) < 0.05 and abs(best.config["y"] - 0.2) < 0.05
    assert best.values is not None and best.values["loss"] < -1.45


def test_a_resumed_study_continues_its_phases(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    first = _study(url)
    first.optimize(two_basins, n_trials=17)  # stops in the middle of the regions
    first.close()
    again = _study(url)
    again.optimize(two_basins, n_trials=15)
    assert _phases(again) == ["screen"] * 12 + ["region"] * 12 + ["compare"] * 2 + ["polish"] * 6
    uninterrupted = _study(f"sqlite:///{tmp_path / 'whole.db'}")
    uninterrupted.optimize(two_basins, n_trials=32)
    assert [t.config for t in again.trials] == [t.config for t in uninterrupted.trials]


def test_parallel_workers_run_every_phase_and_replay(sqlite_url: str) -> None:
    study = _study(sqlite_url, name="par")
    study.optimize(two_basins, n_trials=34, workers=2)
    phases = _phases(study)
    assert set(phases) == {"screen", "region", "compare", "polish"}
    report = verify(study.storage, "par")
    assert report.ok and report.checked == 34


def test_box_space_narrows_numbers_and_keeps_the_rest() -> None:
    space = Space(
        {
            "x": Float(0.0, 10.0),
            "lr": Float(1e-4, 1e-1, log=True),
            "n": Int(0, 10),
            "kind": Categorical(["a", "b"]),
        },
        constraints=["x <= 9.5"],
    )

    def bounds(box: Space, name: str) -> tuple[float, float]:
        domain = box[name].domain
        assert isinstance(domain, Float | Int)
        return domain.low, domain.high

    box = box_space(space, {"x": 5.0, "lr": 1e-2, "n": 0, "kind": "b"}, 0.1)
    assert bounds(box, "x") == pytest.approx((4.0, 6.0))
    assert bounds(box, "lr") == pytest.approx((1e-2 / 10**0.3, 1e-2 * 10**0.3))
    assert bounds(box, "n") == (0, 1)  # 0.1 of 11 cells: one cell each way, cut at the edge
    narrow = box_space(space, {"x": 5.0, "lr": 1e-2, "n": 5, "kind": "a"}, 0.01)
    assert bounds(narrow, "n") == (4, 6)  # never narrower than one cell each way
    kind = box["kind"].domain
    assert isinstance(kind, Categorical) and list(kind.choices) == ["a", "b"]
    assert box.constraint_sources == ("x <= 9.5",)
    wide = box_space(space, {"x": 0.0, "lr": 1e-4, "n": 10, "kind": "a"}, 0.4)
    assert bounds(wide, "n") == (6, 10)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"optimizer": "tpe"}, "needs optimizer: gp"),
        ({"regions": 0}, "regions must be an integer of at least 1"),
        ({"steps": 2.5}, "steps must be an integer"),
        ({"screen": 2, "regions": 3}, r"screen \(2\) must be at least regions \(3\)"),
        ({"width": 0.9}, r"width must be a number in \[0.05, 0.4\]"),
        ({"budget": 0}, "budget must be a positive number of fidelity units"),
        ({"budget": "lots"}, "budget must be a positive number of fidelity units"),
    ],
)
def test_bad_options_are_refused_before_any_trial(options: dict[str, Any], message: str) -> None:
    with pytest.raises((OptimizerError, ValueError), match=message):
        MultiStart(fidelity=EPOCHS, **options)


BLOCKS = Space(
    {
        "n_layers": Int(1, 3),
        "layers": Repeat(count="n_layers", max=3, item={"width": Int(8, 256, log=True)}),
        "opt": Categorical(["adam", "sgd"]),
        "momentum": Float(0.0, 0.99, when="opt == 'sgd'"),
        "lr": Float(1e-4, 1e-1, log=True),
    }
)


def _bounds(box: Space, name: str) -> tuple[float, float]:
    domain = box[name].domain
    assert isinstance(domain, Float | Int)
    return domain.low, domain.high


def test_a_box_in_a_space_with_blocks_and_conditions() -> None:
    center = {"n_layers": 2, "layers.0.width": 16, "layers.1.width": 128, "opt": "adam", "lr": 1e-2}
    box = box_space(BLOCKS, center, 0.1)
    # The copies share one declaration: the union of the active copies' boxes.
    low, high = _bounds(box, "layers.0.width")
    assert low < 16 and high > 128 and (low, high) == _bounds(box, "layers.2.width")
    assert low > 8 and high < 256
    assert _bounds(box, "momentum") == (0.0, 0.99)  # inactive at the centre: whole
    assert _bounds(box, "n_layers") == (1, 3)  # a block's count is structure: whole
    assert not box.problems(center)
    single = box_space(BLOCKS, {**center, "n_layers": 1}, 0.1)  # layers.1 is left over
    assert _bounds(single, "layers.1.width") == _bounds(single, "layers.0.width")


def test_a_box_keeps_whole_what_switches_parameters_or_cannot_meet_the_constraints() -> None:
    # Narrowed around lr = 1e-3, `lr > 0.05` could never hold: lr is a switch, kept whole.
    switch = Space({"lr": Float(1e-4, 1e-1, log=True), "warm": Float(0, 1, when="lr > 0.05")})
    assert _bounds(box_space(switch, {"lr": 1e-3}, 0.1), "lr") == (1e-4, 1e-1)
    # No configuration of the box meets the constraint: its parameters stay whole.
    tight = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}, constraints=["x + y >= 1.9"])
    box = box_space(tight, {"x": 0.5, "y": 0.5}, 0.1)
    assert _bounds(box, "x") == (0.0, 1.0) and _bounds(box, "y") == (0.0, 1.0)
    # A constraint that can hold in the box leaves the narrowing alone.
    loose = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}, constraints=["x + y <= 1.9"])
    assert _bounds(box_space(loose, {"x": 0.5, "y": 0.5}, 0.1), "x") == pytest.approx((0.4, 0.6))


def test_a_conditional_space_with_blocks_is_searched(sqlite_url: str) -> None:
    def objective(trial: Trial) -> float:
        c = trial.config
        widths = [c[f"layers.{i}.width"] for i in range(c["n_layers"])]
        momentum = c.get("momentum", 0.0)
        assert trial.fidelity is not None
        return (
            sum((math.log2(w) - 6) ** 2 for w in widths) / 10
            + (math.log10(c["lr"]) + 2.5) ** 2
            + (0.3 if c["opt"] == "adam" else abs(momentum - 0.9))
            + 1 / trial.fidelity
        )

    study = Study.create(
        "blocks",
        BLOCKS,
        storage=sqlite_url,
        seed=1,
        optimizer={"name": "multistart", "fidelity": EPOCHS, **SMALL},
    )
    study.optimize(objective, n_trials=12 + 12 + 2 + 4)
    assert _phases(study) == ["screen"] * 12 + ["region"] * 12 + ["compare"] * 2 + ["polish"] * 4
    for t in study.trials:
        assert not BLOCKS.problems(dict(t.config)), t.config
    # Each region's proposals stay in its box around its best, with at least one
    # searched parameter narrowed (so the search is local, not global).
    regions = [t for t in study.trials if t.tags["multistart"]["phase"] == "region"]
    assert all("within ±" in t.reason for t in regions)
    assert len({t.tags["multistart"]["start"] for t in regions}) == 2
    report = verify(study.storage, "blocks")
    assert report.ok and report.checked == 30


def test_configurations_with_other_active_parameters_are_far_apart() -> None:
    a = np.array(BLOCKS.encode({"n_layers": 1, "layers.0.width": 64, "opt": "adam", "lr": 1e-2}))
    b = np.array(
        BLOCKS.encode(
            {"n_layers": 1, "layers.0.width": 64, "opt": "sgd", "momentum": 0.5, "lr": 1e-2}
        )
    )
    assert _gap(a, a) == 0.0
    assert _gap(a, b) == 1.0


def test_a_budget_sizes_the_cheap_phases_and_the_run_reaches_the_top(sqlite_url: str) -> None:
    six = Space({f"x{i}": Float(0.0, 1.0) for i in range(6)})
    epochs27 = {"name": "epochs", "min": 1, "max": 27, "eta": 3}
    unsized = MultiStart(fidelity=epochs27)
    assert (unsized.screen_size(six), unsized.local_steps(six)) == (60, 80)
    assert unsized.first_top(six) == 60 + 240 + 26
    # 33 evaluations of 27 epochs (the benchmark's budget): the defaults fit whole.
    at_891 = MultiStart(fidelity=epochs27, budget=891)
    assert (at_891.screen_size(six), at_891.local_steps(six)) == (60, 80)
    # A third of that: 0.35 of it for the cheap phases, at most half of that screening.
    small = MultiStart(fidelity=epochs27, budget=297)
    assert small.screen_size(six) == 51 and small.local_steps(six) == 17
    assert small.first_top(six) <= 297
    tiny = MultiStart(fidelity=epochs27, budget=10)
    assert (tiny.screen_size(six), tiny.local_steps(six)) == (3, 1)  # never below 1 each

    # A study that stops at its fidelity budget has spent most of it at the top.
    study = _study(sqlite_url, name="sized", screen=None, steps=80, budget=100)
    study.optimize(two_basins, fidelity_budget=100)
    phases = _phases(study)
    assert phases.count("screen") == 17 and phases.count("region") == 2 * 9
    assert {"compare", "polish"} <= set(phases)
    assert fidelity_cost(study.trials) >= 100


def test_default_screen_scales_with_the_parameters() -> None:
    assert MultiStart(fidelity=EPOCHS).screen_size(SPACE) == 20
    assert MultiStart(fidelity=EPOCHS, screen=7).screen_size(SPACE) == 7


class TestMultiStartConformance(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return MultiStart(optimizer={"name": "gp", "n_random": 64}, fidelity=EPOCHS, **SMALL)
