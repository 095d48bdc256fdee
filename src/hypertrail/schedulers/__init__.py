"""Multi-fidelity schedulers: successive halving, Hyperband, ASHA, median stopping,
multi-start local search.

Each wraps an optimizer and is registered as one (``asha``, ``successive_halving``,
``hyperband``, ``median``, ``multistart``); see :mod:`hypertrail.schedulers.base`.
"""

from __future__ import annotations

__all__: list[str] = []
