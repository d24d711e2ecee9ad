"""The content digest of every cellmodels HDF5 format (cellmodels._h5): profiles, UPS
results, life results, study files and their parts are written with a user block holding
``<format> sha256=<hex>`` and refused, naming the file, when a byte of their content is
changed or the file is cut short (never read with altered numbers, never a hang); a file
written before the digest existed (no block) still reads. The ECM file keeps its bytes."""

import math

import h5py
import numpy as np
import pytest

from cellmodels import _h5
from cellmodels.dutycycles import Profile, load_profile, save_profile
from cellmodels.errors import FileFormatError
from cellmodels.life import LifeResult, load_life
from cellmodels.reduction import load_ecm, save_ecm
from cellmodels.studies import load_study, store
from cellmodels.ups import kernel as K
from cellmodels.ups import load_result
from cellmodels.ups.result import UPSResult

from .test_ecm import make_ecm


@pytest.fixture(autouse=True)
def _short_diagnosis(monkeypatch):
    # a damaged file is read in a child stopped after this long; a sound small file reads
    # in milliseconds, so 2 s bounds a test that meets an HDF5 loop without false timeouts
    monkeypatch.setattr(_h5, "DIAGNOSE_TIMEOUT_S", 2.0)


# --------------------------------------------------------------- one small file per format
def _profile():
    return Profile([0.0, 0.5, 1.5, 3.0], power_W=[100.0, -20.0, 55.5],
                   metadata={"name": "p", "note": "digest test"})


def _ups_result():
    rng = np.random.default_rng(7)
    n_bins = 6
    return UPSResult(
        ecm_name="varied", dt_s=1e-3, n_steps=600, decimation_s=0.1, spectral_dt_s=4e-3,
        time_s=np.arange(n_bins) * 0.1,
        decimated={ch: rng.normal(size=(n_bins, 3)) for ch in K.CHANNELS},
        spectral={"load_W": rng.normal(size=150), "grid_W": rng.normal(size=150)},
        energy_J={k: float(rng.normal()) for k in K.ENERGY_TERMS},
        limits={k: {"activations": 1, "steps": 2, "duration_s": 2e-3, "energy_J": 0.5}
                for k in K.LIMITS},
        cells={"soc": rng.uniform(size=2), "temperature_K": 300.0 + rng.uniform(size=2),
               "rc_V": rng.normal(size=(2, 2)), "peak_temperature_K": np.full(2, 301.0),
               "throughput_Ah": rng.uniform(size=2), "rms_current_A": rng.uniform(size=2),
               "capacity_scale": np.ones(2), "resistance_scale": np.ones(2)},
        run={"n_series": 2, "n_parallel": 1}, config={"inverter": {"rated_W": 500.0}},
        message="Completed 600 steps of 0.001 s.")


def _life_result():
    return LifeResult(
        time_s=np.array([0.0, 1e7, 3e7]), capacity_fraction=np.array([1.0, 0.95, 0.9]),
        resistance_factor=np.array([1.0, 1.1, 1.2]), efc=np.array([0.0, 100.0, 300.0]),
        reservoir_m3=np.full(3, np.nan), temperature_max_K=np.array([300.0, 301.0, 302.0]),
        ride_through_ok=np.array([True, True, False]), eol_capability_years=0.95,
        eol_capability_reason="ride-through", info={"ecm": "varied", "steps": 2},
        terms={"calendar": np.array([0.0, 0.03, 0.06])})


POINT = {"status": "ok", "cell": "a/b", "coords": {"x": 1.0}, "params": {"x": 1.0},
         "values": {"y_W": 2.5}, "arrays": {"z": [1.0, 2.0]}, "seconds": 0.1,
         "finished_utc": "2026-01-01T00:00:00Z"}


def _study(path):
    """A study file with one merged point ("p1") and one part not yet merged ("p2")."""
    store.create_or_check(path, "heating", "digest", '{"kind": "heating"}',
                          {"a/b": {"source": "x.ecm.h5", "sha256": "0" * 64}})
    store.write_part(path, {"p1": POINT})
    assert store.merge_parts(path) == 1
    part = store.write_part(path, {"p2": {**POINT, "values": {"y_W": 3.5}}})
    return path, part


