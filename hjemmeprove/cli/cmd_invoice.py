"""invoice run / list / issue / credit / export (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path

from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app
from hjemmeprove.cli.output import kr, print_json


def register(sub) -> None:
    p = sub.add_parser("invoice", help="månedlig fakturering")
    isub = p.add_subparsers(dest="invoice_command", metavar="HANDLING")
    r = isub.add_parser("run", help="opgørelse, faktura og e-faktura pr. kommune for en måned")
    r.add_argument("--month", required=True, type=A.month_text, help="ÅÅÅÅ-MM")
    r.add_argument("--out", default=None,
                   type=A.out_dir, help="mappe til filerne (ellers ./fakturaer/ÅÅÅÅ-MM)")
    r.add_argument("--issue", action="store_true", help="udsted: nummerér og lås")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=run)
    ls = isub.add_parser("list", help="fakturaer og kreditnotaer")
    ls.add_argument("--month", type=A.month_text)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_invoices)
    i = isub.add_parser("issue", help="udsted en kladde (fortløbende nummer, låses)")
    i.add_argument("id", type=A.id_int)
    i.add_argument("--out", default=None, type=A.out_dir)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=issue)
    c = isub.add_parser("credit", help="kreditér en udstedt faktura")
    c.add_argument("id", type=A.id_int)
    c.add_argument("--reason", required=True, type=A.text(200))
    c.add_argument("--visit", dest="visits", type=A.id_int, action="append", default=None,
                   metavar="BESØG", help="kreditér kun dette besøg (kan gentages): delvis "
                                         "kreditnota; ellers hele (resten af) fakturaen")
    c.add_argument("--out", default=None, type=A.out_dir)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=credit)
    a = isub.add_parser("issue-all", help="udsted alle månedens kladder")
    a.add_argument("--month", required=True, help="ÅÅÅÅ-MM")
    a.add_argument("--out", default=None, type=A.out_dir)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=issue_all)
    o = isub.add_parser("allow", help="administrator: tillad udstedelse af en måned, der ikke "
                                      "er færdig (begrundet, logget)")
    o.add_argument("--month", required=True, help="ÅÅÅÅ-MM")
    o.add_argument("--municipality", required=True, type=A.id_int, help="kommunekode")
    o.add_argument("--reason", required=True)
    o.set_defaults(func=allow)
    d = isub.add_parser("duplicate", help="beslut om dubletter på kladden: fakturér eller drop")
    d.add_argument("--bill", type=A.id_int, action="append", default=[], metavar="BESØG",
                   help="faktureres (kan gentages)")
    d.add_argument("--drop", type=A.id_int, action="append", default=[], metavar="BESØG",
                   help="droppes: ingen fast pris (kan gentages)")
    d.add_argument("--note", default="")
    d.set_defaults(func=duplicate)
    pr = isub.add_parser("problems", help="hvad står i vejen for at udstede måneden")
    pr.add_argument("--month", required=True, help="ÅÅÅÅ-MM")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=problems)
    e = isub.add_parser("export", help="skriv en fakturas filer (udstedte: byte for byte)")
    e.add_argument("id", type=A.id_int)
    e.add_argument("--out", required=True, type=A.out_dir)
    e.set_defaults(func=export)


def _info_json(info) -> dict:
    return {"id": info.id, "kind": info.kind, "number": info.number, "status": info.status,
            "month": info.month, "municipality": info.municipality_code,
            "name": info.municipality_name, "issue_date": info.issue_date,
            "due_date": info.due_date,
            "lines": [{"text": ln.text, "quantity": str(ln.quantity), "unit": ln.unit,
                       "rate": f"{ln.rate:.2f}", "amount": f"{ln.amount:.2f}"}
                      for ln in info.lines],
            "total": f"{info.total:.2f}", "vat": f"{info.vat_amount:.2f}",
            "credits_invoice_id": info.credits_invoice_id, "files": info.files}


def _print(info) -> None:
    nr = f"nr. {info.number}" if info.number is not None else f"kladde {info.id}"
    word = "kreditnota" if info.kind == "credit_note" else "faktura"
    print(f"{info.municipality_code} {info.municipality_name:<20} {word} {nr:<12} "
          f"{kr(info.total):>16}")
    for path in info.files.values():
        print(f"    {path}")


def run(args) -> int:
    app = open_app(args)
    out = Path(args.out) if args.out else Path("fakturaer") / args.month
    results = app.billing.run(args.month, out, issue=args.issue)
    if args.json:
        print_json({"month": args.month, "out": str(out),
                    "municipalities": [_info_json(r) for r in results]})
        return 0
    if not results:
        print(f"ingen besøg at fakturere i {args.month}")
    for r in results:
        _print(r)
    return 0


def list_invoices(args) -> int:
    rows = open_app(args).billing.list_invoices(args.month)
    if args.json:
        print_json([_info_json(r) for r in rows])
        return 0
    for r in rows:
        _print(r)
    return 0


def _one(args, info) -> int:
    app = open_app(args)
    if args.out:
        info.files = app.billing.write_files(info.id, args.out)
    if args.json:
        print_json(_info_json(info))
    else:
        _print(info)
    return 0


def issue(args) -> int:
    return _one(args, open_app(args).billing.issue(args.id))


def credit(args) -> int:
    return _one(args, open_app(args).billing.credit_note(args.id, args.reason,
                                                         visit_ids=args.visits))


def issue_all(args) -> int:
    app = open_app(args)
    results = app.billing.issue_month(args.month)
    for info in results:
        if args.out:
            info.files = app.billing.write_files(info.id, args.out)
    if args.json:
        print_json([_info_json(r) for r in results])
        return 0
    if not results:
        print(f"ingen kladder at udstede i {args.month}")
    for r in results:
        _print(r)
    return 0


def allow(args) -> int:
    covered = open_app(args).billing.allow_incomplete(args.month, args.municipality,
                                                      args.reason)
    print(f"udstedelse tilladt for {args.municipality} {args.month} trods:")
    for p in covered:
        print(f"  {p}")
    return 0


def duplicate(args) -> int:
    open_app(args).billing.decide_duplicates(args.bill, args.drop, args.note)
    return 0


def problems(args) -> int:
    bills = open_app(args).billing.preview(args.month)
    if args.json:
        print_json([{"municipality": b.municipality_code, "name": b.municipality_name,
                     "problems": b.problems,
                     "duplicates": [{"date": g.date, "visits": list(g.visit_ids),
                                     "decided": g.decided} for g in b.duplicates]}
                    for b in bills])
        return 0
    for b in bills:
        print(f"{b.municipality_code} {b.municipality_name}: "
              + ("klar til udstedelse" if b.complete else f"{len(b.problems)} mangler"))
        for p in b.problems:
            print(f"  {p}")
    return 0


def export(args) -> int:
    app = open_app(args)
    files = app.billing.write_files(args.id, args.out)
    for path in files.values():
        print(path)
    if "oioubl" not in files:
        print("kladde: ingen e-faktura (OIOUBL), før fakturaen er udstedt")
    return 0
