"""contact: the day's reminder list, marking calls, consent, the SMS outbox, Digital Post."""

from __future__ import annotations

from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app
from hjemmeprove.cli.output import parse_date_arg, print_json
from hjemmeprove.domain import labels


def register(sub) -> None:
    p = sub.add_parser("contact", help="påmindelser: dagens kontaktliste, SMS, breve")
    cs = p.add_subparsers(dest="contact_command", metavar="HANDLING")
    x = cs.add_parser("list", help="borgere der skal påmindes på en dag")
    x.add_argument("--date", required=True, help="dagen listen laves (ÅÅÅÅ-MM-DD)")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=contact_list)
    x = cs.add_parser("policy", help="påmindelsespolitik og SMS-gateway: vis eller ret "
                      "(indstillingerne contact.* og sms.*)")
    x.add_argument("--set", dest="assignments", action="append", default=[],
                   metavar="NØGLE=VÆRDI", help="fx contact.days_before=3 (kan gentages)")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=contact_policy)
    x = cs.add_parser("mark", help="markér et opkald (talt med / ikke nået) eller et brev")
    x.add_argument("visit", type=A.id_int)
    x.add_argument("status", choices=["reached", "not_reached", "sent", "todo"])
    x.add_argument("--date", help="listens dag (standard: i dag)")
    x.add_argument("--note", default="")
    x.set_defaults(func=contact_mark)
    x = cs.add_parser("consent", help="borgerens samtykke og foretrukne kanal")
    x.add_argument("request", type=A.id_int, help="henvisning (borgeren på den)")
    x.add_argument("--channel", default="", choices=["", "letter", "sms", "phone", "none"])
    x.add_argument("--sms-consent", action="store_true", help="borgeren har givet samtykke")
    x.add_argument("--mobile", default="", help="nummer til SMS (ellers borgerens telefon)")
    x.add_argument("--date", help="fra denne dag (standard: i dag)")
    x.add_argument("--note", default="")
    x.set_defaults(func=contact_consent)
    x = cs.add_parser("sms", help="læg dagens SMS'er i udbakken og send dem")
    x.add_argument("--date", required=True, help="kontaktlistens dag")
    x.add_argument("--dry-run", metavar="CSV", help="skriv beskederne til CSV, send intet")
    x.add_argument("--retry-failed", action="store_true", help="send fejlede igen")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=contact_sms)
    x = cs.add_parser("reminder-letters", help="dagens påmindelser pr. brev (én PDF); "
                      "markeres sendt")
    x.add_argument("--date", required=True, help="kontaktlistens dag")
    x.add_argument("--out", required=True, help="PDF-fil", type=A.out_file)
    x.set_defaults(func=contact_reminder_letters)
    x = cs.add_parser("letters", help="breve til Digital Post: én PDF pr. borger og et indeks")
    x.add_argument("--from", dest="first", required=True)
    x.add_argument("--to", dest="last")
    x.add_argument("--out", required=True, help="mappe", type=A.out_dir)
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=contact_letters)


def _day(args):
    import datetime as dt

    return parse_date_arg(args.date, "dato") if args.date else dt.date.today()


def contact_list(args) -> int:
    day = _day(args)
    app = open_app(args)
    cl = app.contact.day_list(day)
    if args.json:
        print_json(cl.as_json())
        return 0
    if cl.closed:
        print(f"{day}: {cl.closed} – ingen påmindelser (næste hverdags liste tager dem)")
        return 0
    print(f"{day}: besøg {cl.first} – {cl.last}, {len(cl.rows)} borgere")
    for r in cl.rows:
        print(f"{r.visit_id:6d} {r.visit_date} {r.window_text:11s} {r.citizen_name} "
              f"({r.cpr_masked}) tlf. {r.phone or '—'}: "
              f"{labels.reminder_channel_label(r.channel)}, "
              f"{labels.reminder_status_label(r.status)}"
              + (f" [{r.channel_note}]" if r.channel_note else "")
              + (f" – {r.note}" if r.note else ""))
    return 0


