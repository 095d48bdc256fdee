"""Log expected improvement, computed without underflow.

Plain EI underflows to exactly zero far from the incumbent, which leaves the
acquisition optimizer on a flat surface. Following the formulation of Ament et al.
(2023, "Unexpected improvements to expected improvement"), we compute
``log EI = log(sigma) + log h(z)`` with ``h(z) = phi(z) + z Phi(z)`` evaluated in a
stable way for very negative ``z``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["log_ei"]

_C1 = 0.5 * math.log(2 * math.pi)
_C2 = 0.5 * math.log(math.pi / 2)


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x < 0, accurate near 0 and far from it."""
    out: np.ndarray = np.where(
        x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(np.minimum(x, 0.0)))
    )
    return out


def _log_h(z: np.ndarray) -> np.ndarray:
    from scipy.special import erfcx, log_ndtr

    out = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    # phi(z) + z Phi(z), in log space via logaddexp when z < 0 would cancel; here z > -1
    out[upper] = np.log(np.exp(-0.5 * zu * zu - _C1) + zu * np.exp(log_ndtr(zu)))
    zl = z[~upper]
    far = zl < -1e6
    mid = zl[~far]
    lower = np.empty_like(zl)
    lower[~far] = (
        -0.5 * mid * mid - _C1 + _log1mexp(np.log(erfcx(-mid / math.sqrt(2)) * np.abs(mid)) + _C2)
    )
    lower[far] = -0.5 * zl[far] ** 2 - _C1 - 2.0 * np.log(np.abs(zl[far]))
    out[~upper] = lower
    return out


def log_ei(mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
    """log EI of improving below ``best`` (minimization), per point."""
    sigma = np.sqrt(np.maximum(var, 1e-18))
    z = (best - mean) / sigma
    out: np.ndarray = np.log(sigma) + _log_h(z)
    return out
