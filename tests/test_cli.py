"""The command line, as a user runs it."""

from cellmodels.cli import main


def test_dcr_unknown_cell_lists_available(capsys):
    assert main(["dcr", "no_such_cell"]) == 2
    err = capsys.readouterr().err
    assert "Unknown cell 'no_such_cell'" in err and "aboutenergy_lfp" in err


def test_dcr_writes_table_and_png(tmp_path, capsys, monkeypatch):
    import cellmodels.dcr as dcr

    # a 2 x 1 grid keeps the test short; the full 9 x 4 map is the benchmark's job
    real = dcr.dcr_map
    monkeypatch.setattr(dcr, "dcr_map", lambda name, **kw: real(
        name, soc=(0.4, 0.6), temperature_K=(298.15,), **kw))
    assert main(["dcr", "aboutenergy_lfp", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Loss breakdown of aboutenergy_lfp" in out
    assert (tmp_path / "dcr_aboutenergy_lfp.png").stat().st_size > 10_000
    assert "charge_transfer" in (tmp_path / "dcr_aboutenergy_lfp.txt").read_text()


def test_validate_unknown_case_is_an_error(capsys):
    from .conftest import ROOT

    assert main(["validate", "--dir", str(ROOT / "validation"), "--only", "nope"]) == 2
    assert "unknown case(s) ['nope']" in capsys.readouterr().err
