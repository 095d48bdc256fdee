"""The public surface: light to import, exactly the documented names."""

from __future__ import annotations

import subprocess
import sys

import hypertrail


def test_import_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, hypertrail; "
        "print(','.join(m for m in ('sqlalchemy', 'scipy', 'plotly', 'dask', 'rich', 'click', 'yaml', 'psutil', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_exported_names_are_the_public_api() -> None:
    assert set(hypertrail.__all__) == {
        "Categorical",
        "Fixed",
        "Float",
        "FrozenTrial",
        "HypertrailError",
        "Int",
        "Metric",
        "ObjectiveError",
        "Optimizer",
        "OptimizerError",
        "Ordinal",
        "PlanError",
        "Proposal",
        "Repeat",
        "Space",
        "SpaceError",
        "StorageError",
        "Study",
        "StudyError",
        "Trial",
        "TrialState",
        "TrialStateError",
        "__version__",
        "load_space",
    }
    for name in hypertrail.__all__:
        assert hasattr(hypertrail, name), name


def test_errors_form_one_tree() -> None:
    for name in (
        "SpaceError",
        "PlanError",
        "StorageError",
        "StudyError",
        "OptimizerError",
        "ObjectiveError",
    ):
        assert issubclass(getattr(hypertrail, name), hypertrail.HypertrailError)
