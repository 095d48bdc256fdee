"""Every problem of the suite by name, built on demand (COCO and scikit-learn lazily)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial

from benchmarks.suite import tuning
from benchmarks.suite.coco import COCO_PROBLEMS, coco_problem

from hypertrail.benchmarks import PROBLEMS
from hypertrail.benchmarks.problem import Problem

__all__ = ["PROBLEM_NAMES", "get_problem", "select_problems"]

_FACTORIES: dict[str, Callable[[], Problem]] = {
    **PROBLEMS,  # the packaged ones: mixed_*, jenatton
    **{name: partial(coco_problem, name) for name in COCO_PROBLEMS},
    "svc_breast_cancer": tuning.svc_breast_cancer,
    "gb_wine": tuning.gb_wine,
    "mlp_digits": tuning.mlp_digits,
}
# Families known without building the problems (cocoex and the example stay unloaded).
_FAMILY = {
    "mixed_branin": "mixed",
    "mixed_hartmann6": "mixed",
    "mixed_ackley10": "mixed",
    "jenatton": "conditional",
    **dict.fromkeys(COCO_PROBLEMS, "coco"),
    "svc_breast_cancer": "sklearn",
    "gb_wine": "sklearn",
    "mlp_digits": "nas",
}
PROBLEM_NAMES = tuple(_FACTORIES)


@cache
def get_problem(name: str) -> Problem:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise KeyError(f"unknown problem {name!r}; known: {', '.join(PROBLEM_NAMES)}") from None
    return factory()


def select_problems(spec: str | None) -> list[str]:
    """Names from a comma list of problem names, families, ``all`` or ``-name`` exclusions.

    Example: ``"all,-mlp_digits"``, ``"mixed,jenatton"``, ``"coco"``.
    """
    if not spec:
        return list(PROBLEM_NAMES)
    chosen: list[str] = []
    for raw in spec.split(","):
        token = raw.strip()
        if not token:
            continue
        exclude = token.startswith("-")
        token = token.lstrip("-")
        if token == "all":
            names = list(PROBLEM_NAMES)
        elif token in _FACTORIES:
            names = [token]
        elif token in _FAMILY.values():
            names = [n for n in PROBLEM_NAMES if _FAMILY[n] == token]
        else:
            known = ", ".join([*PROBLEM_NAMES, *sorted(set(_FAMILY.values()))])
            raise SystemExit(f"unknown problem or family {token!r}; known: {known}")
        if exclude:
            chosen = [n for n in chosen if n not in names]
        else:
            chosen += [n for n in names if n not in chosen]
    if not chosen:
        raise SystemExit(f"no problem selected by {spec!r}")
    return chosen
