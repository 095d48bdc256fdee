"""Repeated blocks: the architecture part of a space.

``layers: {type: repeat, count: n_layers, max: 4, item: {...}}`` declares copies
``layers.0.*`` … ``layers.3.*``; copy *i* is active only while ``n_layers > i``.
Inside an item, a bare name refers to a sibling in the same copy when one exists,
otherwise to a parameter of the enclosing scope, so ``when: "activation != 'gelu'"``
means *this* copy's activation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypertrail.space.params import Domain

__all__ = ["Repeat"]


@dataclass(frozen=True)
class Repeat:
    """A block of parameters repeated ``count`` times, up to ``max`` copies.

    Example:
        >>> from hypertrail.space.params import Int
        >>> block = Repeat(count="n_layers", max=3, item={"width": Int(16, 512, log=True)})
        >>> block.max
        3
    """

    kind: ClassVar[str] = "repeat"
    count: str
    max: int
    item: Mapping[str, Domain | Repeat] = field(default_factory=dict)
    when: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "repeat",
            "count": self.count,
            "max": self.max,
            "item": {name: spec.to_json() for name, spec in self.item.items()},
        }
        if self.when is not None:
            out["when"] = self.when
        return out
