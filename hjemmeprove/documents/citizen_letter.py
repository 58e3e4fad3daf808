"""The letter to the citizen (Danish): date and approximate time of the home visit and what to
expect. About half the citizens get it on paper (exempt from digital post, Bilag 2); the same
PDF serves both.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from hjemmeprove.documents.common import FONT, clock, date_long, date_short, mark_demo, styles


@dataclass(frozen=True)
class LetterInfo:
    visit_id: int
    request_id: int
    citizen_name: str
    address: str  # registered address (where the letter goes)
    postcode: str
    city: str
    sampling_address: str  # where the sample is taken
    date: dt.date
    window_start: dt.time
    window_end: dt.time
    ekg: bool
    fasting_until: dt.time | None
    presence_required: str
    paper: bool  # exempt from digital post
    department: str
    hospital: str
    lab_address: str
    lab_postcode: str
    lab_city: str
    phone: str
    written: dt.date
    cancel_phone: str = ""  # the department's number for cancellations (contact.cancel_phone)
    demo: bool = False  # from a demo database: every page says DEMO (common.mark_demo)


def render(letter: LetterInfo) -> bytes:
    return render_many([letter])


def render_many(letters: list[LetterInfo]) -> bytes:
    st = styles()
    body = st["BodyText"]
    body.fontSize, body.leading = 10.5, 14
    buf = io.BytesIO()
    first = letters[0] if letters else None
    pdf = SimpleDocTemplate(buf, pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm,
                            topMargin=20 * mm, bottomMargin=20 * mm,
                            title="Blodprøvetagning i eget hjem", invariant=1,
                            author=first.department if first else "", initialFontName=FONT)
    mark_demo(pdf, any(L.demo for L in letters))
    story = []
    for i, L in enumerate(letters):
        if i:
            from reportlab.platypus import PageBreak

            story.append(PageBreak())
        story += _letter(L, st, body)
    pdf.build(story)
    return buf.getvalue()


def _letter(L: LetterInfo, st, body) -> list:
    sender = (f"<b>{escape(L.hospital)}</b><br/>{escape(L.department)}<br/>"
              f"{escape(L.lab_address)}<br/>{escape(L.lab_postcode)} {escape(L.lab_city)}"
              + (f"<br/>Telefon {escape(L.phone)}" if L.phone else ""))
    right = st["Right"]
    recipient = (f"{escape(L.citizen_name)}<br/>{escape(L.address)}<br/>"
                 f"{escape(L.postcode)} {escape(L.city)}")
    when = (f"<b>{date_long(L.date)}</b> mellem kl. <b>{clock(L.window_start)}</b> "
            f"og kl. <b>{clock(L.window_end)}</b>")
    parts = [
        Paragraph(sender, right), Spacer(1, 8 * mm), Paragraph(recipient, body),
        Spacer(1, 10 * mm), Paragraph(f"Dato: {date_short(L.written)}", right),
        Spacer(1, 6 * mm),
        Paragraph("Besøg af bioanalytiker – blodprøve i eget hjem", st["Heading2"]),
        Paragraph(f"Kære {escape(L.citizen_name)}", body), Spacer(1, 3 * mm),
        Paragraph("Din læge eller sygehusafdeling har bestilt blodprøver, og din kommune har bedt "
                  "os tage dem hjemme hos dig.", body), Spacer(1, 3 * mm),
        Paragraph(f"Vi kommer {when}.", body), Spacer(1, 3 * mm),
    ]
    if L.sampling_address and L.sampling_address.split(",")[0] != L.address:
        parts += [Paragraph(f"Prøven tages på adressen: <b>{escape(L.sampling_address)}</b>.",
                            body), Spacer(1, 3 * mm)]
    parts += [Paragraph("Sådan foregår besøget", st["Heading3"]),
              Paragraph("En bioanalytiker fra Klinisk Biokemisk Afdeling ringer på og viser "
                        "legitimation. Hun eller han tager blodprøven, mens du sidder ned. "
                        "Besøget tager normalt 10–15 minutter, og vi kommer inden for "
                        "tidsrummet ovenfor.", body), Spacer(1, 2 * mm)]
    if L.fasting_until:
        # the promise is the window (which lies inside the request's "senest"): say that time
        until = min(L.fasting_until, L.window_end) if L.window_end else L.fasting_until
        parts += [Paragraph(f"<b>Du skal være fastende:</b> spis ikke og drik kun vand fra kl. "
                            f"22.00 aftenen før, til prøven er taget. Tag din medicin som "
                            f"sædvanligt, medmindre lægen har sagt andet. Prøven er taget "
                            f"senest kl. {clock(until)}.", body), Spacer(1, 2 * mm)]
    if L.ekg:
        parts += [Paragraph("Vi tager også et <b>EKG</b> (hjertekardiogram). Det gør ikke ondt "
                            "og tager få minutter; du ligger ned med bar overkrop.", body),
                  Spacer(1, 2 * mm)]
    if L.presence_required:
        parts += [Paragraph(f"Til stede under besøget: {escape(L.presence_required)}.", body),
                  Spacer(1, 2 * mm)]
    parts += [Paragraph("Hav gerne dit sundhedskort (det gule kort) klar.", body),
              Spacer(1, 3 * mm),
              Paragraph("Hvis du ikke kan være hjemme", st["Heading3"]),
              Paragraph("Giv besked til hjemmesygeplejen i din kommune så hurtigt som muligt; "
                        "kommunen aflyser besøget hos os. Er der mindre end et døgn til "
                        "besøget, skal det ske telefonisk.", body), Spacer(1, 6 * mm),
              *([Paragraph(f"Aflysning: ring til os på telefon <b>{escape(L.cancel_phone)}</b>.",
                           body), Spacer(1, 6 * mm)] if L.cancel_phone else []),
              Paragraph("Venlig hilsen", body),
              Paragraph(f"{escape(L.department)}, {escape(L.hospital)}", body)]
    return parts
