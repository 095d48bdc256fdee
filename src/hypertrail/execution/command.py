"""Objectives that are command lines: ``python train.py --lr {lr}``.

Placeholders are filled per argument after splitting the template the way a shell
would (no shell runs, so a value cannot inject a command). The metrics are read
from the last line of standard output that parses as a JSON object.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hypertrail.errors import ObjectiveError
from hypertrail.trial import Trial

__all__ = ["FIDELITY_PLACEHOLDERS", "PLACEHOLDER", "SPECIAL_PLACEHOLDERS", "CommandObjective"]

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
SPECIAL_PLACEHOLDERS = frozenset({"trial_number", "seed", "config_json", "study"})
FIDELITY_PLACEHOLDERS = frozenset({"fidelity", "checkpoint_dir"})
"""Placeholders that only mean something under a plan's ``fidelity`` (a scheduler)."""


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


def _fidelity(value: float | None) -> str:
    """A fidelity as a command line takes it: ``27`` for 27 epochs, ``0.25`` for a
    quarter of the data; empty without a scheduler."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class CommandObjective:
    """Run a command per trial; its last JSON line on stdout holds the metrics.

    Placeholders: any parameter name (``{lr}``, ``{layers.0.width}``; an inactive
    one becomes an empty string), and ``{trial_number}``, ``{seed}``,
    ``{config_json}``, ``{study}``. The configuration is also passed in the
    environment as ``HYPERTRAIL_CONFIG`` (JSON), with ``HYPERTRAIL_TRIAL`` and
    ``HYPERTRAIL_SEED``.

    Under a plan's ``fidelity``, ``{fidelity}`` is how far to train (``27``) and
    ``{checkpoint_dir}`` the configuration's folder, shared by its promotions, where
    the command saves its state so that a promoted trial resumes from it (also in
    ``HYPERTRAIL_FIDELITY`` and ``HYPERTRAIL_CHECKPOINT_DIR``). A command cannot
    report intermediate values, so it runs each trial to its fidelity.

    Example:
        >>> obj = CommandObjective("python -c 'print(1)'")
        >>> obj.arguments(Trial.from_task({"study": "s", "number": 0, "config": {}, "seed": 0}))
        ['python', '-c', 'print(1)']
    """

    command: str
    cwd: str | None = None
    timeout: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def arguments(self, trial: Trial) -> list[str]:
        values: dict[str, str] = {
            "trial_number": str(trial.number),
            "seed": str(trial.seed),
            "config_json": json.dumps(dict(trial.config), sort_keys=True),
            "study": trial.study,
            "fidelity": _fidelity(trial.fidelity),
        }

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return values[name]
            if name == "checkpoint_dir":
                return str(trial.checkpoint_dir)
            return _format(trial.config[name]) if name in trial.config else ""

        return [PLACEHOLDER.sub(fill, arg) for arg in shlex.split(self.command)]

    def __call__(self, trial: Trial) -> Any:
        args = self.arguments(trial)
        env = {
            **os.environ,
            **self.env,
            "HYPERTRAIL_CONFIG": json.dumps(dict(trial.config), sort_keys=True),
            "HYPERTRAIL_TRIAL": str(trial.number),
            "HYPERTRAIL_SEED": str(trial.seed),
        }
        if trial.fidelity is not None:
            env["HYPERTRAIL_FIDELITY"] = _fidelity(trial.fidelity)
            env["HYPERTRAIL_CHECKPOINT_DIR"] = str(trial.checkpoint_dir)
        try:
            proc = subprocess.run(
                args,
                cwd=self.cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ObjectiveError(f"command timed out after {self.timeout:g} s") from exc
        except OSError as exc:
            raise ObjectiveError(f"cannot run {args[0]!r}: {exc.strerror}") from exc
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise ObjectiveError(f"command exited with code {proc.returncode}: {tail}")
        for line in reversed(proc.stdout.strip().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(data, dict):
                    return data
        raise ObjectiveError("command printed no JSON object on standard output")
