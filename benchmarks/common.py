"""What the benchmark scripts share: the overhead space, the machine's description,
and writing one marked section of docs/benchmarks.md."""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from hypertrail import Categorical, Float, Int, Ordinal, Space

__all__ = [
    "MIXED_SPACE",
    "ROOT",
    "command_line",
    "cpu_model",
    "git_revision",
    "package_version",
    "update_section",
]

ROOT = Path(__file__).resolve().parents[1]

# The 10-parameter mixed space of the throughput and overhead measurements: 4 floats
# (2 log-scaled), 3 integers, 2 categoricals and 1 ordinal.
MIXED_SPACE = Space(
    {
        "lr": Float(1e-5, 1e-1, log=True),
        "weight_decay": Float(1e-6, 1e-2, log=True),
        "dropout": Float(0.0, 0.5),
        "momentum": Float(0.8, 0.99),
        "layers": Int(1, 8),
        "units": Int(16, 512),
        "batch_size": Int(8, 256),
        "optimizer": Categorical(["adam", "sgd", "rmsprop"]),
        "activation": Categorical(["relu", "tanh", "gelu"]),
        "width": Ordinal([32, 64, 128, 256]),
    }
)


def package_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def command_line(program: str, argv: Sequence[str] | None = None) -> str:
    """The command a measurement was run with, as a doc's "Measured by" line quotes it:
    ``program`` and its arguments (``sys.argv[1:]`` unless given), shell-quoted."""
    given = sys.argv[1:] if argv is None else list(argv)
    return " ".join([program, *map(shlex.quote, given)])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    """The checked-out commit, and whether tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


def update_section(path: Path, name: str, section: str, intro: str = "# Benchmarks\n") -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` in
    ``path`` (or append the block, or create the file with ``intro``); keep the rest."""
    start_marker, end_marker = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start_marker}\n{section}\n{end_marker}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{intro}\n{block}\n")
        return
    text = path.read_text()
    start, end = text.find(start_marker), text.find(end_marker)
    if start != -1 and end > start:
        text = text[:start] + block + text[end + len(end_marker) :]
    elif start == -1 and end == -1:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    else:
        raise SystemExit(f"{path}: unmatched {start_marker} / {end_marker}; fix them by hand")
    path.write_text(text)
