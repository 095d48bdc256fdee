"""Preregistration: lock a plan's hash, refuse silent changes, record amendments.

``hypertrail lock PLAN`` records a ``plan.locked`` event with the plan's hash and
what it asks for. A later run of a plan whose hash differs is refused unless the
user gives a reason (``--amend``), which is recorded as ``plan.amended`` with the
keys that changed; the audit lists them all, in order.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypertrail.errors import DuplicateEventError, HypertrailError
from hypertrail.storage.events import PLAN_AMENDED, PLAN_LOCKED, Event

if TYPE_CHECKING:
    from hypertrail.plan import Plan
    from hypertrail.study import Study

__all__ = ["LockError", "LockState", "check_plan", "lock_plan", "lock_state"]


class LockError(HypertrailError):
    """A run of a changed plan was refused: the study's plan is locked."""


@dataclass(frozen=True)
class LockState:
    """The locked hash in force, and every lock and amendment recorded."""

    hash: str | None
    identity: Mapping[str, Any] | None
    records: tuple[Mapping[str, Any], ...]


def lock_state(study: Study) -> LockState:
    study.refresh()
    records = tuple(study._state.locks)
    if not records:
        return LockState(None, None, ())
    last = records[-1]
    return LockState(str(last["plan_hash"]), last.get("identity"), records)


def _plan_text(plan: Plan) -> str | None:
    if plan.source is None:
        return None
    try:
        return Path(plan.source).read_text()
    except OSError:
        return None


def lock_plan(study: Study, plan: Plan) -> bool:
    """Lock ``plan`` for ``study``; False when it was already locked with this hash.

    Raises:
        LockError: the study is locked with another plan (amend it with a run).
    """
    state = lock_state(study)
    if state.hash == plan.hash:
        return False
    if state.hash is not None:
        raise LockError(
            f"study {study.name!r} is already locked with plan {state.hash[:19]}…; "
            "a changed plan is recorded by `hypertrail run PLAN --amend REASON`"
        )
    data = {
        "plan_hash": plan.hash,
        "identity": plan.identity(),
        "plan_file": plan.source,
        "plan_text": _plan_text(plan),
    }
    try:
        study.storage.append(
            [Event(PLAN_LOCKED, study.name, data=data, key="plan:locked", time=time.time())]
        )
    except DuplicateEventError:
        return lock_plan(study, plan)  # locked meanwhile by another process: re-check
    study.refresh()
    return True


def changed_keys(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    if old is None:
        return sorted(new)
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def check_plan(study: Study, plan: Plan, amend: str | None) -> str | None:
    """Let a run of ``plan`` go ahead, recording an amendment when it changed.

    Returns the recorded amendment's summary, or None when nothing was recorded.

    Raises:
        LockError: the plan changed since it was locked and no reason was given.
    """
    state = lock_state(study)
    if state.hash is None or state.hash == plan.hash:
        return None
    changed = changed_keys(state.identity, plan.identity())
    if not amend or not amend.strip():
        raise LockError(
            f"the plan of study {study.name!r} is locked and has changed "
            f"({', '.join(changed) or 'content'}); to run it anyway, give the reason: "
            '--amend "why"'
        )
    data = {
        "plan_hash": plan.hash,
        "previous_hash": state.hash,
        "identity": plan.identity(),
        "changed": changed,
        "reason": amend.strip(),
        "plan_file": plan.source,
        "plan_text": _plan_text(plan),
    }
    study.storage.append([Event(PLAN_AMENDED, study.name, data=data, time=time.time())])
    study.refresh()
    return f"amended ({', '.join(changed)}): {amend.strip()}"
