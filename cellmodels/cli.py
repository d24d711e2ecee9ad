"""The ``cellmodels`` command: one subcommand per pipeline stage."""

from __future__ import annotations

import argparse
import sys

from .errors import CellModelsError

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def _eng(value: float, unit: str, digits: int = 4) -> str:
    """``value`` with an engineering prefix at and above 1e3 (``1.25e6, "W"`` -> "1.25 MW")."""
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}".rstrip()


def _eng_range(lo: float, hi: float, unit: str) -> str:
    """A range on one prefix, three significant digits on the larger end: "0.20-1.00 MW"."""
    import math

    top = max(abs(lo), abs(hi))
    scale, prefix = next(((s, p) for s, p in _PREFIXES if top >= s), (1.0, ""))
    a, b = lo / scale, hi / scale
    decimals = max(0, 2 - math.floor(math.log10(max(abs(a), abs(b))))) if top > 0 else 0
    sep = " to " if a < 0 or b < 0 else "-"
    return f"{a:.{decimals}f}{sep}{b:.{decimals}f} {prefix}{unit}"


def _unit_of(key: str, parent: str = "") -> tuple[str, float, float]:
    """(unit, scale, offset) for a metric key by its suffix, else its parent's."""
    for k in (key, parent):
        for tail in ("_max", "_min", "_mean"):  # cell_rms_current_A_max: amperes
            k = k.removesuffix(tail)
        for suffix, unit in (("_W_per_s", "W/s"), ("_A2s", "A2.s"), ("_As", "A.s"),
                             ("_Ah", "Ah"), ("_W", "W"), ("_J", "J"), ("_A", "A"),
                             ("_s", "s")):
            if k.endswith(suffix):
                return unit, 1.0, 0.0
        if k.endswith("_K"):
            return "degC", 1.0, -273.15
        if k == "efficiency":
            return "%", 100.0, 0.0
        if k.endswith("_per_day"):
            return "/day", 1.0, 0.0
        if k == "oscillation_reduction":
            return "x", 1.0, 0.0
    return "", 1.0, 0.0


