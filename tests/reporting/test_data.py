"""Every report section's numbers, checked by hand against the study they come from."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hypertrail.analysis.pareto import front
from hypertrail.replay import verify
from hypertrail.reporting.data import (
    SECTIONS,
    Report,
    StudyData,
    analyse,
    build_report,
    study_data,
    thin,
)
from hypertrail.storage.base import open_storage
from hypertrail.trial import FrozenTrial, TrialState


@pytest.fixture(scope="module")
def loaded(report_study: tuple[str, str]) -> tuple[StudyData, Report]:
    url, name = report_study
    log = open_storage(url)
    try:
        data = study_data(log.read(name), name)
        replay = verify(log, name)
    finally:
        log.close()
    importance, local = analyse(data)
    return data, build_report(data, importance=importance, sensitivity=local, replay=replay)


def test_every_section_is_there_with_data(loaded: tuple[StudyData, Report]) -> None:
    _, report = loaded
    assert [s.id for s in report.sections] == [id for id, _ in SECTIONS]
    # the demo study has no multi-fidelity scheduler: only its rungs section is empty
    assert [s.id for s in report.sections if s.empty] == ["rungs"]
    # JSON-ready: what the page embeds and the dashboard serves.
    json.dumps(report.to_json(), allow_nan=False)


def test_summary_counts_best_and_rerun_interval(loaded: tuple[StudyData, Report]) -> None:
    data, report = loaded
    d = report.section("summary").data
    states = [t.state for t in data.trials]
    assert d["counts"] == {
        "total": len(data.trials),
        "complete": states.count(TrialState.COMPLETE),
        "failed": states.count(TrialState.FAILED),
        "running": 0,
    }
    assert d["counts"]["failed"] > 0
    best = min(data.completed(), key=lambda t: ((t.values or {})["error"], t.number))
    assert d["best"]["number"] == best.number
    error = d["metrics"][0]
    reruns = [r["values"]["error"] for r in data.state.reruns[best.number]]
    assert error["reruns"] == len(reruns) == 3
    assert error["mean"] == pytest.approx(np.mean(reruns))
    assert error["low"] < error["mean"] < error["high"]
    assert d["wall_time"] == pytest.approx(sum(t.duration or 0 for t in data.trials))


def test_history_best_so_far_steps(loaded: tuple[StudyData, Report]) -> None:
    data, report = loaded
    d = report.section("history").data
    running = math.inf
    expected = []
    for t in data.trials:
        if t.values and t.values["error"] < running:
            running = t.values["error"]
            expected.append([t.number, running])
    assert d["best"][: len(expected)] == expected
    assert d["best"][-1] == [data.trials[-1].number, expected[-1][1]]
    assert d["failed"] == [t.number for t in data.trials if t.state is TrialState.FAILED]


def test_thin_keeps_improvements_and_best_within_the_limit() -> None:
    trials = [
        FrozenTrial(i, TrialState.COMPLETE, {}, {"loss": float(v)})
        for i, v in enumerate(np.random.default_rng(0).permutation(1000))
    ]

    def loss(t: FrozenTrial) -> float:
        return (t.values or {})["loss"]

    shown = thin(trials, loss, 100)
    assert len(shown) <= 100
    numbers = {t.number for t in shown}
    best = math.inf
    for t in trials:
        if (t.values or {})["loss"] < best:
            best = (t.values or {})["loss"]
            assert t.number in numbers
    assert {t.number for t in trials if (t.values or {})["loss"] < 10} <= numbers
    assert thin(trials, loss, 100) == shown  # deterministic
    assert thin(trials[:50], loss, 100) == trials[:50]


def test_parallel_coordinates_mark_inactive_values(loaded: tuple[StudyData, Report]) -> None:
    data, report = loaded
    d = report.section("parallel").data
    momentum = next(c for c in d["columns"] if c["name"] == "momentum")
    for number, value in zip(d["trials"], momentum["values"], strict=True):
        config = data.trials[number].config
        if "momentum" in config:
            assert value == pytest.approx(data.space["momentum"].domain.to_unit(config["momentum"]))
        else:
            assert value == -0.1
    assert momentum["labels"][0] == "off"
    optimizer = next(c for c in d["columns"] if c["name"] == "optimizer")
    assert optimizer["labels"] == ["adam", "sgd"]


def test_choices_medians_by_hand(loaded: tuple[StudyData, Report]) -> None:
    data, report = loaded
    pair = next(
        p
        for p in report.section("choices").data["pairs"]
        if p["discrete"] == "optimizer" and p["numeric"] == "lr"
    )
    sgd = next(g for g in pair["groups"] if g["choice"] == "sgd")
    lrs = [t.config["lr"] for t in data.completed() if t.config["optimizer"] == "sgd"]
    assert sgd["n"] == len(lrs)
    assert sgd["median"] == pytest.approx(np.median(lrs))


def test_pareto_front_matches_dominance(loaded: tuple[StudyData, Report]) -> None:
    data, report = loaded
    d = report.section("pareto").data
    done = data.completed()
    losses = np.array([[t.values["error"], t.values["latency"]] for t in done if t.values])
    assert d["front"] == [done[i].number for i in front(losses)]
    assert d["hypervolume"] > 0
    assert sum(d["on_front"]) == len(d["front"])


def test_lineage_has_parents_and_the_requeued_trial(loaded: tuple[StudyData, Report]) -> None:
    data, report = loaded
    d = report.section("lineage").data
    parents = {(t.parent, t.number) for t in data.trials if t.parent is not None}
    assert {(e["parent"], e["child"]) for e in d["edges"]} == parents
    assert len(d["requeues"]) == 1
    lost = d["requeues"][0]["trial"]
    node = next(n for n in d["nodes"] if n["trial"] == lost)
    assert node["attempts"] == 2


def test_budget_follows_the_hybrid_decisions(loaded: tuple[StudyData, Report]) -> None:
    data, report = loaded
    d = report.section("budget").data
    assert {"sweep", "explore", "refine"} <= set(d["kinds"])
    last = {k: v[-1] for k, v in d["cumulative"].items()}
    assert sum(last.values()) == len(data.trials)
    assert sum(t["trials"] for t in d["totals"]) == len(data.trials)
    assert (
        sum(t["improvements"] for t in d["totals"])
        == len(report.section("history").data["best"]) - 1
    )
    stage2 = [x for x in d["decisions"] if x["stage"] == 2]
    assert stage2 and all(0.0 <= x["p_explore"] <= 1.0 for x in stage2)


def test_resources_provenance_and_audit(loaded: tuple[StudyData, Report]) -> None:
    data, report = loaded
    r = report.section("resources").data
    ended = [t for t in data.trials if t.state.finished]
    assert r["summary"]["wall_time"]["total"] == pytest.approx(sum(t.duration or 0 for t in ended))
    p = report.section("provenance").data
    assert len(p["sessions"]) == 2  # the first process and the one that took over
    assert all(s["python"] for s in p["sessions"])
    a = report.section("audit").data
    assert a["replay"] == {
        "checked": len(data.trials),
        "identical": len(data.trials),
        "ok": True,
        "first": None,
    }
    assert [f["trial"] for f in a["failed"]] == [
        t.number for t in data.trials if t.state is TrialState.FAILED
    ]
    assert all("diverged" in f["last_line"] for f in a["failed"] if f["last_line"])


def test_importance_ranks_the_learning_rate_first(loaded: tuple[StudyData, Report]) -> None:
    _, report = loaded
    d = report.section("importance").data
    assert d["params"][0]["name"] == "lr"
    junk = next(p for p in d["params"] if p["name"] == "junk")
    assert junk["share"] < d["params"][0]["share"]
    heat = d["heatmap"]
    assert heat["params"][0] == "lr"
    assert len(heat["shares"]) == len(heat["params"])


def test_single_metric_study_has_an_empty_pareto_section(tmp_path: object) -> None:
    from hypertrail import Float, Space, Study

    study = Study.create("one", Space({"x": Float(0, 1)}), storage="memory", seed=0)
    study.optimize(lambda t: t.config["x"], n_trials=3)
    data = study_data(study.storage.read("one"), "one")
    section = build_report(data).section("pareto")
    assert section.empty and "One metric" in section.note
    with pytest.raises(ValueError, match="no study named 'two'"):
        study_data([], "two")


def test_scheduled_studies_show_rungs_promotions_and_stops() -> None:
    from tests import _objectives

    from hypertrail import Float, Space, Study

    space = Space({"x": Float(0.0, 1.0)})
    fidelity = {"name": "epochs", "min": 1, "max": 9}
    asha = Study.create(
        "asha",
        space,
        storage="memory",
        seed=1,
        metrics="loss",
        optimizer={"name": "asha", "fidelity": fidelity},
    )
    asha.optimize(_objectives.learning_curve, n_trials=20)
    report = build_report(study_data(asha.storage.read("asha"), "asha"))
    lineage = report.section("lineage").data
    promoted = [t for t in asha.trials if t.parent is not None]
    assert len(lineage["edges"]) == len(promoted) > 0
    assert all("promoted" in e["reason"] for e in lineage["edges"])
    assert {n["rung"] for n in lineage["nodes"]} >= {0, 1}
    kinds = report.section("budget").data["kinds"]
    assert kinds[0] == "rung 0 (1)" and "rung 1 (3)" in kinds
    # every rung ranks this learning curve alike: rank agreement 1 wherever it is defined
    rungs = report.section("rungs")
    assert not rungs.empty
    assert [r["fidelity"] for r in rungs.data["rungs"]] == [1.0, 3.0, 9.0][
        : len(rungs.data["rungs"])
    ]
    to_rung_1 = [t for t in promoted if t.rung == 1]
    assert rungs.data["rungs"][0]["went_on"] == len(to_rung_1)
    first = next(p for p in rungs.data["pairs"] if (p["low"], p["high"]) == (0, 1))
    assert first["n"] == len(to_rung_1) >= 3 and first["rho"] == pytest.approx(1.0)
    assert not rungs.note.startswith("Loose")
    few = build_report(study_data(asha.storage.read("asha"), "asha"), max_points=3)
    assert len(few.section("rungs").data["points"]) == 3
    assert "3 of" in few.section("rungs").note
    assert len([q for q in rungs.data["points"] if q["low"] == 0]) == len(to_rung_1)
    best_top = min(
        (t for t in asha.trials if t.rung == rungs.data["rungs"][-1]["rung"]),
        key=lambda t: t.value or 0.0,
    )
    assert rungs.data["winners"][0]["trial"] == best_top.number
    assert rungs.data["winners"][0]["ranks"][0] == {"rung": 0, "rank": 1, "of": 20 - len(promoted)}

    median = Study.create(
        "median",
        space,
        storage="memory",
        seed=1,
        metrics="loss",
        optimizer={"name": "median", "fidelity": fidelity, "min_trials": 2},
    )
    median.optimize(_objectives.learning_curve, n_trials=12)
    stops = build_report(study_data(median.storage.read("median"), "median")).section("lineage")
    stopped = [t.number for t in median.trials if t.stopped is not None]
    assert stopped and [s["trial"] for s in stops.data["stops"]] == stopped
    assert all("median" in s["reason"] for s in stops.data["stops"])
    no_rungs = build_report(study_data(median.storage.read("median"), "median")).section("rungs")
    assert no_rungs.empty and "one rung" in no_rungs.note  # median stopping: one rung
    memory = Study.create("plain", space, storage="memory", seed=0)
    memory.optimize(lambda t: float(t.config["x"]), n_trials=3)
    plain = build_report(study_data(memory.storage.read("plain"), "plain")).section("rungs")
    assert plain.empty and "no multi-fidelity scheduler" in plain.note


def test_rungs_section_shows_a_cheap_rung_that_ranks_against_the_next() -> None:
    from hypertrail import Float, Space, Study
    from hypertrail.trial import Trial

    def crossing(trial: Trial) -> float:
        # after 1 epoch the small x look best, after 3 the large ones: curves cross
        x = float(trial.config["x"])
        return x if (trial.fidelity or 1) < 3 else 1.0 - x

    study = Study.create(
        "cross",
        Space({"x": Float(0.0, 1.0)}),
        storage="memory",
        seed=4,
        metrics="loss",
        optimizer={"name": "asha", "fidelity": {"name": "epochs", "min": 1, "max": 9}},
    )
    study.optimize(crossing, n_trials=60)
    data = build_report(study_data(study.storage.read("cross"), "cross")).section("rungs").data
    first = next(p for p in data["pairs"] if (p["low"], p["high"]) == (0, 1))
    assert first["n"] >= 10 and first["rho"] == pytest.approx(-1.0)
    section = build_report(study_data(study.storage.read("cross"), "cross")).section("rungs")
    assert section.note.startswith("Loose agreement between rungs 0 → 1 (ρ -1.00)")
    winner = data["winners"][0]
    # the best at the top was among the worst of the configurations that went on
    at_0 = next(r for r in winner["ranks"] if r["rung"] == 0)
    assert at_0["rank"] == max(
        r["rank"] for w in data["winners"] for r in w["ranks"] if r["rung"] == 0
    )
