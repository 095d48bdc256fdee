"""Any hypertrail :class:`~hypertrail.Space` as Optuna define-by-run suggestions.

Parameters are walked in the space's topological order. A parameter whose condition
does not hold on the values suggested so far is skipped, so Optuna sees exactly the
active set hypertrail would (three-valued logic included: a condition that reads an
inactive parameter is "unknown", and only "true" activates). ``float`` and ``int``
map to ``suggest_float`` / ``suggest_int`` with their ``log`` and ``step``;
``categorical`` and ``ordinal`` to ``suggest_categorical`` (Optuna has no ordered
choice); ``fixed`` values are set without a suggestion.

Optuna has no constraints on parameters: a configuration that violates one of the
space's constraints is returned with ``feasible=False`` and the benchmark records
that trial as failed (it counts toward the budget, as an infeasible proposal would).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypertrail import Categorical, Fixed, Float, Int, Space

if TYPE_CHECKING:
    import optuna

__all__ = ["suggest_config"]


def suggest_config(trial: optuna.Trial, space: Space) -> tuple[dict[str, Any], bool]:
    """The configuration Optuna proposes for ``trial``, and whether it is feasible."""
    config: dict[str, Any] = {}
    for param in space.params:
        if param.condition is not None and not param.condition.holds(config):
            continue
        domain = param.domain
        name = param.name
        if isinstance(domain, Fixed):
            config[name] = domain.value
        elif isinstance(domain, Categorical):  # Ordinal included
            config[name] = trial.suggest_categorical(name, list(domain.choices))
        elif isinstance(domain, Float):
            config[name] = trial.suggest_float(
                name, float(domain.low), float(domain.high), log=domain.log, step=domain.step
            )
        elif isinstance(domain, Int):
            config[name] = trial.suggest_int(
                name, int(domain.low), int(domain.high), log=domain.log, step=domain.step or 1
            )
        else:
            raise TypeError(f"{name}: no Optuna mapping for {type(domain).__name__}")
    return config, space.is_feasible(config)
