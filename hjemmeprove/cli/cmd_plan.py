"""plan, routes (list, sheet, letters, replies, move, lock) and day (status, km, outcome)."""

from __future__ import annotations

import sys
from pathlib import Path

from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app
from hjemmeprove.cli.output import parse_date_arg, print_json
from hjemmeprove.domain import formats, labels
from hjemmeprove.errors import FieldError, ValidationError


def register(sub) -> None:
    p = sub.add_parser("plan", help="planlæg (eller genplanlæg) de åbne henvisninger")
    p.add_argument("--from", dest="first", required=True, help="første dag (ÅÅÅÅ-MM-DD)",
                   type=A.named(A.date_text, "fra"))
    p.add_argument("--to", dest="last", required=True, help="sidste dag (ÅÅÅÅ-MM-DD)",
                   type=A.named(A.date_text, "til"))
    p.add_argument("--time-limit", type=A.seconds_float, default=None, help="sekunder (standard: "
                   "indstillingen planning.time_limit_s)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=plan)

    p = sub.add_parser("routes", help="ruter: liste, kørselslister, breve, svar")
    rs = p.add_subparsers(dest="routes_command", metavar="HANDLING")
    x = rs.add_parser("list", help="ruterne i en periode")
    x.add_argument("--from", dest="first", required=True, type=A.named(A.date_text, "fra"))
    x.add_argument("--to", dest="last", type=A.named(A.date_text, "til"))
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=routes_list)
    x = rs.add_parser("sheet", help="kørselslister (PDF) for en dag")
    x.add_argument("--date", required=True, type=A.date_text)
    x.add_argument("--analyst", help="navn eller id (ellers alle)", type=A.text(200))
    x.add_argument("--out", default=".", help="mappe", type=A.out_dir)
    x.set_defaults(func=routes_sheet)
    x = rs.add_parser("letters", help="breve til borgerne (én PDF)")
    x.add_argument("--from", dest="first", required=True, type=A.named(A.date_text, "fra"))
    x.add_argument("--to", dest="last", type=A.named(A.date_text, "til"))
    x.add_argument("--out", required=True, help="PDF-fil", type=A.out_file)
    x.set_defaults(func=routes_letters)
    x = rs.add_parser("replies", help="send svar til kommunerne (låser besøgene)")
    x.add_argument("--from", dest="first", required=True, type=A.named(A.date_text, "fra"))
    x.add_argument("--to", dest="last", type=A.named(A.date_text, "til"))
    x.add_argument("--out", default=".", help="mappe til CSV og PDF pr. kommune",
                   type=A.out_dir)
    x.add_argument("--again", action="store_true",
                   help="send igen: genskab de svar, der allerede er sendt i perioden")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=routes_replies)
    x = rs.add_parser("move", help="flyt et besøg til en anden bioanalytiker/dag")
    x.add_argument("visit", type=A.id_int)
    x.add_argument("--analyst", required=True, type=A.text(200))
    x.add_argument("--date", required=True, type=A.date_text)
    x.add_argument("--check", action="store_true", help="kun kontrollér, gem intet")
    x.set_defaults(func=routes_move)
    for name, locked in (("lock", True), ("unlock", False)):
        x = rs.add_parser(name, help="lås besøg" if locked else "lås besøg op")
        x.add_argument("visits", type=A.id_int, nargs="+")
        x.set_defaults(func=routes_lock, locked=locked)

    p = sub.add_parser("geo", help="adresseregister til positioner")
    gs = p.add_subparsers(dest="geo_command", metavar="HANDLING")
    x = gs.add_parser("import", help="importér adressefilen (DAR/CSV med vejnavn, husnr, "
                      "postnr, wgs84koordinat_bredde, wgs84koordinat_længde)")
    x.add_argument("file", type=A.in_file)
    x.add_argument("--register", help="indeksfil (standard: i brugerens "
                   "datamappe)", type=A.out_file)
    x.set_defaults(func=geo_import)

    p = sub.add_parser("day", help="dagsafslutning: udfald og kørte km")
    ds = p.add_subparsers(dest="day_command", metavar="HANDLING")
    x = ds.add_parser("status", help="hvad mangler for en dag")
    x.add_argument("date", type=A.date_text)
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=day_status)
    x = ds.add_parser("km", help="kørte km (km-tæller) og færgeminutter for en rute")
    x.add_argument("route", type=A.id_int)
    x.add_argument("--km", required=True, type=A.amount(3))
    x.add_argument("--ferry-minutes", type=A.amount(1))
    x.add_argument("--bekraeft", "--confirm", dest="confirm", action="store_true",
                   help="km langt fra de planlagte (over 1,5 gange eller under 1/1,5) er rigtige")
    x.set_defaults(func=day_km)
    x = ds.add_parser("ferry", help="henfør rutens uforklarede færgeminutter til et besøg")
    x.add_argument("route", type=A.id_int)
    x.add_argument("--visit", required=True, type=A.id_int)
    x.add_argument("--note", default="")
    x.set_defaults(func=day_ferry)
    x = ds.add_parser("clear", help="fjern et besøgs udfald (ruten åbnes igen)")
    x.add_argument("visit", type=A.id_int)
    x.set_defaults(func=day_clear)
    x = ds.add_parser("outcome", help="udfald for et besøg")
    x.add_argument("visit", type=A.id_int)
    x.add_argument("outcome", choices=["taken", "not_home", "refused", "cancelled_late"])
    x.add_argument("--note", default="", type=A.text(200))
    x.set_defaults(func=day_outcome)


