"""Explicit, derivable randomness (DESIGN.md invariant 3).

A study has one integer seed. Every random stream hypertrail uses is derived from
``(study seed, trial number, purpose)`` through :class:`numpy.random.SeedSequence`,
so the generator behind trial 17's proposal is the same in every process, on every
machine, whatever ran before it. Nothing here touches the global ``random`` or
``numpy.random`` state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["PURPOSE_OBJECTIVE", "PURPOSE_PROPOSE", "RngKey", "purpose_code"]

PURPOSE_PROPOSE = "propose"
PURPOSE_OBJECTIVE = "objective"


def purpose_code(purpose: str) -> int:
    """A stable 32-bit integer for a purpose name (not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:4], "little")


@dataclass(frozen=True)
class RngKey:
    """The recorded identity of a random stream: study seed, trial and purpose.

    Example:
        >>> key = RngKey(seed=7, trial=3, purpose="propose")
        >>> key.generator().integers(100) == key.generator().integers(100)
        True
    """

    seed: int
    trial: int
    purpose: str

    def seed_sequence(self) -> np.random.SeedSequence:
        import numpy as np

        return np.random.SeedSequence(
            entropy=self.seed, spawn_key=(self.trial, purpose_code(self.purpose))
        )

    def generator(self) -> np.random.Generator:
        """A fresh generator; calling this twice gives two identical streams."""
        import numpy as np

        return np.random.Generator(np.random.PCG64(self.seed_sequence()))

    def integer_seed(self) -> int:
        """A 32-bit seed for libraries that take an int (scikit-learn, torch)."""
        return int(self.seed_sequence().generate_state(1)[0])

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "trial": self.trial, "purpose": self.purpose}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RngKey:
        return cls(int(data["seed"]), int(data["trial"]), str(data["purpose"]))
