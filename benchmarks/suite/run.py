"""Run the quality benchmark suite and write its section of ``docs/benchmarks.md``.

Every (problem, optimizer, seed) is one job; jobs run in parallel worker processes
(spawned, one thread each). Each run's values and best-so-far curve go to
``benchmarks/results/quality-<date>.jsonl``; the summary (mean normalized regret with
bootstrap intervals, ranks, hypertrail against Optuna's TPE, overhead per ask + tell)
replaces the text between ``<!-- quality:start -->`` and ``<!-- quality:end -->``.

Usage, from the repository root::

    python -m benchmarks.suite.run                      # everything (long)
    python -m benchmarks.suite.run --problems mixed_branin,jenatton --seeds 2 \\
        --budget 20 --optimizers tpe,optuna-tpe --overhead none   # smoke, < 1 min
    python -m benchmarks.suite.run --problems all,-mlp_digits \\
        --optimizers tpe,gp,random,optuna-tpe,optuna-random --seeds 10
    python -m benchmarks.suite.run --from-results benchmarks/results/quality-2026-11-23.jsonl

``python benchmarks/suite/run.py ...`` works too. Needs ``pip install -e ".[bench]"``
(Optuna, scikit-learn, coco-experiment; ``optuna-gp`` also needs PyTorch).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.common import (
    ROOT,
    command_line,
    cpu_model,
    git_revision,
    package_version,
    update_section,
)
from benchmarks.suite import report
from benchmarks.suite.catalog import get_problem, select_problems
from benchmarks.suite.hybrid import hybrid_section
from benchmarks.suite.overhead import OVERHEAD_PAIRS, measure_pair
from benchmarks.suite.reference import (
    KNOWN_BEST,
    REFERENCE,
    compute_reference,
    load_json,
    optimum_of,
    reference_of,
    save_json,
    update_known_best,
)
from benchmarks.suite.runners import (
    OPTUNA_SAMPLERS,
    OptimizerSpec,
    parse_optimizers,
    run_job,
    worker_init,
)

DEFAULT_DOC = ROOT / "docs" / "benchmarks.md"
DEFAULT_RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_OPTIMIZERS = (
    "tpe,gp,random,sobol,cmaes,evolution,optuna-tpe,optuna-tpe-mv,optuna-gp,optuna-random"
)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --- arguments ------------------------------------------------------------------------------


def _seeds(text: str) -> list[int]:
    """``10`` -> 0..9; ``3-7`` -> 3..7; ``1,4,9`` -> those."""
    text = text.strip()
    try:
        if text.isdigit():
            return list(range(int(text)))
        if "-" in text and "," not in text:
            a, b = (int(x) for x in text.split("-", 1))
            return list(range(a, b + 1))
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad seeds {text!r}: use N, A-B or a,b,c") from None


def _counts(text: str) -> list[int]:
    try:
        counts = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad counts {text!r}") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("counts must be positive")
    return counts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.suite.run",
        description="Quality benchmark: optimizers x problems x seeds, normalized regret.",
    )
    parser.add_argument(
        "--problems",
        default="all",
        help="comma list of problems or families (mixed, conditional, coco, sklearn, nas), "
        "'all', '-name' to leave one out (default all)",
    )
    parser.add_argument(
        "--optimizers",
        default=DEFAULT_OPTIMIZERS,
        help="hypertrail names or JSON specs and optuna-tpe, optuna-tpe-mv, optuna-gp, "
        f"optuna-random; names not registered are skipped (default {DEFAULT_OPTIMIZERS})",
    )
    parser.add_argument("--seeds", type=_seeds, default=_seeds("10"), help="N, A-B or a,b,c")
    parser.add_argument("--budget", type=int, default=100, help="evaluations per run")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--overhead",
        choices=("full", "quick", "none"),
        default="full",
        help="overhead table: full (counts below), quick (20 and 50 trials) or none",
    )
    parser.add_argument("--overhead-counts", type=_counts, default=_counts("100,300,1000"))
    parser.add_argument("--gp-overhead-counts", type=_counts, default=_counts("100,200"))
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC, help="Markdown file to update")
    parser.add_argument("--no-doc", action="store_true", help="print the section only")
    parser.add_argument(
        "--doc-sections",
        default="quality,hybrid",
        help="sections of the doc to rewrite: quality, hybrid or both (default both)",
    )
    parser.add_argument(
        "--no-known-best-update",
        action="store_true",
        help="do not lower data/known_best.json with values found by this run",
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        help="re-render the section from a results file (its last run) instead of running",
    )
    args = parser.parse_args(argv)
    if args.budget < 1 or args.workers < 1 or not args.seeds:
        parser.error("--budget and --workers must be positive, and --seeds non-empty")
    return args


# --- environment ------------------------------------------------------------------------------


def environment(started: dt.datetime, seconds: float | None) -> list[tuple[str, str]]:
    import hypertrail

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    rows = [
        ("date (UTC)", started.strftime("%Y-%m-%d %H:%M")),
        ("hypertrail", f"{hypertrail.__version__}, git {git_revision()}"),
        ("Optuna", package_version("optuna")),
        ("PyTorch (optuna-gp)", package_version("torch")),
        ("coco-experiment", package_version("coco-experiment")),
        ("scikit-learn", package_version("scikit-learn")),
        ("numpy / scipy", f"{package_version('numpy')} / {package_version('scipy')}"),
        ("Python", platform.python_version()),
        ("CPU", f"{cpu_model()}, {os.cpu_count()} logical cores"),
        ("OS", f"{platform.system()} {platform.release()}"),
    ]
    if load is not None:
        rows.append(("load average at start (1 min)", f"{load[0]:.2f}"))
    if seconds is not None:
        rows.append(("wall time of the run", f"{seconds / 60:.1f} min"))
    return rows


def environment_end(
    seconds: float, start_rev: str, overhead: Sequence[dict[str, Any]]
) -> list[tuple[str, str]]:
    """Rows known at the end: the wall time, and the code the overhead process imported
    when it differs from the code at the start (someone committed during the run)."""
    rows = [("wall time of the run", f"{seconds / 60:.1f} min")]
    revs = {str(r["hypertrail_git"]) for r in overhead if r.get("hypertrail_git")} - {start_rev}
    rows += [("hypertrail for the overhead table", f"git {rev}") for rev in sorted(revs)]
    return rows


# --- running ----------------------------------------------------------------------------------


def _cost(problem: str, spec: OptimizerSpec) -> float:
    """Rough relative cost, to start the long jobs first."""
    heavy = 10.0 if get_problem(problem).expensive else 1.0
    model = 4.0 if "gp" in spec.label else 1.5 if "tpe" in spec.label else 1.0
    return heavy * model


def _optuna_available(specs: list[OptimizerSpec], need_optuna: bool) -> list[str]:
    """Drop Optuna samplers whose dependencies are missing; messages for the user."""
    notes: list[str] = []
    if any(s.library == "optuna" for s in specs) or need_optuna:
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise SystemExit('Optuna is needed: pip install -e ".[bench]"') from None
    if any(s.spec == "optuna-gp" for s in specs):
        try:
            import torch  # noqa: F401
        except ImportError:
            notes.append("optuna-gp: PyTorch is not installed (skipped)")
    return notes


def run(args: argparse.Namespace) -> int:
    started_at = dt.datetime.now(dt.UTC)
    run_id = started_at.strftime("%Y%m%dT%H%M%SZ")
    clock = time.perf_counter()
    problems = select_problems(args.problems)
    specs, notes = parse_optimizers(args.optimizers)
    notes += _optuna_available(specs, args.overhead != "none")
    if any("PyTorch" in n for n in notes):
        specs = [s for s in specs if s.spec != "optuna-gp"]
    for note in notes:
        print(note, flush=True)
    if not specs:
        raise SystemExit("no optimizer left to run")
    for name in problems:
        get_problem(name)  # build (and validate) every space before any work

    for var in THREAD_VARIABLES:  # inherited by the spawned workers
        os.environ.setdefault(var, "1")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    results_file = args.results_dir / f"quality-{started_at.strftime('%Y-%m-%d')}.jsonl"
    command = command_line("python -m benchmarks.suite.run")
    header = {
        "kind": "run",
        "run_id": run_id,
        "command": command.strip(),
        "problems": problems,
        "optimizers": [{"label": s.label, "library": s.library, "spec": s.spec} for s in specs],
        "seeds": args.seeds,
        "budget": args.budget,
        "workers": args.workers,
        "notes": notes,
        "environment": environment(started_at, None),
        "git": git_revision(),
    }
    references_cache = load_json(REFERENCE)
    missing_refs = [p for p in problems if reference_of(p, references_cache) is None]
    jobs = [(p, s, seed) for p in problems for s in specs for seed in args.seeds]
    jobs.sort(key=lambda j: -_cost(j[0], j[1]))
    records: list[dict[str, Any]] = []
    ctx = get_context("spawn")
    with results_file.open("a") as out:
        out.write(json.dumps({**header}) + "\n")
        out.flush()
        total = len(jobs) + len(missing_refs)
        print(
            f"{len(jobs)} runs ({len(problems)} problems x {len(specs)} optimizers x "
            f"{len(args.seeds)} seeds, budget {args.budget}) + {len(missing_refs)} reference "
            f"computations on {args.workers} workers -> {results_file}",
            flush=True,
        )
        with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=worker_init) as pool:
            futures: list[Future[dict[str, Any]]] = [
                pool.submit(compute_reference, p) for p in missing_refs
            ]
            futures += [pool.submit(run_job, p, s, seed, args.budget) for p, s, seed in jobs]
            for done, future in enumerate(as_completed(futures), start=1):
                record = {"run_id": run_id, **future.result()}
                out.write(json.dumps(record, allow_nan=False) + "\n")
                out.flush()
                records.append(record)
                elapsed = time.perf_counter() - clock
                eta = elapsed / done * (total - done)
                what = _progress(record)
                print(f"[{done}/{total} {elapsed:5.0f}s eta {eta:4.0f}s] {what}", flush=True)
        overhead = _measure_overhead(args, ctx)
        for rec in overhead:
            out.write(json.dumps({"run_id": run_id, **rec}) + "\n")
        seconds = time.perf_counter() - clock
        out.write(json.dumps({"run_id": run_id, "kind": "end", "seconds": seconds}) + "\n")
    # The environment at the start (the code the workers imported), plus the duration.
    end_rows = environment_end(seconds, header["git"], overhead)
    header["environment"] = [*header["environment"], *end_rows]
    header["results_file"] = (
        str(results_file.relative_to(ROOT))
        if results_file.is_relative_to(ROOT)
        else str(results_file)
    )
    _store_data(records, run_id, update_known=not args.no_known_best_update)
    return _report(header, records, overhead, args)


def _progress(record: dict[str, Any]) -> str:
    if record["kind"] == "reference":
        return f"reference {record['problem']}: median {record['median']:.6g}"
    head = f"{record['optimizer']:<14} {record['problem']:<18} seed {record['seed']:<3}"
    if record.get("error"):
        return f"{head} ERROR {record['error']}"
    best = "none" if record["best"] is None else f"{record['best']:.6g}"
    return f"{head} best {best:<12} {record['seconds']:6.1f} s"


def _measure_overhead(args: argparse.Namespace, ctx: Any) -> list[dict[str, Any]]:
    if args.overhead == "none":
        return []
    from hypertrail.optimizers.base import OPTIMIZERS

    out: list[dict[str, Any]] = []
    # A fresh process, alone: the quality workers are gone by now.
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=worker_init) as pool:
        for ours, theirs, which in OVERHEAD_PAIRS:
            if ours not in OPTIMIZERS or theirs not in OPTUNA_SAMPLERS:
                continue
            if theirs == "optuna-gp" and package_version("torch") == "not installed":
                print("overhead: optuna-gp skipped (no PyTorch)", flush=True)
                continue
            if args.overhead == "quick":
                counts = [20, 50]
            else:
                counts = args.gp_overhead_counts if which == "gp" else args.overhead_counts
            start = time.perf_counter()
            rec = pool.submit(measure_pair, ours, theirs, counts).result()
            rec["hypertrail_git"] = git_revision()
            print(
                f"overhead {ours} vs {theirs}: "
                + ", ".join(
                    f"{r['count']}: {r['hypertrail_ms']:.1f} / {r['optuna_ms']:.1f} ms"
                    for r in rec["rows"]
                )
                + f" ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
            out.append(rec)
    return out


def _store_data(records: list[dict[str, Any]], run_id: str, *, update_known: bool) -> None:
    refs = load_json(REFERENCE)
    known = load_json(KNOWN_BEST)
    changed_refs = changed_known = False
    for rec in records:
        if rec["kind"] == "reference":
            refs[rec["problem"]] = {
                k: rec[k] for k in ("median", "n", "finite", "seed", "space_signature")
            }
            changed_refs = True
            source = f"reference sample of run {run_id}"
            best, config = rec.get("best"), rec.get("best_config")
        elif rec["kind"] == "job" and not rec.get("error"):
            source = f"run {run_id}: {rec['optimizer']}, seed {rec['seed']}"
            best, config = rec.get("best"), rec.get("best_config")
        else:
            continue
        if update_known and update_known_best(known, rec["problem"], best, config, source):
            changed_known = True
            print(f"known best of {rec['problem']} lowered to {best:.6g} ({source})", flush=True)
    if changed_refs:
        save_json(REFERENCE, refs)
    if changed_known:
        save_json(KNOWN_BEST, known)


def _params_text(name: str) -> str:
    space = get_problem(name).space
    kinds: dict[str, int] = {}
    for p in space.dimensions:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in kinds.items())
    conditional = sum(p.condition is not None for p in space.dimensions)
    extra = f"; {conditional} conditional" if conditional else ""
    extra += f"; {len(space.constraints)} constraint" if space.constraints else ""
    return f"{len(space.dimensions)} ({parts}{extra})"


def _report(
    header: dict[str, Any],
    records: list[dict[str, Any]],
    overhead: list[dict[str, Any]],
    args: argparse.Namespace,
) -> int:
    problems = header["problems"]
    refs = load_json(REFERENCE)
    known = load_json(KNOWN_BEST)
    optima = {p: optimum_of(p, known) for p in problems}
    references = {p: reference_of(p, refs) for p in problems}
    jobs = [r for r in records if r["kind"] == "job"]
    labels = [o["label"] for o in header["optimizers"]]
    summary = report.summarize(jobs, problems, labels, optima, references)
    problem_rows = [
        {
            "name": p,
            "family": get_problem(p).family,
            "params": _params_text(p),
            "optimum": optima[p],
            "reference": references[p],
            "note": get_problem(p).note,
        }
        for p in problems
    ]
    optimizer_rows = []
    for o in header["optimizers"]:
        if o["library"] == "optuna":
            text = f"Optuna `{OPTUNA_SAMPLERS[o['spec']][1]}`, seed *s*"
        elif isinstance(o["spec"], str):
            text = f"hypertrail `{o['spec']}`, default options"
        else:
            text = f"hypertrail `{json.dumps(o['spec'])}`"
        optimizer_rows.append({"label": o["label"], "description": text})
    for note in header.get("notes", []):
        optimizer_rows.append(
            {"label": note.split(":")[0], "description": note.split(":", 1)[1].strip()}
        )
    section = report.render(
        summary,
        jobs=jobs,
        problem_rows=problem_rows,
        optimizer_rows=optimizer_rows,
        overhead=overhead,
        meta=header,
    )
    command = command_line("python -m benchmarks.suite.run")
    sections = {x.strip() for x in args.doc_sections.split(",")}
    # The plots go beside the doc only when the doc's hybrid section is rewritten;
    # otherwise (--no-doc) beside the results, so a trial run leaves docs/ alone.
    to_doc = not args.no_doc and "hybrid" in sections
    images = args.doc.parent / "img" if to_doc else args.results_dir / "img"
    hybrid = hybrid_section(
        summary, jobs, optima, references, images, "img/" if to_doc else f"{images}/", command
    )
    if not args.no_doc:
        if "quality" in sections:
            update_section(args.doc, "quality", section)
        if hybrid is not None and "hybrid" in sections:
            update_section(args.doc, "hybrid", hybrid)
    elif hybrid is not None:
        print(hybrid)
    print()
    print(section)
    if not args.no_doc:
        written = [x for x in ("quality", "hybrid") if x in sections]
        print(f"\nwrote the {' and '.join(written)} section(s) of {args.doc}")
    return 1 if summary.errors else 0


def rerender(args: argparse.Namespace) -> int:
    lines = [
        json.loads(line) for line in args.from_results.read_text().splitlines() if line.strip()
    ]
    headers = [r for r in lines if r.get("kind") == "run"]
    if not headers:
        raise SystemExit(f"{args.from_results}: no run recorded")
    header = headers[-1]
    mine = [r for r in lines if r.get("run_id") == header["run_id"] and r.get("kind") != "run"]
    end = [r for r in mine if r["kind"] == "end"]
    header["results_file"] = str(args.from_results)
    overhead = [r for r in mine if r["kind"] == "overhead"]
    if end:
        rows = environment_end(end[-1]["seconds"], header.get("git", ""), overhead)
        header["environment"] = [*header["environment"], *rows]
    records = [r for r in mine if r["kind"] in ("job", "reference")]
    return _report(header, records, overhead, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_results is not None:
        return rerender(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