def contact_mark(args) -> int:
    app = open_app(args)
    row = app.contact.mark(args.visit, args.status, _day(args), args.note)
    print(f"besøg {row.visit_id}: {labels.reminder_status_label(row.status)}")
    return 0


def contact_consent(args) -> int:
    app = open_app(args)
    on = parse_date_arg(args.date, "dato") if args.date else None
    app.contact.set_preference(args.request, args.channel, args.sms_consent, args.mobile, on,
                               args.note)
    print(f"henvisning {args.request}: {labels.reminder_channel_label(args.channel)}"
          + (", samtykke til SMS" if args.sms_consent else ""))
    return 0


def contact_sms(args) -> int:
    day = _day(args)
    app = open_app(args)
    if args.retry_failed:
        app.contact.retry_failed()
    queued = app.contact.queue_sms(day)
    if args.dry_run:
        n = app.contact.dry_run(args.dry_run)
        result = {"queued": queued, "dry_run": args.dry_run, "messages": n}
        if args.json:
            print_json(result)
        else:
            print(f"{n} beskeder skrevet til {args.dry_run} (intet sendt)")
        return 0
    summary = app.contact.send_sms()
    if args.json:
        print_json({"queued": queued, **summary.as_json()})
        return 0
    print(f"{summary.sent + summary.delivered} sendt ({summary.delivered} leveret), "
          f"{summary.failed} fejlet")
    for e in summary.errors:
        print(f"  {e}")
    return 1 if summary.failed else 0


def contact_letters(args) -> int:
    from pathlib import Path

    from hjemmeprove.contact.letters import INDEX_NAME, export
    from hjemmeprove.domain.cpr import mask_cpr
    from hjemmeprove.errors import ValidationError

    first = parse_date_arg(args.first, "fra")
    last = parse_date_arg(args.last, "til") if args.last else first
    if last < first:
        raise ValidationError("skal være samme dag eller efter fra-datoen", "til")
    app = open_app(args)
    rows = export(app.store, first, last, args.out)
    index = str(Path(args.out) / INDEX_NAME)
    if args.json:
        print_json({"index": index, "letters": [
            {"file": r.filename, "cpr": mask_cpr(r.cpr), "dates": r.dates, "paper": r.paper}
            for r in rows]})
        return 0
    paper = sum(1 for r in rows if r.paper)
    print(f"{index}: {len(rows)} borgere ({paper} fritaget for Digital Post)")
    return 0


def contact_reminder_letters(args) -> int:
    app = open_app(args)
    n = app.contact.reminder_letters(_day(args), args.out)
    print(f"{args.out}: {n} breve" if n else "ingen påmindelser pr. brev i dag")
    return 0


POLICY_PREFIXES = ("contact.", "sms.")


def contact_policy(args) -> int:
    from hjemmeprove.errors import FieldError, ValidationError
    from hjemmeprove.settings import OPTIONS

    app = open_app(args)
    pairs = []
    for text in args.assignments:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key.startswith(POLICY_PREFIXES) or key not in OPTIONS:
            raise ValidationError(FieldError("--set", f"'{text}': kendte nøgler er "
                                             + ", ".join(k for k in OPTIONS
                                                         if k.startswith(POLICY_PREFIXES))))
        pairs.append((key, value))
    app.settings.set_many(dict(pairs))  # all checked first: one bad value writes none
    values = {k: v for k, v in app.settings.all().items() if k.startswith(POLICY_PREFIXES)}
    if values.get("sms.auth_header"):
        values["sms.auth_header"] = "(sat)"  # a secret is not printed
    if args.json:
        print_json(values)
        return 0
    for k, v in values.items():
        print(f"{k} = {v}    ({OPTIONS[k].label})")
    return 0
