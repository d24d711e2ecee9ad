import pytest

from cellmodels import data
from cellmodels.errors import DataError


def test_every_registered_file_is_present_and_matches_its_hash():
    for name in data.REGISTRY:
        assert data.path(name, download=False).is_file()


def test_unknown_data_file_suggests():
    with pytest.raises(DataError, match="Did you mean 'lgm50_wmg_widanage/LGM50_5Ah_Pulse.mat'"):
        data.path("lgm50_wmg_widanage/LGM50_5Ah_Pulse.mta")


def test_corrupt_file_is_refused(tmp_path, monkeypatch):
    name = "pybamm_ecker2015_kokam/Ecker_1C.csv"
    (tmp_path / "pybamm_ecker2015_kokam").mkdir()
    (tmp_path / name).write_text("0,0\n")
    monkeypatch.setenv("CELLMODELS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="does not match the registered sha256"):
        data.path(name, download=False)
