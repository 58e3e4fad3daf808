"""Demo data: OUH Svendborg's clinical biochemistry department and its neighbours.

Everything here is made up except the places: the lab address, towns, postcodes and the
municipality codes are real; names, CPR numbers, EAN numbers and wage percentages are not
(the percentages are stored with ``example=True`` and shown as "eksempel").
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import select

from hjemmeprove.db.models import (
    Absence,
    Agreement,
    Bioanalyst,
    Department,
    Municipality,
    Request,
    Setting,
    Visit,
    WageIndex,
)
from hjemmeprove.domain import postcodes
from hjemmeprove.domain.ean import with_check_digit
from hjemmeprove.domain.request_input import RequestInput
from hjemmeprove.errors import HjemmeproveError
from hjemmeprove.services.reference import load_defaults
from hjemmeprove.settings import DEMO_DATA

LAB = dict(name="Klinisk Biokemisk Afdeling, Svendborg", hospital="Odense Universitetshospital",
           lab_address="Baagøes Allé 15", lab_postcode="5700", lab_city="Svendborg",
           lab_lat=55.0587, lab_lon=10.5931, cvr="29190925", ean="5798000000018",
           bank_reg="0216", bank_account="4069063213", contact_name="Økonomiafdelingen, OUH",
           contact_email="okonomi.demo@example.invalid", contact_phone="65 41 10 00")

# (town, postcode, kommunekode, lat, lon, weight, spread_km): urban weights high
TOWNS = [
    ("Svendborg", "5700", 479, 55.0598, 10.6068, 34, 2.5),
    ("Troense", "5700", 479, 55.0383, 10.6483, 4, 1.2),  # Tåsinge, by bridge
    ("Vester Skerninge", "5762", 479, 55.0740, 10.4520, 3, 2.0),
    ("Gudme", "5884", 479, 55.1505, 10.7090, 3, 2.0),
    ("Faaborg", "5600", 430, 55.0951, 10.2423, 12, 2.0),
    ("Lyø", "5600", 430, 55.0450, 10.1590, 1, 0.4),  # small island: ferry from Faaborg
    ("Ringe", "5750", 430, 55.2386, 10.4805, 9, 2.0),
    ("Stenstrup", "5771", 430, 55.1330, 10.5060, 3, 1.5),
    ("Nyborg", "5800", 450, 55.3127, 10.7897, 10, 2.0),
    ("Rudkøbing", "5900", 482, 54.9364, 10.7106, 8, 1.5),  # Langeland, by bridge
    ("Tranekær", "5953", 482, 55.0010, 10.8530, 3, 2.5),
    ("Marstal", "5960", 492, 54.8557, 10.5176, 3, 1.0),  # Ærø: ferry
    ("Ærøskøbing", "5970", 492, 54.8880, 10.4117, 2, 1.0),
]
# the municipalities' town halls: the invoice address (street, postcode, city)
TOWN_HALLS = {479: ("Ramsherred 5", "5700", "Svendborg"), 430: ("Tinghøj Allé 2", "5750", "Ringe"),
              450: ("Torvet 1", "5800", "Nyborg"), 482: ("Fredensvej 1", "5900", "Rudkøbing"),
              492: ("Statene 2", "5970", "Ærøskøbing")}
STREETS = ["Vestergade", "Østergade", "Skovvej", "Møllevej", "Kirkevej", "Strandvejen",
           "Bakkevej", "Engvej", "Græsvænget", "Solvænget", "Rosenvej", "Ahornvej",
           "Nørregade", "Søndergade", "Havnegade", "Bøgevej", "Lindevej", "Kildevej"]
FIRST = ["Anna", "Karen", "Inger", "Kirsten", "Bente", "Else", "Hanne", "Grethe", "Jens",
         "Niels", "Poul", "Hans", "Erik", "Ole", "Knud", "Jørgen", "Birthe", "Aase", "Søren",
         "Ebba", "Ejnar", "Gudrun", "Holger", "Åse", "Bjørn"]
LAST = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
        "Sørensen", "Rasmussen", "Jørgensen", "Madsen", "Kristensen", "Olsen", "Thomsen",
        "Poulsen", "Johansen", "Møller", "Mortensen", "Østergaard", "Bæk"]
ANALYSTS = [("Mette Holm", "ekg"), ("Louise Friis", ""), ("Camilla Bach", "ekg"),
            ("Sanne Vestergaard", "")]
# Example wage projection percentages: NOT published figures; labelled as examples.
EXAMPLE_WAGE = {2021: "2.0", 2022: "2.3", 2023: "3.1", 2024: "5.0", 2025: "3.6",
                2026: "3.2", 2027: "3.0"}


def _cpr(rng: random.Random) -> str:
    born = dt.date(1925, 1, 1) + dt.timedelta(days=rng.randrange(0, 35 * 365))
    serial = rng.randrange(0, 4000)  # 7th digit 0-3: born in the 1900s
    return f"{born:%d%m%y}-{serial:04d}"


# Towns on islands: a made-up address must land on the island, not in the sea beside it.
ISLAND_OF = {"Lyø": "Lyø", "Troense": "Tåsinge", "Rudkøbing": "Langeland", "Tranekær": "Langeland",
             "Marstal": "Ærø", "Ærøskøbing": "Ærø"}


def _offset(rng: random.Random, lat: float, lon: float, km: float,
            island: str = "") -> tuple[float, float]:
    area = _island_lookup()
    for _ in range(50):
        plat = round(lat + rng.gauss(0, km / 111.0), 5)
        plon = round(lon + rng.gauss(0, km / 64.0), 5)
        # mainland towns stay off the islands (Faaborg's Bjørnø lies 3 km off the harbour)
        if area is None or area(plat, plon) == island:
            return plat, plon
    return lat, lon  # the town centre itself is where it should be


def _island_lookup():
    try:
        from hjemmeprove.planning.ferries import default_network
    except ImportError:
        return None
    return default_network().area


def fill_demo(app, seed: int = 1, today: dt.date | None = None, months: int = 3,
              per_working_day: int = 18) -> str:
    """Fills an empty database; refuses one that already has a department."""
    store = app.store
    if not store.is_empty():
        raise HjemmeproveError("databasen er ikke tom; demodata fyldes kun i en tom database")
    rng = random.Random(seed)
    today = today or dt.date.today()
    load_defaults(store)
    calendar = app.calendar()
    with store.session(user="demo") as s:
        s.merge(Setting(key=DEMO_DATA, value="true"))  # shown in the main window's title
        dept = Department(**LAB)
        s.add(dept)
        s.flush()
        for name, skills in ANALYSTS:
            s.add(Bioanalyst(name=name, department_id=dept.id, skills=skills,
                             phone=f"20 {rng.randrange(10, 99)} {rng.randrange(10, 99)} "
                                   f"{rng.randrange(10, 99)}"))
        s.flush()
        first_analyst = s.scalars(select(Bioanalyst)).first()
        s.add(Absence(bioanalyst=first_analyst, start=today + dt.timedelta(days=3),
                      end=today + dt.timedelta(days=5), reason="Ferie"))
        codes = sorted({t[2] for t in TOWNS})
        for code in codes:
            muni = s.scalar(select(Municipality).where(Municipality.code == code))
            # made up, but with a valid GS1 check digit (NemHandel refuses a wrong one)
            muni.ean = with_check_digit(f"57980000{code:03d}{rng.randrange(10, 99) // 10}")
            muni.contact_name = "Hjemmesygeplejen"
            muni.contact_email = f"hjemmesygepleje.{code}@example.invalid"
            muni.address, muni.postcode, muni.city = TOWN_HALLS[code]
            s.add(Agreement(municipality_id=muni.id, department_id=dept.id,
                            start=dt.date(2020, 1, 1), reference=f"BPH-{code}",
                            ekg_price=Decimal("95.00") if code == 479 else None,
                            invoice_ean=muni.ean, person_reference=f"HSP{code}",
                            order_reference=f"ORD-{code}-2026" if code == 461 else ""))
        for year, pct in EXAMPLE_WAGE.items():
            s.add(WageIndex(year=year, percent=Decimal(pct), example=True,
                            source="EKSEMPEL (demodata) – ikke et offentliggjort tal"))

    start = today - dt.timedelta(days=months * 30)
    weights = [t[5] for t in TOWNS]
    n_requests = 0
    citizens: list[RequestInput] = []
    with store.session(user="demo") as s:
        for day in calendar.iter_working_days(start, today):
            for _ in range(max(1, int(rng.gauss(per_working_day, 3)))):
                data = _request(rng, day, TOWNS[rng.choices(range(len(TOWNS)), weights)[0]],
                                citizens)
                app.requests.add_validated(s, data, calendar)
                n_requests += 1
    _plan_history(app, today)
    n_cancel, n_late = _cancellations(app, rng, today)
    return (f"demodata: 1 afdeling, {len(ANALYSTS)} bioanalytikere, {len(codes)} kommuner med "
            f"aftale, {n_requests} henvisninger ({n_cancel} aflyst, heraf {n_late} sent) "
            f"fra {start} til {today}")


def _request(rng: random.Random, day: dt.date, town, citizens: list) -> RequestInput:
    name, postcode, code, lat, lon, _w, spread = town
    if citizens and rng.random() < 0.35:  # regulars: blood tests every few weeks
        regular = rng.choice(citizens)
        if regular.municipality == code:
            data = RequestInput(**{**regular.__dict__, "received": day, "extra": {}})
            return _details(rng, data)
    plat, plon = _offset(rng, lat, lon, spread, ISLAND_OF.get(name, ""))
    data = RequestInput(
        cpr=_cpr(rng), name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        address=f"{rng.choice(STREETS)} {rng.randrange(1, 120)}", postcode=postcode,
        city=postcodes.town_of(postcode) or name,  # the postal town (Troense: 5700 Svendborg)
        municipality=code, received=day, lat=plat, lon=plon,
        phone=f"{rng.randrange(20, 99)} {rng.randrange(10, 99)} {rng.randrange(10, 99)} "
              f"{rng.randrange(10, 99)}")
    citizens.append(data)
    return _details(rng, data)


def _details(rng: random.Random, data: RequestInput) -> RequestInput:
    data.access_info = rng.choice(["", "", "Nøgleboks ved døren, kode 4711",
                                   "Personale lukker ind", "Ring på hos nabo nr. 3"])
    data.presence_required = rng.choice(["", "", "", "Personale skal være til stede",
                                         "Datter deltager"])
    data.identity_check = rng.choice(["Sygesikringskort", "Personale bekræfter", "ID-armbånd"])
    data.requester = rng.choice(["Egen læge", "Lægehuset Centrum", "OUH Medicinsk afd."])
    data.ekg = data.municipality == 479 and rng.random() < 0.08
    fasting = rng.random() < 0.15
    data.window_start = None
    data.window_end = dt.time(10, 0) if fasting else None
    data.note = "Fastende" if fasting else ""
    data.preferred_days = rng.choice(["", "", "", "", "tir", "tor"])
    return data


def _plan_history(app, today: dt.date) -> None:
    """Routes and outcomes for the past, from the planner when it is there."""
    try:
        from hjemmeprove.planning.demo import plan_demo_history
    except ImportError:
        return
    plan_demo_history(app, today)


def _cancellations(app, rng: random.Random, today: dt.date) -> tuple[int, int]:
    """About 4 % of requests are cancelled (§6). Where the visit was planned and the reply
    sent, about a third of those come by telephone less than 24 hours before (late).

    The routes were made before (as in real life, the plan existed when the call came), so a
    cancelled past visit is first put back to its state on the morning of that day.
    """
    with app.store.session() as s:
        candidates = list(s.execute(
            select(Request.id, Visit.id, Visit.date, Visit.window_start, Request.received)
            .outerjoin(Visit, Visit.request_id == Request.id)
            .where(Request.status.in_(("open", "planned", "locked", "done")))).all())
    rng.shuffle(candidates)
    n = late = 0
    now = dt.datetime.combine(today, dt.time(7, 30))  # the demo's "now"
    for rid, vid, vdate, wstart, received in candidates[: max(3, len(candidates) // 25)]:
        if vid is not None:
            _reopen_visit(app, rid, vid)
        if vdate is not None and wstart is not None and rng.random() < 0.35:
            at = dt.datetime.combine(vdate, wstart) - dt.timedelta(hours=rng.randrange(1, 20))
            channel = "telephone"
        else:
            base = vdate or today
            at = dt.datetime.combine(base - dt.timedelta(days=rng.randrange(2, 5)),
                                     dt.time(rng.randrange(8, 15), 15))
            channel = "electronic"
        # a cancellation lies between the receipt and now (never in the future)
        at = max(min(at, now), dt.datetime.combine(received, dt.time(8, 0)))
        result = app.requests.cancel(rid, at, "Hjemmesygeplejen", channel,
                                     now=max(now, at))
        n += 1
        late += result.late
    return n, late


def _reopen_visit(app, request_id: int, visit_id: int) -> None:
    with app.store.session(user="demo") as s:
        visit = s.get(Visit, visit_id)
        visit.outcome = None
        visit.locked = True
        req = s.get(Request, request_id)
        from hjemmeprove.domain.lifecycle import settle

        settle(req, [visit])
