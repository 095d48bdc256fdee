"""Run objectives in local worker processes (spawn start method).

Each worker is a long-lived process that imports the objective once and runs
trials sent to it over a pipe, as plain JSON-ready dicts. A trial past its
timeout gets its worker killed (the only way to stop arbitrary Python code) and a
fresh worker takes the next trial; a worker that dies (segfault, OOM kill,
``os._exit``) fails its trial with the exit code, and the study goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import pickle  # safe: only to test that an objective can reach a worker; nothing is stored
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypertrail.errors import ObjectiveError
from hypertrail.execution.base import Objective, TrialOutcome, run_objective
from hypertrail.trial import Metric, Reporter

__all__ = ["ProcessExecutor"]


def _worker_main(conn: Any, objective: Objective, metrics: list[Metric]) -> None:
    def report(number: int, step: float, value: float) -> bool:
        # The driver records the report and answers at once whether to stop.
        conn.send({"report": [number, step, value]})
        return bool(conn.recv())

    while True:
        try:
            task = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        outcome = run_objective(objective, task, metrics, report)
        conn.send(outcome.to_json())


@dataclass
class _Worker:
    process: Any
    conn: Any
    task: Mapping[str, Any] | None = None
    started: float = 0.0


class ProcessExecutor:
    """N spawn worker processes fed by the driver.

    Args:
        objective: an importable callable (module-level function or a picklable
            object such as :class:`~hypertrail.execution.command.CommandObjective`).
        metrics: the study's metrics, to check what the objective returns.
        workers: number of processes.
        timeout: seconds a trial may run before its worker is killed.
    """

    def __init__(
        self,
        objective: Objective,
        metrics: Sequence[Metric],
        workers: int,
        timeout: float | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        try:
            pickle.dumps(objective)  # safe: what spawn does to send it; the bytes are dropped
        except Exception as exc:
            raise ObjectiveError(
                "to run in worker processes the objective must be importable "
                f"(a module-level function), got {objective!r}: {exc}"
            ) from exc
        self._objective = objective
        self._metrics = list(metrics)
        self._n = workers
        self._timeout = timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        # Set by the study: records a worker's ``trial.report`` and decides on stopping.
        self.reporter: Reporter | None = None

    @property
    def capacity(self) -> int:
        return self._n

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, self._objective, self._metrics),
            daemon=True,
            name="hypertrail-worker",
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def submit(self, task: Mapping[str, Any]) -> None:
        # An idle worker may have died since its last trial (killed, OOM): replace
        # it rather than fail the driver on a broken pipe.
        for _ in range(3):
            idle = next((w for w in self._workers if w.task is None), None)
            if idle is not None and not idle.process.is_alive():
                self._retire(idle)
                continue
            if idle is None:
                if len(self._workers) >= self._n:
                    raise RuntimeError("all workers are busy")
                idle = self._spawn()
                self._workers.append(idle)
            try:
                idle.conn.send(dict(task))
            except OSError:  # it died between the check and the send
                self._retire(idle)
                continue
            idle.task = task
            idle.started = time.monotonic()
            return
        raise RuntimeError("could not start a worker process for the trial")

    def _retire(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()
        self._workers.remove(worker)

    def results(self) -> Iterator[TrialOutcome]:
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return
        wait: float | None = None
        if self._timeout is not None:
            now = time.monotonic()
            wait = max(0.0, min(w.started + self._timeout - now for w in busy))
        ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait)
        done: list[TrialOutcome] = []
        for worker in busy:
            task = worker.task
            assert task is not None
            number = int(task["number"])
            elapsed = time.monotonic() - worker.started
            if worker.conn in ready:
                try:
                    message = worker.conn.recv()
                    if "report" in message:
                        n, step, value = message["report"]
                        stop = self.reporter(n, step, value) if self.reporter else False
                        worker.conn.send(bool(stop))
                        continue
                    done.append(TrialOutcome.from_json(message))
                    worker.task = None
                    continue
                except (EOFError, OSError):
                    worker.process.join(timeout=5)
                    code = worker.process.exitcode
                    done.append(
                        TrialOutcome.failure(
                            number, f"worker process died (exit code {code})", elapsed, lost=True
                        )
                    )
                    self._retire(worker)
                    continue
            if self._timeout is not None and elapsed >= self._timeout:
                done.append(
                    TrialOutcome.failure(number, f"timed out after {self._timeout:g} s", elapsed)
                )
                self._retire(worker)
        yield from done

    def close(self) -> None:
        for worker in list(self._workers):
            if worker.task is None:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        deadline = time.monotonic() + 5
        for worker in list(self._workers):
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            self._retire(worker)
