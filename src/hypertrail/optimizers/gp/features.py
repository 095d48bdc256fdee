"""How configurations become GP inputs.

Numeric parameters (float, int, ordinal) use their unit-cube coordinate; an
inactive one takes the value -1, outside [0, 1], so that two configurations that
both lack it agree on it and one that has it differs from one that does not.
Categorical parameters use their choice index; inactive is -1, a category of its
own. The kernel treats the two kinds differently (distance vs. mismatch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hypertrail.space.params import Categorical, Ordinal

if TYPE_CHECKING:
    from hypertrail.space.space import Param, Space

__all__ = ["INACTIVE", "Features"]

INACTIVE = -1.0


@dataclass(frozen=True)
class Features:
    """The encoding of one space: numeric and categorical parameter lists."""

    numeric: tuple[Param, ...]
    categorical: tuple[Param, ...]

    @classmethod
    def of(cls, space: Space) -> Features:
        numeric: list[Param] = []
        categorical: list[Param] = []
        for param in space.dimensions:
            is_cat = isinstance(param.domain, Categorical) and not isinstance(param.domain, Ordinal)
            (categorical if is_cat else numeric).append(param)
        return cls(tuple(numeric), tuple(categorical))

    @property
    def width(self) -> int:
        return len(self.numeric) + len(self.categorical)

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """One row: numeric coordinates first, then categorical indices."""
        row = np.full(self.width, INACTIVE)
        for i, param in enumerate(self.numeric):
            if param.name in config:
                row[i] = param.domain.to_unit(config[param.name])
        offset = len(self.numeric)
        for j, param in enumerate(self.categorical):
            if param.name in config:
                domain = param.domain
                assert isinstance(domain, Categorical)
                row[offset + j] = domain.index(config[param.name])
        return row

    def encode_all(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Rows for many configurations, one numpy transform per parameter."""
        out = np.full((len(configs), self.width), INACTIVE)
        if not configs:
            return out
        for i, param in enumerate(self.numeric):
            name = param.name
            rows = [r for r, c in enumerate(configs) if name in c]
            if rows:
                out[rows, i] = param.domain.to_unit_many([configs[r][name] for r in rows])
        offset = len(self.numeric)
        for j, param in enumerate(self.categorical):
            name = param.name
            domain = param.domain
            assert isinstance(domain, Categorical)
            for r, c in enumerate(configs):
                if name in c:
                    out[r, offset + j] = domain.index(c[name])
        return out
