"""``hypertrail export`` and ``hypertrail import``: files, exit codes, nothing written
on refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hypertrail import Float, Space, Study, Trial
from hypertrail.cli.main import cli
from hypertrail.replay import verify
from hypertrail.storage import open_storage


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def fails_on_two(trial: Trial) -> float:
    if trial.number == 2:
        raise RuntimeError("two")
    return float(trial.config["x"])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.db"
    with Study.create("toy", Space({"x": Float(0.0, 1.0)}), storage=path, seed=4) as study:
        study.optimize(fails_on_two, n_trials=6)
    return path


def studies(path: Path) -> dict[str, int]:
    log = open_storage(path)
    try:
        return {name: len(log.read(name)) for name in log.studies()}
    finally:
        log.close()


def test_export_to_files_then_import(source: Path, tmp_path: Path) -> None:
    out, table = tmp_path / "toy.jsonl", tmp_path / "toy.csv"
    code, stdout, stderr = invoke(
        "export", "toy", "-s", str(source), "-o", str(out), "--trials-csv", str(table)
    )
    assert code == 0 and stdout == "", stderr
    lines = out.read_text().splitlines()
    assert stderr.strip() == (
        f"exported study 'toy': {len(lines) - 1} events to {out}, 6 trials to {table}"
    )
    assert json.loads(lines[0])["study"] == "toy"
    code, csv_out, _ = invoke("trials", "toy", "-s", str(source), "--format", "csv")
    assert code == 0 and table.read_text() == csv_out
    assert not list(tmp_path.glob(".*.tmp")), "temporary files are moved or removed"

    target = tmp_path / "new.db"  # created by the import
    code, stdout, stderr = invoke("import", str(out), "--storage", str(target))
    assert code == 0, stderr
    assert f"imported study 'toy': {len(lines) - 1} events, 6 trials" in stdout
    code, before, _ = invoke("trials", "toy", "-s", str(source), "--format", "json")
    code, after, _ = invoke("trials", "toy", "-s", str(target), "--format", "json")

    def comparable(text: str) -> list[tuple[object, ...]]:
        return [(t["number"], t["state"], t["config"], t["values"]) for t in json.loads(text)]

    assert comparable(after) == comparable(before)
    log = open_storage(target)
    assert verify(log, "toy").ok
    log.close()


def test_export_to_stdout_and_import_from_stdin(source: Path, tmp_path: Path) -> None:
    code, text, stderr = invoke("export", "toy", "--storage", str(source))
    assert code == 0 and stderr == "" and text.count("\n") == len(text.splitlines())
    target = tmp_path / "t.db"
    code, stdout, _ = invoke("import", "-", "-s", str(target), "--name", "again", stdin=text)
    assert code == 0 and "imported study 'again' (named 'toy' in the file)" in stdout
    assert set(studies(target)) == {"again"}


def test_import_exit_codes_and_nothing_written(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "toy.jsonl"
    assert invoke("export", "toy", "-s", str(source), "-o", str(out))[0] == 0
    before = studies(source)

    code, _, stderr = invoke("import", str(out), "-s", str(source))
    assert code == 1
    assert "'toy' already exists" in stderr and "--name" in stderr
    assert studies(source) == before

    lines = out.read_text().splitlines()
    lines[2] = lines[2][:20]
    record = json.loads(lines[4])
    record["seq"] = 0
    lines[4] = json.dumps(record)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines) + "\n")
    code, _, stderr = invoke("import", str(broken), "-s", str(source), "--name", "other")
    assert code == 2
    assert f"{broken}:3: not a complete JSON object" in stderr
    assert f"{broken}:5: seq: a positive integer was expected" in stderr
    assert studies(source) == before

    code, _, _ = invoke("import", str(out), "-s", str(source), "--name", "other")
    assert code == 0 and set(studies(source)) == {"toy", "other"}


def test_export_of_an_unknown_study_fails_without_a_file(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "none.jsonl"
    code, _, stderr = invoke("export", "nope", "-s", str(source), "-o", str(out))
    assert code == 1 and "no study named 'nope'" in stderr and "studies there: toy" in stderr
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_import_needs_a_storage(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HYPERTRAIL_STORAGE", raising=False)
    out = tmp_path / "toy.jsonl"
    invoke("export", "toy", "-s", str(source), "-o", str(out))
    code, _, stderr = invoke("import", str(out))
    assert code == 2 and "--storage" in stderr
    monkeypatch.setenv("HYPERTRAIL_STORAGE", f"sqlite:///{tmp_path / 'env.db'}")
    assert invoke("import", str(out))[0] == 0
    assert set(studies(tmp_path / "env.db")) == {"toy"}
