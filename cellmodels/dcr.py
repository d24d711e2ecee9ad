"""DC resistance from the physics: pulse DCR over SOC x temperature x duration, and the
loss breakdown that says which resistance to attack.

DCR at time t of a constant-current discharge pulse of current I from rest is
``(V_rest - V(t)) / I``, with ``V_rest`` the open-circuit voltage before the pulse. The
figure of merit is DCR x capacity [mOhm.Ah] at 10 s, 50 % SOC, 25 degC: it does not
depend on the cell's size (DESIGN.md section 2).

The breakdown splits ``V_rest - V(t)`` into PyBaMM's overpotentials, each divided by I:

========================  =====================================================
contact                   tabs, current collectors and contacts (series)
solid_ohmic               electronic conduction in the electrodes
electrolyte_ohmic         ionic conduction in the electrolyte (or gel)
charge_transfer           Butler-Volmer kinetics (wetted area, exchange current)
film                      interphase film (gel/SEI/CEI) resistance
solid_diffusion           lithium concentration gradient in the particles
electrolyte_concentration salt concentration gradient (diffusion, transference)
ocv_shift                 the open-circuit voltage falling as charge is drawn
other                     what PyBaMM's x-averaged terms leave over (DFN only)
========================  =====================================================
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._atomic import atomic_path
from .errors import CutoffError, DataError, InputError, SolverError, check_range
from .physics.cells import Cell, available_cells, load_cell
from .physics.models import LOSS_VARIABLES, build_model

__all__ = [
    "DURATIONS_S",
    "DCRMap",
    "PulseEngine",
    "cells_table",
    "dcr_map",
    "dcr_map_report",
    "pulse_dcr",
]

#: The four durations the package reports DCR at [s].
DURATIONS_S: tuple[float, ...] = (1e-3, 0.1, 1.0, 10.0)
COMPONENTS: tuple[str, ...] = (
    "contact",
    "solid_ohmic",
    "electrolyte_ohmic",
    "charge_transfer",
    "film",
    "solid_diffusion",
    "electrolyte_concentration",
    "ocv_shift",
    "other",
)


_LOSS_SIGN = {"contact": 1.0}


class PulseEngine:
    """One discretised model of a cell, solved for many pulses.

    The current, the pulse length and the temperature are PyBaMM input parameters, so
    the model is built and discretised once; each pulse only resets the initial state
    (SOC) and solves. The current is ``I`` for ``t < t_off`` and zero after (a pulse and
    its relaxation); the solver restarts at ``t_off``, so the edge is exact.
    """

    def __init__(
        self,
        cell: Cell,
        model: str = "DFN",
        *,
        thermal: str = "lumped",
        var_pts: dict | None = None,
        rtol: float = 1e-6,
        atol: float = 1e-6,  # 1e-8 makes IDA fail its error test at current edges
        profile: tuple | None = None,
    ) -> None:
        import pybamm

        from .physics.simulate import piecewise_constant

        self.cell = cell
        self.model_name = model
        pv = cell.parameter_values()
        if profile is None:
            shape = pybamm.t < pybamm.InputParameter("Pulse end [s]")
            self.edges = np.array([])
        else:
            # a fixed zero-order-hold shape (time_s, values), scaled by the input current
            shape, self.edges = piecewise_constant(profile[0], profile[1], "Current shape")
        pv.update(
            {
                "Current function [A]": pybamm.InputParameter("Current [A]") * shape,
                "Ambient temperature [K]": pybamm.InputParameter("Temperature [K]"),
                "Initial temperature [K]": pybamm.InputParameter("Temperature [K]"),
            },
            check_already_exists=False,
        )
        self.model = build_model(cell, model, thermal=thermal)
        names = set(self.model.variables.keys())
        self.loss_names = {k[:-2]: v for k, v in LOSS_VARIABLES.items() if v in names}
        outputs = [
            "Voltage [V]",
            "Battery open-circuit voltage [V]",
            "Volume-averaged cell temperature [K]",
            *self.loss_names.values(),
        ]
        self.sim = pybamm.Simulation(
            self.model,
            parameter_values=pv,
            solver=pybamm.IDAKLUSolver(rtol=rtol, atol=atol, output_variables=outputs),
            var_pts=var_pts,
        )

    def solve(self, soc: float, temperature_K: float, current_A: float, t_end_s: float,
              t_out_s, t_off_s: float | None = None):
        """Solve one pulse (``current_A`` until ``t_off_s``, then rest) to ``t_end_s``.

        Returns the PyBaMM solution at ``t_out_s``; raises :class:`SolverError` if the
        solve fails or stops early (a voltage cut-off), naming the state reached.
        """
        import pybamm

        t_off = float(t_end_s) * 2 + 1.0 if t_off_s is None else float(t_off_s)
        inputs = {"Current [A]": float(current_A), "Temperature [K]": float(temperature_K),
                  "Pulse end [s]": t_off}
        from .physics.simulate import EDGE_S

        t_out = np.unique(np.clip(np.asarray(t_out_s, dtype=float), 0.0, t_end_s))
        if self.edges.size:
            # A fixed shape: stop only at both ends of every ramp (so each edge is exact)
            # and interpolate the outputs from the solver's dense output.
            e = self.edges[self.edges < t_end_s]
            t_eval = np.unique(np.concatenate([[0.0, float(t_end_s)], e - EDGE_S, e]))
            t_interp = t_out
        else:
            # A pulse: PyBaMM splits the solve at the pulse end (a discontinuity it finds
            # from the input) and then cannot take a t_interp, so the output times double
            # as t_eval.
            t_eval = np.unique(np.concatenate([[0.0, float(t_end_s)], t_out]))
            t_interp = None
        what = (f"pulse of cell {self.cell.name} at SOC {soc}, {temperature_K} K, "
                f"{current_A} A")
        try:
            sol = self.sim.solve(t_eval, t_interp=t_interp, inputs=inputs,
                                 initial_soc=float(soc))
        except pybamm.SolverError as exc:
            raise SolverError(f"The {what} failed: {exc}") from exc
        if sol.termination != "final time":
            t = sol["Time [s]"].entries
            v = sol["Voltage [V]"].entries[-1]
            raise CutoffError(
                f"The {what} stopped at t = {t[-1]:.4g} s of {t_end_s:g} s "
                f"({sol.termination}; voltage {v:.4f} V). Lower the current or start at "
                "a higher SOC."
            )
        return sol

    def pulse(
        self,
        soc: float,
        temperature_K: float,
        current_A: float,
        durations_s: Sequence[float] = DURATIONS_S,
    ) -> dict[str, np.ndarray]:
        """DCR [Ohm] and its components at each duration for one discharge pulse."""
        check_range(soc, "soc", "of a DCR pulse", 0.0, 1.0)
        self.cell.check_temperature(temperature_K)
        check_range(current_A, "current_A", "of a DCR pulse", 0.0, float("inf"),
                    closed=(False, True))
        d = np.asarray(durations_s, dtype=float)
        if d.ndim != 1 or d.size == 0 or np.any(~np.isfinite(d)) or np.any(d <= 0):
            raise InputError(
                "The 'durations_s' of a DCR pulse must be positive, finite seconds. "
                f"Got {list(np.atleast_1d(durations_s))!r} instead."
            )
        t_end = float(d.max())
        sol = self.solve(soc, temperature_K, current_A, t_end, np.concatenate([[0.0], d]))
        t = sol["Time [s]"].entries
        idx = np.searchsorted(t, d - 1e-12)
        v = sol["Voltage [V]"].entries
        ocv = sol["Battery open-circuit voltage [V]"].entries
        v_rest = ocv[0]  # uniform concentrations at rest: bulk OCV = rest voltage
        out = {"dcr_Ohm": (v_rest - v[idx]) / current_A}
        # PyBaMM reports overpotentials as negative on discharge, except the contact
        # overpotential (I * R, positive); + 0.0 turns -0.0 into 0.0.
        parts = {name: _LOSS_SIGN.get(name, -1.0) * sol[var].entries[idx] / current_A + 0.0
                 for name, var in self.loss_names.items()}
        parts["ocv_shift"] = (v_rest - ocv[idx]) / current_A
        for name in COMPONENTS[:-1]:
            out[name] = parts.get(name, np.zeros_like(d))
        out["other"] = out["dcr_Ohm"] - sum(out[n] for n in COMPONENTS[:-1])
        out["temperature_K"] = sol["Volume-averaged cell temperature [K]"].entries[idx]
        return out


@functools.lru_cache(maxsize=8)
def _engine(cell_name: str, sha256: str, model: str) -> PulseEngine:
    # keyed on the set's content too: a set file edited between calls is a new cell
    cell = load_cell(cell_name)
    if cell.sha256 != sha256:  # edited again since the caller read it
        raise InputError(f"The parameter set {cell_name} changed while being read.")
    return PulseEngine(cell, model)


def pulse_dcr(
    cell: Cell | str,
    soc: float = 0.5,
    temperature_K: float = 298.15,
    c_rate: float = 1.0,
    durations_s: Sequence[float] = DURATIONS_S,
    model: str = "DFN",
) -> dict[str, np.ndarray]:
    """DCR [Ohm] and its breakdown for one pulse at ``c_rate`` x nominal capacity."""
    if isinstance(cell, str):
        engine = _engine(cell, load_cell(cell).sha256, model)
    else:
        engine = PulseEngine(cell, model)
    check_range(c_rate, "c_rate", "of a DCR pulse", 0.0, 100.0, closed=(False, True))
    return engine.pulse(soc, temperature_K, c_rate * engine.cell.capacity_Ah, durations_s)


@dataclass(frozen=True)
class DCRMap:
    """DCR over SOC x temperature x duration, with its breakdown.

    ``dcr_Ohm[i, j, k]`` is at ``soc[i]``, ``temperature_K[j]``, ``durations_s[k]``;
    ``components[name]`` has the same shape. NaN marks a point whose pulse reached a
    voltage cut-off; ``failures`` says which and why.
    """

    cell: str
    capacity_Ah: float
    c_rate: float
    soc: np.ndarray
    temperature_K: np.ndarray
    durations_s: np.ndarray
    dcr_Ohm: np.ndarray
    components: dict[str, np.ndarray]
    failures: tuple[str, ...]
    seconds: float

    def table(self) -> str:
        """DCR [mOhm] and DCR x capacity [mOhm.Ah] as a text table."""
        lines = [
            f"DCR map of {self.cell} ({self.capacity_Ah:g} Ah) at {self.c_rate:g}C discharge",
            "",
            f"{'T [degC]':>8} {'SOC':>5} " + " ".join(
                f"{_dur(d):>14}" for d in self.durations_s),
            f"{'':>8} {'':>5} " + " ".join(f"{'mOhm / mOhm.Ah':>14}" for _ in self.durations_s),
        ]
        for j, temp in enumerate(self.temperature_K):
            for i, s in enumerate(self.soc):
                cells = []
                for k in range(len(self.durations_s)):
                    r = self.dcr_Ohm[i, j, k] * 1e3
                    cells.append(f"{r:6.2f} / {r * self.capacity_Ah:6.1f}"
                                 if np.isfinite(r) else f"{'cut-off':>14}")
                lines.append(f"{temp - 273.15:8.1f} {s:5.2f} " + " ".join(cells))
        if self.failures:
            lines += ["", "Points not reported:"] + [f"  {f}" for f in self.failures]
        return "\n".join(lines)

    def breakdown_table(self, soc: float = 0.5, temperature_K: float = 298.15) -> str:
        i = int(np.argmin(np.abs(self.soc - soc)))
        j = int(np.argmin(np.abs(self.temperature_K - temperature_K)))
        header = f"{'component':>26} " + " ".join(f"{_dur(d):>10}" for d in self.durations_s)
        lines = [
            f"Loss breakdown of {self.cell} at SOC {self.soc[i]:.2f}, "
            f"{self.temperature_K[j] - 273.15:.1f} degC [mOhm.Ah]",
            header,
        ]
        for name in COMPONENTS:
            vals = self.components[name][i, j] * 1e3 * self.capacity_Ah
            lines.append(f"{name:>26} " + " ".join(f"{v:10.2f}" for v in vals))
        tot = self.dcr_Ohm[i, j] * 1e3 * self.capacity_Ah
        lines.append(f"{'total DCR x Q':>26} " + " ".join(f"{v:10.2f}" for v in tot))
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """PNG: DCR x Q against SOC per temperature (10 s) and the breakdown bars."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13.5, 4.5))
        k = len(self.durations_s) - 1
        for j, temp in enumerate(self.temperature_K):
            ax1.plot(self.soc * 100, self.dcr_Ohm[:, j, k] * 1e3 * self.capacity_Ah, "o-",
                     label=f"{temp - 273.15:.0f} degC")
        ax1.set_xlabel("SOC [%]")
        ax1.set_ylabel(f"DCR x capacity at {_dur(self.durations_s[k])} [mOhm.Ah]")
        ax1.set_title(f"{self.cell}, {self.c_rate:g}C pulse")
        ax1.legend()
        ax1.grid(alpha=0.3)
        i = int(np.argmin(np.abs(self.soc - 0.5)))
        j = int(np.argmin(np.abs(self.temperature_K - 298.15)))
        x = np.arange(len(self.durations_s))
        bottom_pos = np.zeros(len(x))
        bottom_neg = np.zeros(len(x))
        for name in COMPONENTS:
            vals = self.components[name][i, j] * 1e3 * self.capacity_Ah
            bottom = np.where(vals >= 0, bottom_pos, bottom_neg)
            ax2.bar(x, vals, bottom=bottom, label=name)
            bottom_pos += np.where(vals >= 0, vals, 0)
            bottom_neg += np.where(vals < 0, vals, 0)
        ax2.plot(x, self.dcr_Ohm[i, j] * 1e3 * self.capacity_Ah, "k_", markersize=30,
                 label="total")
        ax2.set_xticks(x, [_dur(d) for d in self.durations_s])
        ax2.set_ylabel("DCR x capacity [mOhm.Ah]")
        ax2.set_title(f"breakdown at SOC {self.soc[i]:.2f}, "
                      f"{self.temperature_K[j] - 273.15:.0f} degC")
        ax2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        ax2.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        return path


