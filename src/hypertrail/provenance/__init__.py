"""Provenance: what a study ran on and where its trials came from.

:mod:`~hypertrail.provenance.capture` describes the environment (interpreter,
packages, hardware, git state), fingerprints registered data and measures per-trial
resources; :mod:`~hypertrail.provenance.lineage` follows trials' parent links.
Both import only the standard library and hypertrail's light modules.
"""

from __future__ import annotations

from hypertrail.provenance.capture import (
    children_peak_memory_bytes,
    environment,
    fingerprint_data,
    git_state,
    hardware_summary,
    packages,
    peak_memory_bytes,
    reset_peak_memory,
)
from hypertrail.provenance.lineage import Lineage, lineage

__all__ = [
    "Lineage",
    "children_peak_memory_bytes",
    "environment",
    "fingerprint_data",
    "git_state",
    "hardware_summary",
    "lineage",
    "packages",
    "peak_memory_bytes",
    "reset_peak_memory",
]
