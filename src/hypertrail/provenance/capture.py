"""Capture where a study runs: interpreter, packages, hardware, code and data.

Everything here returns JSON-ready data, so a session or a trial can record it as
an event. Parts that cannot change within a process (installed packages, hardware)
are computed once per process; parts that can (the git work tree, data files) are
measured on every call, but data files are hashed only when their size or
modification time changed since the last run (a persistent cache keyed by
absolute path, size and ``mtime_ns``).

Nothing heavy is imported at module import time: psutil is imported only on
platforms where the standard library cannot answer.

Example:
    >>> env = environment()
    >>> sorted(env)[:3]
    ['cpu', 'executable', 'git']
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypertrail.errors import ConfigError, Issue

__all__ = [
    "children_peak_memory_bytes",
    "environment",
    "fingerprint_data",
    "git_state",
    "hardware_summary",
    "packages",
    "peak_memory_bytes",
    "reset_peak_memory",
]

_CHUNK = 1 << 20
_GIT_TIMEOUT = 20.0
_PROBE_TIMEOUT = 5.0
_CACHE_FILE = "file-hashes.json"
_CACHE_SCHEMA = 1
# A file modified within this window of being hashed may be modified again within
# the same timestamp granularity (2 s on FAT, one kernel tick elsewhere) without its
# mtime changing; such hashes are used but not cached, as git does for racy entries.
_RACY_NS = 2_000_000_000
_DIR_HEADER = b"hypertrail-dir-v1\n"
_GIT_HEADER = b"hypertrail-git-v1\n"


# --- environment ---------------------------------------------------------------------


def environment(directory: str | Path | None = None) -> dict[str, Any]:
    """Describe where a study runs, as JSON-ready data.

    Args:
        directory: the folder holding the user's code; its git state is recorded.
            Defaults to the current working directory.

    Returns:
        ``python``, ``executable``, ``platform``, ``hostname``, ``cpu``
        (``model``, ``logical_cores``), ``memory_bytes``, ``gpus``, ``packages``
        (see :func:`packages`) and ``git`` (see :func:`git_state`). The result is
        a fresh copy; callers may modify it.
    """
    info = copy.deepcopy(_static_environment())
    info["hostname"] = socket.gethostname()
    if directory is None:
        try:
            directory = Path.cwd()
        except OSError:
            directory = None
    info["git"] = git_state(directory) if directory is not None else None
    return info


@functools.cache
def _static_environment() -> dict[str, Any]:
    hardware = _hardware()
    return {
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "executable": sys.executable,
        "platform": platform.platform(),
        "hostname": "",
        "cpu": {"model": hardware.cpu_model, "logical_cores": hardware.logical_cores},
        "memory_bytes": hardware.memory_bytes,
        "gpus": [dict(gpu) for gpu in hardware.gpus],
        "packages": packages(),
    }


def hardware_summary() -> str:
    """One line for display, e.g. ``AMD EPYC, 2 logical cores, 24.0 GiB, no GPU``."""
    hardware = _hardware()
    cores = hardware.logical_cores
    parts = [hardware.cpu_model, f"{cores} logical core{'s' if cores != 1 else ''}"]
    if hardware.memory_bytes is None:
        parts.append("memory unknown")
    else:
        parts.append(f"{hardware.memory_bytes / 2**30:.1f} GiB")
    if not hardware.gpus:
        parts.append("no GPU")
    else:
        counts: dict[str, int] = {}
        for gpu in hardware.gpus:
            name = str(gpu.get("name") or "unknown GPU")
            counts[name] = counts.get(name, 0) + 1
        parts.extend(name if n == 1 else f"{n} × {name}" for name, n in counts.items())
    return ", ".join(parts)


@dataclass(frozen=True)
class _Hardware:
    cpu_model: str
    logical_cores: int
    memory_bytes: int | None
    gpus: tuple[dict[str, Any], ...]


@functools.cache
def _hardware() -> _Hardware:
    return _Hardware(_cpu_model(), os.cpu_count() or 1, _memory_bytes(), tuple(_gpus()))


def _cpu_model() -> str:
    if sys.platform.startswith("linux"):
        try:
            text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            text = ""
        # x86 names the model; many ARM kernels only name the board or the cores.
        for key in ("model name", "hardware", "processor", "cpu model"):
            for line in text.splitlines():
                name, sep, value = line.partition(":")
                value = value.strip()
                if sep and name.strip().lower() == key and value and not value.isdigit():
                    return value
    elif sys.platform == "darwin":
        output = _run(["sysctl", "-n", "machdep.cpu.brand_string"], _PROBE_TIMEOUT)
        if output and output.strip():
            return output.decode(errors="replace").strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def _memory_bytes() -> int | None:
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        pages = page_size = -1
    if pages > 0 and page_size > 0:
        return int(pages * page_size)
    import psutil

    try:
        return int(psutil.virtual_memory().total)
    except (OSError, RuntimeError):
        return None


def _gpus() -> list[dict[str, Any]]:
    if shutil.which("nvidia-smi") is None:
        return []
    query = "--query-gpu=name,memory.total,driver_version"
    output = _run(["nvidia-smi", query, "--format=csv,noheader,nounits"], _PROBE_TIMEOUT)
    if output is None:
        return []
    gpus: list[dict[str, Any]] = []
    for line in output.decode(errors="replace").splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 3 or not fields[0]:
            continue
        try:
            memory: int | None = int(float(fields[1]))
        except ValueError:
            memory = None
        gpus.append({"name": fields[0], "memory_mb": memory, "driver": fields[2] or None})
    return gpus


def _run(command: list[str], timeout: float, cwd: str | None = None) -> bytes | None:
    """Stdout of a successful command; None when it fails, is missing or times out."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


