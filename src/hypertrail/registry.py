"""Name -> class registries for plan files and the CLI (no ``if name == ...`` chains).

Entries are ``"module:attribute"`` strings resolved on first use, so registering
an optimizer does not import it (DESIGN.md invariant 6).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from hypertrail.errors import ConfigError, Issue, OptimizerError

__all__ = ["Registry", "build_from_spec"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to lazily imported classes.

    Example:
        >>> reg: Registry[object] = Registry("optimizer")
        >>> reg.register("random", "hypertrail.optimizers.random:RandomSearch")
        >>> reg.get("random").__name__
        'RandomSearch'
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, str | type[T]] = {}

    def register(self, name: str, target: str | type[T]) -> None:
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> type[T]:
        target = self._entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        assert not isinstance(target, str)
        return target

    def unknown(self, name: Any, path: str) -> Issue:
        close = difflib.get_close_matches(str(name), self.names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return Issue(path, f"unknown {self.what} {name!r}{hint}; known: {', '.join(self.names())}")


def build_from_spec(registry: Registry[T], spec: Any, path: str) -> tuple[T, dict[str, Any]]:
    """Instantiate from ``name`` or ``{name: ..., **options}``.

    Returns the instance and the normalized spec (``{"name": ..., **options}``).

    Raises:
        ConfigError: an unknown name or option, or options the class refuses; each
            issue names ``path``.
    """
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        name = spec["name"]
        options = {k: v for k, v in spec.items() if k != "name"}
    else:
        raise ConfigError([Issue(path, f"must be a name or a mapping with 'name', got {spec!r}")])
    if name not in registry:
        raise ConfigError(
            [registry.unknown(name, f"{path}.name" if isinstance(spec, Mapping) else path)]
        )
    cls = registry.get(name)
    fields = (
        {f.name for f in dataclasses.fields(cls) if f.init}
        if dataclasses.is_dataclass(cls)
        else set()
    )
    issues = []
    for key in options:
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(fields)) or "none"
            issues.append(
                Issue(
                    f"{path}.{key}",
                    f"unknown option {key!r} of {registry.what} {name!r}{hint}; options: {known}",
                )
            )
    if issues:
        raise ConfigError(issues)
    try:
        instance = cls(**options)
    except (TypeError, ValueError, OptimizerError) as exc:
        message = f"bad options for {registry.what} {name!r}: {exc}"
        raise ConfigError([Issue(path, message)]) from exc
    return instance, {"name": name, **options}
