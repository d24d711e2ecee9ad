"""``cellmodels study life|heating CONFIG.toml``: the command line of the study runner."""

from __future__ import annotations

import argparse


def _cmd_study(args: argparse.Namespace) -> int:
    from .config import load_study_config
    from .runner import run_study

    config = load_study_config(args.config, kind=args.kind)
    summary = run_study(config, output=args.out, scheduler=args.scheduler,
                        workers=args.workers, retry_failed=args.retry_failed,
                        progress=not args.quiet, plot=not args.no_plot)
    print(summary.text())
    print(results_table(summary.path))
    return 0


def results_table(path, max_rows: int = 60) -> str:
    """The study file's points as a text table: cell, the axes' values, status, and every
    scalar output to 4 significant digits (kelvin shown in degC); failed points' errors below."""
    import math
    from pathlib import Path

    from .store import load_study

    rows = load_study(path).table()
    if not rows:
        return "  (no points in the file)"
    # a row is id, cell, the axes' coordinates, status, error, then the outputs
    first = list(rows[0])
    axes = first[first.index("cell") + 1:first.index("status")]
    fixed = ("id", "cell", "status", "error", *axes)
    outputs = list(dict.fromkeys(k for r in rows for k in r if k not in fixed))

    def order(r):  # by cell, then axis by axis (numbers before text)
        return (str(r["cell"]), *((0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))
                                  for v in (r.get(a) for a in axes)))

    rows.sort(key=order)

    def head(key: str) -> str:
        short = key.rsplit(".", 1)[-1]
        return f"{short[:-2]} [degC]" if short.endswith("_K") else short

    def cell(key: str, v) -> str:
        if isinstance(v, float):
            if math.isnan(v):
                return "-"
            if key.endswith("_K"):
                return f"{v - 273.15:.4g}"
            return f"{v:.0f}" if 1e4 <= abs(v) < 1e7 else f"{v:.4g}"
        return Path(str(v)).name if key == "cell" else str(v)

    cols = ["cell", *axes, "status", *outputs]
    table = [[head(c) for c in cols]]
    table += [[cell(c, r.get(c, float("nan"))) for c in cols] for r in rows[:max_rows]]
    widths = [max(len(line[j]) for line in table) for j in range(len(cols))]
    lines = ["  " + "  ".join(x.rjust(w) for x, w in zip(line, widths)) for line in table]
    if len(rows) > max_rows:
        lines.append(f"  ... and {len(rows) - max_rows} more points (load_study(path).table())")
    if any(isinstance(r.get(k), float) and math.isnan(r[k]) for r in rows for k in outputs):
        lines.append("  -: not reached within the projected years (or not computed)")
    lines += [f"  error at {r['id']}: {r['error'][:160]}" for r in rows[:max_rows]
              if r["status"] != "ok"]
    return "\n".join(lines)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``study`` on the ``cellmodels`` subparsers ``sub``."""
    p = sub.add_parser(
        "study", help="run a heating or life study over a grid (resumable; local or Dask)",
        description="Run every point of a study config not yet in its HDF5 file: a local "
                    "process pool by default, or a Dask cluster with --scheduler. Finished "
                    "points are saved as they finish; a rerun resumes; a failing point is "
                    "recorded with its error and the sweep goes on.")
    p.add_argument("kind", choices=["heating", "life"], help="what each point computes")
    p.add_argument("config", help="study config (TOML): cells, and the kind's sections; "
                                  "lists are axes")
    p.add_argument("-o", "--out", default=None,
                   help="study file (.h5); default the config's 'output' or <config>.h5")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run on this Dask distributed scheduler instead of locally")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: CPU count; 0: in this process)")
    p.add_argument("--retry-failed", action="store_true",
                   help="compute again the points recorded as failed")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG figures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_study)
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m cellmodels.studies._cli KIND CONFIG ...``: the same as ``cellmodels study``."""
    import sys

    from ..errors import CellModelsError

    parser = argparse.ArgumentParser(prog="cellmodels")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["study", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except CellModelsError as exc:
        print(f"cellmodels: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
