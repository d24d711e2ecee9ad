"""``cellmodels fit CELL DATA... --params ... -o fitted.json``.

DATA arguments are dataset specs (:mod:`cellmodels.fitting.datasets`): ``wmg-rate:T25:1C``,
``wmg-pulse:T25:SoC5:Cell1`` or a CSV with columns ``time_s,current_A,voltage_V[,
temperature_K]``, each with an optional ``@weight``. A ``--params`` item is a fittable
name (``cellmodels fit --list``) optionally followed by ``=LOW:HIGH`` bounds in SI units.
"""

from __future__ import annotations

import argparse
import json

from ..errors import InputError

__all__ = ["add_parser", "parse_param"]


def parse_param(text: str):
    """``"NAME"`` or ``"NAME=LOW:HIGH"`` as a :class:`FitParameter`."""
    from .physics import FitParameter

    if "=" not in text:
        return FitParameter(text.strip())
    name, _, rng = text.rpartition("=")
    try:
        low, high = (float(v) for v in rng.split(":"))
    except ValueError:
        raise InputError(
            f"The bounds in {text!r} must read NAME=LOW:HIGH with numbers. Got {rng!r} instead."
        ) from None
    return FitParameter(name.strip(), bounds=(low, high))


# --heat-of-mixing value -> fit_physics's heat_of_mixing
_HEAT_OF_MIXING = {"off": False, "auto": "auto", "quasi-steady": "quasi-steady"}


def _check_out_folders(args: argparse.Namespace) -> None:
    """Refuse an output path (-o, --plot, --report) whose folder does not exist."""
    from .._atomic import out_folder_problem

    for flag, path in (("-o", args.out), ("--plot", args.plot), ("--report", args.report)):
        problem = path and out_folder_problem(path, flag)
        if problem:
            raise InputError(problem)


def _cmd_fit(args: argparse.Namespace) -> int:
    from .datasets import dataset_from_spec
    from .physics import FITTABLE, Experiment, fit_physics, save_fitted

    if args.list:
        for name, tgt in FITTABLE.items():
            where = (f"the Arrhenius factor of PyBaMM's {tgt.pybamm}" if tgt.mode == "arrhenius"
                     else f"PyBaMM: {tgt.pybamm}; {tgt.mode}")
            print(f"{name}    ({where})")
        return 0
    missing = [label for label, given in (
        ("CELL (a parameter set)", args.cell), ("at least one DATA (a dataset spec)", args.data),
        ("--params (what to fit)", args.params), ("-o (the fitted set to write)", args.out),
    ) if not given]
    if missing:
        raise InputError(f"cellmodels fit needs CELL, at least one DATA, --params and -o; "
                         f"missing: {', '.join(missing)}. 'cellmodels fit --list' lists the "
                         "fittable parameters.")
    heat_of_mixing = _HEAT_OF_MIXING[args.heat_of_mixing]
    if args.heat_of_mixing == "quasi-steady" and args.thermal != "lumped":
        raise InputError(f"--heat-of-mixing quasi-steady adds to the lumped heat source; it "
                         f"needs --thermal lumped. Got --thermal {args.thermal}.")
    if args.heat_of_mixing == "auto" and args.thermal == "measured":
        raise InputError("--heat-of-mixing auto adds a heat source, but --thermal measured has "
                         "no heat equation (the temperature is the measured trace): use "
                         "--heat-of-mixing off.")
    _check_out_folders(args)  # before the fit, not after it
    experiments = []
    for spec in args.data:
        ds, weight = dataset_from_spec(spec)
        experiments.append(Experiment(
            ds, weight=weight,
            temperature=bool(args.temperature and ds.temperature_K is not None)))
    result = fit_physics(
        args.cell, experiments, [parse_param(p) for p in args.params], model=args.model,
        thermal=args.thermal, n_starts=args.starts, max_nfev=args.max_nfev, progress=True,
        gradient="finite differences" if args.finite_differences else "sensitivities",
        heat_of_mixing=heat_of_mixing,
    )
    print(result)
    if args.plot:
        result.plot(args.plot)
    if args.report:
        from .._atomic import write_text

        write_text(args.report, json.dumps(result.summary(), indent=1) + "\n")
    if not result.success:
        print("cellmodels: the fit did not converge; no parameter set written.")
        return 1
    path = save_fitted(result, args.cell, args.out)
    print(f"Wrote {path}")
    return 0


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``cellmodels fit`` on an argparse subparsers object."""
    from .physics import THERMAL_MODES  # the CLI already imports it (no extra start-up)

    p = sub.add_parser(
        "fit", help="fit physics parameters to measured data; write the fitted set",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cell", nargs="?", help="parameter set (shipped name or .json path)")
    p.add_argument("data", nargs="*", help="dataset specs (see above)")
    p.add_argument("--params", nargs="+", help="parameters to fit, NAME or NAME=LOW:HIGH")
    p.add_argument("-o", "--out", help="fitted parameter set to write (.json); its folder must exist")
    p.add_argument("--model", default="DFN", choices=("DFN", "SPMe", "SPM"))
    p.add_argument("--thermal", default="lumped", choices=THERMAL_MODES,
                   help="measured: the cell temperature follows each dataset's measured "
                        "temperature (isothermal model; --temperature is refused then)")
    p.add_argument("--temperature", action="store_true",
                   help="also fit measured temperature where a dataset has it")
    p.add_argument("--heat-of-mixing", default="off", choices=tuple(_HEAT_OF_MIXING),
                   help="heat of mixing in the lumped heat source: off (default), auto "
                        "(PyBaMM's, where the set's OCPs can be differentiated) or "
                        "quasi-steady (-I x particle concentration overpotential; needs "
                        "--thermal lumped; the shipped lgm50_fitted set was fitted with it)")
    p.add_argument("--starts", type=int, default=1, help="multi-start: number of starts")
    p.add_argument("--max-nfev", type=int, default=30, help="most evaluations per start")
    p.add_argument("--finite-differences", action="store_true",
                   help="Jacobian by finite differences instead of IDAKLU sensitivities")
    p.add_argument("--plot", help="PNG of model against data (its folder must exist)")
    p.add_argument("--report", help="JSON summary of the fit")
    p.add_argument("--list", action="store_true", help="list the fittable parameters")
    p.set_defaults(func=_cmd_fit)
    return p