def _ups_equal(a, b):
    for name in ("ecm_name", "dt_s", "n_steps", "decimation_s", "spectral_dt_s", "energy_J",
                 "limits", "run", "config", "status", "message", "success", "full"):
        assert getattr(a, name) == getattr(b, name), name
    for name in ("decimated", "spectral", "cells"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])  # exact: float64 stored as float64
    np.testing.assert_array_equal(a.time_s, b.time_s)
    return True


def _life_equal(a, b):
    for name in ("time_s", "capacity_fraction", "resistance_factor", "efc", "reservoir_m3",
                 "temperature_max_K", "ride_through_ok"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))  # NaN == NaN here
    assert math.isnan(b.eol_capacity_years) and b.eol_capability_years == 0.95
    assert (b.eol_capability_reason, b.info) == (a.eol_capability_reason, a.info)
    assert b.terms.keys() == a.terms.keys()
    np.testing.assert_array_equal(b.terms["calendar"], a.terms["calendar"])
    return True


def _points(res):
    return {pid: (p.cell, p.values, p.arrays["z"].tolist()) for pid, p in res.points.items()}


STUDY_POINTS = {"p1": ("a/b", {"y_W": 2.5}, [1.0, 2.0]), "p2": ("a/b", {"y_W": 3.5}, [1.0, 2.0])}

# name: (write to a path and return it, read, "equal" check, format tag, a dataset to alter)
FORMATS = {
    "profile": (lambda p: save_profile(_profile(), p), load_profile,
                lambda x: x == _profile(), b"cellmodels.profile sha256=", "time_s"),
    "ups_result": (lambda p: _ups_result().save(p), load_result,
                   lambda x: _ups_equal(x, _ups_result()), b"cellmodels.ups_result sha256=",
                   "decimated/grid_W"),
    "life_result": (lambda p: _life_result().save(p), load_life,
                    lambda x: _life_equal(x, _life_result()),
                    b"cellmodels.life_result sha256=", "capacity_fraction"),
    "study": (lambda p: _study(p)[0], load_study,
              lambda x: _points(x) == STUDY_POINTS and x.kind == "heating"
              and x.cells == {"a/b": {"source": "x.ecm.h5", "sha256": "0" * 64}},
              b"cellmodels-study sha256=", "points/p1/arrays/z"),
}


def _data_offset(path, dataset):
    """Where the first value of ``dataset`` lies in the file [byte] (contiguous or chunked)."""
    with h5py.File(path, "r") as f:
        ds = f[dataset]
        offset = ds.id.get_offset()
        if offset is None:  # chunked (the profile's, gzip): its first chunk
            offset = ds.id.get_chunk_info(0).byte_offset
    return offset  # from the file's start: HDF5 reports absolute offsets


@pytest.fixture(params=list(FORMATS))
def fmt(request):
    return request.param


def test_reads_back_equal_and_starts_with_its_digest(tmp_path, fmt):
    write, read, equal, tag, _ = FORMATS[fmt]
    path = write(tmp_path / f"{fmt}.h5")
    head = path.read_bytes()[:_h5.USERBLOCK]
    assert head.startswith(tag)
    assert head.rstrip(b"\0").endswith(b"\n") and len(head.split(b"\n")[0]) == len(tag) + 64
    assert _h5.digest_problem(path, what=fmt, writer="test") is None
    assert equal(read(path))
    assert not list(tmp_path.glob(".*.part"))  # sealed and renamed: no temporary left


DIGEST_FAILED = (r"is corrupt or truncated: the SHA-256 of its \d+ bytes of content is "
                 r"[0-9a-f]{64}, but the file records '[0-9a-f]{64}' \(written by ")


def test_a_flipped_bit_in_a_value_is_refused_naming_the_file(tmp_path, fmt):
    """One bit of one stored number: HDF5 sees nothing wrong with it, the digest does (the
    profile's tables are gzip-compressed: there the child's read names the broken chunk)."""
    write, read, _, _, dataset = FORMATS[fmt]
    path = write(tmp_path / f"{fmt}.h5")
    data = bytearray(path.read_bytes())
    at = _data_offset(path, dataset)
    assert at >= _h5.USERBLOCK
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    match = (r"is incomplete or corrupt: .*filter returned failure" if fmt == "profile"
             else DIGEST_FAILED)
    with pytest.raises(FileFormatError, match=rf"{fmt}.h5 {match}"):
        read(path)


