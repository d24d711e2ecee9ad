"""``cellmodels demo``: the main job, growing with each stage of the pipeline.

Stage 1 (this release): every shipped cell with its DCR, and for the ultra-low-DCR
reference cell the DCR map and the loss breakdown that says which resistance to attack.
"""

from __future__ import annotations

from pathlib import Path

from .dcr import cells_table, dcr_map
from .physics.cells import available_cells

REFERENCE_CELL = "semisolid_lfp_power"


def run_demo(out: str | Path = "out") -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print("== Cells: 10 s DCR at 50 % SOC, 25 degC, 1C ==")
    print(cells_table())
    name = REFERENCE_CELL if REFERENCE_CELL in available_cells() else available_cells()[0]
    for c_rate in (1.0, 5.0):
        print(f"\n== {name}: DCR map at {c_rate:g}C ==")
        m = dcr_map(name, c_rate=c_rate, progress=True)
        print(m.table())
        print()
        print(m.breakdown_table())
        png = m.plot(out / f"dcr_{name}_{c_rate:g}C.png")
        print(f"\nFigure: {png}")
