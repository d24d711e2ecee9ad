"""A minimal reader of Office Open XML spreadsheets (.xlsx), standard library only.

Reads cell values (numbers, shared and inline strings) of every sheet with
:mod:`zipfile` and :mod:`xml.etree.ElementTree`; formulas are read as their cached values.
No styles, dates or merged cells: enough for cycler exports, and no openpyxl dependency.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import PurePosixPath

from ..errors import DataError

__all__ = ["column_index", "read_xlsx"]

_M = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_REF = re.compile(r"^([A-Z]+)(\d+)$")


def column_index(letters: str) -> int:
    """0-based index of a spreadsheet column ("A" -> 0, "AA" -> 26)."""
    k = 0
    for ch in letters:
        k = 26 * k + (ord(ch) - 64)
    return k - 1


def _text(node) -> str:
    return "".join(t.text or "" for t in node.iter(f"{_M}t"))


def read_xlsx(file, source: str | None = None) -> dict[str, dict[tuple[int, int], object]]:
    """Every sheet's cells: ``{sheet name: {(row, column): value}}``, 0-based indices.

    Values are float for numbers, str for text, bool for booleans; empty cells are absent.

    Raises
    ------
    DataError
        Not a zip, not a spreadsheet, or a cell that cannot be read (naming sheet and cell).
    """
    source = source or str(file)
    try:
        zf = zipfile.ZipFile(file)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{source}: not an .xlsx file (not a zip archive: {exc}).") from None
    with zf:
        names = set(zf.namelist())
        if "xl/workbook.xml" not in names:
            raise DataError(f"{source}: not an .xlsx file (no xl/workbook.xml inside).")
        try:
            shared = []
            if "xl/sharedStrings.xml" in names:
                root = ET.fromstring(zf.read("xl/sharedStrings.xml"))
                shared = [_text(si) for si in root.findall(f"{_M}si")]
            wb = ET.fromstring(zf.read("xl/workbook.xml"))
            rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        except (KeyError, ET.ParseError) as exc:
            raise DataError(f"{source}: the workbook is corrupt ({exc}).") from None
        targets = {r.get("Id"): r.get("Target") for r in rels}
        out: dict[str, dict[tuple[int, int], object]] = {}
        sheets = wb.find(f"{_M}sheets")
        for sheet in (sheets if sheets is not None else []):
            title = sheet.get("name")
            target = targets.get(sheet.get(f"{_R}id"), "")
            part = target.lstrip("/") if target.startswith("/") else str(
                PurePosixPath("xl") / target)
            try:
                root = ET.fromstring(zf.read(part))
            except (KeyError, ET.ParseError) as exc:
                raise DataError(f"{source}: sheet {title!r} cannot be read ({exc}).") from None
            cells: dict[tuple[int, int], object] = {}
            for c in root.iter(f"{_M}c"):
                ref = c.get("r", "")
                m = _REF.match(ref)
                if not m:
                    raise DataError(f"{source}: sheet {title!r} has a cell without a "
                                    f"reference ({ref!r}).")
                key = (int(m.group(2)) - 1, column_index(m.group(1)))
                kind = c.get("t", "n")
                v = c.find(f"{_M}v")
                try:
                    if kind == "inlineStr":
                        node = c.find(f"{_M}is")
                        if node is not None:
                            cells[key] = _text(node)
                    elif v is None or v.text is None:
                        continue
                    elif kind == "s":
                        cells[key] = shared[int(v.text)]
                    elif kind in ("str", "e"):
                        cells[key] = v.text
                    elif kind == "b":
                        cells[key] = v.text.strip() == "1"
                    else:
                        cells[key] = float(v.text)
                except (ValueError, IndexError):
                    raise DataError(f"{source}: sheet {title!r} cell {ref} holds "
                                    f"{v.text!r}, which cannot be read as {kind!r}.") from None
            out[title] = cells
    return out