def test_a_value_edited_through_hdf5_is_refused_not_read(tmp_path, fmt):
    """A plausible edit, made with h5py: the file reads, with the altered number, in any
    HDF5 reader; the digest refuses it."""
    write, read, _, _, dataset = FORMATS[fmt]
    path = write(tmp_path / f"{fmt}.h5")
    with h5py.File(path, "r+") as f:
        values = f[dataset][()]
        values.flat[-1] += 1.0  # the last: a profile's time still increases
        f[dataset][...] = values
    with pytest.raises(FileFormatError, match=rf"{fmt}.h5 {DIGEST_FAILED}"):
        read(path)


def test_an_edited_attribute_is_refused_naming_the_fault(tmp_path, fmt):
    """An edit through HDF5 fails the digest; the child's read names what is wrong."""
    write, read, _, _, _ = FORMATS[fmt]
    path = write(tmp_path / f"{fmt}.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(FileFormatError, match=rf"{fmt}.h5 has .* schema version 99; this "
                       r"cellmodels reads schema version 1"):
        read(path)


def test_damage_in_the_header_or_the_block_is_refused(tmp_path, fmt):
    write, read, _, _, _ = FORMATS[fmt]
    path = write(tmp_path / f"{fmt}.h5")
    data = path.read_bytes()
    for at, match in ((_h5.USERBLOCK + 40, r"corrupt"),  # in HDF5's superblock
                      (3, r"its content digest \(the first 512 bytes\) is damaged"),
                      (len(FORMATS[fmt][3]) + 5, r"corrupt or truncated: the SHA-256")):
        damaged = bytearray(data)
        damaged[at] ^= 0x5A
        path.write_bytes(bytes(damaged))
        with pytest.raises(FileFormatError, match=rf"{fmt}.h5 .*{match}"):
            read(path)


def test_a_truncated_file_is_refused(tmp_path, fmt):
    write, read, _, _, _ = FORMATS[fmt]
    data = write(tmp_path / f"{fmt}.h5").read_bytes()
    path = tmp_path / "cut.h5"
    for n in (300, _h5.USERBLOCK, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:n])
        with pytest.raises(FileFormatError, match=r"cut.h5 .*(corrupt|truncated)"):
            read(path)


def test_a_file_written_before_the_digest_still_reads(tmp_path, fmt):
    """HDF5 addresses are relative to the superblock: dropping the user block gives the
    file the writer made before it wrote one; it reads as before (no digest to check)."""
    write, read, equal, _, _ = FORMATS[fmt]
    path = write(tmp_path / f"{fmt}.h5")
    path.write_bytes(path.read_bytes()[_h5.USERBLOCK:])
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 0
    assert equal(read(path))


def test_a_damaged_file_that_hangs_hdf5_is_refused_in_bounded_time(tmp_path, fmt,
                                                                  monkeypatch):
    """64 bytes zeroed every 256 bytes of the first 4 KiB of HDF5 data (its metadata).
    Such damage can send the HDF5 library into an endless loop (with HDF5 2.0.0, at 1 to 4
    of these offsets per format); the digest makes the reader touch it only in a child
    process stopped after DIAGNOSE_TIMEOUT_S."""
    import time

    # 1 s: the child reads a sound file of this size in milliseconds (fork included)
    monkeypatch.setattr(_h5, "DIAGNOSE_TIMEOUT_S", 1.0)
    write, read, _, _, _ = FORMATS[fmt]
    data = write(tmp_path / f"{fmt}.h5").read_bytes()
    path = tmp_path / "damaged.h5"
    tried = 0
    t0 = time.perf_counter()
    for off in range(_h5.USERBLOCK, min(len(data), _h5.USERBLOCK + 4096), 256):
        damaged = data[:off] + bytes(64) + data[off + 64:]
        if damaged[:len(data)] == data:
            continue  # zeros already (free space, padding)
        path.write_bytes(damaged[:len(data)])
        tried += 1
        with pytest.raises(FileFormatError, match="damaged.h5"):
            read(path)
    assert tried >= 5
    # each read: a hash and at most one diagnosis of DIAGNOSE_TIMEOUT_S (1 s), plus the fork
    assert time.perf_counter() - t0 < tried * (1.0 + 0.5)


