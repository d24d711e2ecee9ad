"""``cellmodels export ECM --to {fmu,pybamm,json} -o FILE``: hand a reduced cell on."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "pybamm_instructions"]


def pybamm_instructions(ecm, ecm_path, json_path) -> str:
    """How to run a ``--to pybamm`` file: on :func:`cellmodels.export.pybamm_model`, or on
    stock Thevenin given this ECM's number of RC pairs (it has one by default and runs a
    file with more without the others, silently: a 2 RC ECM then ends a 10-minute 1C
    discharge 3 mV high, docs/reduction.md)."""
    load = (f"pybamm.ParameterValues.from_json({str(json_path)!r}) and run them on "
            "cellmodels.export.pybamm_model(ecm), ecm = "
            f"cellmodels.reduction.load_ecm({str(ecm_path)!r})")
    if ecm.has_hysteresis:
        return ("This ECM has an OCV hysteresis, which PyBaMM's stock Thevenin model "
                "cannot represent (it would ignore the hysteresis parameters): load the "
                f"values with {load}: it carries the hysteresis state and the OCV "
                "temperature term.")
    return (f"Load the values with {load} ({ecm.n_rc} RC pair(s) and the OCV temperature "
            f"term exactly). Stock pybamm.equivalent_circuit.Thevenin() has one RC pair and "
            "silently runs without the others: if you use it, give it "
            f"options={{\"number of rc elements\": {ecm.n_rc}}}.")


def _cmd_export(args: argparse.Namespace) -> int:
    from .._atomic import out_folder_problem
    from ..reduction import load_ecm

    problem = out_folder_problem(args.out)
    if problem:
        print(f"cellmodels export: {problem}", file=sys.stderr)
        return 2
    ecm = load_ecm(args.ecm)
    if args.to == "fmu":
        from .fmu import export_fmu

        path = export_fmu(ecm, args.out, input_mode=args.input_mode)
    elif args.to == "json":
        from .json_export import export_json

        path = export_json(ecm, args.out)
    else:
        from .pybamm_ecm import to_pybamm_parameter_values

        pv = to_pybamm_parameter_values(ecm)
        from .._atomic import atomic_path

        with atomic_path(args.out) as tmp:
            pv.to_json(tmp)
        path = args.out
        print(pybamm_instructions(ecm, args.ecm, path))
    print(f"Wrote {path}")
    return 0


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``cellmodels export`` on an argparse subparsers object."""
    p = sub.add_parser("export", help="export an ECM file to FMU, PyBaMM or JSON",
                       description="Export an ECM file (.ecm.h5) to an FMI 2.0 co-simulation "
                                   "FMU, PyBaMM parameter values (JSON, for "
                                   "cellmodels.export.pybamm_model) or JSON.")
    p.add_argument("ecm", help="ECM file (.ecm.h5)")
    p.add_argument("--to", required=True, choices=["fmu", "pybamm", "json"])
    p.add_argument("-o", "--out", required=True,
                   help="file to write; its folder must exist")
    p.add_argument("--input-mode", default="current", choices=["current", "power"],
                   help="FMU input: current_A or power_W")
    p.set_defaults(func=_cmd_export)
    return p
