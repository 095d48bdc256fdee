"""Events: the immutable facts a study is made of (DESIGN.md invariant 1).

A study's whole state is a fold over its events in sequence order. Events carry a
``kind``, the trial they concern, JSON-ready ``data`` and an optional
de-duplication ``key``: the storage refuses a second event with the same key for
the same study, atomically, which is how trial numbers are allocated and how a
trial is made to end exactly once, across processes and machines.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

__all__ = [
    "EVENT_SCHEMA_VERSION",
    "PLAN_AMENDED",
    "PLAN_LOCKED",
    "RERUN_ENDED",
    "SESSION_ENDED",
    "SESSION_HEARTBEAT",
    "SESSION_STARTED",
    "STUDY_CREATED",
    "TRIAL_ASKED",
    "TRIAL_COMPLETED",
    "TRIAL_FAILED",
    "TRIAL_REPORTED",
    "TRIAL_REQUEUED",
    "Event",
    "asked_key",
    "attempt_key",
    "dumps",
    "ended_key",
    "loads",
]

EVENT_SCHEMA_VERSION: Final = 1

STUDY_CREATED: Final = "study.created"
TRIAL_ASKED: Final = "trial.asked"
TRIAL_COMPLETED: Final = "trial.completed"
TRIAL_FAILED: Final = "trial.failed"
# An intermediate value of a running trial (step, value) and whether it was told to stop.
TRIAL_REPORTED: Final = "trial.reported"
# A running trial whose process was lost, taken over to run again (same config, seed).
TRIAL_REQUEUED: Final = "trial.requeued"
# A process that asks, tells or runs trials: where it runs, and that it is alive.
SESSION_STARTED: Final = "session.started"
SESSION_HEARTBEAT: Final = "session.heartbeat"
SESSION_ENDED: Final = "session.ended"
# Preregistration: the plan's hash, and every later change with its reason.
PLAN_LOCKED: Final = "plan.locked"
PLAN_AMENDED: Final = "plan.amended"
# One re-evaluation of a finished trial's configuration with a new seed.
RERUN_ENDED: Final = "rerun.ended"


def asked_key(number: int) -> str:
    return f"trial:{number}:asked"


def ended_key(number: int) -> str:
    return f"trial:{number}:ended"


def attempt_key(number: int, attempt: int) -> str:
    """Key of the event that starts attempt ``attempt`` (>= 1) of a requeued trial."""
    return f"trial:{number}:attempt:{attempt}"


@dataclass(frozen=True)
class Event:
    """One immutable fact about a study.

    Attributes:
        kind: what happened, e.g. ``trial.asked``.
        study: the study's name.
        trial: the trial number it concerns, if any.
        data: JSON-ready payload.
        key: de-duplication key; unique per study when not None.
        time: wall-clock seconds when appended: a record, never an input to a proposal
            (only recovery reads it, to tell a silent process from a live one).
        seq: sequence number assigned by the storage; None before appending.
    """

    kind: str
    study: str
    trial: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None
    time: float = 0.0
    seq: int | None = None

    def with_seq(self, seq: int) -> Event:
        return replace(self, seq=seq)


def _reject_nan(value: float) -> Any:
    raise ValueError(f"non-finite number {value!r} cannot be stored")


def dumps(data: Mapping[str, Any]) -> str:
    """Compact JSON for stored payloads: no NaN, no pickling; key order is kept
    (configs are stored in space order)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def loads(text: str) -> dict[str, Any]:
    value = json.loads(text, parse_constant=lambda c: _reject_nan(math.nan))
    if not isinstance(value, dict):
        raise ValueError("an event payload must be a JSON object")
    return value
