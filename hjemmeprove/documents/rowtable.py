"""A long table of text rows drawn straight on the canvas: the statement's visits and routes.

A month's statements hold thousands of rows (5,000 visits, ~90,000 cells); reportlab's
``LongTable`` sizes, styles and draws every cell as an object of its own, which was most of a
billing run's time. ``RowTable`` draws the same page: column x positions are computed once,
each row is one line of text per cell (one text object per page part), with the header row
repeated on every page, alternating row shading restarting under each header, a line under
the header and above the total row, and the cell padding, fonts, leading and alignment of the
``LongTable`` it replaces. A cell may also be a ``Paragraph`` (a long text that wraps): its
row grows to fit, as in a Table.

It is a platypus ``Flowable``: it splits between rows at the end of a frame. A row taller
than a whole frame (a text of many lines) cannot be split between rows, so ``row_table``
then builds the equivalent ``LongTable`` (which splits inside a row) from the same spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.lib import colors
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, LongTable, TableStyle

PAD_X = 6.0  # reportlab's default left and right padding of a table cell
TALLEST_ROW = 200.0  # points; a taller row (a long wrapped text) goes to LongTable


@dataclass
class RowSpec:
    """How a table looks: the same spec draws a ``RowTable`` or builds a ``LongTable``."""
    widths: list[float]
    right: set[int]  # columns aligned right (others left)
    font: str
    bold: str
    size: float
    head_fill: object
    shades: tuple = (colors.white, colors.HexColor("#f6f6f6"))
    pad_y: float = 1.5
    middle: bool = False  # VALIGN MIDDLE (else BOTTOM, the Table default)
    column_fonts: dict[int, tuple[str, float]] = field(default_factory=dict)  # body rows


def row_table(spec: RowSpec, head: list, rows: list[list], total: list | None = None):
    """The table as a ``RowTable``, or as a ``LongTable`` when a row would be too tall."""
    table = RowTable(spec, head, rows, total)
    if max(table.heights, default=0) > TALLEST_ROW:
        return _long_table(spec, head, rows, total)
    return table


def _long_table(spec: RowSpec, head, rows, total) -> LongTable:
    data = [head, *rows] + ([total] if total is not None else [])
    last_body = -2 if total is not None else -1
    cmds = [("FONT", (0, 0), (-1, -1), spec.font, spec.size),
            ("FONT", (0, 0), (-1, 0), spec.bold, spec.size),
            ("BACKGROUND", (0, 0), (-1, 0), spec.head_fill),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("ROWBACKGROUNDS", (0, 1), (-1, last_body), list(spec.shades)),
            ("TOPPADDING", (0, 0), (-1, -1), spec.pad_y),
            ("BOTTOMPADDING", (0, 0), (-1, -1), spec.pad_y)]
    for col, (font, size) in spec.column_fonts.items():
        cmds.append(("FONT", (col, 1), (col, last_body), font, size))
    if total is not None:
        cmds += [("FONT", (0, -1), (-1, -1), spec.bold, spec.size),
                 ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black)]
    for col in spec.right:
        cmds.append(("ALIGN", (col, 0), (col, -1), "RIGHT"))
    if spec.middle:
        cmds.append(("VALIGN", (0, 0), (-1, -1), "MIDDLE"))
    return LongTable(data, colWidths=spec.widths, repeatRows=1, splitInRow=1, hAlign="LEFT",
                     style=TableStyle(cmds))


class RowTable(Flowable):
    def __init__(self, spec: RowSpec, head: list, rows: list[list], total: list | None = None,
                 _heights: list[float] | None = None):
        super().__init__()
        self.spec, self.head, self.rows, self.total = spec, head, rows, total
        self.hAlign = "LEFT"
        self.x = [0.0]
        for w in spec.widths:
            self.x.append(self.x[-1] + w)
        self.width = self.x[-1]
        self.line = spec.size * 1.2 + 2 * spec.pad_y  # a row of one line per cell
        self.head_h = self._height(head, spec.bold, spec.size, {})
        self.heights = _heights if _heights is not None else \
            [self._height(r, spec.font, spec.size, spec.column_fonts) for r in rows]
        self.total_h = self._height(total, spec.bold, spec.size, {}) if total is not None else 0.0

    def _height(self, row, font, size, column_fonts) -> float:
        h = self.line
        for col, cell in enumerate(row):
            if isinstance(cell, str):
                if "\n" in cell:
                    fsize = column_fonts.get(col, (font, size))[1]
                    h = max(h, fsize * 1.2 * (cell.count("\n") + 1) + 2 * self.spec.pad_y)
            else:  # a Flowable (Paragraph) that wraps in the column
                _w, ch = cell.wrap(self.spec.widths[col] - 2 * PAD_X, 1e6)
                h = max(h, ch + 2 * self.spec.pad_y)
        return h

    def wrap(self, avail_w, avail_h):
        self.height = self.head_h + sum(self.heights) + self.total_h
        return self.width, self.height

    def split(self, avail_w, avail_h):
        room = avail_h - self.head_h
        n = 0
        for h in self.heights:
            if h > room:
                break
            room -= h
            n += 1
        if n == len(self.heights) and self.total_h <= room:
            return [self]  # all fits (wrap said otherwise only by rounding)
        if n == 0:
            return []  # not even one row under the header: the next frame
        # as LongTable: the total row may go on alone under the next page's header
        return [RowTable(self.spec, self.head, self.rows[:n], None, self.heights[:n]),
                RowTable(self.spec, self.head, self.rows[n:], self.total, self.heights[n:])]

    def draw(self):
        spec, canv = self.spec, self.canv
        top = self.head_h + sum(self.heights) + self.total_h
        # backgrounds: the header, then the body rows alternating from the first shade
        y = top
        canv.setFillColor(spec.head_fill)
        canv.rect(0, y, self.width, -self.head_h, stroke=0, fill=1)
        y -= self.head_h
        for i, h in enumerate(self.heights):
            shade = spec.shades[i % len(spec.shades)]
            if shade is not None:
                canv.setFillColor(shade)
                canv.rect(0, y, self.width, -h, stroke=0, fill=1)
            y -= h
        # text: one text object for every string cell
        text = canv.beginText()
        text.setFillColor(colors.black)
        flowables = []
        self._font = None  # the text object's current font, kept from row to row
        self._cache = _canvas_cache(canv)
        y = top
        y = self._row(text, flowables, self.head, y, self.head_h, self._fonts("head"))
        body = self._fonts("body")
        for row, h in zip(self.rows, self.heights):
            y = self._row(text, flowables, row, y, h, body)
        if self.total is not None:
            self._row(text, flowables, self.total, y, self.total_h, self._fonts("head"))
        canv.drawText(text)
        for cell, x, y in flowables:
            cell.drawOn(canv, x, y)
        # lines: under the header, above the total (reportlab's default round caps)
        canv.setStrokeColor(colors.black)
        canv.setLineWidth(0.6)
        canv.setLineCap(1)
        canv.line(0, top - self.head_h, self.width, top - self.head_h)
        if self.total is not None:
            canv.line(0, self.total_h, self.width, self.total_h)

    def _fonts(self, kind: str) -> list[tuple[str, float]]:
        """Each column's (font, size): bold in the header and total rows, the body font (or
        the column's own) in the others."""
        spec = self.spec
        if kind == "head":
            return [(spec.bold, spec.size)] * len(spec.widths)
        return [spec.column_fonts.get(c, (spec.font, spec.size)) for c in range(len(spec.widths))]

    def _row(self, text, flowables, row, top, h, fonts) -> float:
        spec, x, right = self.spec, self.x, self.spec.right
        bottom = top - h
        for col, cell in enumerate(row):
            if isinstance(cell, str):
                if not cell:
                    continue
                fname, fsize = font = fonts[col]
                if self._font != font:
                    text.setFont(fname, fsize, fsize * 1.2)
                    self._font = font
                lines = cell.split("\n") if "\n" in cell else (cell,)
                leading = fsize * 1.2
                if spec.middle:
                    y = bottom + (h + len(lines) * leading) / 2 - fsize
                else:
                    y = bottom + spec.pad_y + len(lines) * leading - fsize
                for line in lines:
                    if col in right:
                        lx = x[col + 1] - PAD_X - self._width(line, fname, fsize)
                    else:
                        lx = x[col] + PAD_X
                    self._origin(text, lx, y)
                    self._text_out(text, line)
                    y -= leading
            else:
                w, ch = cell.wrap(spec.widths[col] - 2 * PAD_X, 1e6)
                if spec.middle:
                    y = bottom + (h - ch) / 2
                else:
                    y = bottom + spec.pad_y
                cx = x[col + 1] - PAD_X - w if col in right else x[col] + PAD_X
                flowables.append((cell, cx, y))
        return bottom

    def _width(self, line, fname, fsize) -> float:
        widths = self._cache["width"]
        key = (line, fname, fsize)
        w = widths.get(key)
        if w is None:
            w = widths[key] = stringWidth(line, fname, fsize)
        return w

    def _text_out(self, text, line) -> None:
        """``text.textOut(line)``, the PDF operators of each distinct string made once per
        document: a month's statement repeats a few hundred strings (dates, outcomes, "ja",
        route numbers) tens of thousands of times, and reportlab encodes every one afresh
        (splitting it into the TrueType subsets, escaping it). The operators depend on the
        font, size and leading, on the subset the text object is in before the string and
        on the document's subsets (a string's characters keep the subset they were first
        given), so the same key gives the same bytes. The text cursor is not advanced: every
        string here is placed with ``setTextOrigin``."""
        key = (text._fontname, text._fontsize, text._leading, text._curSubset, line)
        ops = self._cache["ops"]
        hit = ops.get(key)
        if hit is None:
            hit = ops[key] = _format(text, line)
        text._code.append(hit[0])
        text._curSubset = hit[1]

    def _origin(self, text, x, y) -> None:
        """``text.setTextOrigin(x, y)``, its operator made once per position and document:
        every page of a long table puts its rows at the same heights."""
        origins = self._cache["origin"]
        op = origins.get((x, y))
        if op is None:
            text.setTextOrigin(x, y)
            origins[(x, y)] = text._code[-1]
        else:
            text._code.append(op)
            text._x0 = text._x = x
            text._y0 = text._y = y


