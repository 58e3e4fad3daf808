"""CSV files a spreadsheet opens safely (every CSV the program writes goes through here).

OWASP's CSV-injection guidance: a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return can be taken for a formula (``=HYPERLINK(…)``, ``@SUM(…)``, ``-2+3``) when the
file is opened in Excel or LibreOffice. Such a *text* cell is prefixed with a single quote, so
it shows as the text it is; the csv module quotes any cell holding the separator, a quote or a
line break, so a cell cannot spill into the next one.

Numbers stay numbers: a cell given as a number (``int``, ``Decimal``, ``float``) or formatted
by ``number()`` (Danish decimal comma) is written as is, so a credit note's ``-1234,50`` is
still a number in the spreadsheet. Only text is neutralised.
"""

from __future__ import annotations

import csv
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class CsvNumber(str):
    """A number already formatted for the file (e.g. '-12,50'): never neutralised."""


def number(value, places: int) -> CsvNumber:
    """``value`` with ``places`` decimals and a decimal comma (Danish Excel)."""
    return CsvNumber(f"{Decimal(value):.{places}f}".replace(".", ","))


def safe_cell(value):
    if value is None:
        return ""
    if isinstance(value, (CsvNumber, int, float, Decimal)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class SafeWriter:
    """``csv.writer`` whose every text cell is neutralised."""

    def __init__(self, stream, delimiter: str = ";", lineterminator: str = "\r\n"):
        self._w = csv.writer(stream, delimiter=delimiter, lineterminator=lineterminator)

    def writerow(self, row) -> None:
        self._w.writerow([safe_cell(c) for c in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def writer(stream, delimiter: str = ";", lineterminator: str = "\r\n") -> SafeWriter:
    return SafeWriter(stream, delimiter=delimiter, lineterminator=lineterminator)
