"""``hypertrail report`` and ``hypertrail dashboard`` from the command line."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner
from tests.cli.test_commands import write_plan

from hypertrail.cli.main import cli
from hypertrail.reporting.data import SECTIONS


def _run_plan(folder: Path) -> Path:
    plan = write_plan(folder, trials=12)
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 0, result.output
    return plan


def test_report_of_a_plan_lands_beside_it_with_its_numbers(tmp_path: Path) -> None:
    plan = _run_plan(tmp_path / "p")
    numbers = tmp_path / "numbers.json"
    result = CliRunner().invoke(cli, ["report", str(plan), "--json", str(numbers)])
    assert result.exit_code == 0, result.output
    page = (plan.parent / "toy-report.html").read_text()
    assert "report of 'toy' (12 trials)" in result.output
    for id, title in SECTIONS:
        assert f'id="s-{id}"' in page and title in page
    assert "Plotly.newPlot" in page and "<script src=" not in page  # plotly.js inlined
    data = json.loads(numbers.read_text())
    sections = {s["id"]: s for s in data["sections"]}
    assert sections["summary"]["data"]["counts"]["complete"] == 12
    # 12 trials: the audit replays every proposal by default.
    assert sections["audit"]["data"]["replay"]["ok"] is True
    assert sections["importance"]["data"]["method"] == "fanova"


def test_report_options_and_errors(tmp_path: Path) -> None:
    plan = _run_plan(tmp_path / "p")
    runner = CliRunner()
    out = tmp_path / "r" / "quick.html"
    numbers = tmp_path / "quick.json"
    result = runner.invoke(
        cli,
        [
            "report",
            str(plan),
            "-o",
            str(out),
            "--json",
            str(numbers),
            "--no-replay",
            "--importance",
            "quick",
            "--max-points",
            "50",
        ],
    )
    assert result.exit_code == 0, result.output
    sections = {s["id"]: s for s in json.loads(numbers.read_text())["sections"]}
    assert sections["audit"]["data"]["replay"] is None
    assert sections["importance"]["data"]["method"] == "quick"
    result = runner.invoke(cli, ["report", str(plan), "--importance", "none", "-o", str(out)])
    assert (
        result.exit_code == 0 and 'data-section="importance" data-empty="true"' in out.read_text()
    )

    bad = runner.invoke(cli, ["report", str(plan), "--importance", "magic"])
    assert bad.exit_code == 2 and "magic" in bad.output
    db = plan.parent / "toy.db"
    missing = runner.invoke(cli, ["report", "other", "--storage", str(db)])
    assert missing.exit_code == 1 and "no study named 'other'" in missing.output


def test_dashboard_refuses_a_busy_port_and_warns_off_loopback(tmp_path: Path) -> None:
    plan = _run_plan(tmp_path / "p")
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["dashboard", str(plan), "--host", "0.0.0.0", "--port", str(port)]
        )
    assert result.exit_code == 1
    assert "warning: listening on 0.0.0.0" in result.output
    assert f"cannot listen on 0.0.0.0:{port}" in result.output
    result = CliRunner().invoke(cli, ["dashboard"], env={"HYPERTRAIL_STORAGE": ""})
    assert result.exit_code == 1 and "give a STORAGE" in result.output
