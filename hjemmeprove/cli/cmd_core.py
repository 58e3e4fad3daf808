"""db, demo, gui, calendar, requests, backup and restore."""

from __future__ import annotations

import datetime as dt
import sys

from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app
from hjemmeprove.cli.output import parse_date_arg, print_json
from hjemmeprove.errors import FieldError, ValidationError


def register(sub) -> None:
    p = sub.add_parser("db", help="databasen")
    dbsub = p.add_subparsers(dest="db_command", metavar="HANDLING")
    up = dbsub.add_parser("upgrade", help="opret eller opdatér skemaet (Alembic)")
    up.set_defaults(func=db_upgrade)

    p = sub.add_parser("demo", help="fyld en tom database med demodata")
    p.add_argument("--seed", type=A.seed_int, default=1)
    p.add_argument("--today",
                   type=A.date_text, help="demoens 'i dag' (ÅÅÅÅ-MM-DD); ellers dags dato")
    p.set_defaults(func=demo)

    p = sub.add_parser("gui", help="start skrivebordsprogrammet")
    p.add_argument("--selftest", action="store_true", help="kør selvtest og afslut")
    p.add_argument("--demo-if-empty", action="store_true",
                   help="fyld en tom database med demodata før vinduet åbner (som 'demo'); "
                        "vinduet viser da at data er demodata")
    p.set_defaults(func=gui)

    p = sub.add_parser("calendar", help="hverdage og frister")
    csub = p.add_subparsers(dest="cal_command", metavar="HANDLING")
    d = csub.add_parser("deadline", help="seneste prøvetagningsdag for en modtagelsesdato")
    d.add_argument("date", type=A.date_text, metavar="DATE")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=calendar_deadline)
    w = csub.add_parser("workdays", help="hverdage fra og med FRA til og med TIL")
    w.add_argument("first", type=A.date_text, metavar="FROM")
    w.add_argument("last", type=A.date_text, metavar="TO")
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=calendar_workdays)

    p = sub.add_parser("requests", help="henvisninger")
    rsub = p.add_subparsers(dest="req_command", metavar="HANDLING")
    i = rsub.add_parser("import", help="importér henvisninger fra CSV (alle eller ingen)")
    i.add_argument("file", type=A.in_file)
    i.add_argument("--opdater-borgere", dest="update_citizens", action="store_true",
                   help="en kendt CPR med andet navn/adresse/telefon opdaterer borgeren "
                   "(tidligere henvisninger beholder deres adresse); ellers afvises rækken")
    i.add_argument("--godkend-dubletter", dest="allow_duplicates", action="store_true",
                   help="opret også, når borgeren har en åben henvisning fra samme kommune")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=requests_import)
    ls = rsub.add_parser("list", help="vis henvisninger (CPR maskeret)")
    ls.add_argument("--status", type=A.text(40))
    ls.add_argument("--search", default="", type=A.text(200))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=requests_list)
    c = rsub.add_parser("cancel", help="registrér en aflysning")
    c.add_argument("request", type=A.id_int)
    c.add_argument("--at", required=True, type=A.datetime_text,
                   help="tidspunkt, ÅÅÅÅ-MM-DDTTT:MM")
    c.add_argument("--by", required=True, type=A.text(200), help="hvem aflyste")
    c.add_argument("--channel", required=True, choices=["electronic", "telephone"])
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=requests_cancel)
    u = rsub.add_parser("uncancel", help="fortryd en aflysning (så længe det er tilladt)")
    u.add_argument("request", type=A.id_int)
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=requests_uncancel)
    h = rsub.add_parser("history", help="henvisningens historik (hvem ændrede hvad)")
    h.add_argument("request", type=A.id_int)
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=requests_history)

    p = sub.add_parser("backup", help="en konsistent kopi af databasen")
    p.add_argument("dest", type=A.out_file)
    p.set_defaults(func=backup)
    p = sub.add_parser("restore", help="gendan databasen fra en kopi")
    p.add_argument("src", type=A.in_file)
    p.set_defaults(func=restore)


def db_upgrade(args) -> int:
    app = open_app(args, upgrade=False)
    from hjemmeprove.db.migrate import upgrade

    copy = upgrade(app.store)
    from hjemmeprove.services.reference import load_defaults

    load_defaults(app.store)
    print(f"skemaet er opdateret{f' (kopi før migrering: {copy})' if copy else ''}")
    return 0


def demo(args) -> int:
    from hjemmeprove.demo import fill_demo

    app = open_app(args)
    today = parse_date_arg(args.today, "--today") if args.today else None
    summary = fill_demo(app, seed=args.seed, today=today)
    print(summary)
    return 0


def gui(args) -> int:
    """A thin call into the desktop program's launcher, ``ui.main.run``: the UI (and Qt) is
    imported only when this command runs, so every other command works without it."""
    from ui.main import run

    return run(db=args.db, user=args.user, selftest=args.selftest,
               demo_if_empty=args.demo_if_empty)


