"""``hypertrail validate FILE`` on space files: exit codes and what it prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hypertrail.cli.main import cli
from hypertrail.errors import SpaceError
from hypertrail.space import load_space

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "spaces"
INVALID_FILES = sorted(p.name for p in (FIXTURES / "invalid").iterdir())
VALID_FILES = sorted(p.name for p in (FIXTURES / "valid").iterdir())


def validate(path: Path) -> Result:
    """Run ``hypertrail validate path``; ``output`` holds stdout and stderr."""
    return CliRunner().invoke(cli, ["validate", str(path)])


@pytest.mark.parametrize("name", INVALID_FILES)
def test_invalid_space_exits_2_listing_every_issue_with_its_path(name: str) -> None:
    path = FIXTURES / "invalid" / name
    with pytest.raises(SpaceError) as info:
        load_space(path)
    result = validate(path)
    assert result.exit_code == 2, result.output
    count = len(info.value.issues)
    assert f"{path}: invalid ({count} problem" in result.output
    for issue in info.value.issues:
        assert f"  {issue}" in result.output
        if issue.path:
            assert f": {issue.path}: " in result.output
    assert "fingerprint" not in result.output
    assert "Traceback" not in result.output


def test_several_errors_are_all_printed_with_file_line_and_path() -> None:
    path = FIXTURES / "invalid" / "several_errors.yaml"
    result = validate(path)
    assert result.exit_code == 2
    assert "(7 problems)" in result.output
    for located in (
        f"{path}:5: params.optimizer.choices[2]: duplicate value 'adam'",
        f"{path}:8: params.lr.low: low (0.1) > high (1e-05)",
        f"{path}:15: params.momentum.default: default 1.5 is not in the domain",
        f"{path}:16: params.momentum.when: malformed condition",
        f"{path}:19: params.batch_size.values: must not be empty",
        f"{path}:20: params.layer.width: invalid name",
        f"{path}:22: constraints[0]: malformed constraint",
    ):
        assert located in result.output


@pytest.mark.parametrize("name", VALID_FILES)
def test_valid_space_exits_0_with_a_summary_and_fingerprint(name: str) -> None:
    path = FIXTURES / "valid" / name
    space = load_space(path)
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert f"{path}: valid space" in result.output
    assert f"fingerprint: {space.fingerprint}" in result.output
    assert f"{len(space.params)} after expanding blocks" in result.output


def test_summary_of_the_design_example() -> None:
    result = validate(FIXTURES / "valid" / "design_example.yaml")
    assert result.exit_code == 0
    out = result.output
    assert "parameters: 7 declared, 18 after expanding blocks" in out
    assert "constraints: 1" in out
    assert "discrete part: at most" in out
    # momentum hangs under optimizer in the structure tree.
    lines = out.splitlines()
    optimizer = next(i for i, line in enumerate(lines) if "- optimizer:" in line)
    momentum = next(i for i, line in enumerate(lines) if "- momentum:" in line)
    assert momentum > optimizer
    indent = len(lines[momentum]) - len(lines[momentum].lstrip())
    assert indent > len(lines[optimizer]) - len(lines[optimizer].lstrip())


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = validate(tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "cannot read file" in result.output
