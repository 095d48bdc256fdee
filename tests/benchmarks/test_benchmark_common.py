"""benchmarks/common.py: what every benchmark's "Measured by" line quotes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import command_line  # noqa: E402


def test_command_line_quotes_arguments_a_shell_would_split() -> None:
    line = command_line(
        "python benchmarks/multifidelity.py",
        ["--seeds", "0-29", "--title", "Multi-fidelity search, seeds 0-29"],
    )
    assert line == (
        "python benchmarks/multifidelity.py --seeds 0-29 "
        "--title 'Multi-fidelity search, seeds 0-29'"
    )


def test_command_line_reads_the_process_arguments_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "argv", ["report_scale.py", "--repeats", "2"])
    assert command_line("python benchmarks/report_scale.py") == (
        "python benchmarks/report_scale.py --repeats 2"
    )
    monkeypatch.setattr(sys, "argv", ["report_scale.py"])
    assert command_line("python benchmarks/report_scale.py") == "python benchmarks/report_scale.py"
