"""intake: MedCom CareCommunication messages from the municipalities (hjemmeprove/intake)."""

from __future__ import annotations

from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app
from hjemmeprove.cli.output import print_json
from hjemmeprove.domain import labels
from hjemmeprove.errors import ValidationError


def register(sub) -> None:
    p = sub.add_parser("intake", help="elektroniske beskeder fra kommunerne (MedCom)")
    isub = p.add_subparsers(dest="intake_command", metavar="HANDLING")

    r = isub.add_parser("run", help="læs nye beskeder i indbakken, kvittér og arkivér")
    r.add_argument("--inbox", help="indbakke (ellers indstillingen intake.inbox)")
    r.add_argument("--outbox", help="udbakke (ellers intake.outbox)")
    r.add_argument("--archive", help="arkiv (ellers intake.archive)")
    r.add_argument("--no-csv", action="store_true", help="spring CSV-mappen over")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=intake_run)

    f = isub.add_parser("folders", help="sæt indbakke, udbakke, arkiv og CSV-mappe")
    for name in ("inbox", "outbox", "archive", "csv"):
        f.add_argument(f"--{name}")
    f.set_defaults(func=intake_folders)

    ls = isub.add_parser("list", help="tråde, nyeste først (CPR maskeret)")
    ls.add_argument("--unread", action="store_true", help="kun ulæste")
    ls.add_argument("--search", default="")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=intake_list)

    sh = isub.add_parser("show", help="en tråd med alle beskedsegmenter i tidsorden")
    sh.add_argument("thread", type=A.id_int)
    sh.add_argument("--mark-read", action="store_true", help="markér tråden som læst")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=intake_show)

    pr = isub.add_parser("propose", help="forslag til henvisning eller aflysning fra en besked")
    pr.add_argument("message", type=A.id_int)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=intake_propose)

    c = isub.add_parser("create", help="opret henvisningen fra en besked (efter gennemsyn)")
    c.add_argument("message", type=A.id_int)
    c.add_argument("--accept", action="append", default=[], metavar="FELT",
                   help="brug tekstens forslag til FELT (earliest, preferred_days, "
                        "window_start, window_end, ekg); kan gentages")
    c.add_argument("--set", action="append", default=[], metavar="FELT=VÆRDI",
                   help="ret et felt i forslaget; kan gentages")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=intake_create)

    a = isub.add_parser("cancel", help="registrér den aflysning en besked beder om")
    a.add_argument("message", type=A.id_int)
    a.add_argument("--request", type=A.id_int, help="henvisningen (ellers den beskeden peger på)")
    a.add_argument("--by", help="hvem aflyste (ellers beskedens forfatter)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=intake_cancel)

    rp = isub.add_parser("reply", help="svar kommunen i henvisningens tråd (dato og tidsrum)")
    rp.add_argument("request", type=A.id_int)
    rp.add_argument("--text", help="svarteksten (ellers planlagt dato og tidsrum)")
    rp.add_argument("--outbox", help="udbakke (ellers intake.outbox)")
    rp.set_defaults(func=intake_reply)

    s = isub.add_parser("sender", help="en afsender (SOR/EAN) taler for en kommune")
    s.add_argument("municipality", type=A.id_int, help="kommunekode")
    s.add_argument("--sor", default="")
    s.add_argument("--ean", default="")
    s.add_argument("--name", default="")
    s.set_defaults(func=intake_sender)

    lg = isub.add_parser("log", help="hvad indbakken har læst (også afviste filer)")
    lg.add_argument("--limit", type=A.count_int, default=50)
    lg.add_argument("--json", action="store_true")
    lg.set_defaults(func=intake_log)


def _service(args):
    from hjemmeprove.intake.service import IntakeService

    return IntakeService(open_app(args).store)


def intake_run(args) -> int:
    service = _service(args)
    summary = service.run(args.inbox, args.outbox, args.archive, csv=not args.no_csv)
    if args.json:
        print_json(summary.as_json())
        return 0
    print(f"{summary.read} filer læst: {summary.ok} nye beskeder, {summary.duplicates} "
          f"dubletter, {summary.rejected} afvist, {summary.acknowledgements} kvitteringer")
    for r in summary.receipts:
        if r.outcome == "fatal-error":
            print(f"  afvist {r.filename}: " + "; ".join(str(p) for p in r.problems))
    if summary.csv_imported or summary.csv_rejected:
        print(f"CSV: {summary.csv_imported} filer importeret, {summary.csv_rejected} afvist")
    return 0


def intake_folders(args) -> int:
    app = open_app(args)
    for name, key in (("inbox", "intake.inbox"), ("outbox", "intake.outbox"),
                      ("archive", "intake.archive"), ("csv", "intake.csv_folder")):
        value = getattr(args, name)
        if value is not None:
            app.settings.set(key, value)
    return 0


def intake_list(args) -> int:
    rows = _service(args).threads(unread_only=args.unread, search=args.search)
    if args.json:
        print_json(rows)
        return 0
    for t in rows:
        when = t.last_at.strftime("%Y-%m-%d %H:%M") if t.last_at else ""
        mark = "*" if t.unread else " "
        print(f"{mark}{t.id:>5}  {when}  {t.last_activity:<11} {t.patient:<12} "
              f"{t.patient_name[:24]:<24} {t.municipality[:16]:<16} {t.category}"
              + (f" – {t.topic}" if t.topic else ""))
    return 0


def intake_show(args) -> int:
    service = _service(args)
    detail = service.thread(args.thread)
    if args.mark_read:
        service.mark_read(args.thread)
    if args.json:
        print_json(detail)
        return 0
    row = detail.row
    print(f"Tråd {row.id} ({row.identifier}): {row.patient} {row.patient_name}, "
          f"{row.municipality}, {row.category}" + (f" – {row.topic}" if row.topic else ""))
    for m in detail.messages:
        way = "sendt" if m.direction == "out" else "modtaget"
        print(f"  besked {m.id}: {m.activity} {way} {m.sent_at:%Y-%m-%d %H:%M} fra {m.sender} "
              f"til {m.receiver}" + (f", prioritet {m.priority}" if m.priority else "")
              + (f", blev til {labels.handled_label(m.handled).lower()} {m.request_id}"
                 if m.handled else ""))
    for g in detail.segments:
        who = ", ".join(x for x in (g.author, g.author_role, g.organisation, g.author_phone) if x)
        print(f"\n--- {g.at:%Y-%m-%d %H:%M}  {who}")
        if g.kind == "text":
            print(g.text)
        else:
            print(f"[bilag] {g.title} ({g.content_type}){' ' + g.url if g.url else ''}")
    return 0


def intake_propose(args) -> int:
    p = _service(args).propose(args.message)
    if args.json:
        values = dict(p.values)
        print_json({"message": p.message_id, "values": values,
                    "hints": [{"field": h.field, "value": h.value, "source": h.source}
                              for h in p.hints],
                    "cancellation": p.cancellation, "request": p.existing_request_id})
        return 0
    from hjemmeprove.domain.cpr import mask_cpr

    for key, value in p.values.items():
        shown = mask_cpr(value) if key == "cpr" and value else value
        print(f"{key}: {shown}".replace("\n", " ")[:200])
    for h in p.hints:
        print(f"forslag: {h.label} = {h.value}  (\"{h.source}\")")
    if p.cancellation:
        c = p.cancellation
        print(f"aflysning af henvisning {c.request_id} {c.at:%Y-%m-%d %H:%M} af {c.by} "
              f"({labels.channel_label(c.channel)})")
    return 0


def intake_create(args) -> int:
    from hjemmeprove.intake.hints import apply_hints

    service = _service(args)
    p = service.propose(args.message)
    values = apply_hints(p.values, [h for h in p.hints if h.field in args.accept])
    for item in args.set:
        if "=" not in item:
            raise ValidationError(f"'{item}' skal skrives FELT=VÆRDI", "--set")
        key, value = item.split("=", 1)
        values[key.strip()] = value
    request_id = service.create_request(args.message, values)
    if args.json:
        print_json({"request": request_id, "message": args.message})
    else:
        print(f"henvisning {request_id} oprettet fra besked {args.message}")
    return 0


def intake_cancel(args) -> int:
    result = _service(args).cancel_from_message(args.message, args.request, args.by)
    if args.json:
        print_json(result)
    else:
        print(f"henvisning {result.request_id} aflyst ({labels.channel_label(result.channel)})"
              + (" – sen aflysning" if result.late else ""))
    return 0


def intake_reply(args) -> int:
    path = _service(args).reply(args.request, args.text, args.outbox)
    print(path)
    return 0


def intake_sender(args) -> int:
    _service(args).add_sender(args.municipality, args.sor, args.ean, args.name)
    return 0


def intake_log(args) -> int:
    rows = _service(args).log(args.limit)
    if args.json:
        print_json(rows)
        return 0
    for e in rows:
        print(f"{e.at:%Y-%m-%d %H:%M:%S}  {labels.intake_outcome_label(e.outcome):<24} "
              f"{e.filename}  {e.problem}")
    return 0
