"""cellmodels' HDF5 files: the format check and the content digest every format shares.

Format check. :func:`open_checked` opens a file read-only and checks its ``format`` and
``schema_version`` attributes (one check of existence, format and schema version).

Content digest. Every cellmodels HDF5 file (ECM, profile, UPS result, life result, study
and study part) starts with a :data:`USERBLOCK`-byte HDF5 user block, which HDF5 skips (so
every HDF5 reader, older cellmodels included, reads the file as before), holding one line
``<format> sha256=<hex>``: the file's format (``cellmodels.ecm``, ...) and the SHA-256 of
every byte after the block. A writer creates the file with
``h5py.File(..., userblock_size=USERBLOCK)``, closes it, then calls :func:`write_digest`
just before the atomic rename (a file appended to, such as the study file, is sealed
again after the append). A reader calls :func:`read_verified`, which checks the digest
before HDF5 reads a byte of the file:

- it matches: the file is read;
- the file has no block (written before the digest existed, or not by cellmodels): it is
  read as before, without that check;
- it does not match (or the block is damaged, or the file is cut short): the file is
  refused with :class:`~cellmodels.errors.FileFormatError` naming it, and naming its
  structural fault where there is one (another schema version, a missing table), found
  by :func:`diagnose`: reading the file in a forked child process stopped after
  :data:`DIAGNOSE_TIMEOUT_S`, because a damaged attribute can send the HDF5 library into
  an endless loop. Else (it reads, or HDF5 does not finish) the message says the content
  was altered or damaged. Never loaded with altered numbers, never a hang.

The block must be exactly what :func:`write_digest` writes, for one of
:data:`DIGEST_FORMATS` (any byte of it changed is damage). Any of them, not only the
reader's: a file of another cellmodels format whose content is intact is then refused by
its ``format`` attribute, naming both formats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .errors import FileFormatError

__all__ = ["DIAGNOSE_TIMEOUT_S", "DIGEST_FORMATS", "USERBLOCK", "diagnose", "digest_problem",
           "digest_tag", "open_checked", "read_verified", "sealed_copy", "write_digest"]

T = TypeVar("T")

#: Size of the HDF5 user block that holds the content digest [bytes] (HDF5's smallest).
USERBLOCK = 512
#: Longest wait for HDF5 to read a file that failed its digest [s] (a healthy read of a
#: cellmodels file takes milliseconds to seconds; a damaged attribute can make the HDF5
#: library loop forever).
DIAGNOSE_TIMEOUT_S = 10.0
#: The formats whose files carry a digest (the ``format`` attribute of each; a block
#: whose tag is none of these is damaged).
DIGEST_FORMATS = ("cellmodels.ecm", "cellmodels.profile", "cellmodels.ups_result",
                  "cellmodels.life_result", "cellmodels-study", "cellmodels-study-point")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_CHUNK = 1 << 20  # hash in 1 MiB pieces: a UPS result with every step can be gigabytes


def open_checked(path: str | Path, fmt: str, version: int, what: str):
    """Open ``path`` read-only and check its ``format`` and ``schema_version`` attributes.

    ``what`` names the kind of file in messages ("ECM", "profile", "UPS result"). Raises
    :class:`FileFormatError` for a missing, corrupt or truncated file, another format, or
    another schema version. Returns the open ``h5py.File`` (use it in a ``with``). It does
    not check the content digest: call it from a reader given to :func:`read_verified`.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"No {what} file at {path}.")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FileFormatError(f"{path} is not a readable HDF5 file (corrupt or truncated): "
                              f"{exc}") from None
    if f.attrs.get("format") != fmt:
        found = f.attrs.get("format")
        f.close()
        raise FileFormatError(f"{path} is not a cellmodels {what} file (format attribute "
                              f"{found!r}, expected {fmt!r}).")
    found_version = int(f.attrs.get("schema_version", -1))
    if found_version != version:
        f.close()
        raise FileFormatError(f"{path} has {what} schema version {found_version}; this "
                              f"cellmodels reads schema version {version}.")
    return f


