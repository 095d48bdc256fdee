"""Objectives that are command lines: ``python train.py --lr {lr}``.

Placeholders are filled per argument after splitting the template the way a shell
would (no shell runs, so a value cannot inject a command). The metrics are read
from the last line of standard output that parses as a JSON object.

Standard output is read as the command prints it. A JSON line holding ``step`` and the
primary metric (``{"step": 3, "error": 0.21}``) is an intermediate report, as
``trial.report(3, 0.21)`` would be from Python; when the scheduler answers stop, the
command gets SIGTERM (SIGKILL ``STOP_GRACE`` seconds later) and its last JSON line is
the trial's result. Python commands run with ``PYTHONUNBUFFERED=1`` so their lines
arrive when printed; other programs should flush after each report.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from hypertrail.errors import ObjectiveError
from hypertrail.trial import Trial

__all__ = ["FIDELITY_PLACEHOLDERS", "PLACEHOLDER", "SPECIAL_PLACEHOLDERS", "CommandObjective"]

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
SPECIAL_PLACEHOLDERS = frozenset({"trial_number", "seed", "config_json", "study"})
FIDELITY_PLACEHOLDERS = frozenset({"fidelity", "checkpoint_dir"})
"""Placeholders that only mean something under a plan's ``fidelity`` (a scheduler)."""
STOP_GRACE = 10.0
"""Seconds a command told to stop (SIGTERM) has to exit before it is killed."""
STDERR_LINES = 5
"""Last non-blank lines of standard error quoted when a command fails."""


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
    ``HYPERTRAIL_FIDELITY`` and ``HYPERTRAIL_CHECKPOINT_DIR``).

    With ``metric`` (the study's primary metric; :meth:`Study.optimize` fills it in),
    a printed line ``{"step": 3, "<metric>": 0.21}`` reports an intermediate value,
    and a stop from the scheduler ends the command (SIGTERM): the last JSON line it
    printed is then the result. Without ``metric`` no line is a report.

    Example:
        >>> obj = CommandObjective("python -c 'print(1)'")
        >>> obj.arguments(Trial.from_task({"study": "s", "number": 0, "config": {}, "seed": 0}))
        ['python', '-c', 'print(1)']
    """

    command: str
    cwd: str | None = None
    timeout: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    metric: str | None = None

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
            "PYTHONUNBUFFERED": "1",  # report lines arrive as printed (an env may say 0)
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
            proc = subprocess.Popen(
                args,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            raise ObjectiveError(f"cannot run {args[0]!r}: {exc.strerror}") from exc
        run = _Running(proc, self.timeout)
        try:
            result = self._read(trial, run)
        except BaseException:  # a report that raised, an interrupt: end the command too
            run.kill()
            raise
        finally:
            run.finish()
        if run.timed_out:
            raise ObjectiveError(f"command timed out after {self.timeout:g} s")
        if proc.returncode != 0 and not run.stopped:
            raise ObjectiveError(f"command exited with code {proc.returncode}: {run.stderr_tail()}")
        if result is None:
            raise ObjectiveError("command printed no JSON object on standard output")
        return result

    def _read(self, trial: Trial, run: _Running) -> dict[str, Any] | None:
        """Read standard output as it comes: pass each report line to ``trial.report``
        (ending the command when the scheduler says stop); the last JSON object."""
        last: dict[str, Any] | None = None
        assert run.process.stdout is not None
        for line in run.process.stdout:
            data = _json_object(line)
            if data is None:
                continue
            last = data
            if run.stopped or self.metric is None:
                continue
            step, value = data.get("step"), data.get(self.metric)
            if _is_number(step) and _is_number(value) and trial.report(step, value):
                run.stop()
        return last


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, what makes the command get SIGKILL when the process that started it
    dies (a worker killed on a time limit, a driver killed with SIGKILL): otherwise it
    would go on training, and writing to a checkpoint folder its rerun now uses."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def in_child() -> None:  # runs between fork and exec: as little as possible
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return in_child


_PR_SET_PDEATHSIG = 1


def _json_object(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Running:
    """A started command: its standard error drained on a thread (the last lines
    kept), its time limit and its stop, each ending the process."""

    def __init__(self, process: subprocess.Popen[str], timeout: float | None) -> None:
        self.process = process
        self.timed_out = False
        self.stopped = False
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()
        self._timers: list[threading.Timer] = []
        if timeout is not None:
            self._after(timeout, self._time_out)

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.strip():
                self._stderr.append(line.rstrip("\n"))

    def _after(self, seconds: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def _time_out(self) -> None:
        if self.process.poll() is None:
            self.timed_out = True
            self.process.kill()

    def stop(self) -> None:
        """SIGTERM now (a script may save its state and print a last line), SIGKILL
        after ``STOP_GRACE`` seconds."""
        self.stopped = True
        if self.process.poll() is None:
            self.process.terminate()
            self._after(STOP_GRACE, self.kill)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def finish(self) -> None:
        """Wait for the process to end; stop the timers and close the pipes."""
        self.process.wait()
        for timer in self._timers:
            timer.cancel()
        self._drain.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)
