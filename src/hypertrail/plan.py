"""Plans: everything a study run needs, in one validated file.

A plan names the space (a file or inline), the objective (a Python callable
``module:function`` or a command line), the metrics, the budget, the optimizer,
the seed, the workers and the storage. :func:`load_plan` checks all of it, and
reports every problem with file, line and key path, before any trial runs.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypertrail.errors import ConfigError, Issue, ObjectiveError, OptimizerError, PlanError
from hypertrail.execution.base import Objective
from hypertrail.optimizers.base import OPTIMIZERS
from hypertrail.recovery import Recovery
from hypertrail.registry import build_from_spec
from hypertrail.space.codec import space_from_dict
from hypertrail.space.loader import LocatedDocument, load_document
from hypertrail.space.space import Space
from hypertrail.trial import Metric

if TYPE_CHECKING:
    from hypertrail.study import Study

__all__ = ["Budget", "ObjectiveSpec", "Plan", "load_plan", "parse_duration"]

_KEYS = {
    "name",
    "description",
    "seed",
    "space",
    "objective",
    "metrics",
    "budget",
    "optimizer",
    "fidelity",
    "scheduler",
    "workers",
    "timeout",
    "storage",
    "deterministic",
    "recovery",
    "data",
}
_RECOVERY_KEYS = ("heartbeat", "grace", "policy", "max_attempts")
_REQUIRED = ("name", "space", "objective", "metrics", "budget")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$")
_UNITS = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"1.5h"``.

    Raises:
        ValueError: for anything else or a non-positive duration.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(f"expected seconds or a duration like '90s', '10m', '2h', got {value!r}")
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


@dataclass(frozen=True)
class Budget:
    """How much to spend: trials in the whole study, units of the plan's fidelity
    (epochs, say; a promotion costs its increase over its parent), and/or wall time
    per run."""

    trials: int | None = None
    wall_time: float | None = None
    fidelity: float | None = None


@dataclass(frozen=True)
class ObjectiveSpec:
    """Either ``callable`` (``module:function``) or ``command`` (a command line)."""

    callable: str | None = None
    command: str | None = None
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        if self.callable is not None:
            return {"callable": self.callable}
        return {"command": self.command, "env": dict(self.env)}


@dataclass(frozen=True)
class Plan:
    """A validated plan. Build it with :func:`load_plan`.

    Example:
        >>> # plan = load_plan("examples/mlp_digits/plan.yaml"); plan.budget.trials
    """

    name: str
    space: Space
    objective: ObjectiveSpec
    metrics: tuple[Metric, ...]
    budget: Budget
    optimizer: dict[str, Any]
    seed: int = 0
    workers: int = 1
    timeout: float | None = None
    storage: str = "memory"
    description: str | None = None
    directory: str = "."
    source: str | None = None
    deterministic: bool = False
    recovery: Recovery = field(default_factory=Recovery)
    data: tuple[str, ...] = ()

    @property
    def hash(self) -> str:
        """A content hash of what the plan asks for (formatting does not count)."""
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def identity(self) -> dict[str, Any]:
        """What the plan asks for, as JSON data: the input of :attr:`hash`."""
        return {
            "name": self.name,
            "space": self.space.fingerprint,
            "objective": self.objective.to_json(),
            "metrics": [m.to_json() for m in self.metrics],
            "budget": {
                "trials": self.budget.trials,
                "wall_time": self.budget.wall_time,
                # only when given: plans locked before this key existed keep their hash
                **({"fidelity": self.budget.fidelity} if self.budget.fidelity else {}),
            },
            "optimizer": self.optimizer,
            "seed": self.seed,
            "workers": self.workers,
            "timeout": self.timeout,
            "deterministic": self.deterministic,
            "data": list(self.data),
        }

    def open_study(self) -> Study:
        """Create the plan's study, or open it when it exists (checking that the
        space, metrics, seed, optimizer and mode match), ready to run: recovery
        settings applied, and the plan's hash and data fingerprints recorded with
        the session of this process."""
        from hypertrail.provenance.capture import fingerprint_data
        from hypertrail.study import Study

        fingerprints = fingerprint_data(self.data, self.directory) if self.data else []
        study = Study.create(
            self.name,
            self.space,
            metrics=self.metrics,
            storage=self.storage,
            seed=self.seed,
            optimizer=self.optimizer,
            load_if_exists=True,
            deterministic=self.workers if self.deterministic else False,
            info={"plan_hash": self.hash, "plan_file": self.source},
        )
        study.recovery = self.recovery
        study.code_directory = self.directory
        study.provenance = {
            "plan_hash": self.hash,
            "plan_file": self.source,
            "data": fingerprints,
        }
        return study

    def load_objective(self) -> Objective:
        """Import the callable (the plan's folder and the working folder are searched)
        or build the command objective.

        Raises:
            ObjectiveError: it cannot be imported or is not callable.
        """
        from hypertrail.execution.command import CommandObjective

        if self.objective.command is not None:
            return CommandObjective(
                self.objective.command,
                cwd=self.objective.cwd or self.directory,
                timeout=self.timeout,
                env=dict(self.objective.env),
            )
        assert self.objective.callable is not None
        return resolve_callable(self.objective.callable, self.directory)


def resolve_callable(target: str, directory: str) -> Objective:
    """Import ``module:function``; ``directory`` and the working folder go on sys.path."""
    module_name, _, attr = target.partition(":")
    for folder in (str(Path(directory).resolve()), str(Path.cwd())):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ObjectiveError(f"cannot import objective module {module_name!r}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ObjectiveError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ObjectiveError(f"objective {target!r} is not callable")
    result: Objective = obj
    return result


def _suggest(word: str, options: Any) -> str:
    import difflib

    close = difflib.get_close_matches(word, sorted(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Builder:
    """Reads a located plan document into a :class:`Plan`, collecting issues."""

    def __init__(self, doc: LocatedDocument, directory: Path) -> None:
        self.doc = doc
        self.directory = directory
        self.issues: list[Issue] = []

    def issue(self, path: str, message: str) -> None:
        self.issues.append(self.doc.locate(Issue(path, message)))

    def build(self) -> Plan:
        data = self.doc.data
        if not isinstance(data, Mapping):
            self.issue("", "a plan must be a mapping")
            raise PlanError(self.issues)
        for key in data:
            if key not in _KEYS:
                self.issue(str(key), f"unknown key {key!r}" + _suggest(str(key), _KEYS))
        for key in _REQUIRED:
            if key not in data:
                self.issue("", f"missing required key {key!r}")
        name = data.get("name")
        if "name" in data and (not isinstance(name, str) or not name.strip()):
            self.issue("name", "must be a non-empty string")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            self.issue("seed", f"must be a non-negative integer, got {seed!r}")
        space = self._space(data.get("space")) if "space" in data else None
        metrics = self._metrics(data.get("metrics")) if "metrics" in data else ()
        budget = (
            self._budget(data.get("budget"), data.get("fidelity") is not None)
            if "budget" in data
            else Budget()
        )
        fidelity = data.get("fidelity")
        objective = (
            self._objective(data.get("objective"), space, fidelity is not None)
            if "objective" in data
            else None
        )
        self._fidelity_name(fidelity, space)
        optimizer = self._optimizer(
            self._scheduled(data.get("optimizer", "gp"), fidelity, data.get("scheduler")),
            space,
        )
        self._fits_budget(optimizer, space, budget)
        workers = data.get("workers", 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            self.issue("workers", f"must be a positive integer, got {workers!r}")
        timeout = None
        if data.get("timeout") is not None:
            try:
                timeout = parse_duration(data["timeout"])
            except ValueError as exc:
                self.issue("timeout", str(exc))
        storage = self._storage(data.get("storage"), name if isinstance(name, str) else "study")
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            self.issue("description", "must be a string")
        deterministic = data.get("deterministic", False)
        if not isinstance(deterministic, bool):
            self.issue("deterministic", f"must be true or false, got {deterministic!r}")
        recovery = self._recovery(data.get("recovery"))
        registered = self._data(data.get("data"))
        if self.issues:
            raise PlanError(self.issues)
        assert space is not None and objective is not None and isinstance(name, str)
        return Plan(
            name=name,
            space=space,
            objective=objective,
            metrics=metrics,
            budget=budget,
            optimizer=optimizer,
            seed=seed,
            workers=workers,
            timeout=timeout,
            storage=storage,
            description=description,
            directory=str(self.directory),
            source=self.doc.file,
            deterministic=deterministic is True,
            recovery=recovery,
            data=registered,
        )

    def _recovery(self, value: Any) -> Recovery:
        if value is None:
            return Recovery()
        if not isinstance(value, Mapping):
            self.issue("recovery", f"must be a mapping with {', '.join(_RECOVERY_KEYS)}")
            return Recovery()
        options: dict[str, Any] = {}
        for key, item in value.items():
            if key not in _RECOVERY_KEYS:
                self.issue(
                    f"recovery.{key}", f"unknown key {key!r}" + _suggest(str(key), _RECOVERY_KEYS)
                )
            elif key in ("heartbeat", "grace"):
                try:
                    options[key] = parse_duration(item)
                except ValueError as exc:
                    self.issue(f"recovery.{key}", str(exc))
            else:
                options[key] = item
        try:
            return Recovery(**options)
        except ConfigError as exc:
            for issue in exc.issues:
                self.issue(issue.path, issue.message)
            return Recovery()

    def _data(self, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.issue("data", "must be a list of file or folder paths")
            return ()
        for index, item in enumerate(value):
            if not (self.directory / item).exists():
                self.issue(f"data.{index}", f"no such file or folder: {item}")
        return tuple(value)

    def _space(self, value: Any) -> Space | None:
        if isinstance(value, str):
            path = (self.directory / value).resolve()
            try:
                from hypertrail.space.loader import load_space

                return load_space(path)
            except ConfigError as exc:
                self.issues.extend(exc.issues)
                return None
        if isinstance(value, Mapping):
            try:
                return space_from_dict(value)
            except ConfigError as exc:
                for i in exc.issues:
                    self.issue(f"space.{i.path}" if i.path else "space", i.message)
                return None
        self.issue("space", "must be a path to a space file or an inline space mapping")
        return None

    def _metrics(self, value: Any) -> tuple[Metric, ...]:
        if isinstance(value, str):
            return (Metric(value, "minimize"),)
        if not isinstance(value, Mapping) or not value:
            self.issue("metrics", "must map metric names to 'minimize' or 'maximize'")
            return ()
        out = []
        for name, goal in value.items():
            if goal not in ("minimize", "maximize"):
                self.issue(
                    f"metrics.{name}", f"goal must be 'minimize' or 'maximize', got {goal!r}"
                )
            else:
                out.append(Metric(str(name), goal))
        return tuple(out)

    def _budget(self, value: Any, has_fidelity: bool = False) -> Budget:
        keys = ("trials", "wall_time", "fidelity")
        if not isinstance(value, Mapping):
            self.issue("budget", "must be a mapping with 'trials', 'fidelity' and/or 'wall_time'")
            return Budget()
        for key in value:
            if key not in keys:
                self.issue(f"budget.{key}", f"unknown key {key!r}" + _suggest(str(key), keys))
        trials = value.get("trials")
        if trials is not None and (
            isinstance(trials, bool) or not isinstance(trials, int) or trials < 1
        ):
            self.issue("budget.trials", f"must be a positive integer, got {trials!r}")
            trials = None
        wall = None
        if value.get("wall_time") is not None:
            try:
                wall = parse_duration(value["wall_time"])
            except ValueError as exc:
                self.issue("budget.wall_time", str(exc))
        units = value.get("fidelity")
        if units is not None:
            if isinstance(units, bool) or not isinstance(units, int | float) or not units > 0:
                self.issue("budget.fidelity", f"must be a positive number, got {units!r}")
                units = None
            elif not has_fidelity:
                self.issue(
                    "budget.fidelity",
                    "counts units of the plan's fidelity, but the plan declares none "
                    "(add fidelity: {name, min, max, eta})",
                )
                units = None
        if not any(k in value for k in keys):
            self.issue("budget", "give 'trials', 'fidelity' and/or 'wall_time'")
        return Budget(trials, wall, float(units) if units is not None else None)

    def _objective(
        self, value: Any, space: Space | None, has_fidelity: bool = False
    ) -> ObjectiveSpec | None:
        if isinstance(value, str):
            module, sep, attr = value.partition(":")
            if not sep or not module or not attr:
                self.issue(
                    "objective", f"must be 'module:function' or {{command: ...}}, got {value!r}"
                )
                return None
            return ObjectiveSpec(callable=value)
        if isinstance(value, Mapping):
            for key in value:
                if key not in ("command", "cwd", "env"):
                    self.issue(
                        f"objective.{key}",
                        f"unknown key {key!r}" + _suggest(str(key), ("command", "cwd", "env")),
                    )
            command = value.get("command")
            if not isinstance(command, str) or not command.strip():
                self.issue("objective.command", "must be a non-empty command line")
                return None
            self._check_command(command, space, has_fidelity)
            env = value.get("env", {}) or {}
            if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
                self.issue("objective.env", "must map names to strings")
                env = {}
            cwd = value.get("cwd")
            if cwd is not None:
                cwd = str((self.directory / str(cwd)).resolve())
            return ObjectiveSpec(command=command, cwd=cwd, env=dict(env))
        self.issue("objective", "must be 'module:function' or {command: ...}")
        return None

    def _check_command(self, command: str, space: Space | None, has_fidelity: bool) -> None:
        from hypertrail.execution.command import (
            FIDELITY_PLACEHOLDERS,
            PLACEHOLDER,
            SPECIAL_PLACEHOLDERS,
        )

        try:
            args = shlex.split(command)
        except ValueError as exc:
            self.issue("objective.command", f"cannot split the command line: {exc}")
            return
        if not args:
            return
        if shutil.which(args[0]) is None and not (self.directory / args[0]).exists():
            self.issue("objective.command", f"program {args[0]!r} not found on PATH")
        for name in PLACEHOLDER.findall(command):
            if name in FIDELITY_PLACEHOLDERS and not has_fidelity:
                self.issue(
                    "objective.command",
                    f"placeholder {{{name}}} needs a fidelity in the plan "
                    "(fidelity: {name, min, max, eta})",
                )
        if space is None:
            return
        known = SPECIAL_PLACEHOLDERS | FIDELITY_PLACEHOLDERS
        for name in PLACEHOLDER.findall(command):
            if name not in space and name not in known:
                self.issue(
                    "objective.command",
                    f"placeholder {{{name}}} names no parameter" + _suggest(name, space.names),
                )

    def _fidelity_name(self, fidelity: Any, space: Space | None) -> None:
        """A fidelity may not share its name with a parameter: the scheduler sets the
        one, the optimizer the other, and an objective reading ``config[name]``
        would train for the wrong amount without a word."""
        if not isinstance(fidelity, Mapping) or space is None:
            return
        name = fidelity.get("name")
        if isinstance(name, str) and name in space:
            self.issue(
                "fidelity.name",
                f"{name!r} is also a parameter of the space; the scheduler sets the "
                f"fidelity per trial (trial.fidelity), so remove the parameter or "
                f"rename one of them",
            )

    def _scheduled(self, optimizer: Any, fidelity: Any, scheduler: Any) -> Any:
        """The optimizer spec, wrapped in the plan's scheduler when it declares a
        fidelity (``asha`` by default; the hybrid optimizer takes the fidelity itself)
        or a scheduler; issues at their own keys."""
        if fidelity is None and scheduler is None:
            return optimizer
        if fidelity is not None:
            from hypertrail.schedulers.base import Fidelity

            try:
                Fidelity.from_spec(fidelity)
            except ValueError as exc:
                self.issue("fidelity", str(exc))
                return optimizer
        if scheduler is None:
            hybrid = optimizer == "hybrid" or (
                isinstance(optimizer, Mapping) and optimizer.get("name") == "hybrid"
            )
            if hybrid and fidelity is not None:
                # The hybrid sweeps at low fidelity and refines at full fidelity itself.
                spec = {"name": "hybrid"} if isinstance(optimizer, str) else dict(optimizer)
                return {**spec, "fidelity": dict(fidelity)}
            scheduler = "asha"
        if isinstance(scheduler, str):
            options: dict[str, Any] = {"name": scheduler}
        elif isinstance(scheduler, Mapping) and isinstance(scheduler.get("name"), str):
            options = dict(scheduler)
        else:
            self.issue("scheduler", f"must be a scheduler name or {{name: ...}}, got {scheduler!r}")
            return optimizer
        from hypertrail.schedulers.base import Scheduled

        name = options["name"]
        if name not in OPTIMIZERS or not issubclass(OPTIMIZERS.get(name), Scheduled):
            known = ", ".join(
                n for n in OPTIMIZERS.names() if issubclass(OPTIMIZERS.get(n), Scheduled)
            )
            self.issue("scheduler", f"unknown scheduler {name!r}; known: {known}")
            return optimizer
        if fidelity is None and name != "median":
            self.issue(
                "scheduler", f"the {name} scheduler needs a fidelity: {{name, min, max, eta}}"
            )
            return optimizer
        spec = {**options, "optimizer": optimizer}
        if fidelity is not None:
            spec["fidelity"] = dict(fidelity)
        return spec

    def _fits_budget(self, spec: dict[str, Any], space: Space | None, budget: Budget) -> None:
        """A scheduler whose first top-fidelity trial comes after ``budget.fidelity``
        (``multistart``'s cheap phases) would end the study with nothing at the top."""
        if not spec or space is None or not budget.fidelity:
            return
        from hypertrail.schedulers.base import Scheduled

        try:
            instance, _ = build_from_spec(OPTIMIZERS, spec, "optimizer")
        except ConfigError:
            return  # already reported by _optimizer
        if not isinstance(instance, Scheduled):
            return
        needed = instance.first_top(space)
        if needed is not None and needed > budget.fidelity:
            unit = instance.fid.name
            self.issue(
                "budget.fidelity",
                f"{budget.fidelity:g} {unit} end before the {spec.get('name')} scheduler's "
                f"first trial at the top fidelity (after {needed:g} {unit}); give the "
                f"scheduler budget: {budget.fidelity:g} to size its cheap phases to it",
            )

    def _optimizer(self, value: Any, space: Space | None) -> dict[str, Any]:
        try:
            instance, spec = build_from_spec(OPTIMIZERS, value, "optimizer")
        except ConfigError as exc:
            for i in exc.issues:
                self.issue(i.path, i.message)
            return {}
        if space is not None:
            try:
                instance.check(space)
            except OptimizerError as exc:
                self.issue("optimizer", str(exc))
        return spec

    def _storage(self, value: Any, name: str) -> str:
        if value is None:
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "study"
            return f"sqlite:///{self.directory / (safe + '.db')}"
        if not isinstance(value, str) or not value:
            self.issue("storage", f"must be a storage URL, got {value!r}")
            return "memory"
        if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
            # A relative SQLite path is relative to the plan, wherever hypertrail runs.
            relative = value[len("sqlite:///") :]
            if relative and relative != ":memory:":
                return f"sqlite:///{(self.directory / relative).resolve()}"
        return value


def load_plan(path: str | Path, optimizer: str | Mapping[str, Any] | None = None) -> Plan:
    """Load and validate a plan file; with ``optimizer``, the plan as if its
    ``optimizer`` key said that (under the plan's fidelity and scheduler, as
    ``hypertrail compare`` runs each optimizer it is given).

    Raises:
        PlanError: every problem found (in the plan and in its space file), each with
            file, line and key path.
    """
    doc = load_document(path, PlanError)
    if optimizer is not None and isinstance(doc.data, Mapping):
        doc.data = {**doc.data, "optimizer": optimizer}
    return _Builder(doc, Path(path).resolve().parent).build()


def plan_from_dict(data: Mapping[str, Any], directory: str | Path = ".") -> Plan:
    """A plan from data already in memory (relative paths resolve against ``directory``)."""
    return _Builder(LocatedDocument(data, {}, None), Path(directory).resolve()).build()
