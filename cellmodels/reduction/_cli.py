"""``cellmodels reduce CELL -o cell.ecm.h5``: identify an ECM from a cell's physics model.

The command line of :class:`~cellmodels.reduction.identify.ECMIdentifier`. Its flags are
checked here, in the units they are given in (degC, volts), and named as flags.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "summary"]


def _refuse(message: str) -> int:
    print(f"cellmodels reduce: {message}", file=sys.stderr)
    return 2


def _cmd_reduce(args: argparse.Namespace) -> int:
    import numpy as np

    from .._atomic import out_folder_problem
    from .identify import ECMIdentifier
    from .io import save_ecm

    problem = out_folder_problem(args.out)  # before the identification, not after it
    if problem:
        return _refuse(problem)
    if args.temperatures is not None and not args.temperatures:
        return _refuse("--temperatures takes at least one temperature [degC]; got none "
                       "(leave the flag out for the default grid).")
    if not 1e-3 <= args.rest <= 36000.0:  # ECMIdentifier's range for rest_s
        return _refuse(f"--rest must be in [0.001, 36000] s (the rest after the "
                       f"identification sequence); got {args.rest:g}.")
    kwargs = {"n_rc": args.n_rc, "model": args.model, "amplitude": args.amplitude,
              "current_dependence": args.current_dependence, "rest_s": args.rest,
              "centre_soc": args.centre_soc, "beyond_validity_K": args.beyond_validity,
              "shared_tau": not args.per_point_tau}
    if args.cutoff_margin is not None:
        margin = args.cutoff_margin
        if len(margin) not in (1, 2):
            return _refuse(f"--cutoff-margin takes one value (both cut-offs) or two (lower, "
                           f"upper) [V]; got {len(margin)}: "
                           f"{' '.join(f'{m:g}' for m in margin)}.")
        for m in margin:
            if not 0.0 <= m <= 1.0:  # ECMIdentifier's range for cutoff_margin_V
                return _refuse(f"--cutoff-margin must be in [0, 1] V (how far inside the "
                               f"voltage cut-offs the sequence stays); got {m:g}.")
        kwargs["cutoff_margin_V"] = margin[0] if len(margin) == 1 else tuple(margin)
    if args.temperatures:
        # checked here in degC, as given: the identifier would name its own field in kelvin
        from ..physics.cells import load_cell

        cell = load_cell(args.cell)
        lo, hi = (t - 273.15 for t in cell.temperature_range_K)
        widen = max(args.beyond_validity, 0.0)
        for t in args.temperatures:
            if not lo - widen <= t <= hi + widen:
                extra = (f" (the cell's validity range widened by --beyond-validity "
                         f"{widen:g} K)" if widen else "; --beyond-validity K widens it")
                return _refuse(f"--temperatures must lie in [{lo - widen:g}, "
                               f"{hi + widen:g}] degC for cell {cell.name}{extra}; got "
                               f"{t:g} degC.")
        if any(b <= a for a, b in zip(args.temperatures, args.temperatures[1:])):
            return _refuse(f"--temperatures must increase; got "
                           f"{' '.join(f'{t:g}' for t in args.temperatures)} degC.")
        kwargs["temperature_K"] = [t + 273.15 for t in args.temperatures]
    if args.soc_points is not None:
        if not 2 <= args.soc_points <= 201:
            return _refuse(f"--soc-points must be an integer in [2, 201]; got "
                           f"{args.soc_points}.")
        kwargs["soc"] = tuple(np.round(np.linspace(0.05, 0.95, args.soc_points), 6))
    ident = ECMIdentifier(**kwargs).fit(args.cell, progress=True)
    path = save_ecm(ident.ecm_, args.out)
    print(summary(ident, path))
    return 0


def summary(ident, path) -> str:
    """The lines ``cellmodels reduce`` prints for a fitted identifier written to ``path``."""
    e = ident.ecm_
    table = getattr(ident, "fit_table_", None) or []
    worst = max(table, key=lambda r: r["rmse_V"]) if table else None
    where = (f" (at SOC {worst['soc']:g}, {worst['temperature_K'] - 273.15:g} degC)"
             if worst else "")
    lines = [(
        f"Wrote {path}: {e.name}, {e.capacity_Ah:.4g} Ah, {e.n_rc} RC, SOC "
        f"{e.validity['soc_min']:g}-{e.validity['soc_max']:g}, "
        f"{e.validity['temperature_min_K'] - 273.15:g}-"
        f"{e.validity['temperature_max_K'] - 273.15:g} degC; identification RMSE "
        f"mean {e.error['identification_rmse_V_mean'] * 1e3:.2f} mV, max "
        f"{e.error['identification_rmse_V_max'] * 1e3:.2f} mV{where} "
        f"({ident.seconds_:.1f} s).")]
    if e.has_hysteresis:
        lines.append(
            f"OCV hysteresis: half-gap {e.hysteresis_V.min() * 1e3:.3g}-"
            f"{e.hysteresis_V.max() * 1e3:.3g} mV, rate {e.hysteresis_rate:.4g} per unit SOC, "
            f"initial state {e.hysteresis_initial:g} (-1 discharge, +1 charge branch).")
    return "\n".join(lines)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``cellmodels reduce`` on an argparse subparsers object."""
    p = sub.add_parser("reduce", help="identify an ECM from a cell's physics model",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cell", help="parameter-set name or path to a JSON file")
    p.add_argument("-o", "--out", required=True,
                   help="ECM file to write (.ecm.h5); its folder must exist")
    p.add_argument("--n-rc", type=int, default=2, help="number of RC pairs (default 2)")
    p.add_argument("--model", default="DFN", choices=["DFN", "SPMe", "SPM"])
    p.add_argument("--current-dependence", default="none", choices=["none", "butler-volmer"],
                   help="R0's current dependence: none (linear ECM) or the charge-transfer "
                        "element 2 I0 R_ct asinh(I / 2 I0)")
    p.add_argument("--amplitude", type=float, default=1.0,
                   help="scale of the identification sequence's currents (default 1)")
    p.add_argument("--temperatures", type=float, nargs="*", default=None,
                   help="identification temperatures [degC] (default: 4 across the range)")
    p.add_argument("--rest", type=float, default=120.0,
                   help="rest after the identification sequence [s] (default 120); a long "
                        "rest (e.g. 900) lets the slowest RC pair see solid diffusion")
    p.add_argument("--centre-soc", action="store_true",
                   help="centre each grid point's sequence on its SOC")
    p.add_argument("--soc-points", type=int, default=None,
                   help="SOC grid points, evenly over 0.05-0.95 (default 11)")
    p.add_argument("--beyond-validity", type=float, default=0.0,
                   help="how far [K] the temperature grid may extend past the cell's "
                        "validity range (default 0)")
    p.add_argument("--cutoff-margin", type=float, nargs="+", default=None, metavar="V",
                   help="keep the sequence this far inside the voltage cut-offs [V], each in "
                        "[0, 1]: one value for both or two (lower, upper); default 0 (up to "
                        "them). Keeps the fit out of the knee at the SOC range's ends "
                        "(small-signal / impedance use, with --per-point-tau)")
    p.add_argument("--per-point-tau", action="store_true",
                   help="fit the time constants at each grid point (shared_tau=False) "
                        "instead of sharing them over SOC at a temperature (the default): "
                        "closer where the dynamics change with SOC, e.g. for impedance use")
    p.set_defaults(func=_cmd_reduce)
    return p
