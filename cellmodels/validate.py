"""Validation cases and the report they write.

A case module is a file ``validation/case_*.py`` that defines ``CASES``, a list of
:class:`Case`. ``cellmodels validate`` imports every such module, runs the cases and
writes ``validation/REPORT.md`` (each case's data source, metric, target, result and
figure). Cases marked ``fast`` also run in the test suite (``tests/test_validation.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from ._atomic import write_text
from pathlib import Path


@dataclass
class CaseResult:
    """What one validation case found.

    ``rows`` is a list of dicts shown as a table (one row per sub-case, e.g. per C-rate);
    ``passed`` is the verdict against ``target``.
    """

    name: str
    data_source: str
    metric: str
    target: str
    result: str
    passed: bool
    rows: list[dict] = field(default_factory=list)
    figure: str | None = None  # path relative to the validation folder
    notes: str = ""
    seconds: float = float("nan")  #: run time, set by the runner
    date: str = ""  #: UTC date of the run, set by the runner


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[Path], CaseResult]  #: called with the folder for figures
    fast: bool = False  #: also run by the test suite


def discover(directory: Path) -> list[Case]:
    cases: list[Case] = []
    for file in sorted(Path(directory).glob("case_*.py")):
        spec = importlib.util.spec_from_file_location(f"validation.{file.stem}", file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        cases.extend(getattr(module, "CASES", []))
    return cases


def _cell(text) -> str:
    """Markdown table cell: a '|' in the text must not end the cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(rows: list[dict]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        cells = [f"{r.get(k):.4g}" if isinstance(r.get(k), float) else _cell(r.get(k, ""))
                 for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(results: list[CaseResult], path: Path) -> None:
    lines = [
        "# cellmodels validation report",
        "",
        "Written by `cellmodels validate`. Each case names its data source, metric, target and "
        "result. Measured data is read from the registry (`cellmodels.data`), never committed.",
        "",
        "| case | metric | target | result | pass | time [s] | run (UTC) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        mark = "yes" if r.passed else "**no**"
        cells = [_cell(x) for x in (r.name, r.metric, r.target, r.result)]
        lines.append("| " + " | ".join(cells) + f" | {mark} | {r.seconds:.1f} | {r.date} |")
    for r in results:
        lines += ["", f"## {r.name}", "", f"Data: {r.data_source}", "",
                  f"Metric: {r.metric}. Target: {r.target}. Result: {r.result}.", ""]
        if r.rows:
            lines += [_table(r.rows), ""]
        if r.figure:
            lines += [f"![{r.name}]({r.figure})", ""]
        if r.notes:
            lines += [r.notes, ""]
    write_text(path, "\n".join(lines) + "\n")


def run_validation(directory: str | Path = "validation", only=None, fast: bool = False) -> int:
    directory = Path(directory)
    if not directory.is_dir():
        print(f"cellmodels: error: no validation folder at {directory} (run from the "
              "repository root or pass --dir)", file=sys.stderr)
        return 2
    cases = discover(directory)
    if only:
        known = {c.name for c in cases}
        missing = [n for n in only if n not in known]
        if missing:
            print(f"cellmodels: error: unknown case(s) {missing}; known: {sorted(known)}",
                  file=sys.stderr)
            return 2
        cases = [c for c in cases if c.name in only]
    if fast:
        cases = [c for c in cases if c.fast]
    figures = directory / "figures"
    figures.mkdir(exist_ok=True)
    # Results are kept per case in results.json: a run of some cases (--only, --fast, or a
    # run interrupted and started again) updates those and keeps the others, so the
    # report always covers every case that has been run, each with its own date.
    store = directory / "results.json"
    order = [c.name for c in discover(directory)]
    failed = False
    for case in cases:
        t0 = time.perf_counter()
        print(f"[validate] {case.name} ...", flush=True)
        try:
            res = case.run(figures)
        except Exception as exc:  # a failing case is reported, the others still run
            res = CaseResult(case.name, "", "", "", f"error: {exc}", False,
                             notes="```\n" + traceback.format_exc() + "```")
        res.seconds = time.perf_counter() - t0
        res.date = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        failed |= not res.passed
        print(f"[validate] {case.name}: {res.result} ({'pass' if res.passed else 'FAIL'}, "
              f"{res.seconds:.1f} s)", flush=True)
        # Several `cellmodels validate --only ...` may run at once (one per case, on
        # a 2-core machine): the store is re-read under a lock so none loses another's.
        with _locked(directory / ".results.lock"):
            previous = _load_results(store)
            previous[case.name] = res
            # cases in the store keep their place even if their module was added (or
            # this run's discovery missed it) after this run started: none is dropped
            known = order + [n for n in previous if n not in order]
            results = [previous[n] for n in known if n in previous]
            write_report(results, directory / "REPORT.md")
            write_text(store, json.dumps([asdict(r) for r in results], indent=1, default=str))
    return 1 if failed else 0


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _load_results(store: Path) -> dict[str, CaseResult]:
    if not store.is_file():
        return {}
    try:
        rows = json.loads(store.read_text(encoding="utf-8"))
        return {r["name"]: CaseResult(**r) for r in rows}
    except (ValueError, TypeError, KeyError) as exc:
        print(f"cellmodels: warning: ignoring unreadable {store} ({exc}); the report will "
              "hold only the cases run now", file=sys.stderr)
        return {}
