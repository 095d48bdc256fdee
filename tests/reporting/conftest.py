"""The shared study reports are checked on (built once per test session)."""

from __future__ import annotations

import pytest
from tests.reporting._study import make_study


@pytest.fixture(scope="session")
def report_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(storage URL, study name) of the shared demo study (built once)."""
    folder = tmp_path_factory.mktemp("report-study")
    return make_study(folder), "report-demo"