# --- packages ------------------------------------------------------------------------


@functools.cache
def packages() -> dict[str, Any]:
    """The installed distributions, with a hash that identifies the whole set.

    Returns:
        ``{"count": n, "lock_hash": "sha256:…", "list": {name: version}}`` with
        names normalized per PEP 503 and sorted. The hash covers the sorted
        ``name==version`` lines, so two environments with the same hash hold the
        same versions. Cached per process: do not modify the result.
    """
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata is not None else None
        if not name:
            continue
        # The first distribution on sys.path is the one imports find.
        found.setdefault(_normalize(name), str(dist.version))
    listing = dict(sorted(found.items()))
    lines = "".join(f"{name}=={version}\n" for name, version in listing.items())
    return {
        "count": len(listing),
        "lock_hash": "sha256:" + hashlib.sha256(lines.encode()).hexdigest(),
        "list": listing,
    }


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- git -----------------------------------------------------------------------------


def git_state(directory: str | Path) -> dict[str, Any] | None:
    """The git state of the work tree holding ``directory``.

    Returns:
        None when git is missing or ``directory`` is not inside a work tree; else
        ``{"root", "commit", "branch", "dirty", "diff_hash"}``. ``commit`` is None
        in a repository without commits, ``branch`` when HEAD is detached.
        ``diff_hash`` hashes ``git diff HEAD --binary`` together with the names
        and contents of untracked, non-ignored files, so any uncommitted change
        to the user's code changes it; it is None when the tree is clean.
        ``dirty`` is None (and ``diff_hash`` too) when git could not produce the
        diff in time. Never raises for git's failures.
    """
    if shutil.which("git") is None:
        return None
    start = Path(directory)
    if start.is_file():
        start = start.parent
    top = _git(["rev-parse", "--show-toplevel"], str(start))
    if top is None or not top.strip():
        return None
    root = os.fsdecode(top.rstrip(b"\r\n"))
    commit = _git_line(["rev-parse", "--verify", "-q", "HEAD"], root)
    branch = _git_line(["symbolic-ref", "-q", "--short", "HEAD"], root)
    diff = _git_diff(root, has_commit=commit is not None)
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], root)
    state: dict[str, Any] = {
        "root": root,
        "commit": commit,
        "branch": branch,
        "dirty": None,
        "diff_hash": None,
    }
    if diff is None or untracked is None:
        return state
    names = sorted(name for name in untracked.split(b"\0") if name)
    state["dirty"] = bool(diff) or bool(names)
    if state["dirty"]:
        state["diff_hash"] = _work_tree_hash(root, diff, names)
    return state


def _git(args: list[str], cwd: str) -> bytes | None:
    return _run(["git", *args], _GIT_TIMEOUT, cwd=cwd)


def _git_line(args: list[str], cwd: str) -> str | None:
    output = _git(args, cwd)
    text = output.decode(errors="replace").strip() if output is not None else ""
    return text or None


def _git_diff(root: str, *, has_commit: bool) -> bytes | None:
    options = ["--binary", "--no-color", "--no-ext-diff", "--no-textconv"]
    if has_commit:
        return _git(["diff", "HEAD", *options], root)
    # No commit yet: everything staged, then what the work tree changed on top.
    staged = _git(["diff", "--cached", *options], root)
    unstaged = _git(["diff", *options], root)
    if staged is None or unstaged is None:
        return None
    return staged + unstaged


def _work_tree_hash(root: str, diff: bytes, untracked: list[bytes]) -> str:
    digest = hashlib.sha256(_GIT_HEADER)
    _feed(digest, b"diff", diff)
    cache = _HashCache(_default_cache_dir())
    try:
        for name in untracked:
            _feed(digest, b"untracked", name, _describe_untracked(root, name, cache))
    finally:
        cache.save()
    return "sha256:" + digest.hexdigest()


