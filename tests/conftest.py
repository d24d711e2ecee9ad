import os
import sys
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
ROOT = Path(__file__).resolve().parents[1]
# validation/ cases are importable as `validation.<case>` from the tests.
sys.path.insert(0, str(ROOT))
if "CELLMODELS_DATA_DIR" not in os.environ and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["CELLMODELS_DATA_DIR"] = str(ROOT.parent / "shared" / "data")


def own_set(tmp_path, mutate=None, name="tmp"):
    """A small own-format (BPX 1.x) set built from the About:Energy LFP file, then mutated."""
    import json

    import cellmodels as cm
    from cellmodels.physics.cells import bpx_document

    doc = bpx_document(cm.load_cell("aboutenergy_lfp"))  # migrated to BPX 1.x
    doc["cellmodels"] = {
        "schema_version": 1,
        "name": name,
        "chemistry": "LFP/graphite",
        "electrolyte_kind": "liquid",
        "nominal_voltage_V": 3.2,
        "temperature_range_K": [263.15, 333.15],
        "default_source": "test",
        "provenance": {},
    }
    if mutate is not None:
        mutate(doc)
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(doc))
    return p