# --- the digest --------------------------------------------------------------------------
def digest_tag(fmt: str) -> bytes:
    """The user block's first bytes for format ``fmt``: ``b"<fmt> sha256="``."""
    if fmt not in DIGEST_FORMATS:
        raise ValueError(f"The format {fmt!r} carries no digest; add it to DIGEST_FORMATS "
                         f"(now {DIGEST_FORMATS}).")
    return f"{fmt} sha256=".encode("ascii")


_TAGS = tuple(digest_tag(fmt) for fmt in DIGEST_FORMATS)


def _tag_of(head: bytes) -> bytes | None:
    """The digest tag ``head`` starts with, or None."""
    return next((tag for tag in _TAGS if head.startswith(tag)), None)


def _block(tag: bytes, digest: str) -> bytes:
    """The user block as :func:`write_digest` writes it."""
    return (tag + digest.encode("ascii") + b"\n").ljust(USERBLOCK, b"\0")


def _sha256_of_rest(fh) -> tuple[str, int]:
    """The SHA-256 (hex) of the rest of the open file ``fh``, and how many bytes that is."""
    h = hashlib.sha256()
    n = 0
    while chunk := fh.read(_CHUNK):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def write_digest(path: str | Path, fmt: str) -> None:
    """Write the SHA-256 of everything after the user block into the user block.

    ``path`` is a closed HDF5 file created with ``userblock_size=USERBLOCK``: its block is
    empty, or holds this format's digest from before an append (it is replaced). Call it
    once the file is final, just before the atomic rename.
    """
    tag = digest_tag(fmt)
    with open(path, "r+b") as fh:
        head = fh.read(USERBLOCK)
        if len(head) != USERBLOCK or (head.strip(b"\0") and not head.startswith(tag)):
            raise RuntimeError(f"{path}: the HDF5 user block is missing or holds something "
                               f"else than a {fmt} digest.")
        digest, _ = _sha256_of_rest(fh)
        fh.seek(0)
        fh.write(_block(tag, digest))


def digest_problem(path: str | Path, *, what: str, writer: str,
                   remedy: str | None = None) -> str | None:
    """Why the file's content digest (user block) does not match its bytes, or None (it
    matches, or the file has no digest: written before it existed, or not ours).

    ``what`` names the kind of file ("ECM"), ``writer`` the function that writes it
    ("save_ecm"); ``remedy`` ends the message (default "Write the <what> again from its
    source.").
    """
    path = Path(path)
    if not path.is_file():
        return None  # the reader names the missing file
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:  # permissions, a file removed meanwhile: a clear error, not a raw one
        raise FileFormatError(f"{path} cannot be read: {exc}.") from None
    with fh:
        head = fh.read(USERBLOCK)
        tag = _tag_of(head)
        if tag is None:
            if (len(head) == USERBLOCK and not head.startswith(_HDF5_SIGNATURE)
                    and fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE):
                return (f"{path} is corrupt: its content digest (the first {USERBLOCK} bytes) "
                        "is damaged.")
            return None
        if len(head) < USERBLOCK:
            return (f"{path} is truncated: it holds {len(head)} bytes, fewer than its "
                    f"{USERBLOCK}-byte header (corrupt or truncated).")
        found, size = _sha256_of_rest(fh)
    if head == _block(tag, found):
        return None
    recorded = head[len(tag):].split(b"\n", 1)[0].decode("ascii", "replace")
    if recorded == found:  # the content is as written; the block around the digest is not
        return (f"{path} is corrupt: its content digest (the first {USERBLOCK} bytes) is "
                "damaged.")
    remedy = remedy if remedy is not None else f"Write the {what} again from its source."
    return (f"{path} is corrupt or truncated: the SHA-256 of its {size} bytes of content "
            f"is {found}, but the file records {recorded!r} (written by {writer}). {remedy}")


