"""Multi-fidelity schedulers: successive halving, Hyperband, ASHA, median stopping.

Each wraps an optimizer and is registered as one (``asha``, ``successive_halving``,
``hyperband``, ``median``); see :mod:`hypertrail.schedulers.base`.
"""

from __future__ import annotations

__all__: list[str] = []