def _calendar(args):
    """The department's working calendar (its closing days and options). A current SQLite
    file is read without SQLAlchemy (``settings.read_calendar``: printing a date should not
    cost more than starting Python); anything else opens the App as every command does,
    which creates or migrates the database first."""
    from hjemmeprove.settings import read_calendar

    calendar = read_calendar(args.db)
    if calendar is None:
        calendar = open_app(args).calendar()
    return calendar


def calendar_deadline(args) -> int:
    received = parse_date_arg(args.date, "DATE")
    deadline = _calendar(args).deadline(received)
    if args.json:
        print_json({"received": received, "deadline": deadline})
    else:
        print(deadline.isoformat())
    return 0


def calendar_workdays(args) -> int:
    first = parse_date_arg(args.first, "FROM")
    last = parse_date_arg(args.last, "TO")
    if last < first:
        raise ValidationError("TO ligger før FROM", "TO")
    if (last - first).days > 3660:
        raise ValidationError("højst 10 år ad gangen", "TO")
    days = _calendar(args).working_days(first, last)
    if args.json:
        print_json(days)
    else:
        for d in days:
            print(d.isoformat())
    return 0


def requests_import(args) -> int:
    from hjemmeprove.services.importing import import_requests

    app = open_app(args)
    report: list = []
    try:
        ids = import_requests(app.requests, args.file,
                              update_citizens=getattr(args, "update_citizens", False),
                              allow_duplicates=getattr(args, "allow_duplicates", False),
                              report=report)
    except FileNotFoundError:
        raise ValidationError(f"{args.file} findes ikke", "FILE") from None
    if args.json:
        print_json({"imported": len(ids), "ids": ids,
                    "notes": [{"row": e.row, "field": e.field, "text": e.message}
                              for e in report]})
    else:
        for e in report:
            print(f"bemærk: {e}", file=sys.stderr)
        print(f"{len(ids)} henvisninger importeret")
    return 0


def requests_list(args) -> int:
    app = open_app(args)
    rows = app.requests.list(search=args.search, status=args.status)
    if args.json:
        print_json(rows)
    else:
        from hjemmeprove.domain import formats
        from hjemmeprove.domain.labels import status_label

        for r in rows:  # the words and dates the screen shows (--json keeps codes and ISO)
            print(f"{r.id:>6}  {r.cpr_masked}  {r.citizen_name:<28} {r.municipality:<16} "
                  f"{formats.date(r.received)}  frist {formats.date(r.deadline)}  "
                  f"{status_label(r.status)}")
    return 0


def requests_cancel(args) -> int:
    app = open_app(args)
    try:
        at = dt.datetime.fromisoformat(args.at)
    except ValueError:
        raise ValidationError(f"'{args.at}' er ikke et tidspunkt", "--at") from None
    try:
        # recorded with its route measured again over the stops it keeps; not re-planned
        result = app.planning.cancel_and_replan(args.request, at, args.by, args.channel,
                                                replan=False)
    except ValidationError as e:  # name the options, as typed
        names = {"tidspunkt": "--at", "aflyst af": "--by", "kanal": "--channel"}
        raise ValidationError([FieldError(names.get(x.field, x.field), x.message, x.row)
                               for x in e.errors]) from None
    if args.json:
        print_json(result)
    else:
        print("aflyst" + (" SENT (under 24 timer før)" if result.late else ""))
    return 0


def requests_uncancel(args) -> int:
    """Undoes a cancellation; refused (exit 2, the reason) once replied to, billed or past
    the visit's day. Not re-planned: the request waits for the next ``plan``."""
    app = open_app(args)
    result = app.requests.uncancel(args.request)
    if args.json:
        print_json(result)
    else:
        from hjemmeprove.domain import formats
        from hjemmeprove.domain.labels import status_label

        text = f"aflysningen af henvisning {result.request_id} er fortrudt; status " \
               f"{status_label(result.status).lower()}"
        if result.visit_date is not None:
            text += (f"; besøget {formats.date(result.visit_date)} "
                     f"{formats.window(result.window_start, result.window_end)} er genoprettet"
                     " og kommer på ruten ved næste planlægning").replace("  ", " ")
        print(text)
    return 0


def requests_history(args) -> int:
    app = open_app(args)
    entries = app.requests.history(args.request)
    if args.json:
        print_json([{"at": e.at, "user": e.user, "what": e.what,
                     "changes": [{"field": f, "before": b, "after": a}
                                 for f, b, a in e.changes]} for e in entries])
    else:
        from hjemmeprove.domain import formats
        from hjemmeprove.services.history import changes_text

        for e in entries:
            changes = changes_text(e.action, e.changes)
            print(f"{formats.datetime(e.at)}  {e.user:<12} {e.what}"
                  + (f"  ({changes})" if changes else ""))
    return 0


def backup(args) -> int:
    from hjemmeprove.backup import backup_database

    app = open_app(args)
    path = backup_database(app.store, args.dest)
    print(f"kopi skrevet og kontrolleret: {path}")
    return 0


def restore(args) -> int:
    from hjemmeprove.backup import restore_database

    app = open_app(args, upgrade=False)
    kept = restore_database(app.store, args.src)
    print("databasen er gendannet" + (f"; den forrige er gemt i {kept}" if kept else ""))
    return 0
