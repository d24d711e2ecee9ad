"""Registry of the measured data files that validation uses.

No measured file is part of this repository. Each is named here by its origin (public
repository, commit, path inside it), its sha256 and its licence. :func:`path` finds the
file in ``$CELLMODELS_DATA_DIR`` (CI and developers point it at ``../shared/data``) or in
the user cache (``$XDG_CACHE_HOME/cellmodels/data``), downloading it there from the
origin when allowed, and always checks the hash before returning the path.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ._atomic import atomic_path
from .errors import DataError, suggest

__all__ = ["REGISTRY", "DataFile", "data_dir", "path", "sha256", "verify"]


@dataclass(frozen=True)
class DataFile:
    """One measured file: where it lives locally and where it came from."""

    name: str  #: path relative to the data folder, e.g. "lgm50_wmg_widanage/LGM50_5Ah_Pulse.mat"
    repository: str  #: GitHub owner/name of the origin
    commit: str  #: the origin commit the bytes were taken from
    origin_path: str  #: path of the file inside the origin repository
    sha256: str
    licence: str

    @property
    def url(self) -> str:
        """Raw download address of the exact bytes at the recorded commit."""
        quoted = urllib.request.pathname2url(self.origin_path)
        return f"https://raw.githubusercontent.com/{self.repository}/{self.commit}/{quoted}"


_FILES = (
    DataFile("aboutenergy_bpx/LFP/LFP_25degC_1C.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "LFP/data/validation/LFP_25degC_1C.csv", "f3dcaf1ed812fda72b3b2d73d08a5f0ae1737fa480e24ede609f88766aadc4ce", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/LFP/LFP_25degC_2C.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "LFP/data/validation/LFP_25degC_2C.csv", "1abbc52904175977aa775967677dd93ab7bc4f673db5a6abef899461d19abb02", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/LFP/LFP_25degC_Co2.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "LFP/data/validation/LFP_25degC_Co2.csv", "1c857767bdd1a0a8ebe55796d22075e3dd2242dc11c31843ed0c0ac46ce4c993", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/LFP/LFP_25degC_Co20.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "LFP/data/validation/LFP_25degC_Co20.csv", "6ca1fe6c43c147d5d108a3b7ce045c3d0e5a0fadf1a6c5a70e98df82faff568d", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/LFP/LFP_25degC_DriveCycle.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "LFP/data/validation/LFP_25degC_DriveCycle.csv", "953a15eb2500f00bd057bd6f20a3f503b53d5849edcbef4d32617d2eb1986d94", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/LFP/lfp_18650_cell_BPX.json", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "LFP/lfp_18650_cell_BPX.json", "56d2932515637c3f899c2b6c9620ee4fcf69b71f7479782e57d7b482d143be02", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/NMC/NMC_25degC_1C.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "NMC/data/validation/NMC_25degC_1C.csv", "4dbfdac5a6d4d9aebc1c916a1fd3687049c86d3b191a4210dd0c1d8f90de34a7", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/NMC/NMC_25degC_2C.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "NMC/data/validation/NMC_25degC_2C.csv", "19d38ed508a42a74398c1276933335f97022f98ff9fa33bf39a59309fbc9f563", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/NMC/NMC_25degC_Co2.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "NMC/data/validation/NMC_25degC_Co2.csv", "0a86a5e9eebfef061b7b0535269837780f391bfa61df09887ba955b635e58275", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/NMC/NMC_25degC_Co20.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "NMC/data/validation/NMC_25degC_Co20.csv", "d04bf7f43b92df88fb0c158621f3309380027b181bd6c803f3be709c371b76c4", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/NMC/NMC_25degC_DriveCycle.csv", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "NMC/data/validation/NMC_25degC_DriveCycle.csv", "08b8ecfcd3d38fba5fe3852b518d70188ac5c10e28bf47be9ec45fa0467ccace", "CC BY-SA 4.0"),
    DataFile("aboutenergy_bpx/NMC/nmc_pouch_cell_BPX.json", "About-Energy-OpenSource/About-Energy-BPX-Parameterisation", "8efd45a7495ad8d3a4d72b547e657322a4baabd2", "NMC/nmc_pouch_cell_BPX.json", "9fea2c5a2748ac1f09e2bb32225fe4810597611a93ea57d68ed84783188f4d03", "CC BY-SA 4.0"),
    DataFile("lgm50_imperial_pyprobe/NDK - LG M50 deg - exp 2,2 - rig 3 - 25degC - cell C - BoL - RPT0_short_CA4.parquet", "ImperialCollegeLondon/PyProBE", "b6302b79c34a2748c2aee90e217457b0977339cb", "tests/sample_data/LGM50/NDK - LG M50 deg - exp 2,2 - rig 3 - 25degC - cell C - BoL - RPT0_short_CA4.parquet", "b0701bdfd6def6c233edfebb8012d0e64e69b422091196f8bcaf44c3511a469a", "BSD-3-Clause"),
    DataFile("lgm50_imperial_pyprobe/README.yaml", "ImperialCollegeLondon/PyProBE", "b6302b79c34a2748c2aee90e217457b0977339cb", "tests/sample_data/LGM50/README.yaml", "569b43a492886490c9f0582d3bf27c0cf3f47ae1444e9d301030f99710016bff", "BSD-3-Clause"),
    DataFile("lgm50_wmg_widanage/LGM50_5Ah_OCV.mat", "WDWidanage/Simscape-Battery-Library", "a3842b91b3ccda006bc9be5d59c8bcbd167ceef7", "Examples/parameterEstimation_TECMD/Data/LGM50_5Ah_OCV.mat", "10cc15661354ed8f4f2b644ae2f5e2e2b78136f8f2847a84e4a120308b95b2e5", "MIT"),
    DataFile("lgm50_wmg_widanage/LGM50_5Ah_Pulse.mat", "WDWidanage/Simscape-Battery-Library", "a3842b91b3ccda006bc9be5d59c8bcbd167ceef7", "Examples/parameterEstimation_TECMD/Data/LGM50_5Ah_Pulse.mat", "8067781fcf662ede90af3ab6cf45badaf91ec35b1066d517b2897ca581f26a27", "MIT"),
    DataFile("lgm50_wmg_widanage/LGM50_5Ah_RateTest.mat", "WDWidanage/Simscape-Battery-Library", "a3842b91b3ccda006bc9be5d59c8bcbd167ceef7", "Examples/parameterEstimation_TECMD/Data/LGM50_5Ah_RateTest.mat", "8614d1292914ab0fcb944b0cedb07661b455afd16b5428cde63bbfed1062dc9a", "MIT"),
    DataFile("nissan_leaf_ornl/1C-Discharge-Bitrode-data.csv", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/1C-Discharge-Bitrode-data.csv", "3af0e85787bdd5c3d3a8534af8401a8dafa3c5cc039ec0fa23d1d47be5d5ba5f", "MIT"),
    DataFile("nissan_leaf_ornl/2C-Discharge-Bitrode-data.csv", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/2C-Discharge-Bitrode-data.csv", "4388b2b4d6c17dccf3a3b858f0883a1a884a277924116ab1e9211fa06bab9971", "MIT"),
    DataFile("nissan_leaf_ornl/3C-Discharge-Bitrode-data.csv", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/3C-Discharge-Bitrode-data.csv", "99bd84075044b3f182515b191c57e981e05ac5da5a10419599189017ea10f52f", "MIT"),
    DataFile("nissan_leaf_ornl/README.md", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "README.md", "9227ee2de69a487f6106ac45644e14890114c4cfd868fd91f98dc7e407ad2d0e", "MIT"),
    DataFile("nissan_leaf_ornl/NissanLeaf-cell-Cycling-10C-24C-40C.csv", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/NissanLeaf-cell-Cycling-10C-24C-40C.csv", "001da8a81df8bed09c6edc383b629f7410df8fffcbf682b19d90a8b352e47719", "MIT"),
    DataFile("nissan_leaf_ornl/NissanLeaf-cell-Low-Current-HPPC-10C.csv", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/NissanLeaf-cell-Low-Current-HPPC-10C.csv", "6831e64d42865fef1def9e47bfa95bd165b0053be4d9b8a786707421e78b613a", "MIT"),
    DataFile("nissan_leaf_ornl/NissanLeaf-cell-Low-Current-HPPC-25C-2.csv", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/NissanLeaf-cell-Low-Current-HPPC-25C-2.csv", "8b4135978f150d465dbd5b83f55f7235b8fbd0c39a91fa9033a65c11622f6bf1", "MIT"),
    DataFile("nissan_leaf_ornl/NissanLeaf-cell-Low-Current-HPPC-40C-1.csv", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/NissanLeaf-cell-Low-Current-HPPC-40C-1.csv", "33af09d69c1cec4dae7af90836705cd9d74dc40ed4a3e80ee96598ad43c60dfd", "MIT"),
    DataFile("nissan_leaf_ornl/Temperature-1C-discharge.lvm", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/Temperature-1C-discharge.lvm", "5451d83a4442127a3afe438bdb1af308373af13133fb232ce260b693dc6699c7", "MIT"),
    DataFile("nissan_leaf_ornl/Temperature-2C-discharge.lvm", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/Temperature-2C-discharge.lvm", "5831442ed2ee5c97a984a3f4dab80ecd00fda64a839b28b0b865ec42aeeedee5", "MIT"),
    DataFile("nissan_leaf_ornl/Temperature-3C-discharge.lvm", "batterysim/nissan-leaf-data", "b2222ed14a678424c1ba4cd07b4adea38b9d08b0", "data/Temperature-3C-discharge.lvm", "bd3b57e852e6db42236cdf98cffcefcd7e941b3c60941c7e7048d65fa5ca123e", "MIT"),
    DataFile("pybamm_ecker2015_kokam/Ecker_1C.csv", "pybamm-team/PyBaMM", "508e419ecde65f66ee17f1ec7231a32d8baeed96", "pybamm/input/discharge_data/Ecker2015/Ecker_1C.csv", "428dc5113a6430492f430fb9e895f67d3e20f5643dc49a1cc0a922b92a5a8e01", "BSD-3-Clause"),
    DataFile("pybamm_ecker2015_kokam/README.md", "pybamm-team/PyBaMM", "508e419ecde65f66ee17f1ec7231a32d8baeed96", "pybamm/input/discharge_data/Ecker2015/README.md", "5cedcb506c0a52bf0582fe4dbe095ca618d399bf44807beb7ed33daba3b1a4ba", "BSD-3-Clause"),
    DataFile("pybamm_ecker2015_kokam/Ecker_5C.csv", "pybamm-team/PyBaMM", "508e419ecde65f66ee17f1ec7231a32d8baeed96", "pybamm/input/discharge_data/Ecker2015/Ecker_5C.csv", "a89f8bf6e305b2a4195e1fae5e803277a40ed7557d263ef726f621803dcbb495", "BSD-3-Clause"),
    DataFile("samsung_inr21700_30t_pybop/multipulse_hppc.xlsx", "pybop-team/PyBOP", "e8165e0438189ac91e09ffe2022b45ea63a43a18", "examples/data/Samsung_INR21700/multipulse_hppc.xlsx", "797f51ecd5a631d96c9797df46052eb92c6c0efd12b80b4553b995f4806d5eb8", "BSD-3-Clause"),
    DataFile("samsung_inr21700_30t_pybop/sample_drive_cycle.xlsx", "pybop-team/PyBOP", "e8165e0438189ac91e09ffe2022b45ea63a43a18", "examples/data/Samsung_INR21700/sample_drive_cycle.xlsx", "e4f7ee92202983988658a146a0997f1c68cafd271551b0d4e55bb01066230074", "BSD-3-Clause"),
    DataFile("samsung_inr21700_30t_pybop/sample_hppc_pulse.xlsx", "pybop-team/PyBOP", "e8165e0438189ac91e09ffe2022b45ea63a43a18", "examples/data/Samsung_INR21700/sample_hppc_pulse.xlsx", "83033e2f70d39d9116478681457a2dbc4062961c9ea8249542c15bfaf849a320", "BSD-3-Clause"),
    DataFile("severson2019_a123_lfp_cyclelife/severson_et_al_SI_table9.csv", "petermattia/revisit-severson-et-al", "3a77c7d513126e921896315038d0f8f2645e440d", "severson_et_al_SI_table9.csv", "34be34f86521c12daf0bbb962dca0bd3bd65089b7bc8bcea85f84480e6fd3cb3", "MIT"),
    DataFile("severson2019_a123_lfp_cyclelife/test1_cycle_lives.csv", "petermattia/revisit-severson-et-al", "3a77c7d513126e921896315038d0f8f2645e440d", "data/cycle_lives/test1_cycle_lives.csv", "1feba3b51ec018f2a4fef6f7434501916c33a1125da8fea02fb1877d095245fa", "MIT"),
    DataFile("severson2019_a123_lfp_cyclelife/test2_cycle_lives.csv", "petermattia/revisit-severson-et-al", "3a77c7d513126e921896315038d0f8f2645e440d", "data/cycle_lives/test2_cycle_lives.csv", "3c07d2231ae37fc3168148d769d7b8800b6e56bc606e50423d025b55a6973f26", "MIT"),
    DataFile("severson2019_a123_lfp_cyclelife/train_cycle_lives.csv", "petermattia/revisit-severson-et-al", "3a77c7d513126e921896315038d0f8f2645e440d", "data/cycle_lives/train_cycle_lives.csv", "cf0817b5d2880220d13d263090f284d2b36ea00b10789a51ab47e31ae3ddd179", "MIT"),)

REGISTRY: dict[str, DataFile] = {f.name: f for f in _FILES}


def data_dir() -> Path | None:
    """The folder named by ``$CELLMODELS_DATA_DIR``, or None when it is unset."""
    value = os.environ.get("CELLMODELS_DATA_DIR")
    return Path(value).expanduser() if value else None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "cellmodels" / "data"


def _sha256(file: Path) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256(file: str | Path) -> str:
    """The sha256 of a file's bytes, hex (recorded as provenance of files read by path)."""
    return _sha256(Path(file))


