import os
import sys
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
ROOT = Path(__file__).resolve().parents[1]
# validation/ cases are importable as `validation.<case>` from the tests.
sys.path.insert(0, str(ROOT))
if "CELLMODELS_DATA_DIR" not in os.environ and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["CELLMODELS_DATA_DIR"] = str(ROOT.parent / "shared" / "data")
