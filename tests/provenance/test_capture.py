"""Provenance capture: packages, git state, data fingerprints, peak memory."""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hypertrail.errors import ConfigError
from hypertrail.provenance import capture

OLD = 1_600_000_000  # an mtime far from now, so hashes are cacheable


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every cache write of these tests out of the user's home."""
    cache = tmp_path / "default-cache"
    monkeypatch.setenv("HYPERTRAIL_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file the fingerprinting reads, in order."""
    calls: list[str] = []
    real = capture._hash_file

    def counting(path: str) -> str:
        calls.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(capture, "_hash_file", counting)
    return calls


def _write(path: Path, content: bytes, mtime: int | None = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _dataset(root: Path) -> Path:
    _write(root / "train.csv", b"a,b\n1,2\n")
    _write(root / "test.csv", b"a,b\n3,4\n")
    _write(root / "images" / "0.bin", bytes(range(256)) * 10)
    return root


# --- packages --------------------------------------------------------------------------


def test_packages_lists_numpy_with_its_real_version_and_a_stable_hash() -> None:
    found = capture.packages()
    assert found["list"]["numpy"] == np.__version__
    assert found["count"] == len(found["list"]) > 1
    assert list(found["list"]) == sorted(found["list"])
    assert all(name == name.lower() and "_" not in name for name in found["list"])
    lines = "".join(f"{name}=={version}\n" for name, version in found["list"].items())
    assert found["lock_hash"] == "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
    fresh = capture.packages.__wrapped__()
    assert fresh == found


# --- git -------------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
         "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Never let git find a repository above the temporary folder.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "project"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "train.py").write_text("lr = 0.1\n")
    (root / ".gitignore").write_text("*.log\n")
    (root / "pkg").mkdir()
    (root / "pkg" / "model.py").write_text("width = 64\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root


@needs_git
def test_clean_repository(repo: Path) -> None:
    state = capture.git_state(repo / "pkg")
    assert state is not None
    assert Path(state["root"]).resolve() == repo.resolve()
    assert len(state["commit"]) == 40
    assert state["branch"] == "main"
    assert state["dirty"] is False
    assert state["diff_hash"] is None


@needs_git
def test_touching_a_file_without_changing_it_keeps_the_tree_clean(repo: Path) -> None:
    os.utime(repo / "train.py", (OLD, OLD))
    state = capture.git_state(repo)
    assert state is not None and state["dirty"] is False


@needs_git
def test_every_uncommitted_change_changes_the_diff_hash(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.2\n")
    first = capture.git_state(repo)
    assert first is not None and first["dirty"] is True
    assert first["diff_hash"].startswith("sha256:")
    assert capture.git_state(repo) == first

    (repo / "train.py").write_text("lr = 0.3\n")
    second = capture.git_state(repo)
    assert second is not None and second["diff_hash"] != first["diff_hash"]

    (repo / "pkg" / "extra.py").write_text("depth = 2\n")
    untracked = capture.git_state(repo)
    assert untracked is not None and untracked["diff_hash"] != second["diff_hash"]

    (repo / "pkg" / "extra.py").write_text("depth = 3\n")
    edited = capture.git_state(repo)
    assert edited is not None and edited["diff_hash"] != untracked["diff_hash"]

    (repo / "run.log").write_text("ignored\n")
    assert capture.git_state(repo) == edited


@needs_git
def test_an_untracked_file_alone_makes_the_tree_dirty(repo: Path) -> None:
    (repo / "notes.py").write_text("x = 1\n")
    state = capture.git_state(repo)
    assert state is not None and state["dirty"] is True and state["diff_hash"] is not None


@needs_git
def test_staged_changes_count(repo: Path) -> None:
    (repo / "pkg" / "model.py").write_text("width = 128\n")
    _git(repo, "add", "pkg/model.py")
    state = capture.git_state(repo)
    assert state is not None and state["dirty"] is True and state["diff_hash"] is not None


@needs_git
def test_detached_head_has_no_branch(repo: Path) -> None:
    _git(repo, "checkout", "-q", "--detach")
    state = capture.git_state(repo)
    assert state is not None and state["branch"] is None and len(state["commit"]) == 40


@needs_git
def test_repository_without_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("a = 1\n")
    state = capture.git_state(tmp_path)
    assert state is not None
    assert state["commit"] is None and state["dirty"] is True and state["diff_hash"] is not None


@needs_git
def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    assert capture.git_state(tmp_path / "plain") is None
    assert capture.git_state(tmp_path / "does-not-exist") is None


@needs_git
def test_without_git(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert capture.git_state(repo) is None


@needs_git
def test_untracked_files_use_the_hash_cache(
    repo: Path, hash_calls: list[str], _private_cache: Path
) -> None:
    _write(repo / "big.dat", b"x" * 5000)
    first = capture.git_state(repo)
    assert hash_calls == ["big.dat"]
    assert (_private_cache / "file-hashes.json").is_file()
    assert capture.git_state(repo) == first
    assert hash_calls == ["big.dat"]


# --- data fingerprints -----------------------------------------------------------------


def test_file_fingerprint_is_its_sha256(tmp_path: Path) -> None:
    content = b"feature,label\n" * 1000
    _write(tmp_path / "data.csv", content)
    [result] = capture.fingerprint_data(["data.csv"], base=tmp_path, cache_dir=tmp_path / "c")
    assert result == {
        "path": "data.csv",
        "kind": "file",
        "files": 1,
        "bytes": len(content),
        "sha256": "sha256:" + hashlib.sha256(content).hexdigest(),
    }


def test_large_file_is_hashed_in_chunks(tmp_path: Path) -> None:
    content = os.urandom(3 * (1 << 20) + 17)
    _write(tmp_path / "big.bin", content)
    [result] = capture.fingerprint_data([tmp_path / "big.bin"], cache_dir=tmp_path / "c")
    assert result["path"] == str(tmp_path / "big.bin")
    assert result["sha256"] == "sha256:" + hashlib.sha256(content).hexdigest()


def test_folder_fingerprint(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    results = capture.fingerprint_data(
        ["data", "data/train.csv"], base=tmp_path, cache_dir=tmp_path / "c"
    )
    folder, file = results
    assert folder["kind"] == "dir" and folder["path"] == "data"
    assert folder["files"] == 3
    assert folder["bytes"] == 8 + 8 + 2560
    assert folder["sha256"].startswith("sha256:") and len(folder["sha256"]) == 71
    assert file["kind"] == "file"
    json.dumps(results, allow_nan=False)


def _folder_hash(root: Path, cache: Path) -> str:
    [result] = capture.fingerprint_data([root], cache_dir=cache)
    return str(result["sha256"])


def test_folder_hash_is_stable_and_independent_of_location(tmp_path: Path) -> None:
    a = _dataset(tmp_path / "a")
    b = _dataset(tmp_path / "elsewhere" / "b")
    assert _folder_hash(a, tmp_path / "c") == _folder_hash(a, tmp_path / "c")
    assert _folder_hash(a, tmp_path / "c") == _folder_hash(b, tmp_path / "c")


def test_folder_hash_changes_with_one_byte(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    before = _folder_hash(root, tmp_path / "c")
    _write(root / "images" / "0.bin", b"\x01" + (bytes(range(256)) * 10)[1:], mtime=OLD + 5)
    assert _folder_hash(root, tmp_path / "c") != before


def test_folder_hash_changes_with_a_rename(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    before = _folder_hash(root, tmp_path / "c")
    # Renames that keep the sorted order: only the names can tell them apart.
    (root / "images" / "0.bin").rename(root / "images" / "9.bin")
    renamed = _folder_hash(root, tmp_path / "c")
    assert renamed != before
    (root / "test.csv").rename(root / "valid.csv")
    assert _folder_hash(root, tmp_path / "c") not in {before, renamed}


def test_folder_hash_changes_with_a_new_file(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    before = _folder_hash(root, tmp_path / "c")
    _write(root / "images" / "1.bin", b"")
    [after] = capture.fingerprint_data([root], cache_dir=tmp_path / "c")
    assert after["sha256"] != before and after["files"] == 4


def test_folder_hash_changes_when_a_file_moves_to_another_folder(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    before = _folder_hash(root, tmp_path / "c")
    (root / "images2").mkdir()
    (root / "images" / "0.bin").rename(root / "images2" / "0.bin")
    assert _folder_hash(root, tmp_path / "c") != before


def test_symlinks_are_not_followed_out_of_the_tree(tmp_path: Path, hash_calls: list[str]) -> None:
    root = _dataset(tmp_path / "data")
    outside = _write(tmp_path / "secret.bin", b"outside")
    (root / "outside.bin").symlink_to(outside)
    (root / "inside.csv").symlink_to(root / "train.csv")
    [result] = capture.fingerprint_data([root], cache_dir=tmp_path / "c")
    assert result["files"] == 4  # three regular files and the link to one of them
    assert "secret.bin" not in hash_calls

    _write(outside, b"changed outside")
    assert _folder_hash(root, tmp_path / "c") == result["sha256"]
    (root / "outside.bin").unlink()
    (root / "outside.bin").symlink_to(tmp_path / "other.bin")
    assert _folder_hash(root, tmp_path / "c") != result["sha256"]


def test_unchanged_files_are_not_read_again(tmp_path: Path, hash_calls: list[str]) -> None:
    root = _dataset(tmp_path / "data")
    cache = tmp_path / "cache"
    first = capture.fingerprint_data([root], cache_dir=cache)
    assert sorted(hash_calls) == ["0.bin", "test.csv", "train.csv"]
    assert (cache / "file-hashes.json").is_file()

    hash_calls.clear()
    assert capture.fingerprint_data([root], cache_dir=cache) == first
    assert hash_calls == []

    # Same size and content, new mtime: read again, same hash.
    os.utime(root / "test.csv", (OLD + 60, OLD + 60))
    assert capture.fingerprint_data([root], cache_dir=cache) == first
    assert hash_calls == ["test.csv"]


def test_recently_modified_files_are_not_cached(tmp_path: Path, hash_calls: list[str]) -> None:
    _write(tmp_path / "fresh.csv", b"1,2\n", mtime=None)
    capture.fingerprint_data(["fresh.csv"], base=tmp_path, cache_dir=tmp_path / "c")
    capture.fingerprint_data(["fresh.csv"], base=tmp_path, cache_dir=tmp_path / "c")
    assert hash_calls == ["fresh.csv", "fresh.csv"]


@pytest.mark.parametrize(
    "garbage",
    [b"{not json", b"\xff\xfe\x00", b"[]", b'{"schema_version": 1, "files": {"/x": 5}}', b""],
)
def test_a_corrupt_cache_is_tolerated_and_replaced(
    tmp_path: Path, hash_calls: list[str], garbage: bytes
) -> None:
    root = _dataset(tmp_path / "data")
    cache = tmp_path / "cache"
    expected = capture.fingerprint_data([root], cache_dir=tmp_path / "reference")
    _write(cache / "file-hashes.json", garbage, mtime=None)
    hash_calls.clear()
    assert capture.fingerprint_data([root], cache_dir=cache) == expected
    assert len(hash_calls) == 3
    document = json.loads((cache / "file-hashes.json").read_text())
    assert document["schema_version"] == 1 and len(document["files"]) == 3
    assert not [p for p in cache.iterdir() if p.name != "file-hashes.json"]  # no temp left


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    blocker = _write(tmp_path / "not-a-folder", b"")
    [result] = capture.fingerprint_data(["data"], base=tmp_path, cache_dir=blocker / "cache")
    assert result["files"] == 3


def test_default_cache_dir_comes_from_the_environment(tmp_path: Path, _private_cache: Path) -> None:
    _dataset(tmp_path / "data")
    capture.fingerprint_data(["data"], base=tmp_path)
    assert (_private_cache / "file-hashes.json").is_file()


def test_missing_paths_raise_a_config_error_naming_each(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    with pytest.raises(ConfigError) as caught:
        capture.fingerprint_data(["data", "nope.csv", "gone/"], base=tmp_path)
    message = str(caught.value)
    assert "nope.csv" in message and "gone/" in message
    assert [issue.path for issue in caught.value.issues] == ["data.1", "data.2"]


# --- resources -------------------------------------------------------------------------

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def _touched_pages(size: int) -> mmap.mmap:
    """``size`` bytes of fresh anonymous memory, every page written. Not a bytearray:
    malloc may hand back a freed region that is still resident (an earlier test's
    garbage), and then the resident size does not grow at all."""
    block = mmap.mmap(-1, size)
    for offset in range(0, size, mmap.PAGESIZE):
        block[offset] = 1
    return block


@linux_only
def test_peak_memory_follows_an_allocation_after_a_reset() -> None:
    size = 50 * 2**20
    capture.reset_peak_memory()
    before = capture.peak_memory_bytes()
    block = _touched_pages(size)
    after = capture.peak_memory_bytes()
    block.close()
    assert before is not None and after is not None
    assert after - before >= 40 * 2**20


@linux_only
def test_reset_lowers_the_peak_after_memory_is_freed() -> None:
    block = _touched_pages(60 * 2**20)
    high = capture.peak_memory_bytes()
    block.close()  # unmapped: the pages leave the resident set
    capture.reset_peak_memory()
    low = capture.peak_memory_bytes()
    assert high is not None and low is not None and low <= high - 40 * 2**20


@pytest.mark.skipif(sys.platform == "win32", reason="no RUSAGE_CHILDREN")
def test_children_peak_memory() -> None:
    code = "b = bytearray(b'1') * (40 * 2**20)"
    subprocess.run([sys.executable, "-c", code], check=True)
    peak = capture.children_peak_memory_bytes()
    assert peak is not None and peak >= 40 * 2**20


# --- environment -----------------------------------------------------------------------


@needs_git
def test_environment_is_json_ready(repo: Path) -> None:
    env = capture.environment(repo)
    text = json.dumps(env, allow_nan=False)
    assert json.loads(text) == env
    assert set(env) == {
        "python", "executable", "platform", "hostname", "cpu",
        "memory_bytes", "gpus", "packages", "git",
    }  # fmt: skip
    assert env["python"].startswith(".".join(map(str, sys.version_info[:3])))
    assert env["executable"] == sys.executable
    assert isinstance(env["cpu"]["model"], str) and env["cpu"]["model"]
    assert env["cpu"]["logical_cores"] >= 1
    assert env["memory_bytes"] is None or env["memory_bytes"] > 2**20
    assert isinstance(env["gpus"], list)
    assert env["packages"]["list"]["numpy"] == np.__version__
    assert env["git"]["commit"] is not None and env["git"]["dirty"] is False


def test_environment_returns_independent_copies(tmp_path: Path) -> None:
    first = capture.environment(tmp_path)
    first["packages"]["list"].clear()
    first["cpu"]["model"] = "changed"
    second = capture.environment(tmp_path)
    assert second["packages"]["list"] and second["cpu"]["model"] != "changed"


@needs_git
def test_environment_defaults_to_the_working_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "pkg")
    git = capture.environment()["git"]
    assert Path(git["root"]).resolve() == repo.resolve()


def test_gpus_are_read_from_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    output = b"NVIDIA A100-SXM4-40GB, 40960, 535.104.05\nTesla T4, [N/A], 535.104.05\n"
    seen: list[list[str]] = []

    def fake_run(command: list[str], timeout: float, cwd: str | None = None) -> bytes:
        seen.append(command)
        return output

    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(capture, "_run", fake_run)
    assert capture._gpus() == [
        {"name": "NVIDIA A100-SXM4-40GB", "memory_mb": 40960, "driver": "535.104.05"},
        {"name": "Tesla T4", "memory_mb": None, "driver": "535.104.05"},
    ]
    assert seen[0][0] == "nvidia-smi"


def test_hardware_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    line = capture.hardware_summary()
    assert "logical core" in line and line.count("\n") == 0
    gpu = {"name": "Tesla T4", "memory_mb": 15360, "driver": "535"}
    fake = capture._Hardware("AMD EPYC", 2, 24 * 2**30, (gpu, gpu))
    monkeypatch.setattr(capture, "_hardware", lambda: fake)
    assert capture.hardware_summary() == "AMD EPYC, 2 logical cores, 24.0 GiB, 2 × Tesla T4"
    fake = capture._Hardware("AMD EPYC", 1, None, ())
    monkeypatch.setattr(capture, "_hardware", lambda: fake)
    assert capture.hardware_summary() == "AMD EPYC, 1 logical core, memory unknown, no GPU"


def test_importing_capture_loads_nothing_heavy() -> None:
    code = (
        "import sys, hypertrail.provenance; "
        "print(','.join(m for m in ('psutil', 'numpy', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