def _format(text, line: str) -> tuple[str, int]:
    """(``text._formatText(line)``, the subset after it). A string never drawn before whose
    characters all have their codes already, in one subset (a new referral number, a share
    in km: most of a statement's new strings), is one string operator, after a font
    operator when the text object is in another subset (or none, after ``setFont``):
    written here directly, as reportlab writes them for a TrueType font, without splitting
    the string into subsets character by character. Anything else goes through reportlab."""
    font = pdfmetrics.getFont(text._fontname)
    state = font.state.get(text._canvas._doc) if font._dynamicFont and line else None
    if state is not None:
        assignments = state.assignments
        n = assignments.get(ord(line[0]))
        subset = -1 if n is None else n >> 8
        base = subset << 8
        codes = []
        for ch in line:
            n = assignments.get(ord(ch))
            if n is None or ch == "\xa0" or n >> 8 != subset:
                break
            codes.append(n - base)
        else:
            canv = text._canvas
            op = f"({canv._escape(bytes(codes))}) Tj"
            if subset != text._curSubset:
                op = (f"{font.getSubsetInternalName(subset, canv._doc)} "
                      f"{fp_str(text._fontsize)} Tf {fp_str(text._leading)} TL {op}")
            return op, subset
    return text._formatText(line), text._curSubset


def _canvas_cache(canv) -> dict:
    """The per-document caches of ``RowTable`` (the subsets are the document's own)."""
    cache = getattr(canv, "_hjemmeprove_rowtable", None)
    if cache is None:
        cache = {"width": {}, "ops": {}, "origin": {}}
        canv._hjemmeprove_rowtable = cache
    return cache
