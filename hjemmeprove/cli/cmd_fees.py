"""fees quote: what a month with given totals costs at a date's rates (docs/cli.md)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app
from hjemmeprove.cli.output import kr, number, parse_date_arg, print_json
from hjemmeprove.errors import FieldError, ValidationError


def register(sub) -> None:
    p = sub.add_parser("fees", help="gebyrberegning")
    fsub = p.add_subparsers(dest="fees_command", metavar="HANDLING")
    q = fsub.add_parser("quote", help="pris for en måned med disse totaler")
    q.add_argument("--date", required=True, type=A.date_text)
    q.add_argument("--referrals", required=True,
                   type=A.amount(0), help="antal henvisninger (faktureret udfald)")
    q.add_argument("--km", required=True, type=A.amount(3), help="sum af km-andele")
    q.add_argument("--ferry-minutes", default="0",
                   type=A.amount(1), help="sum af færgeminut-andele")
    q.add_argument("--ekg", default="0", type=A.amount(0), help="antal EKG (kræver --ekg-price)")
    q.add_argument("--ekg-price", default=None, type=A.amount(2), help="aftalt EKG-pris")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=fees_quote)


def _dec(text, field: str, errors: list, places: int) -> Decimal:
    try:
        d = Decimal(str(text).strip().replace(",", "."))
        if not d.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors.append(FieldError(field, f"'{text}' er ikke et tal"))
        return Decimal(0)
    if d < 0:
        errors.append(FieldError(field, "må ikke være negativ"))
    elif d.adjusted() >= 9:  # quantize would raise InvalidOperation on huge values
        errors.append(FieldError(field, "er for stort"))
    elif d != d.quantize(Decimal(1).scaleb(-places)):
        errors.append(FieldError(field, f"højst {places} decimaler"))
    return d


def fees_quote(args) -> int:
    day = parse_date_arg(args.date, "dato")
    errors: list[FieldError] = []
    referrals = _dec(args.referrals, "referrals", errors, 0)
    km = _dec(args.km, "km", errors, 3)
    ferry = _dec(args.ferry_minutes, "ferry-minutes", errors, 1)
    ekg = _dec(args.ekg, "ekg", errors, 0)
    ekg_price = _dec(args.ekg_price, "ekg-price", errors, 2) if args.ekg_price else None
    if ekg and ekg_price is None:
        errors.append(FieldError("ekg-price", "angiv aftalens EKG-pris"))
    if errors:
        raise ValidationError(errors)
    from hjemmeprove.billing.fees import Quantities, quote

    rates = open_app(args).rates.rates_on(day)
    lines, total = quote(Quantities(int(referrals), km, ferry, int(ekg)), rates.line_rates(),
                         ekg_price)
    if args.json:
        print_json({"lines": [{"text": ln.text, "quantity": str(ln.quantity),
                               "rate": f"{ln.rate:.2f}", "amount": f"{ln.amount:.2f}"}
                              for ln in lines],
                    "total": f"{total:.2f}", "date": day, "example_rates": rates.example})
        return 0
    for ln in lines:
        places = 3 if ln.unit == "km" else 1 if ln.unit == "min" else 0
        print(f"{ln.text:<40} {number(ln.quantity, places):>12} {ln.unit:<5} × "
              f"{kr(ln.rate):>12} = {kr(ln.amount):>14}")
    print(f"{'I alt':<40} {'':>12} {'':<5}   {'':>12}   {kr(total):>14}")
    if rates.example:
        print("BEMÆRK: satserne bygger på EKSEMPEL-procenter (demodata).")
    return 0
