"""Read space files (YAML or JSON) with line numbers for every key.

PyYAML's safe composer gives nodes that know their line. We build plain data from
those nodes ourselves so that duplicate keys (which ``yaml.safe_load`` silently
collapses) are reported, and keep a map from key path to line so that every
:class:`~hypertrail.errors.Issue` can say exactly where it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypertrail.errors import ConfigError, Issue, SpaceError
from hypertrail.space.space import Space

__all__ = ["LocatedDocument", "load_document", "load_space", "locate", "parse_document"]

E = TypeVar("E", bound=ConfigError)


class LocatedDocument:
    """Plain data from a YAML/JSON text plus the line of every key path."""

    def __init__(
        self, data: Any, lines: dict[str, int] | None, file: str | None, text: str | None = None
    ) -> None:
        self.data = data
        self.file = file
        self._lines = lines
        self._text = text

    @property
    def lines(self) -> dict[str, int]:
        """Key path -> line; for JSON read by the fast path, found only when needed."""
        if self._lines is None:
            try:
                self._lines = parse_document(self._text or "", self.file, ConfigError)._lines
            except ConfigError:
                self._lines = {}
        return self._lines or {}

    def line_of(self, path: str) -> int | None:
        """Line of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""

    def locate(self, issue: Issue) -> Issue:
        return issue.located(self.file, self.line_of(issue.path))


def parse_document(text: str, file: str | None, error: type[E]) -> LocatedDocument:
    """Parse YAML (or JSON, a subset of it) into located plain data."""
    import yaml

    # libyaml's composer is ~20x faster on large files (10^5 choices) and gives the
    # same line marks; the pure-Python one is the fallback.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise error([Issue("", f"not valid YAML/JSON: {problem}", file, line)]) from exc
    if node is None:
        raise error([Issue("", "the file is empty", file, 1)])
    lines: dict[str, int] = {}
    issues: list[Issue] = []
    constructor = yaml.constructor.SafeConstructor()

    def build(n: yaml.Node, path: str) -> Any:
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = constructor.construct_object(key_node)
                child = f"{path}.{key}" if path else str(key)
                if key in out:
                    issues.append(
                        Issue(
                            child,
                            f"duplicate key {key!r} (first at line {lines.get(child, '?')})",
                            file,
                            key_node.start_mark.line + 1,
                        )
                    )
                    continue
                lines[child] = key_node.start_mark.line + 1
                out[key] = build(value_node, child)
            return out
        if isinstance(n, yaml.SequenceNode):
            items = n.value
            if len(items) > 256 and all(isinstance(i, yaml.ScalarNode) for i in items):
                # A long list of scalars (10^5 choices): skip per-item paths; an issue
                # about an item points at the list's line instead.
                return [scalar(i) for i in items]
            return [build(item, f"{path}[{i}]") for i, item in enumerate(items)]
        return scalar(n)

    def scalar(n: yaml.Node) -> Any:
        make = constructor.yaml_constructors.get(n.tag)
        if make is None or not isinstance(n, yaml.ScalarNode):
            return constructor.construct_object(n)
        return make(constructor, n)

    data = build(node, "")
    if issues:
        raise error(issues)
    return LocatedDocument(data, lines, file)


def load_document(path: str | Path, error: type[E]) -> LocatedDocument:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error([Issue("", f"cannot read file: {exc.strerror}", file)]) from exc
    if file.endswith(".json"):
        fast = _parse_json(text, file)
        if fast is not None:
            return fast
    return parse_document(text, file, error)


class _DuplicateKey(Exception):
    pass


def _parse_json(text: str, file: str) -> LocatedDocument | None:
    """JSON through the C parser; None sends the text down the YAML path, which
    reports syntax errors and duplicate keys with their lines."""
    import json

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            raise _DuplicateKey
        return out

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except (ValueError, _DuplicateKey):
        return None
    return LocatedDocument(data, None, file, text)


def locate(doc: LocatedDocument, build: Callable[[Any], Any], error: type[E]) -> Any:
    """Run ``build`` on the document's data; re-raise its issues with lines added."""
    try:
        return build(doc.data)
    except ConfigError as exc:
        raise error([doc.locate(i) for i in exc.issues]) from None


def load_space(path: str | Path) -> Space:
    """Load and validate a space file.

    Raises:
        SpaceError: every problem found, each with file, line and key path.

    Example:
        >>> # space = load_space("examples/mlp_digits/space.yaml")
    """
    from hypertrail.space.codec import space_from_dict

    doc = load_document(path, SpaceError)
    space: Space = locate(doc, space_from_dict, SpaceError)
    return space
