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
    return 0


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
