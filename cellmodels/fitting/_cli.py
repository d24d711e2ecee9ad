"""``cellmodels fit CELL DATA... --params ... -o fitted.json``.

DATA arguments are dataset specs (:mod:`cellmodels.fitting.datasets`): ``wmg-rate:T25:1C``,
``wmg-pulse:T25:SoC5:Cell1`` or a CSV with columns ``time_s,current_A,voltage_V[,
temperature_K]``, each with an optional ``@weight``. A ``--params`` item is a fittable
name (``cellmodels fit --list``) optionally followed by ``=LOW:HIGH`` bounds in SI units.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import replace
from pathlib import Path

from ..errors import DataError, InputError, check_range, suggest

__all__ = ["add_balance_parser", "add_parser", "parse_param"]

BALANCE_HELP = """``cellmodels fit-balance CELL DATA... -o fitted.json``: the electrode balance from OCV curves.

Fits both electrodes' active-material factors and the negative stoichiometry at 100 % SOC
of CELL to open-circuit (or slow pseudo-OCV) curves in seconds, with no DFN
(:func:`cellmodels.fitting.balance.fit_balance`), prints the fit and the degradation modes
relative to CELL (loss of active material of each electrode, loss of lithium inventory)
and writes the fitted set (its stoichiometry limits rewritten for the new balance).
Per curve a start charge, and for a curve with current a series resistance, are fitted
too; they belong to the record and are not written into the set.

DATA, each with an optional ``@weight`` suffix:

``wmg-ocv:T25``
    The WMG LG M50 mean OCV table at 25 degC (:func:`cellmodels.measured.wmg.read_ocv_table`;
    SOC basis: the 25 degC 0.1C discharge capacity, 4.9446 A.h).
``wmg-rate:T25:0p1C``, ``path/record.csv`` (``time_s,current_A,voltage_V[,temperature_K]``)
    A slow measured discharge as a pseudo-OCV (coulomb-counted charge; any spec ``cellmodels
    fit`` takes). A record without a temperature column needs ``--temperature-K``.
``path/table.csv`` with the columns ``charge_Ah,voltage_V[,temperature_K]``
    A relaxed OCV table: charge passed from any origin [A.h], discharge positive, and the
    rest voltage [V]; one temperature (column or ``--temperature-K``).