def _period(args):
    first = parse_date_arg(args.first, "fra")
    last = parse_date_arg(args.last, "til") if getattr(args, "last", None) else first
    if last < first:
        raise ValidationError("skal være samme dag eller efter fra-datoen", "til")
    return first, last


def plan(args) -> int:
    first, last = _period(args)
    app = open_app(args)

    def progress(p):
        if not args.json:
            print(f"  løsning {p['solutions']}: {p['objective_kr']:.2f} kr "
                  f"({p['seconds']:.1f} s)", file=sys.stderr)

    limit = args.time_limit if args.time_limit is not None else float(
        app.settings.get("planning.time_limit_s"))
    result = app.planning.plan(first, last, progress=progress, time_limit_s=limit)
    if args.json:
        print_json(result.as_json())
        return 0
    for r in result.routes:
        print(f"{r.date} {r.analyst}: {len(r.stops)} besøg, {r.km} km, {r.minutes} min"
              + (f", færge {r.ferry_minutes} min" if r.ferry_minutes else ""))
    for u in result.unplanned:
        print(f"ikke planlagt: henvisning {u.request_id}: {u.reason}")
    for u in result.skipped:
        print(f"sprunget over: henvisning {u.request_id}: {u.reason}")
    for rid, text in getattr(result, "warnings", ()):
        print(f"advarsel: henvisning {rid}: {text}")
    print(f"afstande: {result.distance['source']}; {result.solutions} løsninger på "
          f"{result.seconds:.1f} s ({result.status})")
    return 0


def routes_list(args) -> int:
    from hjemmeprove.services.planning import route_json

    first, last = _period(args)
    app = open_app(args)
    routes = app.planning.routes(first, last)
    if args.json:
        print_json([{**route_json(r), "route": r.route_id, "driven_km": r.driven_km}
                    for r in routes])
        return 0
    for r in routes:
        print(f"{r.route_id:5d} {r.date} {r.analyst}: {len(r.stops)} besøg, {r.km} km")
        for st in r.stops:
            print(f"        {st.arrival:%H:%M} {st.citizen_name} ({st.cpr_masked}), "
                  f"{st.address}{' [låst]' if st.locked else ''}")
    return 0


def _analyst_match(route, wanted: str | None) -> bool:
    if not wanted:
        return True
    return str(route.analyst_id) == wanted or route.analyst.lower() == wanted.lower()


def routes_sheet(args) -> int:
    from hjemmeprove.documents import route_sheet
    from hjemmeprove.fileio import write_all_atomic
    from hjemmeprove.services.planning import route_sheet_filename

    day = parse_date_arg(args.date, "dato")
    app = open_app(args)
    name, _hospital, lab = app.planning.department_header()
    out = Path(args.out)
    files = {out / route_sheet_filename(r.date, r.analyst): route_sheet.render(r, name, lab)
             for r in app.planning.routes(day, day) if _analyst_match(r, args.analyst)}
    if not files:
        raise ValidationError(f"ingen ruter {day}", "dato")
    for path in write_all_atomic(files):  # all sheets whole, or none
        print(path)
    return 0