# ------------------------------------------------------------------ study: appends, parts
def test_a_damaged_part_is_not_merged_and_is_named(tmp_path):
    path, part = _study(tmp_path / "s.h5")
    data = bytearray(part.read_bytes())
    at = _data_offset(part, "points/p2/arrays/z")
    data[at] ^= 0x01
    part.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=rf"{part.name} is corrupt or truncated: the "
                       r"SHA-256 .*\(written by run_study\)\. Delete it: a rerun of the study "
                       "computes its points again"):
        load_study(path)
    assert store.merge_parts(path) == 0 and part.exists()  # left in place, not merged
    part.unlink()
    assert _points(load_study(path)) == {"p1": STUDY_POINTS["p1"]}


def test_an_append_never_seals_a_damaged_study_file(tmp_path):
    path, _ = _study(tmp_path / "s.h5")
    data = bytearray(path.read_bytes())
    data[_data_offset(path, "points/p1/arrays/z")] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=r"s.h5 is corrupt or truncated: the SHA-256"):
        store.merge_parts(path)
    with pytest.raises(FileFormatError, match=r"s.h5 is corrupt or truncated: the SHA-256"):
        store.create_or_check(path, "heating", "digest", "{}", {"c": {"source": "y"}})
    assert path.read_bytes() == bytes(data)  # untouched


def test_a_study_file_from_before_the_digest_takes_one_at_its_next_append(tmp_path):
    path, part = _study(tmp_path / "s.h5")
    path.write_bytes(path.read_bytes()[_h5.USERBLOCK:])  # as an older cellmodels wrote it
    part.write_bytes(part.read_bytes()[_h5.USERBLOCK:])
    assert _points(load_study(path)) == STUDY_POINTS
    assert store.merge_parts(path) == 1
    assert path.read_bytes().startswith(b"cellmodels-study sha256=")
    assert _h5.digest_problem(path, what="study", writer="test") is None
    store.create_or_check(path, "heating", "digest", "{}", {"c": {"source": "y"}})
    res = load_study(path)
    assert _points(res) == STUDY_POINTS and set(res.cells) == {"a/b", "c"}
    with h5py.File(path, "r") as f:
        assert f.userblock_size == _h5.USERBLOCK


def test_a_part_starts_with_its_own_tag(tmp_path):
    _, part = _study(tmp_path / "s.h5")
    assert part.read_bytes().startswith(b"cellmodels-study-point sha256=")


# --------------------------------------------------------------------------- the ECM file
def test_the_ecm_file_keeps_its_tag_and_block(tmp_path):
    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    data = path.read_bytes()
    assert data.startswith(b"cellmodels.ecm sha256=")
    assert data[_h5.USERBLOCK:_h5.USERBLOCK + 8] == b"\x89HDF\r\n\x1a\n"
    assert load_ecm(path) == make_ecm()


def test_another_format_with_a_sound_digest_is_named_by_its_format(tmp_path):
    """The digest checks any cellmodels tag; the format attribute then names the file."""
    path = save_profile(_profile(), tmp_path / "p.h5")
    with pytest.raises(FileFormatError, match=r"p.h5 is not a cellmodels ECM file \(format "
                       r"attribute 'cellmodels.profile', expected 'cellmodels.ecm'\)"):
        load_ecm(path)


def test_an_unreadable_file_is_a_clear_error(tmp_path, monkeypatch):
    """A file the process cannot open (permissions; CI runs as root, so the refusal is
    simulated) gives FileFormatError naming it, not a raw OSError."""
    p = tmp_path / "locked.h5"
    p.write_bytes(b"\0" * 600)

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_h5, "open", refuse, raising=False)  # module global before builtins
    with pytest.raises(FileFormatError, match=r"locked\.h5 cannot be read: .*Permission denied"):
        _h5.digest_problem(p, what="profile", writer="save_profile")
