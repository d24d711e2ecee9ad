"""``cellmodels life``: project the life of a UPS string (HDF5 result and a PNG)."""

from __future__ import annotations

import argparse
import math


def _cmd_life(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    from ..dutycycles import load_profile
    from ..reduction import load_ecm
    from ..ups import load_config
    from .jump import project_life

    ecm = load_ecm(args.ecm)
    profile = load_profile(args.profile)
    config = load_config(args.config)
    out = Path(args.out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = project_life(ecm, config, profile, years=args.years, model=args.model,
                           dt_s=args.dt, eol_capacity=args.eol_capacity,
                           tolerance=args.tolerance, micro_weight=args.micro_weight,
                           output=out, progress=True)
    png = res.plot(out.with_suffix(".png"))
    print(f"Wrote {out} and {png}")
    end = float(res.time_years[-1])
    stopped = str(res.info.get("stopped", ""))
    if stopped and stopped != "reached years":
        print(f"  stopped: {stopped} at {end:.3g} years (asked for {args.years:g})")
    q = res.capacity_fraction[-1]
    print(f"  after {end:.3g} years: capacity {q:.2%}, resistance x"
          f"{res.resistance_factor[-1]:.3f}, {res.efc[-1]:.4g} equivalent full cycles")
    for label, v in (("80 % capacity" if args.eol_capacity == 0.8
                      else f"{args.eol_capacity:.0%} capacity", res.eol_capacity_years),
                     ("UPS capability", res.eol_capability_years)):
        print(f"  end of life ({label}): " + (f"{v:.3g} years" if math.isfinite(v)
                                             else f"not reached in {end:.3g} years"))
    if res.eol_capability_reason:
        print(f"    {res.eol_capability_reason}")
    print(f"  {res.info['windows_simulated']} windows simulated in {res.info['wall_s']:.1f} s")
    notes = dict.fromkeys(str(c.message).split(" Source:")[0] for c in caught)
    if notes:
        print(f"  {len(notes)} note(s) on the model's validity (also in the file):")
        for note in notes:
            print(f"  - {note}")
    return 0


def add_parser(sub) -> None:
    """Register ``cellmodels life`` on an argparse subparsers object."""
    p = sub.add_parser("life", help="project the life of a UPS string under a repeated load "
                                    "window (cycle jumping): HDF5 and a PNG")
    p.add_argument("--ecm", required=True, help="ECM file (.ecm.h5) of the fresh cell")
    p.add_argument("--profile", required=True, help="the representative window (.h5 profile)")
    p.add_argument("--config", required=True, help="UPS configuration (TOML)")
    p.add_argument("--years", type=float, default=15.0, help="years to project (default 15)")
    p.add_argument("--model", default=None,
                   help="ageing model: a name (cellmodels.life.available_models()) or a JSON "
                        "file (default by the ECM's chemistry)")
    p.add_argument("--dt", type=float, default=None, help="step [s] (default: the profile's)")
    p.add_argument("--eol-capacity", type=float, default=0.8,
                   help="capacity fraction that ends life (default 0.8)")
    p.add_argument("--tolerance", type=float, default=1e-3,
                   help="local error per jump (capacity, relative resistance)")
    p.add_argument("--micro-weight", type=float, default=None,
                   help="override the micro-cycle weight w in [0, 1] (Soto 2022: 0 to 2/3)")
    p.add_argument("-o", "--out", required=True, help="result file (.h5); PNG beside it")
    p.set_defaults(func=_cmd_life)