def _describe_untracked(root: str, name: bytes, cache: _HashCache) -> bytes:
    path = os.path.join(os.fsencode(root), name)
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return b"link:" + os.readlink(path)
        if stat.S_ISREG(info.st_mode):
            hexdigest = cache.digest(os.fsdecode(os.path.realpath(path)), info)
            return f"file:{info.st_size}:{hexdigest}".encode()
        # Git lists an embedded repository as a folder; its content is its own.
        return b"other"
    except OSError as exc:
        return f"unreadable:{type(exc).__name__}".encode()


def _feed(digest: Any, *parts: bytes) -> None:
    """Add length-prefixed parts, so no two different sequences hash alike."""
    for part in parts:
        digest.update(b"%d:" % len(part))
        digest.update(part)


# --- data fingerprints ---------------------------------------------------------------


def fingerprint_data(
    paths: Sequence[str | Path],
    base: str | Path = ".",
    cache_dir: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Fingerprint registered data files and folders.

    A folder's hash covers every regular file below it, in sorted relative-path
    order: relative path, size and content hash of each. Symbolic links are never
    followed out of the tree: a link to a regular file inside the folder counts as
    that file; any other link (outside, dangling, or to a folder) is recorded by
    its relative path and target text, not followed. Special files (FIFOs,
    sockets, devices) are skipped. Empty folders do not count.

    Each file's content hash is cached by (absolute path, size, ``mtime_ns``) in
    ``cache_dir`` so a large dataset is read once and later only stat-ed. A file
    rewritten with the same size and modification time is not re-read: that is
    the price of not reading it.

    Args:
        paths: files or folders; relative ones are resolved against ``base``.
        base: the folder relative paths start from (usually the plan's folder).
        cache_dir: where the hash cache lives; defaults to
            ``$HYPERTRAIL_CACHE_DIR`` or ``~/.cache/hypertrail``.

    Returns:
        One ``{"path", "kind", "files", "bytes", "sha256"}`` per path, in order;
        ``path`` is as given, ``kind`` is ``"file"`` or ``"dir"``.

    Raises:
        ConfigError: a path does not exist or cannot be read (every such path is
            named, with its index as ``data.<i>``).
    """
    base_path = Path(base)
    resolved: list[Path] = []
    issues: list[Issue] = []
    for index, given in enumerate(paths):
        path = Path(given)
        path = path if path.is_absolute() else base_path / path
        resolved.append(path)
        if not path.exists():
            issues.append(
                Issue(f"data.{index}", f"no such file or folder: {given} (looked for {path})")
            )
        elif not (path.is_file() or path.is_dir()):
            issues.append(Issue(f"data.{index}", f"not a regular file or folder: {given}"))
    if issues:
        raise ConfigError(issues)

    cache = _HashCache(Path(cache_dir) if cache_dir is not None else _default_cache_dir())
    results: list[dict[str, Any]] = []
    try:
        for index, (given, path) in enumerate(zip(paths, resolved, strict=True)):
            try:
                result = (
                    _fingerprint_dir(path, cache)
                    if path.is_dir()
                    else _fingerprint_file(path, cache)
                )
            except OSError as exc:
                issues.append(Issue(f"data.{index}", f"cannot read {given}: {exc}"))
                continue
            results.append({"path": str(given), **result})
    finally:
        cache.save()
    if issues:
        raise ConfigError(issues)
    return results


def _fingerprint_file(path: Path, cache: _HashCache) -> dict[str, Any]:
    real = os.path.realpath(path)
    info = os.stat(real)
    hexdigest = cache.digest(real, info)
    return {"kind": "file", "files": 1, "bytes": info.st_size, "sha256": "sha256:" + hexdigest}


def _fingerprint_dir(path: Path, cache: _HashCache) -> dict[str, Any]:
    root = os.path.realpath(path)
    files: list[tuple[str, str]] = []  # (relative path, real path to read)
    links: list[tuple[str, str]] = []  # (relative path, link text)
    pending = [root]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                relative = os.path.relpath(entry.path, root).replace(os.sep, "/")
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    inside = os.path.commonpath([root, target]) == root
                    if inside and os.path.isfile(target):
                        files.append((relative, target))
                    else:
                        links.append((relative, os.readlink(entry.path)))
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    files.append((relative, entry.path))

    records: list[tuple[str, bytes]] = []
    total = 0
    for relative, real in files:
        info = os.stat(real)
        total += info.st_size
        hexdigest = cache.digest(real, info)
        records.append((relative, f"f {info.st_size} {hexdigest}".encode()))
    records.extend((relative, b"l " + os.fsencode(text)) for relative, text in links)
    records.sort(key=lambda record: record[0])

    digest = hashlib.sha256(_DIR_HEADER)
    for relative, description in records:
        _feed(digest, os.fsencode(relative), description)
    return {
        "kind": "dir",
        "files": len(files),
        "bytes": total,
        "sha256": "sha256:" + digest.hexdigest(),
    }


def _hash_file(path: str) -> str:
    """The hex SHA-256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as stream:
        while True:
            size = stream.readinto(buffer)
            if not size:
                break
            digest.update(view[:size])
    return digest.hexdigest()


def _default_cache_dir() -> Path:
    configured = os.environ.get("HYPERTRAIL_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "hypertrail"


class _HashCache:
    """Content hashes by (absolute path, size, mtime_ns), kept in one JSON file.

    Best effort throughout: a missing, unreadable or corrupt file means an empty
    cache, and a cache that cannot be written is simply not written. Concurrent
    writers merge with what is on disk and replace it atomically, so the file is
    always whole; at worst an entry is lost and the file hashed again later.
    """

    def __init__(self, directory: Path | None) -> None:
        self.file = directory / _CACHE_FILE if directory is not None else None
        self.entries = self._load()
        self.added: dict[str, tuple[int, int, str]] = {}

    def digest(self, path: str, info: os.stat_result) -> str:
        """The hex content hash of ``path``, whose ``os.stat`` is ``info``."""
        known = self.added.get(path) or self.entries.get(path)
        if known is not None and known[:2] == (info.st_size, info.st_mtime_ns):
            return known[2]
        hexdigest = _hash_file(path)
        after = os.stat(path)
        stable = (after.st_size, after.st_mtime_ns) == (info.st_size, info.st_mtime_ns)
        if stable and time.time_ns() - info.st_mtime_ns >= _RACY_NS:
            self.added[path] = (info.st_size, info.st_mtime_ns, hexdigest)
        return hexdigest

    def _load(self) -> dict[str, tuple[int, int, str]]:
        if self.file is None:
            return {}
        try:
            document = json.loads(self.file.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(document, dict) or document.get("schema_version") != _CACHE_SCHEMA:
            return {}
        files = document.get("files")
        if not isinstance(files, dict):
            return {}
        entries: dict[str, tuple[int, int, str]] = {}
        for path, entry in files.items():
            if (
                isinstance(entry, list)
                and len(entry) == 3
                and all(type(value) is int for value in entry[:2])
                and isinstance(entry[2], str)
                and len(entry[2]) == 64
            ):
                entries[path] = (entry[0], entry[1], entry[2])
        return entries

    def save(self) -> None:
        """Write the new entries, merged with the file as it is now."""
        if self.file is None or not self.added:
            return
        merged = {**self._load(), **self.added}
        document = {
            "schema_version": _CACHE_SCHEMA,
            "files": {path: list(entry) for path, entry in sorted(merged.items())},
        }
        temporary: str | None = None
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                prefix=f".{_CACHE_FILE}.", suffix=".tmp", dir=self.file.parent
            )
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(document, stream, separators=(",", ":"))
            os.replace(temporary, self.file)
            temporary = None
        except OSError:
            pass
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
        self.entries, self.added = merged, {}


# --- per-trial resources -------------------------------------------------------------


def reset_peak_memory() -> None:
    """Start measuring peak memory afresh (Linux: reset VmHWM; elsewhere a no-op).

    Where the peak cannot be reset, :func:`peak_memory_bytes` reports the
    process's lifetime peak.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as stream:
            stream.write("5")


def peak_memory_bytes() -> int | None:
    """Peak resident memory of this process since :func:`reset_peak_memory`
    (Linux) or since it started (elsewhere); None when unknown."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/status", "rb") as stream:
                for line in stream:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
    if sys.platform == "win32":
        import psutil

        try:
            peak = getattr(psutil.Process().memory_info(), "peak_wset", None)
        except (OSError, psutil.Error):
            return None
        return int(peak) if peak else None
    return _rusage_peak(children=False)


def children_peak_memory_bytes() -> int | None:
    """Largest peak resident memory among this process's finished, waited-for
    children (``RUSAGE_CHILDREN``); None when unknown or no child has finished."""
    if sys.platform == "win32":
        return None
    return _rusage_peak(children=True)


def _rusage_peak(*, children: bool) -> int | None:
    import resource

    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    try:
        peak = resource.getrusage(who).ru_maxrss
    except (OSError, ValueError):
        return None
    if peak <= 0:
        return None
    # macOS reports bytes; Linux and the BSDs report kilobytes.
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024