def _dur(d: float) -> str:
    return f"{d * 1e3:g} ms" if d < 1 else f"{d:g} s"


def dcr_map(
    cell: Cell | str,
    soc: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    temperature_K: Sequence[float] | None = None,
    durations_s: Sequence[float] = DURATIONS_S,
    c_rate: float = 1.0,
    model: str = "DFN",
    progress: bool = False,
) -> DCRMap:
    """DCR over a SOC x temperature grid at each duration (default 9 x 4 x 4).

    The default temperatures are four points across the set's validity range, one of
    them 25 degC where the range holds it.
    """
    cell = load_cell(cell) if isinstance(cell, str) else cell
    if temperature_K is None:
        lo, hi = cell.temperature_range_K
        temperature_K = tuple(np.linspace(lo, hi, 4).round(2))
        if lo <= 298.15 <= hi:
            temperature_K = tuple(sorted({*temperature_K[:1], 298.15, *temperature_K[2:]}))
    soc = np.asarray(soc, dtype=float)
    temps = np.asarray(temperature_K, dtype=float)
    for s in soc:
        check_range(s, "soc", "grid of dcr_map", 0.0, 1.0)
    for temp in temps:
        cell.check_temperature(temp, "temperature_K")
    check_range(c_rate, "c_rate", "argument of dcr_map", 0.0, 100.0, closed=(False, True))
    engine = PulseEngine(cell, model)
    current = c_rate * cell.capacity_Ah
    shape = (len(soc), len(temps), len(durations_s))
    dcr = np.full(shape, np.nan)
    comps = {n: np.full(shape, np.nan) for n in COMPONENTS}
    failures = []
    t0 = time.perf_counter()
    points = [(i, j) for j in range(len(temps)) for i in range(len(soc))]
    if progress:
        from tqdm import tqdm

        points = tqdm(points, desc=f"DCR map {cell.name}", unit="pulse")
    for i, j in points:
        try:
            res = engine.pulse(soc[i], temps[j], current, durations_s)
        except SolverError as exc:
            failures.append(str(exc))
            continue
        dcr[i, j] = res["dcr_Ohm"]
        for n in COMPONENTS:
            comps[n][i, j] = res[n]
    return DCRMap(cell.name, cell.capacity_Ah, float(c_rate), soc, temps,
                  np.asarray(durations_s, dtype=float), dcr, comps, tuple(failures),
                  time.perf_counter() - t0)


