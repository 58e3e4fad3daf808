"""rates set … / rates show (docs/cli.md)."""

from __future__ import annotations

import sys
from decimal import Decimal

from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app
from hjemmeprove.cli.output import kr, parse_date_arg, print_json


def register(sub) -> None:
    p = sub.add_parser("rates", help="takster: fremskrivning, meddelte takster, kørselstakst")
    rsub = p.add_subparsers(dest="rates_command", metavar="HANDLING")
    s = rsub.add_parser("set", help="indtast en takst eller procent")
    ssub = s.add_subparsers(dest="rates_kind", metavar="TAKST")
    w = ssub.add_parser("wage-index", help="fremskrivningsprocent for løn for et år")
    w.add_argument("--year", required=True, type=A.year_text)
    w.add_argument("percent", type=A.amount(4, Decimal(100), negative=True))
    w.add_argument("--source", default="", type=A.text(300), help="hvor tallet kommer fra")
    w.set_defaults(func=set_wage_index)
    for name, kind, text in (("per-referral", "per_referral", "fast pris pr. henvisning"),
                             ("transport-time", "transport_time", "transporttid pr. km")):
        a = ssub.add_parser(name, help=f"officielt meddelt {text} for et år (går forud)")
        a.add_argument("--year", required=True, type=A.year_text)
        a.add_argument("amount", type=A.amount(2, Decimal(100000)))
        a.add_argument("--source", default="", type=A.text(300))
        a.set_defaults(func=set_announced, kind=kind)
    m = ssub.add_parser("mileage", help="statens høje takst fra en dato")
    m.add_argument("--from", dest="valid_from", required=True, type=A.date_text)
    m.add_argument("amount", type=A.amount(2, Decimal(1000)))
    m.add_argument("--source", default="", type=A.text(300))
    m.set_defaults(func=set_mileage)
    sh = rsub.add_parser("show", help="taksterne på en dato")
    sh.add_argument("--date", required=True, type=A.date_text)
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=show)


def set_wage_index(args) -> int:
    """Saves, then warns on stderr what the window would have asked a yes for (an unusual
    figure, no source): refusing would break scripts that enter the yearly figure."""
    from hjemmeprove.billing.rates import wage_index_concerns

    open_app(args).rates.set_wage_index(args.year, args.percent, args.source)
    print(f"fremskrivningsprocent for {args.year}: {args.percent} %")
    for text in wage_index_concerns(args.percent, args.source):
        print(f"advarsel: {text}", file=sys.stderr)
    return 0


def set_announced(args) -> int:
    open_app(args).rates.set_announced(args.year, args.kind, args.amount, args.source)
    print(f"meddelt takst ({args.kind}) for {args.year}: {args.amount} kr.")
    return 0


def set_mileage(args) -> int:
    day = parse_date_arg(args.valid_from, "fra")
    open_app(args).rates.set_mileage(day, args.amount, args.source)
    print(f"statens høje takst fra {day}: {args.amount} kr./km")
    return 0


def show(args) -> int:
    day = parse_date_arg(args.date, "dato")
    r = open_app(args).rates.rates_on(day)
    if args.json:
        print_json({"date": r.date, "per_referral": f"{r.per_referral:.2f}",
                    "transport_time_per_km": f"{r.transport_time_per_km:.2f}",
                    "mileage_per_km": f"{r.mileage_per_km:.2f}", "example": r.example,
                    "sources": {"per_referral": r.per_referral_source,
                                "transport_time_per_km": r.transport_time_source,
                                "mileage_per_km": r.mileage_source}})
        return 0
    print(f"Takster {day.isoformat()}" + ("  (EKSEMPEL-procenter, demodata)" if r.example else ""))
    print(f"  Fast pris pr. henvisning   {kr(r.per_referral):>14}  {r.per_referral_source}")
    print(f"  Transporttid pr. km        {kr(r.transport_time_per_km):>14}  "
          f"{r.transport_time_source}")
    print(f"  Kørsel pr. km              {kr(r.mileage_per_km):>14}  {r.mileage_source}")
    return 0
