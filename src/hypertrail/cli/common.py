"""What the CLI commands share: error display and finding a study's storage."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from hypertrail.errors import ConfigError, HypertrailError

__all__ = ["EXIT_ERROR", "EXIT_INVALID", "fail", "handle_errors", "resolve_study"]

EXIT_ERROR = 1  # something went wrong while working
EXIT_INVALID = 2  # the input is invalid (as click does for usage errors)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: F) -> F:
    """Turn hypertrail errors into a readable message and an exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc), EXIT_INVALID)
        except HypertrailError as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


def _is_plan(path: str) -> bool:
    return path.endswith((".yaml", ".yml", ".json")) and Path(path).is_file()


def resolve_study(study: str, storage: str | None) -> tuple[str, str]:
    """``(study name, storage URL)`` from the arguments a user gave.

    ``study`` may be a plan file (its name and storage are used). Otherwise the
    storage is ``--storage``, then ``$HYPERTRAIL_STORAGE``, then ``./STUDY.db``.
    """
    if _is_plan(study):
        from hypertrail.plan import load_plan

        plan = load_plan(study)
        return plan.name, storage or plan.storage
    if storage:
        return study, storage_url(storage)
    env = os.environ.get("HYPERTRAIL_STORAGE")
    if env:
        return study, storage_url(env)
    local = Path(f"{study}.db")
    if local.is_file():
        return study, f"sqlite:///{local.resolve()}"
    fail(
        f"where is study {study!r}? give --storage URL, set HYPERTRAIL_STORAGE, "
        "or pass its plan file"
    )


def storage_url(value: str) -> str:
    """A storage URL from a URL, a ``.db`` path or a plan file."""
    if _is_plan(value):
        from hypertrail.plan import load_plan

        return load_plan(value).storage
    if "://" in value or value == "memory":
        return value
    path = Path(value)
    if not path.exists():
        fail(f"no such storage file: {value}")
    return f"sqlite:///{path.resolve()}"