def dcr_map_report(cell_name: str, out: str | Path = "out", c_rate: float = 1.0) -> str:
    """Run :func:`dcr_map`, write the table and PNG into ``out``, return the text."""
    m = dcr_map(cell_name, c_rate=c_rate, progress=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    text = m.table() + "\n\n" + m.breakdown_table() + "\n"
    (out / f"dcr_{m.cell}.txt").write_text(text)
    png = m.plot(out / f"dcr_{m.cell}.png")
    return text + f"\nWrote {out / f'dcr_{m.cell}.txt'} and {png} ({m.seconds:.1f} s)."


def cells_table(duration_s: float = 10.0, soc: float = 0.5, temperature_K: float = 298.15,
                c_rate: float = 1.0) -> str:
    """One line per shipped set: capacity, voltage, chemistry, kind, DCR and DCR x Q."""
    lines = [
        f"{'cell':<22} {'capacity':>9} {'V_nom':>6} {'chemistry':<22} {'electrolyte':<10} "
        f"{'DCR':>9} {'DCR x Q':>10}",
        f"{'':<22} {'[Ah]':>9} {'[V]':>6} {'':<22} {'':<10} {'[mOhm]':>9} {'[mOhm.Ah]':>10}",
    ]
    for name in available_cells():
        try:
            cell = load_cell(name)
        except DataError as exc:  # a set read from the measured-data registry, not here
            lines.append(f"{name:<22} not loaded: {exc}")
            continue
        try:
            r = pulse_dcr(cell, soc, temperature_K, c_rate, (duration_s,))["dcr_Ohm"][0]
            dcr = f"{r * 1e3:9.3f} {r * 1e3 * cell.capacity_Ah:10.2f}"
        except (SolverError, InputError) as exc:
            dcr = f"{'n/a':>9} {'n/a':>10}  ({exc})"
        lines.append(
            f"{name:<22} {cell.capacity_Ah:9.2f} {cell.nominal_voltage_V:6.2f} "
            f"{cell.chemistry:<22} {cell.electrolyte_kind:<10} {dcr}"
        )
    lines.append(f"DCR: {duration_s:g} s, {c_rate:g}C discharge pulse from rest, "
                 f"SOC {soc:g}, {temperature_K - 273.15:g} degC, DFN with lumped thermal.")
    return "\n".join(lines)
