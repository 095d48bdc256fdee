"""The numbers behind every view of a study, computed before anything is drawn.

:func:`study_data` folds a study's events into what the views read;
:func:`build_report` computes each section's numbers as JSON-ready data (a
:class:`Section`), and :mod:`hypertrail.reporting.html` only draws them. Tests
check these numbers without a browser; the dashboard serves the same sections.

Views with one point per trial stay usable on large studies: :func:`thin` keeps
every trial that improved the best value, the best ones and an even spread of the
rest, up to ``max_points`` (a deterministic choice, so a report is reproducible).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hypertrail.history import StudyState
from hypertrail.schedulers.base import is_promotion
from hypertrail.space.codec import space_from_dict
from hypertrail.storage.events import TRIAL_ASKED, TRIAL_REPORTED, TRIAL_REQUEUED, Event
from hypertrail.trial import FrozenTrial, Metric, TrialState, furthest_trained

if TYPE_CHECKING:
    from hypertrail.analysis.importance import ImportanceResult
    from hypertrail.replay import ReplayReport
    from hypertrail.space.space import Space

__all__ = [
    "RATED_MIN_TRIALS",
    "SECTIONS",
    "Rated",
    "Report",
    "Section",
    "StudyData",
    "build_report",
    "rated_trials",
    "study_data",
    "thin",
]

# Every section a report has, in order: (id, title).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("history", "Optimization history"),
    ("parallel", "Parallel coordinates"),
    ("slices", "Slices"),
    ("importance", "Importance and interactions"),
    ("choices", "Discrete choices and continuous parameters"),
    ("pareto", "Pareto front"),
    ("lineage", "Lineage"),
    ("rungs", "Rungs"),
    ("budget", "Budget allocation"),
    ("resources", "Resources per trial"),
    ("provenance", "Provenance"),
    ("audit", "Audit"),
)
TOP_PARAMS = 8  # parameters shown in parallel coordinates, slices, heatmaps
RATED_MIN_TRIALS = 20  # under a fidelity, the parameter views take the highest with this many


@dataclass(frozen=True)
class StudyData:
    """A study as its events tell it, for reports.

    Attributes:
        name: the study's name.
        space, metrics, seed, optimizer: as created (the optimizer as its spec).
        trials: every trial, folded from the log.
        state: the fold itself (sessions, locks, reruns).
        decisions: per trial number, the extras its proposal recorded (e.g. the
            hybrid optimizer's allocation decision), from ``trial.asked`` events.
        requeues: every ``trial.requeued`` event's trial, attempt and reason.
        stops: every report on which a scheduler stopped a trial (trial, step,
            value, reason).
        events: how many events the study holds; ``cursor`` the last sequence number.
    """

    name: str
    space: Space
    metrics: tuple[Metric, ...]
    seed: int
    optimizer: Mapping[str, Any]
    created: Mapping[str, Any]
    trials: tuple[FrozenTrial, ...]
    state: StudyState
    decisions: Mapping[int, Mapping[str, Any]]
    requeues: tuple[Mapping[str, Any], ...]
    stops: tuple[Mapping[str, Any], ...]
    events: int
    cursor: int

    @property
    def metric(self) -> Metric:
        return self.metrics[0]

    def completed(self) -> list[FrozenTrial]:
        return [t for t in self.trials if t.state is TrialState.COMPLETE and t.values]

    def loss(self, trial: FrozenTrial) -> float:
        if not trial.values or self.metric.name not in trial.values:
            return math.inf
        return self.metric.sign * trial.values[self.metric.name]

    def best(self) -> FrozenTrial | None:
        """As :meth:`History.best_trained`: under a fidelity, of the furthest trained."""
        done = furthest_trained(self.completed())
        return min(done, key=lambda t: (self.loss(t), t.number)) if done else None


@dataclass(frozen=True)
class Rated:
    """The complete trials the parameter views (parallel coordinates, slices,
    importance, sensitivity, choices) compare, and why these.

    Attributes:
        trials: under a fidelity, the trials at one fidelity; otherwise every complete one.
        fidelity: that fidelity (None: no fidelity, or every fidelity together).
        label: how views name it, such as ``epochs=9`` ("" with no fidelity).
        note: what was chosen and what was left out ("" when nothing was).
    """

    trials: list[FrozenTrial]
    fidelity: float | None
    label: str
    note: str


def rated_trials(data: StudyData, fidelity: float | str = "auto") -> Rated:
    """The trials whose losses the parameter views compare with each other.

    Under a fidelity a loss after 1 epoch and one after 27 are not the same quantity,
    and a promoted configuration appears once per rung, so the views rate one
    fidelity: ``"auto"`` takes the highest that at least :data:`RATED_MIN_TRIALS`
    trials ran to (as BOHB's model takes the highest budget with enough
    observations), else the one most trials ran at; a number takes that fidelity;
    ``"all"`` takes every complete trial together. Trials stopped early (median
    stopping) hold a value from part of their training and are left out, unless
    every trial was stopped early.

    Raises:
        ValueError: for a fidelity no complete trial ran at, or an unknown choice.
    """
    if isinstance(fidelity, str) and fidelity not in ("auto", "all"):
        raise ValueError(f"fidelity must be 'auto', 'all' or a number, got {fidelity!r}")
    done = data.completed()
    runs = [t for t in done if t.stopped is None] or done
    counts = Counter(t.fidelity for t in runs if t.fidelity is not None)
    if not counts:
        if not isinstance(fidelity, str):
            raise ValueError(f"fidelity {fidelity:g} asked for, but the study has no fidelity")
        return Rated(done, None, "", "")
    unit = next(t.fidelity_name for t in runs if t.fidelity_name is not None)
    spread = ", ".join(f"{counts[f]} at {f:g}" for f in sorted(counts))
    if fidelity == "all":
        note = f"Trials of every {unit} together ({spread}): their losses differ by {unit} too."
        return Rated(done, None, "", note if len(counts) > 1 else "")
    if isinstance(fidelity, str):
        enough = [f for f in counts if counts[f] >= RATED_MIN_TRIALS]
        chosen = max(enough) if enough else max(counts, key=lambda f: (counts[f], f))
        why = (
            f"the highest {unit} value with at least {RATED_MIN_TRIALS} trials"
            if enough
            else f"no {unit} has {RATED_MIN_TRIALS} trials; the one with the most"
        )
    else:
        chosen = float(fidelity)
        if chosen not in counts:
            raise ValueError(
                f"no complete trial ran at {unit}={chosen:g}; the study's ran at "
                + ", ".join(f"{f:g}" for f in sorted(counts))
            )
        why = "as asked"
    kept = [t for t in runs if t.fidelity == chosen]
    stopped = len(done) - len(runs)
    note = f"Rated at {unit}={chosen:g} ({why}): {len(kept)} of {len(done)} complete trials"
    note += f" ({spread}" + (f"; {stopped} stopped early" if stopped else "") + ")."
    promoted = sum(is_promotion(t) for t in kept)
    if promoted == len(kept):
        note += (
            f" All of them were promoted from a lower {unit}: the views say what matters"
            " among the promising configurations."
        )
    elif promoted:
        note += f" {promoted} of them were promoted from a lower {unit}."
    if len(counts) > 1:
        note += f" A loss at another {unit} value is another quantity; `--fidelity` picks one."
    label = f"{unit}={chosen:g}"
    return Rated(kept, chosen, label, note if len(kept) < len(done) else "")


def study_data(events: Sequence[Event], name: str) -> StudyData:
    """Fold one study's events (in sequence order) for reporting.

    Raises:
        ValueError: when the events hold no ``study.created`` event.
    """
    state = StudyState(name)
    state.apply_all(events)
    if state.created is None:
        raise ValueError(f"no study named {name!r} in these events")
    created = state.created
    decisions: dict[int, Mapping[str, Any]] = {}
    requeues: list[Mapping[str, Any]] = []
    stops: list[Mapping[str, Any]] = []
    for event in events:
        if event.kind == TRIAL_REPORTED and event.data.get("stop"):
            stops.append(
                {
                    "trial": event.trial,
                    "step": event.data.get("step"),
                    "value": event.data.get("value"),
                    "reason": event.data.get("reason", ""),
                }
            )
        if event.kind == TRIAL_ASKED and event.trial is not None and event.data.get("extras"):
            decisions[event.trial] = dict(event.data["extras"])
        elif event.kind == TRIAL_REQUEUED:
            requeues.append(
                {
                    "trial": event.trial,
                    "attempt": event.data.get("attempt"),
                    "reason": event.data.get("reason", ""),
                    "time": event.time,
                }
            )
    return StudyData(
        name=name,
        space=space_from_dict(created["space"]),
        metrics=tuple(Metric(m["name"], m["goal"]) for m in created["metrics"]),
        seed=int(created["seed"]),
        optimizer=dict(created.get("optimizer") or {}),
        created=created,
        trials=tuple(state.trials),
        state=state,
        decisions=decisions,
        requeues=tuple(requeues),
        stops=tuple(stops),
        events=len(events),
        cursor=state.cursor,
    )


@dataclass(frozen=True)
class Section:
    """One view's numbers. ``data`` is JSON-ready; ``note`` says what was left out
    or why the view is empty; ``empty`` marks a view with nothing to show."""

    id: str
    title: str
    data: Mapping[str, Any]
    note: str = ""
    empty: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "data": dict(self.data),
            "note": self.note,
            "empty": self.empty,
        }


@dataclass(frozen=True)
class Report:
    """Every section of a study's report, in :data:`SECTIONS` order."""

    study: str
    sections: tuple[Section, ...]
    points: int = field(default=0)  # the max_points used

    def section(self, id: str) -> Section:
        for s in self.sections:
            if s.id == id:
                return s
        raise KeyError(id)

    def to_json(self) -> dict[str, Any]:
        return {"study": self.study, "sections": [s.to_json() for s in self.sections]}


def thin(
    trials: Sequence[FrozenTrial], loss: Callable[[FrozenTrial], float], max_points: int
) -> list[FrozenTrial]:
    """At most ``max_points`` of ``trials`` (in number order), keeping every trial that
    improved the best ``loss``, the best ``max_points // 10``, and an even spread."""
    if len(trials) <= max_points:
        return list(trials)
    keep: set[int] = set()
    best = math.inf
    for t in sorted(trials, key=lambda t: t.number):
        value = loss(t)
        if value < best:
            best = value
            keep.add(t.number)
    ranked = sorted(trials, key=lambda t: (loss(t), t.number))
    keep.update(t.number for t in ranked[: max(1, max_points // 10)])
    rest = [t for t in trials if t.number not in keep]
    room = max(0, max_points - len(keep))
    if room and rest:
        step = len(rest) / room
        keep.update(rest[int(i * step)].number for i in range(min(room, len(rest))))
    return sorted((t for t in trials if t.number in keep), key=lambda t: t.number)


def _summary(data: StudyData, importance: ImportanceResult | None) -> Section:
    counts = Counter(t.state.value for t in data.trials)
    best = data.best()
    wall = [t.duration for t in data.trials if t.duration is not None]
    cpu = [t.cpu_time for t in data.trials if t.cpu_time is not None]
    started = [t.started for t in data.trials if t.started]
    finished = [t.finished for t in data.trials if t.finished]
    metrics: list[dict[str, Any]] = []
    reruns = data.state.reruns.get(best.number, []) if best else []
    for m in data.metrics:
        row: dict[str, Any] = {"name": m.name, "goal": m.goal, "best": None}
        if best and best.values and m.name in best.values:
            row["best"] = best.values[m.name]
        values = [float(r["values"][m.name]) for r in reruns if m.name in (r.get("values") or {})]
        row["reruns"] = len(values)
        if len(values) >= 2:
            from scipy import stats

            mean, std = statistics.fmean(values), statistics.stdev(values)
            half = float(stats.t.ppf(0.975, len(values) - 1)) * std / math.sqrt(len(values))
            row.update(mean=mean, std=std, low=mean - half, high=mean + half)
        metrics.append(row)
    top = []
    if importance is not None:
        top = [p.name + (" (when active)" if p.conditional else "") for p in importance.params[:3]]
    note = ""
    if best and not reruns:
        note = (
            "The best value is one evaluation; `hypertrail rerun STUDY --best 3 --seeds 5` "
            "measures its spread."
        )
    return Section(
        "summary",
        "Summary",
        {
            "study": data.name,
            "seed": data.seed,
            "optimizer": dict(data.optimizer),
            "metrics": metrics,
            "counts": {
                "total": len(data.trials),
                "complete": counts.get("complete", 0),
                "failed": counts.get("failed", 0),
                "running": counts.get("running", 0),
            },
            "best": None
            if best is None
            else {
                "number": best.number,
                "config": dict(best.config),
                "values": dict(best.values or {}),
                "reason": best.reason,
            },
            "wall_time": float(sum(wall)),
            "cpu_time": float(sum(cpu)),
            "span": (max(finished) - min(started)) if started and finished else 0.0,
            "important": top,
            "deterministic": data.created.get("deterministic"),
            "version": data.created.get("hypertrail_version"),
        },
        note=note,
        empty=best is None,
    )


def _history(data: StudyData, max_points: int) -> Section:
    done = sorted(data.completed(), key=lambda t: t.number)
    shown = thin(done, data.loss, max_points)
    metric = data.metric
    steps: list[list[float]] = []  # [trial number, best value] at each improvement
    best = math.inf
    for t in furthest_trained(done):  # a cheap rung's value is not a best value
        loss = data.loss(t)
        if loss < best:
            best = loss
            steps.append([t.number, metric.sign * loss])
    if done and steps and steps[-1][0] != data.trials[-1].number:
        steps.append([data.trials[-1].number, steps[-1][1]])
    failed = [t.number for t in data.trials if t.state is TrialState.FAILED]
    note = f"{len(shown)} of {len(done)} trials drawn." if len(shown) < len(done) else ""
    return Section(
        "history",
        "Optimization history",
        {
            "metric": metric.to_json(),
            "trials": [t.number for t in shown],
            "values": [(t.values or {}).get(metric.name) for t in shown],
            "best": steps,
            "failed": failed,
        },
        note=note,
        empty=not done,
    )


def _at(rated: Rated, note: str) -> str:
    """A parameter view's note, saying which fidelity's trials it draws."""
    if not rated.label or not rated.note:
        return note
    return f"Trials at {rated.label} only (see Importance). {note.strip()}".strip()


def _joined(*notes: str) -> str:
    """Notes as sentences, in order (each capitalized and ended with a full stop)."""
    out = []
    for note in notes:
        note = note.strip()
        if note:
            out.append(note[0].upper() + note[1:] + ("" if note.endswith(".") else "."))
    return " ".join(out)


def _ranked_params(data: StudyData, importance: ImportanceResult | None) -> list[str]:
    """Searched parameters, most important first (space order without an analysis)."""
    names = [p.name for p in data.space.dimensions]
    if importance is None or not importance.params:
        return names
    order = [p.name for p in importance.params if p.name in names]
    return order + [n for n in names if n not in order]


def _axis(data: StudyData, name: str) -> dict[str, Any]:
    """How to draw one parameter: unit coordinate ticks labelled with its values."""
    domain = data.space[name].domain
    size = domain.cardinality() if domain.is_discrete else None
    if size is not None and size <= 12:
        values = domain.values()
        return {
            "name": name,
            "kind": domain.kind,
            "ticks": [domain.to_unit(v) for v in values],
            "labels": [str(v) for v in values],
            "log": False,
        }
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    return {
        "name": name,
        "kind": domain.kind,
        "ticks": ticks,
        "labels": [f"{domain.from_unit(u):.3g}" for u in ticks],
        "log": bool(getattr(domain, "log", False)),
    }


def _parallel(
    data: StudyData, rated: Rated, importance: ImportanceResult | None, max_points: int
) -> Section:
    done = rated.trials
    shown = thin(done, data.loss, max_points)
    names = _ranked_params(data, importance)[:TOP_PARAMS]
    dims = [data.space.dimensions.index(data.space[n]) for n in names]
    rows = np.array([data.space.encode(t.config) for t in shown], dtype=float).reshape(
        len(shown), len(data.space.dimensions)
    )
    columns = []
    for name, d in zip(names, dims, strict=True):
        column = rows[:, d] if len(shown) else np.empty(0)
        axis = _axis(data, name)
        inactive = bool(np.isnan(column).any())
        if inactive:  # inactive values get their own tick below the range
            axis["ticks"] = [-0.1, *axis["ticks"]]
            axis["labels"] = ["off", *axis["labels"]]
        axis["values"] = [(-0.1 if math.isnan(v) else float(v)) for v in column]
        columns.append(axis)
    note = f"{len(shown)} of {len(done)} trials drawn." if len(shown) < len(done) else ""
    if len(names) < len(data.space.dimensions):
        note += f" The {len(names)} most important of {len(data.space.dimensions)} parameters."
    note = _at(rated, note)
    return Section(
        "parallel",
        "Parallel coordinates",
        {
            "metric": data.metric.to_json(),
            "trials": [t.number for t in shown],
            "values": [(t.values or {})[data.metric.name] for t in shown],
            "columns": columns,
        },
        note=note.strip(),
        empty=not shown,
    )


def _slices(
    data: StudyData, rated: Rated, importance: ImportanceResult | None, max_points: int
) -> Section:
    done = rated.trials
    shown = thin(done, data.loss, max_points)
    out = []
    for name in _ranked_params(data, importance)[: min(6, TOP_PARAMS)]:
        active = [t for t in shown if name in t.config]
        domain = data.space[name].domain
        out.append(
            {
                "name": name,
                "kind": domain.kind,
                "log": bool(getattr(domain, "log", False)),
                "x": [
                    t.config[name] if domain.kind in ("float", "int") else str(t.config[name])
                    for t in active
                ],
                "y": [(t.values or {})[data.metric.name] for t in active],
                "trials": [t.number for t in active],
                "categories": [str(v) for v in domain.values()] if domain.is_discrete else None,
            }
        )
    return Section(
        "slices",
        "Slices",
        {"metric": data.metric.to_json(), "params": out},
        note=_at(
            rated, f"{len(shown)} of {len(done)} trials drawn." if len(shown) < len(done) else ""
        ),
        empty=not shown,
    )


def _importance(
    rated: Rated, importance: ImportanceResult | None, sensitivity: Sequence[Any]
) -> Section:
    if importance is None or not importance.params:
        note = importance.note if importance is not None else "Importance was not computed."
        return Section(
            "importance",
            "Importance and interactions",
            {},
            note=_joined(rated.note, note),
            empty=True,
        )
    top = [p.name for p in importance.params[:TOP_PARAMS]]
    matrix = [[0.0] * len(top) for _ in top]
    for inter in importance.interactions:
        if inter.a in top and inter.b in top:
            i, j = top.index(inter.a), top.index(inter.b)
            matrix[i][j] = matrix[j][i] = inter.share
    for i, name in enumerate(top):
        matrix[i][i] = next(p.share for p in importance.params if p.name == name)
    return Section(
        "importance",
        "Importance and interactions",
        {
            **importance.to_json(),
            "heatmap": {"params": top, "shares": matrix},
            "sensitivity": [
                {
                    "name": s.name,
                    "values": list(s.values),
                    "predicted": s.predicted,
                    "delta": s.delta,
                }
                for s in sensitivity
            ],
            "fidelity": rated.fidelity,
        },
        note=_joined(rated.note, importance.note),
    )


def _choices(
    data: StudyData, rated: Rated, importance: ImportanceResult | None, max_points: int
) -> Section:
    """For each discrete parameter, the continuous parameters of the trials that chose
    each of its values: medians among all and among the best quarter, and points."""
    ranked = _ranked_params(data, importance)
    discrete = [
        n
        for n in ranked
        if data.space[n].domain.kind in ("categorical", "ordinal")
        or (data.space[n].domain.kind == "int" and (data.space[n].domain.cardinality() or 99) <= 8)
    ][:3]
    numeric = [
        n for n in ranked if n not in discrete and data.space[n].domain.kind in ("float", "int")
    ][:4]
    done = rated.trials
    shown = thin(done, data.loss, max_points)
    cut = np.quantile([data.loss(t) for t in done], 0.25) if done else math.inf
    pairs = []
    for d in discrete:
        for x in numeric:
            groups = []
            for choice in data.space[d].domain.values():
                members = [t for t in done if t.config.get(d) == choice and x in t.config]
                if not members:
                    continue
                top = [t.config[x] for t in members if data.loss(t) <= cut]
                groups.append(
                    {
                        "choice": str(choice),
                        "n": len(members),
                        "median": float(np.median([t.config[x] for t in members])),
                        "best_quarter_median": float(np.median(top)) if top else None,
                        "x": [
                            t.config[x]
                            for t in shown
                            if t.config.get(d) == choice and x in t.config
                        ],
                        "y": [
                            (t.values or {})[data.metric.name]
                            for t in shown
                            if t.config.get(d) == choice and x in t.config
                        ],
                    }
                )
            if groups:
                domain = data.space[x].domain
                pairs.append(
                    {
                        "discrete": d,
                        "numeric": x,
                        "log": bool(getattr(domain, "log", False)),
                        "groups": groups,
                    }
                )
    note = ""
    if not discrete or not numeric:
        note = "The space needs a discrete and a continuous parameter for this view."
    return Section(
        "choices",
        "Discrete choices and continuous parameters",
        {"metric": data.metric.to_json(), "pairs": pairs},
        note=_at(rated, note),
        empty=not pairs,
    )


def _pareto(data: StudyData, max_points: int) -> Section:
    if len(data.metrics) < 2:
        return Section(
            "pareto", "Pareto front", {}, note="One metric: no trade-off to show.", empty=True
        )
    from hypertrail.analysis.pareto import study_front

    pf = study_front(data.trials, data.metrics)
    by_number = {t.number: t for t in data.trials}
    on_front = set(pf.front)
    shown = thin([by_number[n] for n in pf.trials], data.loss, max_points)
    shown_numbers = sorted({t.number for t in shown} | on_front)
    reference = [
        round(float(v * m.sign), 6) for v, m in zip(pf.reference, data.metrics, strict=True)
    ]
    return Section(
        "pareto",
        "Pareto front",
        {
            **pf.to_json(),
            "trials": shown_numbers,
            "points": [
                [float((by_number[n].values or {})[m.name]) for m in data.metrics]
                for n in shown_numbers
            ],
            "on_front": [n in on_front for n in shown_numbers],
        },
        note=f"{len(pf.front)} of {len(pf.trials)} complete trials are not dominated; "
        f"hypervolume {pf.hypervolume:.6g} against the reference point "
        f"{reference}.",
        empty=not pf.trials,
    )


def build_report(
    data: StudyData,
    *,
    max_points: int = 2000,
    importance: ImportanceResult | None = None,
    sensitivity: Sequence[Any] = (),
    replay: ReplayReport | None = None,
    fidelity: float | str = "auto",
) -> Report:
    """Every section's numbers. ``importance`` and ``sensitivity`` come from
    :mod:`hypertrail.analysis.importance` (see :func:`analyse`); ``replay`` from
    :func:`hypertrail.replay.verify` when the caller ran it; ``fidelity`` picks the
    trials the parameter views compare (:func:`rated_trials`)."""
    from hypertrail.reporting.records import (
        audit,
        budget,
        lineage,
        provenance,
        resources,
        rungs,
    )

    rated = rated_trials(data, fidelity)
    builders: dict[str, Callable[[], Section]] = {
        "summary": lambda: _summary(data, importance),
        "history": lambda: _history(data, max_points),
        "parallel": lambda: _parallel(data, rated, importance, max_points),
        "slices": lambda: _slices(data, rated, importance, max_points),
        "importance": lambda: _importance(rated, importance, sensitivity),
        "choices": lambda: _choices(data, rated, importance, max_points),
        "pareto": lambda: _pareto(data, max_points),
        "lineage": lambda: lineage(data),
        "rungs": lambda: rungs(data, max_points),
        "budget": lambda: budget(data),
        "resources": lambda: resources(data, max_points),
        "provenance": lambda: provenance(data),
        "audit": lambda: audit(data, replay),
    }
    return Report(data.name, tuple(builders[id]() for id, _ in SECTIONS), max_points)


def analyse(
    data: StudyData, *, method: str = "auto", seed: int = 0, fidelity: float | str = "auto"
) -> tuple[ImportanceResult | None, list[Any]]:
    """Importance of the searched parameters and the best trial's local sensitivity,
    on the primary metric, over :func:`rated_trials` (``fidelity`` as there; pass
    :func:`build_report` the same), or None and [] when there is no complete trial."""
    from hypertrail.analysis.importance import importance, sensitivity

    done = rated_trials(data, fidelity).trials
    if not done:
        return None, []
    result = importance(data.space, done, data.metric, method=method, seed=seed)
    best = data.best()
    local = (
        sensitivity(data.space, done, data.metric, best.config, seed=seed)
        if best is not None and len(done) >= 5
        else []
    )
    return result, local