def _metric(key: str, value, parent: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    unit, scale, offset = _unit_of(key, parent)
    if unit == "%":
        return f"{value * scale:.2f} %"
    if unit == "A2.s":
        return f"{value:.4g} A2.s"
    if unit in ("degC", "/day", "x", ""):
        return f"{value * scale + offset:.4g}{'' if unit in ('', 'x') else ' '}{unit}".rstrip()
    return _eng(value * scale + offset, unit)


def ups_summary(metrics: dict) -> str:
    """``UPSResult.metrics()`` as lines to read: 4 significant digits with units, nested
    tables indented, BMS limits only where they acted."""
    lines = []
    for key in sorted(metrics):
        value = metrics[key]
        if key == "limits":
            acted = {name: v for name, v in value.items() if v.get("activations")}
            lines.append("  limits: " + ("none acted" if not acted else ""))
            for name, v in sorted(acted.items()):
                lines.append(f"    {name}: {v['activations']} activation(s), "
                             f"{_eng(float(v['duration_s']), 's')}, "
                             f"{_eng(float(v['energy_J']), 'J')} held back")
        elif isinstance(value, dict):
            lines.append(f"  {key}:")
            lines += [f"    {k}: {_metric(k, v, key)}" for k, v in sorted(value.items())]
        elif isinstance(value, (list, tuple)):
            lines.append(f"  {key}: " + "-".join(f"{v:.4g}" for v in value))
        else:
            lines.append(f"  {key}: {_metric(key, value)}")
    return "\n".join(lines)


def _cmd_cells(args: argparse.Namespace) -> int:
    from .dcr import cells_table

    print(cells_table(duration_s=args.duration))
    return 0


def _cmd_dcr(args: argparse.Namespace) -> int:
    from .dcr import dcr_map_report

    if not 0.0 < args.c_rate <= 100.0:
        print(f"cellmodels dcr: --c-rate must be in (0, 100] (a discharge pulse of that many "
              f"times the cell's capacity); got {args.c_rate:g}.", file=sys.stderr)
        return 2
    print(dcr_map_report(args.cell, out=args.out, c_rate=args.c_rate))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(out=args.out)
    return 0


def _cmd_dutycycle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .dutycycles import make_profile, plot_profile, save_profile

    profile = make_profile(args.config)
    out = Path(args.out)
    path = save_profile(profile, out)
    png = plot_profile(profile, out.with_suffix(".png"))
    total = (_eng(profile.energy_Wh, "Wh") if profile.quantity == "power_W"
             else _eng(profile.charge_Ah, "Ah"))
    print(f"Wrote {path}: {profile.name}, {profile.duration_s:g} s in {profile.n_segments} "
          f"steps, {_eng_range(float(profile.values.min()), float(profile.values.max()), profile.unit)}, "
          f"{total}; figure {png}")
    return 0


def _cmd_ups(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .dutycycles import load_profile
    from .reduction import load_ecm
    from .ups import load_config, simulate_ups

    ecm = load_ecm(args.ecm)
    profile = load_profile(args.profile)
    config = load_config(args.config)
    result = simulate_ups(ecm, profile, config, dt_s=args.dt, progress=True,
                          full_resolution=args.full or None)
    out = Path(args.out)
    path = result.save(out)
    png = plot_ups_summary(result, out.with_suffix(".png"))
    print(f"Wrote {path} and {png} (every figure in full precision in the file)")
    print(ups_summary(result.metrics()))
    return 0


def plot_ups_summary(result, path):
    """PNG: load and grid power, battery current, peak cell temperature (bin min/max/mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._atomic import atomic_path

    span = float(result.time_s[-1]) if len(result.time_s) else 0.0
    scale, unit = (3600.0, "h") if span > 7200 else (1.0, "s")
    t = result.time_s / scale
    d = result.decimated
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    for name, label in (("load_W", "load"), ("grid_W", "grid")):
        axes[0].fill_between(t, d[name][:, 0] / 1e3, d[name][:, 1] / 1e3, alpha=0.3)
        axes[0].plot(t, d[name][:, 2] / 1e3, lw=0.8, label=f"{label} (bin mean; band min-max)")
    axes[0].set_ylabel("power [kW]")
    axes[0].legend(fontsize=8)
    axes[1].fill_between(t, d["current_A"][:, 0], d["current_A"][:, 1], alpha=0.3)
    axes[1].plot(t, d["current_A"][:, 2], lw=0.8)
    axes[1].set_ylabel("battery current [A]")
    axes[2].plot(t, d["temperature_max_K"][:, 1] - 273.15, lw=0.8)
    axes[2].set_ylabel("peak cell temperature [degC]")
    axes[2].set_xlabel(f"time [{unit}]")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


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
    p.add_argument("-o", "--out", default="out",
                   help="folder for the table and PNG (default: out, in the working folder)")
    p.add_argument("--c-rate", type=float, default=1.0,
                   help="pulse current in C-rate, in (0, 100] (default 1)")
    p.set_defaults(func=_cmd_dcr)

    demo_help = ("the main job in five steps: 1 every cell's DCR; 2 the reference cell's "
                 "DCR map and loss breakdown at 1C and 5C; 3 its ECM (and FMU), checked "
                 "against the DFN; 4 a 1 MW UPS at 1 ms, smoothing off and on; 5 heating "
                 "map and 15-year life")
    p = sub.add_parser("demo", help=demo_help, description=f"cellmodels demo: {demo_help}.")
    p.add_argument("-o", "--out", default="out",
                   help="folder for figures, tables, ECM, FMU and results (default: out, "
                        "created in the working folder)")
    p.set_defaults(func=_cmd_demo)

    from .export._cli import add_parser as add_export_parser
    from .reduction._cli import add_parser as add_reduce_parser

    add_reduce_parser(sub)
    add_export_parser(sub)

    p = sub.add_parser("dutycycle", help="generate or import a load profile: HDF5 and a PNG")
    p.add_argument("config", help='TOML file: generator settings, or generator = "trace"')
    p.add_argument("-o", "--out", required=True, help="profile file to write (.h5); PNG beside it")
    p.set_defaults(func=_cmd_dutycycle)

    p = sub.add_parser("ups", help="run the UPS on a load profile with the reduced cell")
    p.add_argument("--ecm", required=True, help="ECM file (.ecm.h5)")
    p.add_argument("--profile", required=True, help="load profile (.h5 from dutycycle)")
    p.add_argument("--config", required=True, help="UPS configuration (TOML)")
    p.add_argument("-o", "--out", required=True, help="result file to write (.h5); PNG beside")
    p.add_argument("--dt", type=float, default=None, help="step [s] (default: the profile's)")
    p.add_argument("--full", action="store_true", help="keep every step, not only bins")
    p.set_defaults(func=_cmd_ups)

    from .fitting._cli import add_balance_parser
    from .fitting._cli import add_parser as add_fit_parser
    from .fitting.ecm_hppc import add_parser as add_fit_ecm_parser
    from .life._cli import add_parser as add_life_parser
    from .studies._cli import add_parser as add_study_parser

    add_fit_parser(sub)
    add_fit_ecm_parser(sub)
    add_balance_parser(sub)
    add_life_parser(sub)
    add_study_parser(sub)

    p = sub.add_parser("validate", help="run validation cases, write validation/REPORT.md")
    p.add_argument("--dir", default="validation", help="the repository's validation folder")
    p.add_argument("--only", nargs="*", default=None, help="case names to run")
    p.add_argument("--fast", action="store_true", help="only the cases the tests also run")
    p.set_defaults(func=_cmd_validate)
    return parser


#: Options whose value may start with '-' (a negative LOW of LOW:HIGH), which argparse would
#: otherwise read as another option ("expected one argument").
_RANGE_OPTIONS = ("--window",)


def _join_range_values(argv: list[str]) -> list[str]:
    """``--window -0.2:4.6`` -> ``--window=-0.2:4.6``, so argparse takes it as the value."""
    out: list[str] = []
    k = 0
    while k < len(argv):
        a = argv[k]
        if a in _RANGE_OPTIONS and k + 1 < len(argv) and argv[k + 1].startswith("-") \
                and ":" in argv[k + 1]:
            out.append(f"{a}={argv[k + 1]}")
            k += 2
            continue
        out.append(a)
        k += 1
    return out


def main(argv: list[str] | None = None) -> int:
    argv = _join_range_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CellModelsError as exc:
        print(f"cellmodels: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