``--window LOW:HIGH`` keeps the points whose charge [A.h] (from a record's first sample,
from a table's top or on a CSV table's own axis) lies in it: leave a pseudo-OCV's
diffusion knee out.
"""


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


# ------------------------------------------------------------------ cellmodels fit-balance
_OCV_SPEC = re.compile(r"wmg-ocv:T(-?\d+(?:\.\d+)?)")
#: Columns of a CSV relaxed OCV table (the first two needed).
_TABLE_COLUMNS = ("charge_Ah", "voltage_V", "temperature_K")
#: Largest spread of a table's temperature column [K]: an OCV table is at one temperature.
_TABLE_T_SPREAD_K = 1.0
_DATA_FORMS = ("'wmg-ocv:T25', 'wmg-rate:T25:0p1C', a .csv "
               "record with columns time_s,current_A,voltage_V[,temperature_K] or a .csv OCV "
               "table with columns charge_Ah,voltage_V[,temperature_K]")


def _parse_window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise InputError(f"--window must read LOW:HIGH, charges in A.h. Got {text!r} "
                         "instead.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise InputError(f"--window LOW:HIGH needs finite charges with LOW < HIGH [A.h]. Got "
                         f"{text!r} instead.")
    return low, high


def _split_weight(spec: str) -> tuple[str, float]:
    if "@" not in spec:
        return spec, 1.0
    body, w = spec.rsplit("@", 1)
    try:
        weight = float(w)
    except ValueError:
        raise InputError(f"The weight after '@' in the DATA argument {spec!r} is not a "
                         "number.") from None
    check_range(weight, "weight", f"of the DATA argument {spec!r}", 0.0, math.inf)
    return body, weight


def _csv_header(path: Path) -> list[str]:
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            head = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the file ({exc}).") from None
    return [h.strip() for h in head]


def _ocv_table_csv(path: Path, weight: float, temperature_K: float | None):
    """A CSV relaxed OCV table (``charge_Ah,voltage_V[,temperature_K]``) as an OCVCurve."""
    import numpy as np

    from .balance import OCVCurve

    head = _csv_header(path)
    for h in head:
        if h not in _TABLE_COLUMNS:
            raise DataError(f"{path}: the header holds the column {h!r}; an OCV table's columns "
                            f"must be charge_Ah, voltage_V and optionally temperature_K (SI "
                            "units)." + suggest(h, _TABLE_COLUMNS))
    for c in _TABLE_COLUMNS[:2]:
        if c not in head:
            raise DataError(f"{path}: no column {c!r} in the header {head}.")
    if len(set(head)) != len(head):
        dup = next(h for h in head if head.count(h) > 1)
        raise DataError(f"{path}: the column {dup!r} appears twice in the header.")
    try:
        arr = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=float)
    except ValueError as exc:
        raise DataError(f"{path}: every field after the header must be a number ({exc}).") \
            from None
    if arr.shape[1] != len(head):
        raise DataError(f"{path}: the rows hold {arr.shape[1]} fields; the header has "
                        f"{len(head)}.")
    col = {h: arr[:, k] for k, h in enumerate(head)}
    if "temperature_K" in col:
        t = col["temperature_K"]
        if not np.all(np.isfinite(t)) or np.ptp(t) > _TABLE_T_SPREAD_K:
            raise DataError(f"{path}: an OCV table is at one temperature; its column "
                            f"'temperature_K' spans [{np.nanmin(t):g}, {np.nanmax(t):g}] K "
                            f"(more than {_TABLE_T_SPREAD_K:g} K, or not finite).")
        table_t = float(np.mean(t))
    elif temperature_K is None:
        raise InputError(f"The OCV table {path} has no temperature_K column: give "
                         "--temperature-K.")
    else:
        table_t = temperature_K
    return OCVCurve(name=path.stem, source=str(path), charge_Ah=col["charge_Ah"],
                    voltage_V=col["voltage_V"], current_A=np.zeros(arr.shape[0]),
                    temperature_K=table_t, weight=weight)


def _windowed(curve, window: tuple[float, float] | None, spec: str):
    import numpy as np

    if window is None:
        return curve
    keep = (curve.charge_Ah >= window[0]) & (curve.charge_Ah <= window[1])
    if keep.sum() < 3:
        raise InputError(f"--window {window[0]:g}:{window[1]:g} keeps {int(keep.sum())} points "
                         f"of {spec!r}, whose charge spans [{curve.charge_Ah.min():.4g}, "
                         f"{curve.charge_Ah.max():.4g}] A.h; it needs >= 3.")
    return replace(curve, charge_Ah=curve.charge_Ah[keep], voltage_V=curve.voltage_V[keep],
                   current_A=np.asarray(curve.current_A)[keep])


def curve_from_spec(spec: str, *, window: tuple[float, float] | None = None,
                    temperature_K: float | None = None):
    """The :class:`~cellmodels.fitting.balance.OCVCurve` a ``fit-balance`` DATA argument
    names (:data:`BALANCE_HELP`)."""
    from .balance import OCVCurve
    from .datasets import dataset_from_spec

    body, weight = _split_weight(spec)
    m = _OCV_SPEC.fullmatch(body)
    if m:
        from ..measured.wmg import read_ocv_table

        curve = replace(read_ocv_table(float(m.group(1))), weight=weight)
        return _windowed(curve, window, spec)
    is_csv = body.lower().endswith(".csv")
    if is_csv and Path(body).is_file() and "charge_Ah" in _csv_header(Path(body)):
        return _windowed(_ocv_table_csv(Path(body), weight, temperature_K), window, spec)
    if body.startswith("wmg-pulse:"):
        raise InputError(f"The DATA argument {spec!r} is a 10 s current pulse, not an OCV or a "
                         f"slow discharge: fit-balance reads {_DATA_FORMS}.")
    if not (is_csv or body.startswith("wmg-rate:")):
        raise InputError(f"Cannot read the DATA argument {spec!r}: expected {_DATA_FORMS}."
                         + suggest(body, ("wmg-ocv:T25", "wmg-rate:T25:0p1C")))
    ds, weight = dataset_from_spec(spec)
    if ds.temperature_K is None and temperature_K is None:
        raise InputError(f"The record {spec!r} ({ds.source}) has no temperature column: give "
                         "--temperature-K.")
    return OCVCurve.from_dataset(ds, weight=weight, charge_window_Ah=window,
                                 temperature_K=None if ds.temperature_K is not None
                                 else temperature_K)


def degradation_table(result) -> str:
    """``result.meta["degradation_modes"]`` of a :func:`fit_balance` result, to read."""
    m = result.meta["degradation_modes"]
    lam_n, lam_p = float(m["LAM_negative"]), float(m["LAM_positive"])
    cell = result.meta.get("cell", "the set")
    def ah(key, base):
        return f"{float(m[key]):8.4f} A.h  (set {float(base):.4f})"

    rows = [
        ("LAM_negative (loss of negative active material)", f"{100 * lam_n:8.2f} %"),
        ("LAM_positive (loss of positive active material)", f"{100 * lam_p:8.2f} %"),
        ("LLI (loss of lithium inventory)", f"{100 * float(m['LLI']):8.2f} %"),
        ("negative electrode capacity",
         ah("negative_capacity_Ah", float(m["negative_capacity_Ah"]) / (1.0 - lam_n))),
        ("positive electrode capacity",
         ah("positive_capacity_Ah", float(m["positive_capacity_Ah"]) / (1.0 - lam_p))),
        ("cyclable lithium", ah("cyclable_lithium_Ah", m["cyclable_lithium_base_Ah"])),
        ("capacity between the cut-offs",
         ah("capacity_between_cutoffs_Ah", m["capacity_between_cutoffs_base_Ah"])),
        ("stoichiometries at 100 % SOC (x100, y100)",
         f"{float(m['x100']):8.4f}, {float(m['y100']):.4f}"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join([f"Degradation modes relative to {cell}:"]
                     + [f"  {k:<{width}}  {v}" for k, v in rows])


def _cmd_fit_balance(args: argparse.Namespace) -> int:
    from .balance import fit_balance
    from .physics import save_fitted

    missing = [label for label, given in (
        ("CELL (a parameter set)", args.cell),
        ("at least one DATA (an OCV table or slow discharge)", args.data),
        ("-o (the fitted set to write)", args.out),
    ) if not given]
    if missing:
        raise InputError(f"cellmodels fit-balance needs CELL, at least one DATA and -o; "
                         f"missing: {', '.join(missing)}.")
    window = _parse_window(args.window)
    if args.temperature_K is not None:
        check_range(args.temperature_K, "--temperature-K", "of cellmodels fit-balance",
                    173.15, 473.15)
    if args.seed < 0:
        raise InputError(f"--seed must be an integer >= 0. Got {args.seed} instead.")
    _check_out_folders(args)  # before the fit, not after it
    curves = [curve_from_spec(spec, window=window, temperature_K=args.temperature_K)
              for spec in args.data]
    result = fit_balance(args.cell, curves, global_search=not args.local_only, seed=args.seed,
                         fit_offset=args.fit_offset)
    print(result)
    print(degradation_table(result))
    if args.plot:
        result.plot(args.plot, title=f"Electrode balance of {result.meta['cell']} "
                    f"({'fitted' if result.success else 'NOT A RESULT'})")
    if args.report:
        from .._atomic import write_text

        report = {**result.summary(), "cell": result.meta["cell"],
                  "nuisance": list(result.meta["nuisance"]),
                  "degradation_modes": {k: float(v) for k, v in
                                        result.meta["degradation_modes"].items()},
                  "datasets": result.meta["datasets"]}
        write_text(args.report, json.dumps(report, indent=1) + "\n")
    if not result.success:
        print(f"cellmodels: the balance fit did not succeed ({result.message}); no parameter "
              "set written.")
        return 1
    path = save_fitted(result, args.cell, args.out)
    print(f"Wrote {path}")
    return 0


def add_balance_parser(sub) -> argparse.ArgumentParser:
    """Register ``cellmodels fit-balance`` on an argparse subparsers object."""
    p = sub.add_parser(
        "fit-balance", help="fit the electrode balance to OCV curves (seconds); write the set",
        description=BALANCE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cell", nargs="?", help="parameter set (shipped name or .json path)")
    p.add_argument("data", nargs="*", help="OCV tables or slow discharges (see above)")
    p.add_argument("-o", "--out", help="fitted parameter set to write (.json); its folder must exist")
    p.add_argument("--window", metavar="LOW:HIGH",
                   help="keep the points whose charge passed [A.h] lies in LOW:HIGH")
    p.add_argument("--temperature-K", type=float, default=None,
                   help="temperature [K] of DATA without a temperature column")
    p.add_argument("--local-only", action="store_true",
                   help="skip the global search: the local fit from the set's balance only")
    p.add_argument("--seed", type=int, default=0, help="seed of the global search (default 0)")
    p.add_argument("--fit-offset", action="store_true",
                   help="also fit a voltage offset per OCV table (one branch of a hysteretic "
                        "OCV, e.g. LFP; a probe offset)")
    p.add_argument("--plot", help="PNG of model against data (its folder must exist)")
    p.add_argument("--report", help="JSON summary of the fit and the degradation modes")
    p.set_defaults(func=_cmd_fit_balance)
    return p
