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

__all__ = ["PLACEHOLDER", "SPECIAL_PLACEHOLDERS", "CommandObjective"]

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
SPECIAL_PLACEHOLDERS = frozenset({"trial_number", "seed", "config_json", "study"})


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


@dataclass(frozen=True)
class CommandObjective:
    """Run a command per trial; its last JSON line on stdout holds the metrics.

    Placeholders: any parameter name (``{lr}``, ``{layers.0.width}``; an inactive
    one becomes an empty string), and ``{trial_number}``, ``{seed}``,
    ``{config_json}``, ``{study}``. The configuration is also passed in the
    environment as ``HYPERTRAIL_CONFIG`` (JSON), with ``HYPERTRAIL_TRIAL`` and
    ``HYPERTRAIL_SEED``.

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
        }

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return values[name]
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
