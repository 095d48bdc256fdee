"""Cached reference values and best-known values, in ``benchmarks/suite/data``.

* ``reference.json``: per problem, the median loss of random configurations drawn by
  ``space.sample`` from ``numpy.random.default_rng(REFERENCE_SEED)``: 1000 of them,
  or 200 for expensive problems. Normalized regret is
  ``(best found - optimum) / (reference - optimum)``: 0 is the optimum, 1 is as good
  as a typical random configuration.
* ``known_best.json``: for problems whose optimum is not known (the tuning tasks), the
  lowest loss ever seen, with its configuration and where it came from. It was first
  filled by ``python -m benchmarks.suite.known_best`` (a long random + local search);
  ``run.py`` replaces an entry whenever one of its runs, or a reference sample, finds
  a lower loss. Regrets are always computed against the value after those updates.

Entries carry a signature of the space (:func:`space_signature`: every parameter's
name, declaration path, type and domain fields, ``when`` included, and the
constraints); an entry for another
space is ignored (and recomputed or replaced), so editing a problem cannot silently
reuse stale numbers. The signature is computed here rather than taken from
``Space.fingerprint`` so that a change of hypertrail's fingerprint normalization does
not throw away hours of evaluations.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from benchmarks.suite.catalog import get_problem

from hypertrail import Space

__all__ = [
    "DATA",
    "KNOWN_BEST",
    "REFERENCE",
    "REFERENCE_SEED",
    "compute_reference",
    "load_json",
    "optimum_of",
    "reference_of",
    "save_json",
    "space_signature",
    "update_known_best",
]

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = DATA / "reference.json"
KNOWN_BEST = DATA / "known_best.json"
REFERENCE_SEED = 20240601
SCHEMA_VERSION = 1


def space_signature(space: Space) -> str:
    """A hash of what the space means, independent of hypertrail's own fingerprint."""
    params = []
    for param in space.params:
        domain: Any = param.domain  # every domain is a frozen dataclass
        fields = {f.name: getattr(domain, f.name) for f in dataclasses.fields(domain) if f.init}
        # ``when`` is among the fields; a block's count clause follows from the name.
        params.append([param.name, param.path, param.kind, fields])
    data = {"params": params, "constraints": list(space.constraint_sources)}
    text = json.dumps(data, sort_keys=True, default=list, allow_nan=False)
    return "sig:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def load_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if k != "schema_version"}


def save_json(path: Path, entries: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"schema_version": SCHEMA_VERSION, **dict(sorted(entries.items()))}
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")


def reference_size(problem_name: str) -> int:
    return 200 if get_problem(problem_name).expensive else 1000


def compute_reference(problem_name: str) -> dict[str, Any]:
    """Evaluate the random configurations of the reference (run in a worker)."""
    problem = get_problem(problem_name)
    n = reference_size(problem_name)
    rng = np.random.default_rng(REFERENCE_SEED)
    values: list[float] = []
    best: tuple[float, dict[str, Any]] | None = None
    for _ in range(n):
        config = problem.space.sample(rng)
        value = float(problem.evaluate(config))
        if math.isfinite(value):
            values.append(value)
            if best is None or value < best[0]:
                best = (value, config)
    return {
        "kind": "reference",
        "problem": problem_name,
        "median": statistics.median(values),
        "n": n,
        "finite": len(values),
        "seed": REFERENCE_SEED,
        "space_signature": space_signature(problem.space),
        "best": best[0] if best else None,
        "best_config": best[1] if best else None,
    }


def reference_of(problem_name: str, cache: dict[str, Any]) -> float | None:
    entry = cache.get(problem_name)
    problem = get_problem(problem_name)
    if (
        entry is None
        or entry.get("space_signature") != space_signature(problem.space)
        or entry.get("n") != reference_size(problem_name)
        or entry.get("seed") != REFERENCE_SEED
    ):
        return None
    return float(entry["median"])


def optimum_of(problem_name: str, known: dict[str, Any]) -> float | None:
    problem = get_problem(problem_name)
    if problem.optimum is not None:
        return problem.optimum
    entry = known.get(problem_name)
    if entry is None or entry.get("space_signature") != space_signature(problem.space):
        return None
    return float(entry["value"])


def update_known_best(
    known: dict[str, Any],
    problem_name: str,
    value: float | None,
    config: dict[str, Any] | None,
    source: str,
) -> bool:
    """Keep ``value`` if it beats the stored best of a problem without exact optimum."""
    problem = get_problem(problem_name)
    if problem.optimum is not None or value is None or not math.isfinite(value):
        return False
    entry = known.get(problem_name)
    if entry is not None and entry.get("space_signature") != space_signature(problem.space):
        entry = None  # recorded for another version of the space
    if entry is not None and value >= float(entry["value"]):
        return False
    history = [] if entry is None else [*entry.get("history", []), _brief(entry)]
    known[problem_name] = {
        "value": value,
        "config": config,
        "source": source,
        "space_signature": space_signature(problem.space),
        "history": history,
    }
    return True


def _brief(entry: dict[str, Any]) -> dict[str, Any]:
    return {"value": entry["value"], "source": entry["source"]}
