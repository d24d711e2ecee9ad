"""PNG figures of a study: temperature maps for heating, capacity and resistance against
years for life. Written atomically beside the study file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._atomic import atomic_path

__all__ = ["plot_study"]

_DEPTH_KEYS = ("heating.swing_depth", "heating.swing_C_rate")


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def _value_ticks(ax, xs, ys) -> None:
    """Ticks at the grid's own values (log axes with few values get cluttered otherwise)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    for axis, vals in ((ax.xaxis, xs), (ax.yaxis, ys)):
        if vals is None or len(vals) > 12 or None in vals:
            continue
        axis.set_major_locator(FixedLocator(vals))
        axis.set_major_formatter(lambda v, _pos: f"{v:g}")
        axis.set_minor_locator(NullLocator())
        axis.set_minor_formatter(NullFormatter())


def _slug(text: str) -> str:
    name = Path(text).name
    for suffix in (".ecm.h5", ".h5"):
        name = name.removesuffix(suffix)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def plot_study(results, prefix: str | Path) -> list[Path]:
    """Figures of a :class:`~cellmodels.studies.store.StudyResults`; returns their paths
    (``<prefix>_<cell>.png`` for heating, ``<prefix>_life.png`` for life)."""
    import matplotlib

    matplotlib.use("Agg")
    if results.kind == "heating":
        return _plot_heating(results, Path(prefix))
    return _plot_life(results, Path(prefix))


def _plot_heating(results, prefix: Path) -> list[Path]:
    """One figure per cell: mean temperature rise over swing depth (or C-rate) x period,
    one panel per cooling value; other axes at their first value (named in the title)."""
    import matplotlib.pyplot as plt

    out = []
    by_cell: dict[str, list] = {}
    for p in results.points.values():
        by_cell.setdefault(p.cell, []).append(p)
    for cell, points in by_cell.items():
        coords = [p.coords for p in points]
        names = sorted({k for c in coords for k in c})
        ykey = next((k for k in _DEPTH_KEYS if k in names), None)
        xkey = "heating.period_s" if "heating.period_s" in names else None
        pkey = "heating.heat_transfer_W_per_K" if "heating.heat_transfer_W_per_K" in names \
            else None
        others = [k for k in names if k not in (xkey, ykey, pkey)]
        fixed = {k: min(c[k] for c in coords if k in c) for k in others}
        sel = [p for p in points if all(p.coords.get(k) == v for k, v in fixed.items())]
        panels = sorted({p.coords.get(pkey) for p in sel}) if pkey else [None]
        xs = sorted({p.coords.get(xkey) for p in sel}) if xkey else [None]
        ys = sorted({p.coords.get(ykey) for p in sel}) if ykey else [None]
        fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels) + 1.4, 3.6),
                                 squeeze=False, sharey=True, constrained_layout=True)
        grids = []
        for panel in panels:
            z = np.full((len(ys), len(xs)), np.nan)
            for p in sel:
                if p.coords.get(pkey) == panel and p.ok:
                    z[ys.index(p.coords.get(ykey)), xs.index(p.coords.get(xkey))] = \
                        p.values["rise_K"]
            grids.append(z)
        finite = np.concatenate([g[np.isfinite(g)] for g in grids])
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0, 1)
        from matplotlib.colors import LogNorm, Normalize

        # rises span decades over a depth x period grid (heat ~ current squared)
        norm = LogNorm(vmin, vmax) if vmin > 0 and vmax > 30 * vmin else Normalize(vmin, vmax)
        mesh = None
        for ax, panel, z in zip(axes[0], panels, grids):
            if len(xs) > 1 and len(ys) > 1:
                mesh = ax.pcolormesh(xs, ys, z, shading="nearest", norm=norm, cmap="inferno")
                ax.set_xscale("log")
                ax.set_yscale("log")
                _value_ticks(ax, xs, ys)
            else:
                line_x = xs if len(xs) > 1 else ys
                ax.plot(line_x, z.ravel(), "o-")
                ax.set_xscale("log")
                _value_ticks(ax, line_x, None)
            for p in sel:
                if p.coords.get(pkey) != panel:
                    continue
                at = (p.coords.get(xkey, 1.0), p.coords.get(ykey, 1.0))
                if not p.ok:  # failed points: a cross, so a gap is never silent
                    ax.plot(*at, "cx", ms=7)
                elif p.values.get("within_limit", 1.0) < 1:  # beyond the cell's window
                    ax.plot(*at, "w+", ms=7)
            ax.set_xlabel("swing period [s]" if xkey else (ykey or ""))
            if pkey:
                ax.set_title(f"hA = {panel:g} W/K", fontsize=9)
        ylab = {"heating.swing_depth": "swing depth [1]",
                "heating.swing_C_rate": "swing discharge rate [C]"}.get(ykey, "rise [K]")
        axes[0, 0].set_ylabel(ylab)
        if mesh is not None:
            fig.colorbar(mesh, ax=axes[0, -1], label="mean temperature rise [K]")
        n_fail = sum(not p.ok for p in sel)
        n_hot = sum(p.ok and p.values.get("within_limit", 1.0) < 1 for p in sel)
        extra = ", ".join(f"{k.split('.', 1)[-1]} = {v}" for k, v in fixed.items())
        notes = [f"{n_fail} failed (x)" if n_fail else "",
                 f"{n_hot} above the cell's temperature limit (+)" if n_hot else ""]
        notes = "; ".join(n for n in notes if n)
        fig.suptitle(f"{results.name}: {_slug(cell)}" + (f" ({extra})" if extra else "")
                     + (f"\n{notes}" if notes else ""), fontsize=9)
        out.append(_save(fig, prefix.with_name(f"{prefix.name}_{_slug(cell)}.png")))
    return out