def read_verified(path: str | Path, read: Callable[[Path], T], *, what: str, writer: str,
                  remedy: str | None = None, timeout_s: float | None = None) -> T:
    """``read(path)`` if the file's digest matches (or it has none); else refuse it.

    ``read`` opens the file (with :func:`open_checked`) and raises
    :class:`FileFormatError` for a structural fault. A file that fails its digest is never
    read here: :func:`diagnose` reads it in a child process (at most ``timeout_s``, default
    :data:`DIAGNOSE_TIMEOUT_S`) and the :class:`FileFormatError` raised names the fault it
    finds, else the digest's failure (:func:`digest_problem`; ``what``, ``writer`` and
    ``remedy`` word it).
    """
    path = Path(path)
    problem = digest_problem(path, what=what, writer=writer, remedy=remedy)
    if problem is None:
        return read(path)
    # The file was changed after it was written. Name what is wrong with it if the
    # structural checks can (another schema version, a missing table); else (it reads, or
    # HDF5 does not finish) its values were altered or damaged: say so.
    raise FileFormatError(diagnose(path, read, timeout_s) or problem)


def sealed_copy(src: str | Path, dst: str | Path, read: Callable[[Path], object], *,
                what: str, writer: str, remedy: str | None = None) -> None:
    """Copy the file ``src`` to ``dst`` (to append to it, then :func:`write_digest`).

    ``src`` must pass its digest, so that an append never seals a damaged file as sound:
    else :class:`FileFormatError` as :func:`read_verified` raises it (``read`` names the
    structural fault). A file without a block (written before the digest existed) gets an
    empty one in front: HDF5 finds the superblock after it and takes its addresses as
    relative to it, so the copy reads as the original, and takes a digest when sealed.
    """
    src = Path(src)
    problem = digest_problem(src, what=what, writer=writer, remedy=remedy)
    if problem is not None:
        raise FileFormatError(diagnose(src, read) or problem)
    import shutil

    with open(src, "rb") as fi, open(dst, "wb") as fo:
        if _tag_of(fi.read(USERBLOCK)) is None:  # no block: digest_problem found none
            fo.write(bytes(USERBLOCK))
        fi.seek(0)
        shutil.copyfileobj(fi, fo, _CHUNK)


# --- the diagnosis of a file that failed its digest --------------------------------------
def diagnose(path: str | Path, read: Callable[[Path], object],
             timeout_s: float | None = None) -> str | None:
    """The structural error of a file that failed its digest, or None if it reads (or HDF5
    does not finish within ``timeout_s``, default :data:`DIAGNOSE_TIMEOUT_S`).

    ``read(path)`` runs in a forked child process, so that a loop inside the HDF5 library
    on a damaged attribute cannot hang the caller; where fork is not available, in this
    process. The error is the text of the :class:`FileFormatError` it raises; any other
    exception counts as "not named".
    """
    import multiprocessing as mp

    path = Path(path)
    timeout_s = DIAGNOSE_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        ctx = mp.get_context("fork")
    except ValueError:
        ctx = None
    proc = None
    if ctx is not None:
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_diagnose_child, args=(read, path, send), daemon=True)
        try:
            proc.start()
        except (AssertionError, OSError):  # e.g. inside a daemonic worker: no children
            recv.close()
            proc = None
        finally:
            send.close()
    if proc is None:
        try:
            read(path)
        except FileFormatError as exc:
            return str(exc)
        except Exception:  # noqa: BLE001 - not a fault the reader names
            return None
        return None
    kind, text = "timeout", None
    try:
        if recv.poll(timeout_s):
            kind, text = recv.recv()
    except (EOFError, OSError):
        kind = "died"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
    return text if kind == "error" else None


def _diagnose_child(read: Callable[[Path], object], path: Path, conn) -> None:
    try:
        read(path)
        conn.send(("ok", None))
    except FileFormatError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported as "not readable" by the parent
        conn.send(("other", repr(exc)))
    finally:
        conn.close()
