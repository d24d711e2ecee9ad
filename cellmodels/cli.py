"""The ``cellmodels`` command: one subcommand per pipeline stage."""

from __future__ import annotations

import argparse
import sys

from .errors import CellModelsError


def _cmd_cells(args: argparse.Namespace) -> int:
    from .dcr import cells_table

    print(cells_table(duration_s=args.duration))
    return 0


def _cmd_dcr(args: argparse.Namespace) -> int:
    from .dcr import dcr_map_report

    print(dcr_map_report(args.cell, out=args.out))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(out=args.out)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .validate import run_validation

    return run_validation(directory=args.dir, only=args.only, fast=args.fast)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cellmodels",
        description="Cell physics for ultra-low-DCR semi-solid and lean cells (PyBaMM).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("cells", help="list every parameter set with capacity and DCR")
    p.add_argument("--duration", type=float, default=10.0, help="DCR pulse length [s]")
    p.set_defaults(func=_cmd_cells)

    p = sub.add_parser("dcr", help="DCR map over SOC x temperature x duration, loss breakdown")
    p.add_argument("cell", help="parameter-set name or path to a JSON file")
    p.add_argument("-o", "--out", default="out", help="folder for the table and PNG")
    p.set_defaults(func=_cmd_dcr)

    p = sub.add_parser("demo", help="the main job: cells, DCR and what limits it")
    p.add_argument("-o", "--out", default="out", help="folder for figures and tables")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("validate", help="run validation cases, write validation/REPORT.md")
    p.add_argument("--dir", default="validation", help="the repository's validation folder")
    p.add_argument("--only", nargs="*", default=None, help="case names to run")
    p.add_argument("--fast", action="store_true", help="only the cases the tests also run")
    p.set_defaults(func=_cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CellModelsError as exc:
        print(f"cellmodels: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
