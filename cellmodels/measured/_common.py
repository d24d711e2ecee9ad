"""Small helpers shared by the readers: finding a file, provenance."""

from __future__ import annotations

from pathlib import Path

from .. import data
from ..errors import DataError


def locate(name: str | Path, prefix: str, suffixes: tuple[str, ...]) -> tuple[Path, str, dict]:
    """The file, the source label and provenance for a registry name or a path.

    A registry name is found through :func:`cellmodels.data.path` (sha256 checked); a path
    is read as given. ``prefix`` is the registry folder of the reader (for suggestions).
    """
    text = str(name)
    if text in data.REGISTRY:
        file = data.path(text)
        return file, text, provenance(text, file)
    file = Path(text)
    if not file.is_file():
        if text.startswith(prefix) or not text.lower().endswith(suffixes):
            data.path(text)  # raises with the registry's close-match suggestions
        raise DataError(f"No data file at {file}.")
    return file, str(file), provenance(str(file), file)


def provenance(source: str, file: Path) -> dict:
    """Where a file read as ``source`` comes from: a registry name's origin, sha256 and
    licence, or a path's absolute origin and the sha256 of its bytes."""
    entry = data.REGISTRY.get(source)
    if entry is None:
        return {"registry_name": None, "origin": str(file.resolve()),
                "sha256": data.sha256(file)}
    return {"registry_name": source,
            "origin": f"{entry.repository}@{entry.commit}:{entry.origin_path}",
            "sha256": entry.sha256, "licence": entry.licence}
