"""Atomic file writes: write beside the target, then rename over it.

A reader never sees a half-written result file, and a crash leaves the old file (or none),
never a truncated one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def out_folder_problem(path: str | Path, flag: str = "-o") -> str | None:
    """Why ``path``'s folder cannot take the file (None if it can).

    The command lines (``reduce``, ``export``, ``fit``, ``fit-ecm``) write files, not
    folders: a mistyped output path (``/nonexisting/x.fmu``) is refused, naming ``flag``,
    before any work, rather than creating the folder it names. (The library's writers,
    :func:`atomic_path`, do create it.)"""
    if Path(path).is_dir():
        return (f"{flag} {str(path)!r} is a folder; give the path of the file to write "
                "(the command writes files, not folders).")
    parent = Path(path).parent
    if parent.is_dir():
        return None
    what = "is not a folder" if parent.exists() else "does not exist"
    return (f"the folder of {flag} {str(path)!r}, {str(parent)!r}, {what}; create it first "
            "(the command writes files, not folders).")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The temporary file gets the permissions a plain ``open()`` would give (mkstemp's are
    0600). On any exception it is removed and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)