def routes_letters(args) -> int:
    from hjemmeprove.documents import citizen_letter

    first, last = _period(args)
    app = open_app(args)
    letters = app.planning.letters(first, last)
    if not letters:
        raise ValidationError("ingen planlagte besøg i perioden", "fra")
    from hjemmeprove.fileio import write_atomic

    write_atomic(args.out, citizen_letter.render_many(letters))
    paper = sum(1 for x in letters if x.paper)
    print(f"{args.out}: {len(letters)} breve ({paper} på papir)")
    return 0


def routes_replies(args) -> int:
    """The files are written first (whole or not at all); only then are the visits recorded
    as replied to and locked. ``--again`` re-creates the replies already sent."""
    first, last = _period(args)
    app = open_app(args)
    rows = app.planning.send_replies(first, last, out_dir=Path(args.out), again=args.again)
    files = rows.files
    if args.json:
        print_json({"replies": [{"municipality": r.municipality_code, "request": r.request_id,
                                 "date": r.date, "window": [r.window_start, r.window_end]}
                                for r in rows], "files": files})
    elif args.again:
        print(f"{len(rows)} svar genskabt; filer: "
              + ", ".join(p for ps in files.values() for p in ps))
    else:
        print(f"{len(rows)} svar sendt og låst; filer: "
              + ", ".join(p for ps in files.values() for p in ps))
    return 0


def routes_move(args) -> int:
    day = parse_date_arg(args.date, "dato")
    app = open_app(args)
    analyst = _analyst_id(app, args.analyst)
    res = app.planning.move_visit(args.visit, analyst, day, apply=not args.check)
    if not res.ok:
        raise ValidationError([FieldError("flyt", p) for p in res.problems])
    print("kan flyttes" if args.check else "flyttet")
    return 0


def _analyst_id(app, text: str) -> int:
    from sqlalchemy import select

    from hjemmeprove.db.models import Bioanalyst

    with app.store.session() as s:
        for b in s.scalars(select(Bioanalyst)):
            if str(b.id) == text or b.name.lower() == text.lower():
                return b.id
    raise ValidationError(f"'{text}' findes ikke", "bioanalytiker")


def routes_lock(args) -> int:
    app = open_app(args)
    app.planning.lock(args.visits, locked=args.locked)
    return 0


def day_status(args) -> int:
    day = parse_date_arg(args.date, "dato")
    app = open_app(args)
    st = app.day_close.status(day)
    if args.json:
        print_json({"date": st.date, "routes": st.routes, "visits": st.visits,
                    "complete": st.complete,
                    "missing": [{"kind": m.kind, "route": m.route_id, "visit": m.visit_id,
                                 "request": m.request_id, "text": m.text} for m in st.missing]})
        return 0
    print(f"{day}: {st.routes} ruter, {st.visits} besøg"
          + (" – afsluttet" if st.complete else f" – mangler {len(st.missing)}:"))
    for m in st.missing:
        print(f"  {m.text}")
    return 0


def day_km(args) -> int:
    app = open_app(args)
    app.day_close.record_route(args.route, args.km, args.ferry_minutes, confirm=args.confirm)
    ferry = ("" if args.ferry_minutes is None
             else f", {formats.number(args.ferry_minutes)} færgeminutter")
    print(f"rute {args.route}: {formats.number(args.km)} km{ferry} registreret")
    return 0


def day_ferry(args) -> int:
    minutes = open_app(args).day_close.resolve_ferry(args.route, args.visit, args.note)
    print(f"{minutes} færgeminutter henført til besøg {args.visit}")
    return 0


def day_clear(args) -> int:
    open_app(args).day_close.clear_outcome(args.visit)
    print(f"besøg {args.visit}: udfaldet er fjernet")
    return 0


def day_outcome(args) -> int:
    app = open_app(args)
    app.day_close.record_outcome(args.visit, args.outcome, args.note)
    print(f"besøg {args.visit}: {labels.outcome_label(args.outcome).lower()} registreret")
    return 0



def geo_import(args) -> int:
    from hjemmeprove.planning.geocoding import AddressRegister, default_register_path

    app = open_app(args)
    from hjemmeprove.security import require

    require(app.store, "settings.edit")  # before the register file is written
    path = Path(args.register) if args.register else default_register_path()
    result = AddressRegister(path).import_csv(args.file)
    app.settings.set("geocoder.address_file", str(path))
    print(f"{result.imported} adresser importeret til {path}")
    if result.skipped:
        print(f"{result.skipped} rækker sprunget over, fx " + "; ".join(result.examples))
    return 0