def _plot_life(results, prefix: Path) -> list[Path]:
    """Capacity and resistance (relative to the fresh cell) against years, one line per
    finished point; end-of-life markers where reached."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(9, 7), sharex=True, constrained_layout=True)
    points = list(results.points.values())
    varying = [k for k in sorted({k for p in points for k in p.coords})
               if len({json.dumps(p.coords.get(k)) for p in points}) > 1]
    n_fail = 0
    for p in points:
        if not p.ok:
            n_fail += 1
            continue
        label = ", ".join(f"{k.split('.')[-1]}={p.coords[k]}" for k in varying
                          if k in p.coords)
        if len(results.cells) > 1:
            label = f"{_slug(p.cell)} {label}".strip()
        t = p.arrays["time_years"]
        (line,) = axes[0].plot(t, p.arrays["capacity_fraction"], label=label or _slug(p.cell))
        axes[1].plot(t, p.arrays["resistance_factor"], color=line.get_color())
        eol = p.values.get("eol_capacity_years", np.nan)
        if np.isfinite(eol):
            axes[0].plot(eol, np.interp(eol, t, p.arrays["capacity_fraction"]), "o",
                         color=line.get_color())
        eol = p.values.get("eol_capability_years", np.nan)
        if np.isfinite(eol):
            axes[0].axvline(eol, color=line.get_color(), ls=":", lw=1)
    axes[0].set_ylabel("capacity / initial")
    axes[1].set_ylabel("DC resistance / initial")
    axes[1].set_xlabel("years in service")
    for ax in axes:
        ax.grid(alpha=0.3)
    if axes[0].lines:
        axes[0].legend(fontsize=7)
    fig.suptitle(f"{results.name}: life (o: 80 % capacity end of life; dotted: UPS "
                 "capability end of life)" + (f"\n{n_fail} failed points not drawn (see the "
                                               "study file)" if n_fail else ""), fontsize=9)
    return [_save(fig, prefix.with_name(f"{prefix.name}_life.png"))]
