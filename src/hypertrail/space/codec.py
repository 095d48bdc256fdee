"""Spaces to and from plain JSON-ready data, with a strict schema.

The same function reads a space from a YAML/JSON file (through
:mod:`hypertrail.space.loader`, which adds line numbers) and from the copy stored
in a study's event log. Unknown keys and types are errors, with a suggestion when a
near miss is found, so a typo never silently changes a search.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from hypertrail.errors import Issue, SpaceError
from hypertrail.space.params import Categorical, Domain, Fixed, Float, Int, Ordinal
from hypertrail.space.repeat import Repeat
from hypertrail.space.space import SPACE_SCHEMA_VERSION, Space

__all__ = ["space_from_dict", "space_to_dict"]

_SCHEMA: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # type: (required keys, optional keys)
    "float": (frozenset({"low", "high"}), frozenset({"log", "step", "default", "when"})),
    "int": (frozenset({"low", "high"}), frozenset({"log", "step", "default", "when"})),
    "categorical": (frozenset({"choices"}), frozenset({"default", "when"})),
    "ordinal": (frozenset({"values"}), frozenset({"default", "when"})),
    "fixed": (frozenset({"value"}), frozenset({"when"})),
    "repeat": (frozenset({"count", "max", "item"}), frozenset({"when"})),
}
_TOP_KEYS = frozenset({"params", "constraints", "description", "schema_version"})


def _suggest(word: str, options: Any) -> str:
    close = difflib.get_close_matches(str(word), sorted(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(
    data: Mapping[str, Any], required: frozenset[str], optional: frozenset[str], path: str
) -> list[Issue]:
    issues = []
    allowed = required | optional
    for key in data:
        if key not in allowed:
            issues.append(
                Issue(f"{path}.{key}", f"unknown key {key!r}" + _suggest(key, allowed - {"type"}))
            )
    issues.extend(
        Issue(path, f"missing required key {key!r}") for key in sorted(required) if key not in data
    )
    return issues


def _declaration(data: Any, path: str, issues: list[Issue]) -> Domain | Repeat | None:
    if not isinstance(data, Mapping):
        issues.append(
            Issue(path, f"must be a mapping with a 'type' key, got {type(data).__name__}")
        )
        return None
    kind = data.get("type")
    if kind is None:
        issues.append(Issue(path, "missing required key 'type'"))
        return None
    if kind not in _SCHEMA:
        issues.append(
            Issue(
                f"{path}.type",
                f"unknown type {kind!r}"
                + _suggest(kind, _SCHEMA)
                + f"; expected one of {', '.join(_SCHEMA)}",
            )
        )
        return None
    required, optional = _SCHEMA[kind]
    body = {k: v for k, v in data.items() if k != "type"}
    found = _check_keys(body, required, optional, path)
    if found:
        issues.extend(found)
        return None
    when = body.get("when")
    if kind in ("float", "int"):
        cls = Float if kind == "float" else Int
        return cls(
            low=body["low"],
            high=body["high"],
            log=body.get("log", False),
            step=body.get("step"),
            default=body.get("default"),
            when=when,
        )
    if kind == "categorical":
        return Categorical(_as_tuple(body["choices"]), default=body.get("default"), when=when)
    if kind == "ordinal":
        return Ordinal(_as_tuple(body["values"]), default=body.get("default"), when=when)
    if kind == "fixed":
        return Fixed(body["value"], when=when)
    item = body["item"]
    if not isinstance(item, Mapping) or not item:
        issues.append(Issue(f"{path}.item", "must be a non-empty mapping of parameters"))
        return None
    children = _declarations(item, f"{path}.item", issues)
    if children is None:
        return None
    return Repeat(count=body["count"], max=body["max"], item=children, when=when)


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _declarations(
    data: Mapping[str, Any], path: str, issues: list[Issue]
) -> dict[str, Domain | Repeat] | None:
    out: dict[str, Domain | Repeat] = {}
    before = len(issues)
    for name, spec in data.items():
        decl = _declaration(spec, f"{path}.{name}", issues)
        if decl is not None:
            out[str(name)] = decl
    return out if len(issues) == before else None


def space_from_dict(data: Any) -> Space:
    """Build a :class:`Space` from JSON-ready data.

    Raises:
        SpaceError: listing every problem with its key path (no line numbers here;
            :func:`hypertrail.space.loader.load_space` adds them).
    """
    if not isinstance(data, Mapping):
        raise SpaceError([Issue("", f"a space must be a mapping, got {type(data).__name__}")])
    issues = _check_keys(data, frozenset({"params"}), _TOP_KEYS - {"params"}, "")
    issues = [Issue(i.path.lstrip("."), i.message) for i in issues]
    version = data.get("schema_version", SPACE_SCHEMA_VERSION)
    if version != SPACE_SCHEMA_VERSION:
        issues.append(
            Issue(
                "schema_version",
                f"unsupported schema_version {version!r} "
                f"(this hypertrail reads {SPACE_SCHEMA_VERSION})",
            )
        )
    constraints = data.get("constraints", [])
    if constraints is None:
        constraints = []
    if not isinstance(constraints, list):
        issues.append(Issue("constraints", "must be a list of expression strings"))
        constraints = []
    for i, source in enumerate(constraints):
        if not isinstance(source, str):
            issues.append(Issue(f"constraints[{i}]", f"must be a string, got {source!r}"))
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        issues.append(Issue("description", "must be a string"))
    params = data.get("params")
    declared: dict[str, Domain | Repeat] | None = None
    if params is not None:
        if not isinstance(params, Mapping) or not params:
            issues.append(Issue("params", "must be a non-empty mapping of parameters"))
        else:
            declared = _declarations(params, "params", issues)
    if issues or declared is None:
        raise SpaceError(issues)
    return Space(declared, constraints, description=description)


def space_to_dict(space: Space) -> dict[str, Any]:
    """The inverse of :func:`space_from_dict` (same fingerprint on the way back)."""
    return space.to_json()
