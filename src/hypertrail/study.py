"""A study: ask, tell, optimize, and what the event log says happened.

A :class:`Study` is a view over its events in an :class:`~hypertrail.storage.EventLog`.
It holds no state of its own beyond a cache of the fold; any number of processes
can open the same study and ask and tell concurrently:

* **ask** reads new events, lets the optimizer propose from that snapshot with the
  generator derived for the next trial number, and appends a ``trial.asked`` event
  whose key is unique per trial number. If another process took that number first,
  the append fails atomically and the ask starts over with a fresh snapshot.
* **tell** appends ``trial.completed`` or ``trial.failed`` with a key unique per trial,
  so a trial ends exactly once, whoever tells it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import math
import os
import socket
import time
import traceback as tb
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hypertrail import __version__
from hypertrail.errors import (
    ConfigError,
    DuplicateEventError,
    ObjectiveError,
    OptimizerError,
    StorageError,
    StudyError,
    TrialStateError,
)
from hypertrail.execution.base import Executor, Objective, TrialOutcome, normalize_values
from hypertrail.history import History, StudyState
from hypertrail.optimizers.base import OPTIMIZERS, Optimizer, revisions
from hypertrail.recovery import Lost, Recovery, Session, find_lost
from hypertrail.registry import build_from_spec
from hypertrail.seeding import PURPOSE_PROPOSE, RngKey
from hypertrail.space.codec import space_from_dict
from hypertrail.space.space import Space
from hypertrail.storage.base import EventLog, open_storage
from hypertrail.storage.events import (
    EVENT_SCHEMA_VERSION,
    STUDY_CREATED,
    TRIAL_ASKED,
    TRIAL_COMPLETED,
    TRIAL_FAILED,
    TRIAL_REPORTED,
    TRIAL_REQUEUED,
    Event,
    asked_key,
    attempt_key,
    ended_key,
)
from hypertrail.trial import FrozenTrial, Metric, Trial, TrialState

__all__ = ["Callback", "Study", "make_optimizer", "optimizer_spec", "parse_metrics"]

Callback = Callable[["Study", TrialOutcome], None]
_ASK_ATTEMPTS = 1000
_POLL = 0.2  # seconds between looks at the log while waiting on other processes


class _Wait(enum.Enum):
    """Why :meth:`Study._ask` gave no trial although the budget is not spent."""

    BLOCKED = "a deterministic study waits for earlier trials to end"


_GOALS = ("minimize", "maximize")


def parse_metrics(metrics: str | Mapping[str, str] | Sequence[Metric] | None) -> tuple[Metric, ...]:
    """``None`` -> one metric ``value`` to minimize; ``"loss"``; ``{"acc": "maximize"}``."""
    if metrics is None:
        return (Metric("value", "minimize"),)
    if isinstance(metrics, str):
        return (Metric(metrics, "minimize"),)
    if isinstance(metrics, Mapping):
        out = []
        for name, goal in metrics.items():
            if goal not in _GOALS:
                raise StudyError(
                    f"metric {name!r}: goal must be 'minimize' or 'maximize', got {goal!r}"
                )
            out.append(Metric(str(name), goal))
        if not out:
            raise StudyError("at least one metric is needed")
        return tuple(out)
    out = list(metrics)
    if not out or not all(isinstance(m, Metric) for m in out):
        raise StudyError("metrics must be a name, a mapping name -> goal, or Metric objects")
    return tuple(out)


def make_optimizer(spec: str | Mapping[str, Any] | Optimizer) -> tuple[Optimizer, dict[str, Any]]:
    """An optimizer and its JSON spec from a name, a spec mapping or an instance."""
    if isinstance(spec, str | Mapping):
        try:
            return build_from_spec(OPTIMIZERS, spec, "optimizer")
        except ConfigError as exc:
            raise OptimizerError("; ".join(str(i) for i in exc.issues)) from None
    return spec, optimizer_spec(spec)


def optimizer_spec(optimizer: Optimizer) -> dict[str, Any]:
    """The JSON spec (``{"name": ..., **options}``) that rebuilds ``optimizer``."""
    spec: dict[str, Any] = {"name": optimizer.name}
    if dataclasses.is_dataclass(optimizer):
        for f in dataclasses.fields(optimizer):
            if f.init:
                spec[f.name] = getattr(optimizer, f.name)
    return spec


class Study:
    """A search over a space, recorded as events.

    Use :meth:`create` or :meth:`load`, not the constructor.

    Example:
        >>> from hypertrail import Float, Space, Study
        >>> study = Study.create("demo", Space({"x": Float(-1.0, 1.0)}), seed=1)
        >>> study.optimize(lambda t: t.config["x"] ** 2, n_trials=20)
        >>> study.best.value < 0.05
        True
    """

    def __init__(
        self,
        name: str,
        log: EventLog,
        state: StudyState,
        *,
        owns_log: bool,
    ) -> None:
        created = state.created
        assert created is not None
        self.name = name
        self.storage = log
        self._owns_log = owns_log
        self._scratch: str | None = None  # checkpoints of an in-memory study
        self._state = state
        self.created: dict[str, Any] = created
        self.seed: int = int(created["seed"])
        self.metrics: tuple[Metric, ...] = tuple(
            Metric(m["name"], m["goal"]) for m in created["metrics"]
        )
        self.space: Space = space_from_dict(created["space"])
        self.optimizer, self.optimizer_spec = make_optimizer(created["optimizer"])
        self._revisions = revisions(self.optimizer_spec)
        lag = created.get("deterministic")
        self.deterministic: int | None = int(lag) if lag else None
        self.recovery = Recovery()
        # Recorded in this process's session.started event (the CLI adds the plan's
        # hash and data fingerprints); set it before the first ask or tell.
        self.provenance: dict[str, Any] = {}
        self.code_directory: str | None = None  # whose git state to record; cwd if None
        self._session: Session | None = None

    # --- opening ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        space: Space,
        *,
        metrics: str | Mapping[str, str] | Sequence[Metric] | None = None,
        storage: str | Path | EventLog = "memory",
        seed: int = 0,
        optimizer: str | Mapping[str, Any] | Optimizer = "gp",
        load_if_exists: bool = False,
        info: Mapping[str, Any] | None = None,
        deterministic: bool | int = False,
    ) -> Study:
        """Record a new study in ``storage`` and return it.

        Args:
            name: unique within the storage.
            space: the validated search space.
            metrics: what the objective returns and which way is better.
            storage: a URL (``sqlite:///x.db``, ``memory``), a ``.db`` path, or a log.
            seed: the root of every random stream in the study.
            optimizer: a registered name, ``{"name": ..., **options}``, or an instance.
                The default, ``gp``, is the best measured on mixed and conditional
                spaces (docs/benchmarks.md); ``random`` costs nothing per proposal.
            load_if_exists: open the existing study of that name instead of failing,
                after checking it was created with the same space, metrics, seed and
                optimizer.
            info: extra JSON data recorded with the creation (e.g. the plan's hash).
            deterministic: ``False`` (asynchronous: a proposal sees every result in
                so far), or the number ``N`` of trials that may run at once (``True``
                means 1): proposal *n* then sees the results of trials ``0 .. n-N``
                exactly and no other, so the study does not depend on timing and
                two runs with the same seed are identical, whatever the workers.
        """
        _check_name(name)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise StudyError(f"seed must be a non-negative integer, got {seed!r}")
        parsed = parse_metrics(metrics)
        if isinstance(deterministic, bool):
            lag: int | None = 1 if deterministic else None
        elif isinstance(deterministic, int) and deterministic >= 1:
            lag = deterministic
        else:
            raise StudyError(
                f"deterministic must be True, False or a number of workers >= 1, "
                f"got {deterministic!r}"
            )
        opt, spec = make_optimizer(optimizer)
        opt.check(space)
        log = open_storage(storage)
        owns = log is not storage
        data = {
            "schema_version": EVENT_SCHEMA_VERSION,
            "name": name,
            "seed": seed,
            "metrics": [m.to_json() for m in parsed],
            "space": space.to_json(),
            "space_fingerprint": space.fingerprint,
            "optimizer": spec,
            "deterministic": lag,
            "hypertrail_version": __version__,
            "info": dict(info or {}),
        }
        try:
            log.append([Event(STUDY_CREATED, name, data=data, key="created", time=time.time())])
        except DuplicateEventError:
            if not load_if_exists:
                if owns:
                    log.close()
                raise StudyError(
                    f"a study named {name!r} already exists in {log.url}; "
                    "load it, or choose another name"
                ) from None
            study = cls._open(name, log, owns)
            study._check_same(data)
            return study
        return cls._open(name, log, owns)

    @classmethod
    def load(cls, name: str, storage: str | Path | EventLog) -> Study:
        """Open an existing study."""
        log = open_storage(storage)
        return cls._open(name, log, log is not storage)

    @classmethod
    def _open(cls, name: str, log: EventLog, owns: bool) -> Study:
        state = StudyState(name)
        state.apply_all(log.read(name))
        if state.created is None:
            known = log.studies()
            if owns:
                log.close()
            hint = f"; studies there: {', '.join(known)}" if known else "; it holds no study"
            raise StudyError(f"no study named {name!r} in {log.url}{hint}")
        version = state.created.get("schema_version")
        if version != EVENT_SCHEMA_VERSION:
            raise StorageError(
                f"study {name!r} was written with event schema {version}; "
                f"this hypertrail reads {EVENT_SCHEMA_VERSION}"
            )
        return cls(name, log, state, owns_log=owns)

    def _check_same(self, data: Mapping[str, Any]) -> None:
        differences = []
        if data["space_fingerprint"] != self.created["space_fingerprint"]:
            differences.append("space")
        if bool(data.get("deterministic")) != bool(self.created.get("deterministic")):
            mode = {True: "deterministic", False: "asynchronous"}
            differences.append(
                f"mode ({mode[bool(self.created.get('deterministic'))]} recorded, "
                f"{mode[bool(data.get('deterministic'))]} given)"
            )
        for key in ("seed", "metrics", "optimizer"):
            if data.get(key) != self.created.get(key):
                differences.append(
                    f"{key} ({self.created.get(key)!r} recorded, {data.get(key)!r} given)"
                )
        if differences:
            raise StudyError(
                f"study {self.name!r} exists with a different "
                + ", ".join(differences)
                + "; use a new study name to search differently"
            )

    def close(self) -> None:
        """End this process's session (trials it left running become lost at once,
        for the next run to take over) and release the storage if this study
        opened it."""
        if self._session is not None:
            self._session.end()
        if self._owns_log:
            self.storage.close()

    @property
    def session(self) -> Session:
        """This process's session on the study, started on first use."""
        if self._session is None:
            from hypertrail.provenance.capture import environment

            info = {"environment": environment(self.code_directory), **self.provenance}
            self._session = Session(self.storage, self.name, self.recovery, info)
            self._session.start()
            # At interpreter exit, end it, so other processes need not wait a grace.
            weakref.finalize(self, self._session.end)
        return self._session

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Fold events appended since the last read (by any process)."""
        self._state.apply_all(self.storage.read(self.name, after=self._state.cursor))

    def history(self) -> History:
        """A fresh immutable snapshot, as an optimizer would see it."""
        self.refresh()
        return self._state.snapshot(self.seed, self.metrics)

    @property
    def trials(self) -> list[FrozenTrial]:
        self.refresh()
        return list(self._state.trials)

    @property
    def best(self) -> FrozenTrial:
        """The complete trial with the best primary metric (lowest number on ties);
        under a fidelity, of those that trained furthest and were not stopped early
        (:meth:`History.best_trained`), so a cheap rung's value never wins.

        Raises:
            StudyError: when no trial has completed yet.
        """
        best = self.history().best_trained()
        if best is None:
            raise StudyError(f"study {self.name!r} has no complete trial yet")
        return best

    def counts(self) -> dict[str, int]:
        """Number of trials by state."""
        out = {s.value: 0 for s in TrialState}
        for trial in self.trials:
            out[trial.state.value] += 1
        return out

    # --- ask / tell ------------------------------------------------------------------

    def ask(self) -> Trial:
        """The next trial to run: a lost trial taken over (see :attr:`recovery`),
        else a new trial and its configuration.

        Raises:
            StudyError: when the optimizer has nothing left to propose, or, in a
                deterministic study, when earlier trials must end first.
        """
        trial = self._ask(None)
        if trial is _Wait.BLOCKED:
            waiting = sorted(self._state.running)[0]
            raise StudyError(
                f"study {self.name!r} is deterministic with {self.deterministic} trials in "
                f"flight: trial {waiting} must end before another is asked"
            )
        if trial is None:
            raise StudyError(f"the {self.optimizer.name} optimizer has nothing left to propose")
        return trial

    def visible_below(self, number: int) -> int | None:
        """In a deterministic study, proposal ``number`` sees the results of the
        trials numbered below this; None in an asynchronous study."""
        if self.deterministic is None:
            return None
        return max(0, number - self.deterministic + 1)

    def _ask(
        self, max_trials: int | None, *, new: bool = True, fidelity_budget: float | None = None
    ) -> Trial | _Wait | None:
        """A requeued lost trial, else (when ``new``) a new one; None when the
        budget or the optimizer is exhausted; BLOCKED when a deterministic study
        must wait for earlier trials."""
        session = self.session
        for _ in range(_ASK_ATTEMPTS):
            self.refresh()
            taken = self._take_over_lost()
            if taken is not None:
                return taken
            if not new:
                return None
            number = len(self._state.trials)
            if max_trials is not None and number >= max_trials:
                return None
            if fidelity_budget is not None:
                from hypertrail.schedulers.base import fidelity_cost

                if fidelity_cost(self._state.trials) >= fidelity_budget:
                    return None
            visible = self.visible_below(number)
            if visible is not None and any(n < visible for n in self._state.running):
                return _Wait.BLOCKED
            history = self._state.snapshot(self.seed, self.metrics, visible)
            key = RngKey(self.seed, number, PURPOSE_PROPOSE)
            proposals = self.optimizer.propose(self.space, history, key.generator(), 1)
            if not proposals:
                return None
            proposal = proposals[0]
            problems = self.space.problems(proposal.config)
            if problems:
                raise OptimizerError(
                    f"the {self.optimizer.name} optimizer proposed an invalid configuration "
                    f"for trial {number}: " + "; ".join(problems)
                )
            config = self.space.canonical(proposal.config)
            trial = self._live(number, config, key, 0, proposal.extras, proposal.parent)
            data = {
                "config": config,
                "reason": proposal.reason,
                "parent": proposal.parent,
                "cursor": history.cursor,
                "rng": key.to_json(),
                "seed": trial.seed,
                "optimizer": self.optimizer_spec,
                "revisions": self._revisions,
                "session": session.id,
            }
            if visible is not None:
                data["visible_below"] = visible
            if proposal.extras:
                data["extras"] = dict(proposal.extras)
            event = Event(TRIAL_ASKED, self.name, number, data, asked_key(number), time.time())
            try:
                self.storage.append([event])
            except DuplicateEventError:
                continue  # another process took this number; propose again from news
            session.outstanding.add(number)
            session.touch()
            return trial
        raise StorageError(f"could not allocate a trial number after {_ASK_ATTEMPTS} attempts")

    def lost_trials(self) -> list[Lost]:
        """Running trials of other sessions that cannot finish (module
        :mod:`hypertrail.recovery`), with the reason for each."""
        if not self._state.running:
            return []
        own = self._session.id if self._session is not None else None
        return find_lost(self._state, self.recovery, own_session=own, now=time.time())

    def _take_over_lost(self) -> Trial | None:
        """Requeue (or fail, per policy) the first lost trial; the requeued trial."""
        for lost in self.lost_trials():
            trial = self._requeue(lost.trial.number, lost.trial.attempt, lost.reason)
            if trial is not None:
                return trial
        return None

    def _requeue(self, number: int, attempt: int, reason: str) -> Trial | None:
        """Take over trial ``number`` after its attempt ``attempt`` was lost: a new
        attempt run by this session, or a failure once attempts are spent. None
        when another process took it over first, or the policy is to fail."""
        session = self.session
        if self.recovery.policy == "fail" or attempt + 1 >= self.recovery.max_attempts:
            spent = attempt + 1 >= self.recovery.max_attempts and self.recovery.policy != "fail"
            note = f" after {attempt + 1} attempts" if spent else ""
            with contextlib.suppress(TrialStateError):
                self._end(number, TRIAL_FAILED, {"reason": f"lost{note}: {reason}"}, sync=False)
            return None
        data = {"attempt": attempt + 1, "reason": reason, "session": session.id}
        event = Event(
            TRIAL_REQUEUED, self.name, number, data, attempt_key(number, attempt + 1), time.time()
        )
        try:
            self.storage.append([event])
        except DuplicateEventError:
            return None  # another process took it over
        self.refresh()
        record = self._state.trials[number]
        if record.state.finished:
            return None  # it ended meanwhile (a slow process was not lost after all)
        session.outstanding.add(number)
        session.touch()
        key = RngKey(self.seed, number, PURPOSE_PROPOSE)
        return self._live(number, record.config, key, attempt + 1, record.tags, record.parent)

    def _live(
        self,
        number: int,
        config: Mapping[str, Any],
        key: RngKey,
        attempt: int,
        tags: Mapping[str, Any],
        parent: int | None,
    ) -> Trial:
        """The handle an objective gets: with its fidelity and checkpoint folder when
        a scheduler set one, reporting to this study."""
        tag = tags.get("fidelity")
        fidelity = tag if isinstance(tag, Mapping) else None
        return Trial(
            self.name,
            number,
            config,
            key,
            attempt,
            fidelity=float(fidelity["value"]) if fidelity else None,
            rung=int(fidelity["rung"]) if fidelity else None,
            checkpoint_dir=str(self._checkpoint_dir(number, config, parent)),
            reporter=self.report,
        )

    def checkpoint_folder(self, trial: int) -> Path:
        """Where trial number ``trial`` saves its state (``trial.checkpoint_dir``); it
        may not exist. :mod:`hypertrail.schedulers.checkpoints` lists and prunes them."""
        if not 0 <= trial < len(self._state.trials):
            raise TrialStateError(f"study {self.name!r} has no trial {trial}")
        t = self._state.trials[trial]
        return self._checkpoint_dir(t.number, t.config, t.parent)

    def _checkpoint_dir(self, number: int, config: Mapping[str, Any], parent: int | None) -> Path:
        """``<root>/<study>/<n>`` where ``n`` is the first trial of this configuration's
        promotion chain (parents with the same configuration), so promotions share it.
        The root is ``$HYPERTRAIL_CHECKPOINTS``, else a folder beside a SQLite file,
        else a temporary folder of this process for an in-memory study, else
        ``./hypertrail-checkpoints`` (set the variable to a shared folder when workers
        run on several machines)."""
        root_number = number
        trials = self._state.trials
        seen = {number}
        while parent is not None and 0 <= parent < len(trials) and parent not in seen:
            if trials[parent].config != config:
                break
            root_number = parent
            seen.add(parent)
            parent = trials[parent].parent
        return self._checkpoint_root() / self.name / str(root_number)

    def _reruns_dir(self) -> Path:
        """``<root>/<study>/reruns``: where reruns keep their folders while they run."""
        return self._checkpoint_root() / self.name / "reruns"

    def _rerun_checkpoint_dir(self, number: int, replicate: int) -> Path:
        """``<reruns>/<n>-<replicate>``: a rerun's own folder, so that it never
        resumes from the trial's saved state or from another replicate's."""
        return self._reruns_dir() / f"{number}-{replicate}"

    def _checkpoint_root(self) -> Path:
        env = os.environ.get("HYPERTRAIL_CHECKPOINTS")
        url = getattr(self.storage, "url", "")
        if env:
            root = Path(env)
        elif isinstance(url, str) and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            db = Path(url.removeprefix("sqlite:///"))
            root = db.with_name(db.stem + "-checkpoints")
        elif url in ("memory", "sqlite:///:memory:"):
            # The study lives as long as this process: so do its checkpoints.
            if self._scratch is None:  # created by the trial that first uses it
                import tempfile
                import uuid

                name = f"hypertrail-checkpoints-{os.getpid()}-{uuid.uuid4().hex[:12]}"
                self._scratch = str(Path(tempfile.gettempdir()) / name)
            root = Path(self._scratch)
        else:  # a shared database: a folder every machine can reach is the user's call
            root = Path.cwd() / "hypertrail-checkpoints"
        return root

    def report(self, trial: Trial | int, step: float, value: float) -> bool:
        """Record an intermediate value of a running trial; True when the scheduler
        says it should stop now (a ``trial.reported`` event holds both).

        The objective calls this through ``trial.report``; ask/tell users may call it
        directly. Without a stopping scheduler the answer is always False.
        """
        number = trial.number if isinstance(trial, Trial) else int(trial)
        self.refresh()
        if number >= len(self._state.trials) or self._state.trials[number].state.finished:
            raise TrialStateError(f"trial {number} of study {self.name!r} is not running")
        step, value = float(step), float(value)
        if not math.isfinite(value):
            raise ObjectiveError(f"trial {number} reported {value} at step {step:g} (not finite)")
        decide = getattr(self.optimizer, "should_stop", None)
        stop, why = False, ""
        if decide is not None:
            current = dataclasses.replace(
                self._state.trials[number],
                reports=(*self._state.trials[number].reports, (step, value)),
            )
            stop, why = decide(current, self._state.snapshot(self.seed, self.metrics))
        data: dict[str, Any] = {"step": step, "value": value, "stop": bool(stop)}
        rung = self._state.trials[number].rung
        if rung is not None:
            data["rung"] = rung
        if why:
            data["reason"] = why
        self.storage.append([Event(TRIAL_REPORTED, self.name, number, data, None, time.time())])
        self.refresh()
        return bool(stop)

    def tell(self, trial: Trial | int, values: Any) -> FrozenTrial:
        """Record the result of a trial.

        ``values`` is a number (one metric), a mapping with every metric (other
        keys are kept as extras) or a sequence with one value per metric. A NaN or
        infinite value records the trial as failed, with the reason.

        Raises:
            ObjectiveError: ``values`` has the wrong shape; nothing is recorded.
            TrialStateError: the trial is unknown or has already ended.
        """
        number = trial.number if isinstance(trial, Trial) else int(trial)
        try:
            normalized, extras = normalize_values(values, self.metrics)
        except ObjectiveError as exc:
            if "not finite" not in str(exc):
                raise
            return self.fail(number, str(exc))
        self._end(
            number,
            TRIAL_COMPLETED,
            {"values": normalized, "extras": extras},
        )
        return self._state.trials[number]

    def fail(self, trial: Trial | int, reason: str, traceback: str | None = None) -> FrozenTrial:
        """Record that a trial failed, and why."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        self._end(number, TRIAL_FAILED, {"reason": reason, "traceback": traceback})
        return self._state.trials[number]

    def _end(self, number: int, kind: str, data: dict[str, Any], sync: bool = True) -> None:
        if number >= len(self._state.trials):
            self.refresh()
        if not 0 <= number < len(self._state.trials):
            raise TrialStateError(f"study {self.name!r} has no trial {number}")
        current = self._state.trials[number]
        if current.state.finished:
            raise TrialStateError(f"trial {number} already ended ({current.state.value})")
        session = self.session
        data = {"session": session.id, "host": _HOST, "pid": os.getpid(), **data}
        event = Event(kind, self.name, number, data, ended_key(number), time.time())
        try:
            self.storage.append([event])
        except DuplicateEventError:
            session.outstanding.discard(number)
            raise TrialStateError(f"trial {number} was already ended by another process") from None
        session.outstanding.discard(number)
        session.touch()
        if sync:
            self.refresh()

    def _record(self, outcome: TrialOutcome, attempt: int = 0) -> Trial | None:
        """Record what came of a trial; a trial to run again when its process was
        lost and the policy requeues it."""
        if outcome.lost:
            return self._requeue(outcome.number, attempt, outcome.error or "process lost")
        timing: dict[str, Any] = {"duration": outcome.duration, "cpu_time": outcome.cpu_time}
        if outcome.pid is not None:
            timing.update(host=outcome.host, pid=outcome.pid, peak_memory=outcome.peak_memory)
        if outcome.ok:
            data = {"values": dict(outcome.values), "extras": dict(outcome.extras), **timing}
            self._end(outcome.number, TRIAL_COMPLETED, data, sync=False)
        else:
            data = {"reason": outcome.error, "traceback": outcome.traceback, **timing}
            self._end(outcome.number, TRIAL_FAILED, data, sync=False)
        return None

    # --- optimize --------------------------------------------------------------------

    def optimize(
        self,
        objective: Objective,
        n_trials: int | None = None,
        *,
        max_trials: int | None = None,
        workers: int = 1,
        timeout: float | None = None,
        wall_time: float | None = None,
        fidelity_budget: float | None = None,
        callbacks: Iterable[Callback] = (),
        executor: Executor | None = None,
    ) -> None:
        """Ask, evaluate and tell until a budget is reached.

        Args:
            objective: called with a :class:`~hypertrail.trial.Trial`; returns the
                metrics. It must be importable (module-level) when ``workers > 1`` or a
                ``timeout`` is set, since it then runs in worker processes.
            n_trials: trials to run in this call.
            max_trials: stop once the study holds this many trials in total (a plan's
                budget: running again continues up to it).
            workers: trials run at once, each in its own process when > 1.
            timeout: seconds one trial may take before it is failed.
            wall_time: seconds after which no new trial is started in this call.
            fidelity_budget: stop asking once the study's trials have committed this
                many fidelity units in total (each trial its fidelity, a promotion its
                increase over its parent, running trials included; see
                :func:`~hypertrail.schedulers.base.fidelity_cost`).
            callbacks: called as ``callback(study, outcome)`` after each trial.
            executor: run trials there instead of the default executor.
        """
        if n_trials is None and max_trials is None and wall_time is None and not fidelity_budget:
            raise StudyError(
                "give n_trials, max_trials, wall_time or fidelity_budget, or the search never ends"
            )
        if workers < 1:
            raise StudyError(f"workers must be at least 1, got {workers}")
        if executor is None:
            executor = self._default_executor(objective, workers, timeout)
        if hasattr(executor, "reporter"):
            executor.reporter = self.report
        callbacks = list(callbacks)
        running: dict[int, int] = {}  # trial number -> attempt, for trials in the executor
        started = time.monotonic()
        submitted = 0
        exhausted = False
        try:
            while True:
                blocked = False
                while len(running) < executor.capacity and not exhausted:
                    new = n_trials is None or submitted < n_trials
                    if wall_time is not None and time.monotonic() - started >= wall_time:
                        break
                    trial = self._ask(max_trials, new=new, fidelity_budget=fidelity_budget)
                    if trial is _Wait.BLOCKED:
                        blocked = True
                        break
                    if trial is None:
                        exhausted = new  # nothing new to ask; lost trials are retaken below
                        break
                    executor.submit(trial.to_task())
                    running[trial.number] = trial.attempt
                    if trial.attempt == 0:
                        submitted += 1
                if not running:
                    if blocked:
                        # Trials of other processes hold a deterministic study back:
                        # wait for their results, or for them to be lost and retaken.
                        time.sleep(_POLL)
                        continue
                    break
                for outcome in executor.results():
                    attempt = running.pop(outcome.number)
                    try:
                        again = self._record(outcome, attempt)
                    except TrialStateError:
                        continue  # taken over and ended by another process meanwhile
                    if again is not None:
                        executor.submit(again.to_task())
                        running[again.number] = again.attempt
                        continue
                    for callback in callbacks:
                        callback(self, outcome)
        except BaseException as exc:
            if self.recovery.policy == "fail":
                reason = (
                    "interrupted"
                    if isinstance(exc, KeyboardInterrupt)
                    else f"driver error: {exc!r}"
                )
                for number in sorted(running):
                    # Already failing: keep the first error, record what we can.
                    with contextlib.suppress(Exception):
                        self._end(
                            number,
                            TRIAL_FAILED,
                            {"reason": reason, "traceback": tb.format_exc()},
                            sync=False,
                        )
            # Under the requeue policy the trials stay running: closing the study
            # ends the session, and the next run takes them over.
            raise
        finally:
            executor.close()
        self.refresh()

    def _default_executor(
        self, objective: Objective, workers: int, timeout: float | None
    ) -> Executor:
        from hypertrail.execution.command import CommandObjective

        if isinstance(objective, CommandObjective) and objective.metric is None:
            # Its printed {"step": ..., "<metric>": ...} lines become trial.report calls.
            objective = dataclasses.replace(objective, metric=self.metrics[0].name)
        if workers == 1 and (timeout is None or isinstance(objective, CommandObjective)):
            from hypertrail.execution.inprocess import InProcessExecutor

            if timeout is not None and isinstance(objective, CommandObjective):
                objective = dataclasses.replace(objective, timeout=timeout)
            return InProcessExecutor(objective, self.metrics)
        from hypertrail.execution.processes import ProcessExecutor

        return ProcessExecutor(objective, self.metrics, workers, timeout)

    def __repr__(self) -> str:
        return f"Study({self.name!r}, {len(self._state.trials)} trials, {self.storage.url})"


_HOST = socket.gethostname()


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise StudyError(
            f"a study name must be a non-empty string of at most 200 characters, got {name!r}"
        )
    if any(ord(c) < 32 for c in name):
        raise StudyError(f"a study name must not contain control characters: {name!r}")


def best_loss(metrics: Sequence[Metric], values: Mapping[str, float] | None) -> float:
    """Primary metric as a loss (smaller is better); inf when missing."""
    if not values:
        return math.inf
    return metrics[0].sign * values[metrics[0].name]
