"""A statement's long tables write a new string's text operators themselves when reportlab's
would be one string in one font subset, and each text position's operator once per
document (``documents/rowtable.py``): the PDF is byte for byte the one reportlab's own
operators give, also with characters spread over several font subsets, non-breaking
spaces, empty lines and fonts switched from column to column."""

from __future__ import annotations

from hjemmeprove.documents import rowtable, statement
from tests.test_statement_rows import _doc

# more distinct characters than one TrueType subset holds (256), so names switch subsets
ALPHABET = ("abcdefghijklmnopqrstuvwxyzæøåÆØÅ"
            + "".join(map(chr, range(0x100, 0x180)))  # Latin Extended-A
            + "".join(map(chr, range(0x391, 0x3AA)))  # Greek capitals
            + "".join(map(chr, range(0x410, 0x450))))  # Cyrillic


def _name(i: int) -> str:
    k = (i * 37) % len(ALPHABET)
    word = ALPHABET[k:k + 6] or ALPHABET[:6]
    if i % 13 == 0:
        return f"{word}\xa0{i}"  # a non-breaking space: reportlab maps it to a space
    if i % 17 == 0:
        return f"{word}\n\n{i}"  # an empty line inside a cell
    return f"{word} {i}"


def _reportlab_only(monkeypatch):
    monkeypatch.setattr(rowtable, "_format",
                        lambda text, line: (text._formatText(line), text._curSubset))
    monkeypatch.setattr(rowtable.RowTable, "_origin",
                        lambda self, text, x, y: text.setTextOrigin(x, y))


def test_a_statement_is_the_pdf_reportlabs_own_operators_give(monkeypatch):
    for personal_data in ("name_cpr", "name", "referral"):
        doc = _doc(700, personal_data, reference=lambda i: f"R-{_name(i + 3)}", name=_name)
        ours = statement.render_pdf(doc)
        with monkeypatch.context() as m:
            _reportlab_only(m)
            theirs = statement.render_pdf(doc)
        assert ours == theirs, personal_data


def test_most_new_strings_skip_reportlabs_subset_split(monkeypatch):
    """Guards the point of it: of a long statement's strings new to the document (each
    made once), most are written without reportlab's per-character subset split."""
    from reportlab.pdfgen.textobject import PDFTextObject

    new, split = [], []
    real_format, real_format_text = rowtable._format, PDFTextObject._formatText
    monkeypatch.setattr(rowtable, "_format",
                        lambda text, line: new.append(line) or real_format(text, line))
    monkeypatch.setattr(PDFTextObject, "_formatText",
                        lambda self, line: split.append(line) or real_format_text(self, line))
    statement.render_pdf(_doc(2000))
    assert len(new) > 2000  # every referral number is new
    assert len(split) < len(new) / 4  # (split also counts the other parts of the PDF)