def verify(entry: DataFile, file: Path) -> Path:
    """Return ``file`` if its sha256 matches the registry, else raise :class:`DataError`."""
    got = _sha256(file)
    if got != entry.sha256:
        raise DataError(
            f"The data file {file} does not match the registered sha256 of '{entry.name}' "
            f"(expected {entry.sha256}, got {got}). Replace it with the bytes from "
            f"{entry.repository}@{entry.commit}:{entry.origin_path}."
        )
    return file


def path(name: str, *, download: bool | None = None) -> Path:
    """Local path of a registered data file, checked against its sha256.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"lgm50_wmg_widanage/LGM50_5Ah_Pulse.mat"``.
    download : bool, optional
        Whether to fetch a missing file from its origin into the user cache. Default:
        only when ``$CELLMODELS_DATA_DIR`` is unset.
    """
    if name not in REGISTRY:
        raise DataError(f"No registered data file is named {name!r}.{suggest(name, REGISTRY)}")
    entry = REGISTRY[name]
    folder = data_dir()
    if folder is not None:
        candidate = folder / name
        if candidate.is_file():
            return verify(entry, candidate)
    cached = _cache_dir() / name
    if cached.is_file():
        return verify(entry, cached)
    if download is None:
        download = folder is None
    if not download:
        where = f"$CELLMODELS_DATA_DIR={folder}" if folder else "the user cache"
        raise DataError(
            f"The data file '{name}' is not in {where}. Point CELLMODELS_DATA_DIR at a folder "
            f"holding it, or unset it to download from {entry.repository}@{entry.commit}."
        )
    # Download to a temporary file beside the target, check, then rename: atomic.
    try:
        with atomic_path(cached) as tmp:
            with open(tmp, "wb") as out, urllib.request.urlopen(entry.url, timeout=60) as resp:
                out.write(resp.read())
            verify(entry, Path(tmp))
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            f"Could not download '{name}' from {entry.url}: {exc}. Offline: export "
            f"CELLMODELS_DATA_DIR=<folder holding {name}>, or put the file at {cached}."
        ) from exc
    return cached
