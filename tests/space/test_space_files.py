"""Space files: every kind of mistake is reported where it is; valid files round-trip.

The fixtures in ``tests/fixtures/spaces/invalid`` hold one mistake each (except the
``several_*`` files); the table below says where each must be reported: the key
path, a fragment of the message, and the line in the file.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hypertrail.errors import Issue, SpaceError
from hypertrail.space import load_space, space_from_dict

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "spaces"
INVALID = FIXTURES / "invalid"
VALID = FIXTURES / "valid"


@dataclass(frozen=True)
class Expected:
    """Where one mistake must be reported."""

    file: str
    path: str
    fragment: str
    line: int | None


# (file, key path, message fragment, line); line None where no line is knowable.
# fmt: off
INVALID_CASES: list[Expected] = [
    Expected("low_above_high.yaml", "params.lr.low", "low (0.1) > high (1e-05)", 6),
    Expected("low_above_high.json", "params.n_layers.low", "low (8) > high (2)", 6),
    Expected("empty_range.yaml", "params.dropout.high", "empty range: low == high == 0.25", 6),
    Expected("log_nonpositive_low.yaml", "params.weight_decay.low", "log scale needs low > 0", 4),
    Expected("step_nonpositive.yaml", "params.momentum.step", "step must be a positive number", 6),
    Expected("step_not_dividing.yaml", "params.dropout.step", "is not a multiple of step 0.2", 6),
    Expected("step_with_log.yaml", "params.width.step", "step cannot be combined with log", 7),
    Expected("step_non_integer_int.yaml", "params.n_estimators.step", "step of an int must be an integer", 6),
    Expected("empty_choices.yaml", "params.activation.choices", "must not be empty", 5),
    Expected("duplicate_choices.yaml", "params.optimizer.choices[2]", "duplicate value 'adam' (also at index 0)", 7),
    Expected("duplicate_ordinal_values.yaml", "params.batch_size.values[3]", "duplicate value 64 (also at index 2)", 8),
    Expected("duplicate_param_name.yaml", "params.lr", "duplicate key 'lr' (first at line 2)", 4),
    Expected("duplicate_key.json", "params.lr", "duplicate key 'lr' (first at line 3)", 5),
    Expected("unknown_param_key.yaml", "params.lr.lg", "unknown key 'lg' (did you mean 'log'?)", 6),
    Expected("unknown_type.yaml", "params.dropout.type", "unknown type 'floot' (did you mean 'float'?)", 4),
    Expected("missing_required_key.yaml", "params.lr", "missing required key 'high'", 2),
    Expected("unknown_top_level_key.yaml", "constraint", "unknown key 'constraint' (did you mean 'constraints'?)", 4),
    Expected("unsupported_schema_version.yaml", "schema_version", "unsupported schema_version 2", 1),
    Expected("condition_unknown_param.yaml", "params.momentum.when", "unknown parameter 'optimiser' (did you mean 'optimizer'?)", 7),
    Expected("constraint_unknown_param.yaml", "constraints[0]", "unknown parameter 'n_layer' (did you mean 'n_layers'?)", 5),
    Expected("cyclic_conditions.yaml", "params.a.when", "cyclic conditions: a -> b -> a", 5),
    Expected("condition_never_holds_choice.yaml", "params.momentum.when", "condition can never hold", 7),
    Expected("condition_never_holds_numeric.yaml", "params.skip_connections.when", "condition can never hold", 6),
    Expected("condition_type_error.yaml", "params.momentum.when", "cannot order 'adam' and 3", 7),
    Expected("constraint_unsatisfiable.yaml", "constraints[1]", "no configuration satisfied 'x > 2' in", 6),
    Expected("constraints_jointly_unsatisfiable.yaml", "constraints", "no configuration satisfied all of them together", 3),
    Expected("malformed_condition.yaml", "params.momentum.when", "'=' is not an operator (did you mean '=='?) at column 11", 7),
    Expected("malformed_constraint.yaml", "constraints[1]", "malformed constraint: expected a value, found end of expression at column 16", 6),
    Expected("repeat_unknown_count.yaml", "params.layers.count", "count names unknown parameter 'num_layers'", 5),
    Expected("repeat_max_mismatch.yaml", "params.layers.max", "max is 3 but count 'n_layers' reaches 4", 6),
    Expected("repeat_count_not_integer.yaml", "params.layers.count", "must be an int, ordinal or fixed parameter", 5),
    Expected("default_outside_domain.yaml", "params.lr.default", "default 0.5 is not in the domain", 7),
    Expected("invalid_name_dot.yaml", "params.layer.width", "invalid name 'layer.width'", 3),
    Expected("invalid_name_reserved.yaml", "params.not", "invalid name 'not'", 3),
    Expected("yaml_syntax_error.yaml", "", "not valid YAML/JSON", 3),
]
# fmt: on


def load_issues(path: Path) -> tuple[Issue, ...]:
    """The issues ``load_space`` reports for ``path`` (which must be invalid)."""
    with pytest.raises(SpaceError) as info:
        load_space(path)
    return info.value.issues


def find_issue(issues: tuple[Issue, ...], path: str, fragment: str) -> Issue:
    """The issue with exactly ``path`` whose message contains ``fragment``."""
    for issue in issues:
        if issue.path == path and fragment in issue.message:
            return issue
    shown = "\n".join(f"  {i.path!r}: {i.message}" for i in issues)
    raise AssertionError(f"no issue at {path!r} containing {fragment!r}; got:\n{shown}")


def test_every_invalid_fixture_is_in_the_table() -> None:
    on_disk = {p.name for p in INVALID.iterdir()} - {
        "several_errors.yaml",
        "several_schema_errors.yaml",
    }
    assert on_disk == {case.file for case in INVALID_CASES}
    assert len(INVALID_CASES) >= 24


@pytest.mark.parametrize("case", INVALID_CASES, ids=[c.file for c in INVALID_CASES])
def test_invalid_space_reports_path_message_file_and_line(case: Expected) -> None:
    path = INVALID / case.file
    issues = load_issues(path)
    issue = find_issue(issues, case.path, case.fragment)
    assert issue.file == str(path)
    assert issue.line == case.line
    # The rendered error leads with file:line, then the key path.
    where = f"{path}:{case.line}: " if case.line is not None else f"{path}: "
    assert f"{where}{case.path + ': ' if case.path else ''}{issue.message}" in str(
        SpaceError(issues)
    )


@pytest.mark.parametrize("case", INVALID_CASES, ids=[c.file for c in INVALID_CASES])
def test_single_mistake_gives_a_single_issue(case: Expected) -> None:
    # One mistake must not echo once per block copy or once per check.
    issues = load_issues(INVALID / case.file)
    assert len(issues) == 1, [str(i) for i in issues]


def test_unsatisfiable_constraint_says_how_many_configurations_were_tried() -> None:
    issues = load_issues(INVALID / "constraint_unsatisfiable.yaml")
    issue = find_issue(issues, "constraints[1]", "x > 2")
    match = re.search(r"in (\d+) sampled configurations", issue.message)
    assert match is not None, issue.message
    assert int(match.group(1)) >= 100
    # The satisfiable one is not blamed.
    assert all(i.path != "constraints[0]" for i in issues)


def test_several_errors_in_one_file_are_all_reported() -> None:
    path = INVALID / "several_errors.yaml"
    issues = load_issues(path)
    expected = [
        ("params.optimizer.choices[2]", "duplicate value 'adam'", 5),
        ("params.lr.low", "low (0.1) > high (1e-05)", 8),
        ("params.momentum.default", "default 1.5 is not in the domain", 15),
        ("params.momentum.when", "did you mean '=='?", 16),
        ("params.batch_size.values", "must not be empty", 19),
        ("params.layer.width", "invalid name 'layer.width'", 20),
        ("constraints[0]", "malformed constraint", 22),
    ]
    for key, fragment, line in expected:
        issue = find_issue(issues, key, fragment)
        assert (issue.file, issue.line) == (str(path), line)
    assert len(issues) == len(expected)
    assert str(SpaceError(issues)).startswith(f"{len(expected)} problems found:")


def test_several_schema_errors_in_one_file_are_all_reported() -> None:
    path = INVALID / "several_schema_errors.yaml"
    issues = load_issues(path)
    expected = [
        ("params.lr.lg", "unknown key 'lg'", 7),
        ("params.dropout.type", "unknown type 'floot'", 9),
        ("params.n_layers", "missing required key 'high'", 12),
        ("constraint", "unknown key 'constraint'", 15),
    ]
    for key, fragment, line in expected:
        issue = find_issue(issues, key, fragment)
        assert (issue.file, issue.line) == (str(path), line)
    assert len(issues) == len(expected)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_unknown_condition_inside_a_block_is_reported_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "space.yaml",
        """
        params:
          n_layers: {type: int, low: 1, high: 4}
          layers:
            type: repeat
            count: n_layers
            max: 4
            item:
              width: {type: int, low: 16, high: 512}
              dropout: {type: float, low: 0.0, high: 0.5, when: "activaton != 'gelu'"}
        """,
    )
    issues = load_issues(path)
    assert [(i.path, i.line) for i in issues] == [("params.layers.item.dropout.when", 10)]
    assert "unknown parameter 'activaton'" in issues[0].message


def test_condition_that_holds_in_some_block_copies_only_is_valid(tmp_path: Path) -> None:
    # dropout exists only for a one-layer net: copy 0 can have it, copies 1-2 never.
    path = write(
        tmp_path,
        "space.yaml",
        """
        params:
          n_layers: {type: int, low: 1, high: 3}
          layers:
            type: repeat
            count: n_layers
            max: 3
            item:
              width: {type: int, low: 16, high: 512}
              dropout: {type: float, low: 0.0, high: 0.5, when: "n_layers == 1"}
        """,
    )
    space = load_space(path)
    assert "layers.2.dropout" in space
    assert space.problems({"n_layers": 1, "layers.0.width": 20, "layers.0.dropout": 0.1}) == []


def test_condition_that_holds_in_no_block_copy_is_reported_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "space.yaml",
        """
        params:
          n_layers: {type: int, low: 1, high: 3}
          layers:
            type: repeat
            count: n_layers
            max: 3
            item:
              width: {type: int, low: 16, high: 512}
              dropout: {type: float, low: 0.0, high: 0.5, when: "width > 1000"}
        """,
    )
    issues = load_issues(path)
    assert [(i.path, i.line) for i in issues] == [("params.layers.item.dropout.when", 10)]
    assert "can never hold" in issues[0].message


def test_yaml_exponent_without_dot_is_an_error_not_a_silent_string(tmp_path: Path) -> None:
    # PyYAML (YAML 1.1) reads 1e-5 as text; it must be rejected, not searched as text.
    path = write(tmp_path, "space.yaml", "params:\n  lr: {type: float, low: 1e-5, high: 0.1}\n")
    issue = find_issue(load_issues(path), "params.lr.low", "must be a finite number")
    assert issue.line == 2


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    empty = write(tmp_path, "empty.yaml", "# nothing here\n")
    assert find_issue(load_issues(empty), "", "the file is empty").line == 1
    listing = write(tmp_path, "list.yaml", "- a\n- b\n")
    find_issue(load_issues(listing), "", "a space must be a mapping")
    missing = write(tmp_path, "noparams.yaml", "constraints: []\n")
    find_issue(load_issues(missing), "", "missing required key 'params'")


def test_missing_file_is_a_space_error(tmp_path: Path) -> None:
    issues = load_issues(tmp_path / "absent.yaml")
    assert "cannot read file" in issues[0].message


# --- valid files ---------------------------------------------------------------------

VALID_FILES = sorted(p.name for p in VALID.iterdir())


def test_valid_fixture_set() -> None:
    assert {
        "design_example.yaml",
        "deep_conditional.yaml",
        "nested_repeat.yaml",
        "tabular.json",
    } <= set(VALID_FILES)


@pytest.mark.parametrize("name", VALID_FILES)
def test_valid_space_round_trips_through_yaml_and_json(name: str, tmp_path: Path) -> None:
    space = load_space(VALID / name)
    data = space.to_json()
    as_yaml = tmp_path / "again.yaml"
    as_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    as_json = tmp_path / "again.json"
    as_json.write_text(json.dumps(data, indent=2))
    for path in (as_yaml, as_json):
        again = load_space(path)
        assert again.fingerprint == space.fingerprint
        assert again.to_json() == data
        assert again.names == space.names
        assert again == space
    assert space_from_dict(json.loads(json.dumps(data))).fingerprint == space.fingerprint
    assert space.fingerprint.startswith("sha256:")


def test_design_example_expands_blocks() -> None:
    space = load_space(VALID / "design_example.yaml")
    assert len(space.declared) == 7
    assert space.names[:4] == ["optimizer", "lr", "momentum", "n_layers"]
    assert [n for n in space.names if n.startswith("layers.3.")] == [
        "layers.3.width",
        "layers.3.activation",
        "layers.3.dropout",
    ]
    assert len(space) == 4 + 4 * 3 + 2
    # Copy 2 is active only with three layers or more, and its own activation decides.
    condition = space["layers.2.dropout"].condition
    assert condition is not None
    assert condition.names == {"n_layers", "layers.2.activation"}


def test_deep_conditional_tree_nests_four_levels() -> None:
    space = load_space(VALID / "deep_conditional.yaml")
    assert [p.name for p in space.ancestors("colsample")] == [
        "model",
        "booster",
        "max_depth",
        "min_child_weight",
    ]
    assert space.description is not None
    config = {
        "model": "boosting",
        "booster": "gbtree",
        "max_depth": 8,
        "min_child_weight": 0.5,
        "colsample": 0.5,
        "n_estimators": 500,
        "seed": 0,
    }
    assert space.problems(config) == []
    # max_depth 8 * 1000 estimators breaks the budget constraint.
    assert space.problems({**config, "n_estimators": 1050}) != []
    shallow = {**config, "max_depth": 4}
    del shallow["min_child_weight"], shallow["colsample"]
    assert space.problems(shallow) == []
    assert space.problems({**shallow, "colsample": 0.5}) == ["colsample: present but inactive"]


def test_nested_repeat_resolves_names_per_copy() -> None:
    space = load_space(VALID / "nested_repeat.yaml")
    condition = space["stages.1.blocks.1.width"].condition
    assert condition is not None
    assert condition.names == {"n_stages", "stages.1.n_blocks"}
    expansion = space["stages.2.blocks.0.expansion"].condition
    assert expansion is not None
    assert "stages.2.blocks.0.kind" in expansion.names
    assert len([n for n in space.names if ".blocks." in n]) == 3 * 2 * 3


def fingerprint_of(tmp_path: Path, name: str, text: str) -> str:
    return load_space(write(tmp_path, name, text)).fingerprint


def test_fingerprint_ignores_comments_layout_key_order_and_description(tmp_path: Path) -> None:
    reference = load_space(VALID / "design_example.yaml").fingerprint
    reformatted = fingerprint_of(
        tmp_path,
        "reformatted.yaml",
        """
        # The same space, block style, keys reordered, no comments in the block.
        description: written differently
        constraints: ["n_layers <= 2 or lr < 0.01"]
        params:
          optimizer:
            choices:
              - adam
              - sgd
            type: categorical
          lr: {log: true, high: 0.1, low: 0.00001, type: float}
          momentum:
            when: optimizer == 'sgd'
            high: 0.99
            low: 0
            type: float
          n_layers: {high: 4, low: 1, type: int, log: false}
          layers:
            item:
              width: {log: true, type: int, low: 16, high: 512}
              activation:
                type: categorical
                choices: [relu, tanh, gelu]
              dropout: {when: "activation != 'gelu'", type: float, high: 0.5, low: 0}
            max: 4
            count: n_layers
            type: repeat
          batch_size: {values: [16, 32, 64, 128, 256], type: ordinal}
          epochs: {value: 20, type: fixed}
        """,
    )
    assert reformatted == reference
    as_json = tmp_path / "same.json"
    as_json.write_text(json.dumps(yaml.safe_load((VALID / "design_example.yaml").read_text())))
    assert load_space(as_json).fingerprint == reference


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    base = "params:\n  x: {type: float, low: 0.0, high: 1.0}\n"
    one = fingerprint_of(tmp_path, "a.yaml", base)
    assert fingerprint_of(tmp_path, "b.yaml", base.replace("1.0}", "2.0}")) != one
    assert fingerprint_of(tmp_path, "c.yaml", base.replace("}", ", log: false}")) == one
    assert fingerprint_of(tmp_path, "d.yaml", base + "constraints: ['x < 0.5']\n") != one
    assert fingerprint_of(tmp_path, "e.yaml", base.replace("float", "float, step: 0.5")) != one


# --- huge spaces ---------------------------------------------------------------------


def test_space_of_ten_to_the_twelve_combinations_validates_without_enumeration(
    tmp_path: Path,
) -> None:
    params: dict[str, dict[str, Any]] = {
        f"p{i}": {"type": "categorical", "choices": [f"v{j}" for j in range(10)]} for i in range(12)
    }
    params["extra"] = {
        "type": "int",
        "low": 1,
        "high": 3,
        "when": "p0 == 'v3' or (p11 in ['v7', 'v8'] and p5 != 'v0')",
    }
    # Five ancestors (10^5 combinations): probed by sampling, not exhaustively.
    params["rare"] = {
        "type": "float",
        "low": 0.0,
        "high": 1.0,
        "when": "p3 in ['v1', 'v2', 'v3'] and p4 != 'v2' and p6 in ['v3', 'v4'] and p7 != 'v4' and p8 != 'v5'",
    }
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump({"params": params, "constraints": ["p1 != 'v1' or p2 != 'v2'"]}))
    space = load_space(path)
    assert space.discrete_cardinality() == 10**12 * 3
    assert space.cardinality_bound() is None  # 'rare' is continuous
    assert len(space.dimensions) == 14
    assert [p.name for p in space.ancestors("rare")] == ["p3", "p4", "p6", "p7", "p8"]


def test_categorical_with_100000_choices_validates(tmp_path: Path) -> None:
    choices = [f"token_{i}" for i in range(100_000)]
    data = {
        "params": {
            "vocabulary_item": {"type": "categorical", "choices": choices},
            "boost": {
                "type": "float",
                "low": 0.0,
                "high": 1.0,
                "when": "vocabulary_item == 'token_99999'",
            },
            "n": {"type": "int", "low": 1, "high": 10},
        }
    }
    for suffix, text in ((".yaml", yaml.safe_dump(data)), (".json", json.dumps(data))):
        path = tmp_path / f"vocab{suffix}"
        path.write_text(text)
        space = load_space(path)
        assert space.discrete_cardinality() == 100_000 * 10
        assert space["vocabulary_item"].domain.cardinality() == 100_000


def test_duplicate_among_100000_choices_is_reported(tmp_path: Path) -> None:
    choices = [f"token_{i}" for i in range(100_000)]
    choices[77_777] = "token_5"
    path = tmp_path / "vocab.yaml"
    path.write_text(
        yaml.safe_dump({"params": {"tok": {"type": "categorical", "choices": choices}}})
    )
    issue = find_issue(load_issues(path), "params.tok.choices[77777]", "duplicate value 'token_5'")
    assert issue.line is not None  # the list's line: long lists carry no per-item lines
