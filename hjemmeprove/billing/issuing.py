"""Issuing and crediting: numbers from the gapless sequence, one transaction each.

``issue`` recomputes the draft's municipality-month from the current facts *under locks that
stop concurrent corrections* (PostgreSQL: the sequence row, the invoice, the month's routes
and visits ``SELECT … FOR UPDATE``; SQLite: the database write lock taken first), compares
the result with the stored draft (what the user saw) and refuses, naming what changed, when
they differ. It refuses too while the month is incomplete (not ended, outcomes or km missing,
ferry minutes unexplained, duplicates undecided) unless the administrator has recorded an
override that covers exactly those problems.

A credit note credits an issued invoice in full or for selected visits; credited visits are
free to be billed again (corrected) by the next run.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hjemmeprove.billing.compute import Bill, billed_visits, compute, parse_month, setting
from hjemmeprove.billing.fees import Quantities, invoice_lines, round2
from hjemmeprove.db.models import (
    Agreement,
    DuplicateDecision,
    Invoice,
    InvoiceItem,
    InvoiceLine,
    IssueOverride,
    NumberSequence,
    Route,
    Visit,
)
from hjemmeprove.domain import formats
from hjemmeprove.domain.labels import outcome_label
from hjemmeprove.errors import ConflictError, FieldError, NotFound, ValidationError
from hjemmeprove.security import require

SEQUENCE = "invoice"  # invoices and credit notes share one gapless series
ZERO = Decimal("0")
MAX_CHANGES_SHOWN = 8


def today() -> dt.date:
    """The calendar day (one place, so tests can move it)."""
    return dt.date.today()


# --- locks and numbers -------------------------------------------------------------------------

def take_write_lock(s, is_sqlite: bool) -> None:
    """Serialise issuing before anything is read. PostgreSQL: the sequence row under
    SELECT … FOR UPDATE (a second officer waits here until the first commits). SQLite: a
    first statement that writes takes the database write lock (waiting up to busy_timeout),
    so a deferred read snapshot can never go stale and fail with 'database is locked'."""
    if is_sqlite:
        s.execute(update(NumberSequence).where(NumberSequence.name == SEQUENCE)
                  .values(last_value=NumberSequence.last_value))
    else:
        s.execute(select(NumberSequence.name).where(NumberSequence.name == SEQUENCE)
                  .with_for_update())


def lock_month(s, month: str, is_sqlite: bool) -> None:
    """PostgreSQL: the month's routes, then its visits, FOR UPDATE in id order (day close
    locks a route before its visits too, so the two never deadlock). SQLite: the write lock
    taken by ``take_write_lock`` already keeps every other writer out."""
    if is_sqlite:
        return
    first, last = parse_month(month)
    route_ids = select(Visit.route_id).where(Visit.date.between(first, last),
                                             Visit.route_id.is_not(None))
    s.execute(select(Route.id).where(Route.id.in_(route_ids)).order_by(Route.id)
              .with_for_update()).all()
    s.execute(select(Visit.id).where(Visit.date.between(first, last)).order_by(Visit.id)
              .with_for_update()).all()


def ensure_sequence(store) -> None:
    with store.session() as s:
        if s.get(NumberSequence, SEQUENCE) is not None:
            return
        first = int(setting(s, "invoice.first_number"))
    try:
        with store.session() as s:
            s.add(NumberSequence(name=SEQUENCE, last_value=first - 1))
    except IntegrityError:  # someone else created it at the same moment: fine
        pass


def next_number(s) -> int:
    seq = s.execute(select(NumberSequence).where(NumberSequence.name == SEQUENCE)
                    .with_for_update()).scalar_one()
    seq.last_value += 1
    return seq.last_value


def locked_invoice(s, invoice_id: int) -> Invoice:
    """The invoice row, locked for this transaction (FOR UPDATE on PostgreSQL)."""
    inv = s.execute(select(Invoice).where(Invoice.id == invoice_id)
                    .with_for_update()).scalar_one_or_none()
    if inv is None:
        raise NotFound(f"faktura {invoice_id} findes ikke")
    return inv


# --- comparing a draft with the facts ----------------------------------------------------------

def _num(d, places: str) -> str:
    return format(Decimal(d).quantize(Decimal(places)), "f").replace(".", ",")


def _kr(d) -> str:
    return _num(d, "0.01") + " kr."


def draft_changes(inv: Invoice, bill: Bill | None) -> list[str]:
    """What differs between a stored draft and the bill computed now (Danish, by name)."""
    if bill is None:
        return [f"{inv.municipality.name} har ikke længere noget at fakturere i "
                f"{formats.month(inv.month)}"]
    changes = []
    old = {it.visit_id: it for it in inv.items}
    new = {it.visit_id: it for it in bill.items}
    for vid in sorted(set(old) | set(new)):
        o, n = old.get(vid), new.get(vid)
        who = f"{(o or n).citizen_name} {(o or n).date:%d.%m.%Y}"
        if o is None:
            changes.append(f"nyt besøg: {who} ({outcome_label(n.outcome).lower()})")
            continue
        if n is None:
            changes.append(f"besøget hos {who} er ikke længere med")
            continue
        if o.outcome != n.outcome:
            changes.append(f"{who}: udfald {outcome_label(o.outcome).lower()} → "
                           f"{outcome_label(n.outcome).lower()}")
        elif bool(o.billable) != bool(n.billable):
            changes.append(f"{who}: {'faktureres nu' if n.billable else 'faktureres ikke længere'}")
        if Decimal(o.km_share) != Decimal(n.km_share):
            changes.append(f"{who}: km-andel {_num(o.km_share, '0.001')} → "
                           f"{_num(n.km_share, '0.001')}")
        if Decimal(o.ferry_share) != Decimal(n.ferry_share):
            changes.append(f"{who}: færgeminutter {_num(o.ferry_share, '0.1')} → "
                           f"{_num(n.ferry_share, '0.1')}")
        if bool(o.ekg) != bool(n.ekg):
            changes.append(f"{who}: EKG {'tilføjet' if n.ekg else 'fjernet'}")
    old_lines = [(ln.code, Decimal(ln.quantity), Decimal(ln.amount)) for ln in inv.lines]
    new_lines = [(ln.code, Decimal(ln.quantity), Decimal(ln.amount)) for ln in bill.lines]
    if old_lines != new_lines and not changes:
        changes.append("fakturalinjerne (takster) er ændret")
    if Decimal(inv.total) != bill.total:
        changes.append(f"i alt {_kr(inv.total)} → {_kr(bill.total)}")
    return changes


def _stale_message(inv: Invoice, changes: list[str]) -> str:
    shown = changes[:MAX_CHANGES_SHOWN]
    more = len(changes) - len(shown)
    return (f"Kladden til {inv.municipality.name} for {formats.month(inv.month)} er ikke "
            "udstedt: faktaene er "
            "ændret, siden den blev dannet (" + "; ".join(shown)
            + (f"; og {more} ændringer mere" if more else "")
            + "). Dan kladden igen, kontrollér den, og udsted så.")


# --- issuing -----------------------------------------------------------------------------------

def issue(svc, invoice_id: int, issue_date: dt.date | None = None,
          user: str | None = None):
    """Numbers a draft and locks it, its statement and its visits' shares; one transaction.

    The number comes from NumberSequence incremented under SELECT … FOR UPDATE (on SQLite the
    database write lock serialises it), in the same transaction that sets the invoice's
    number and status, so numbers are gapless and unique however many issue at once.
    """
    from hjemmeprove.billing.documents import check_einvoice_address as _check_einvoice_address

    store = svc.store
    require(store, "invoices.issue")
    ensure_sequence(store)
    day = today()
    issue_date = issue_date or day
    table = svc.rates.table()
    with store.session(user=user) as s:
        take_write_lock(s, store.is_sqlite)
        inv = locked_invoice(s, invoice_id)
        if inv.status != "draft":
            raise ConflictError(f"faktura {invoice_id} er allerede udstedt (nr. {inv.number})")
        lock_month(s, inv.month, store.is_sqlite)
        bills, _facts = compute(s, inv.month, table, today=day)
        bill = next((b for b in bills if b.agreement_id == inv.agreement_id), None)
        changes = draft_changes(inv, bill)
        if changes:
            raise ConflictError(_stale_message(inv, changes), {"changes": changes})
        override = refuse_incomplete(s, bill, issue_date)
        if override:
            inv.override_reason = override
        _check_einvoice_address(inv)
        visit_ids = [it.visit_id for it in inv.items]
        visits = list(s.scalars(select(Visit).where(Visit.id.in_(visit_ids))
                                .with_for_update())) if visit_ids else []
        locked = [v.id for v in visits if v.shares_locked]
        if locked:
            raise ConflictError(f"{len(locked)} besøg er allerede faktureret på en udstedt "
                                "faktura; kør måneden igen")
        items = {it.visit_id: it for it in inv.items}
        for v in visits:
            v.km_share, v.ferry_share = items[v.id].km_share, items[v.id].ferry_share
            v.shares_locked = True
        inv.number = next_number(s)
        inv.status = "issued"
        inv.issue_date = issue_date
        inv.due_date = issue_date + dt.timedelta(days=inv.department.payment_days or 30)
        inv.issued_by = s.info.get("user", "")
        s.flush()
        svc._store_documents(s, inv)
        return svc._info(s, inv)


def refuse_incomplete(s, bill: Bill, issue_date: dt.date) -> str:
    """Raises ValidationError naming every problem unless the bill is complete or the
    administrator's override covers exactly its problems; returns the override's text."""
    problems = list(bill.problems)
    _first, last = parse_month(bill.month)
    if issue_date <= last and not any(p.startswith("Måneden slutter") for p in problems):
        problems.insert(0, f"Måneden slutter {last:%d.%m.%Y}: udstedelsesdatoen skal være "
                           "efter den")
    if not problems:
        return ""
    override = s.scalar(select(IssueOverride).where(
        IssueOverride.agreement_id == bill.agreement_id, IssueOverride.month == bill.month))
    covered = set(override.problems.splitlines()) if override is not None else set()
    uncovered = [p for p in problems if p not in covered]
    if uncovered:
        raise ValidationError(
            [FieldError("udstedelse", f"{bill.municipality_name} {formats.month(bill.month)} "
                                      "er ikke færdig og kan ikke udstedes endnu")]
            + [FieldError("mangler", p) for p in uncovered])
    return (f"{override.reason} (tilladt af {override.decided_by} "
            f"{override.decided_at:%d.%m.%Y %H:%M}; dækkede: " + "; ".join(problems) + ")")


def allow_incomplete(svc, month: str, municipality_code: int, reason: str,
                     user: str | None = None) -> list[str]:
    """The administrator's explicit, audited override: the municipality's month may be
    issued although these problems (listed now, by name) stand. Returns them."""
    if not reason or not reason.strip():
        raise ValidationError("angiv hvorfor måneden udstedes, selv om den ikke er færdig",
                              "begrundelse")
    store = svc.store
    require(store, "invoices.override")
    table = svc.rates.table()
    with store.session(user=user) as s:
        bills, _ = compute(s, month, table, today=today())
        bill = next((b for b in bills if b.municipality_code == municipality_code), None)
        if bill is None:
            raise ValidationError(f"kommune {municipality_code} har intet at fakturere i {formats.month(month)}",
                                  "kommune")
        if not bill.problems:
            raise ValidationError(f"{bill.municipality_name} {formats.month(month)} er færdig: der er intet "
                                  "at tillade", "kommune")
        row = s.scalar(select(IssueOverride).where(
            IssueOverride.agreement_id == bill.agreement_id, IssueOverride.month == month))
        if row is None:
            row = IssueOverride(agreement_id=bill.agreement_id, month=month)
            s.add(row)
        row.reason = reason.strip()
        row.problems = "\n".join(bill.problems)
        row.decided_by = s.info.get("user", "")
        row.decided_at = dt.datetime.now().replace(microsecond=0)
        return list(bill.problems)


def decide_duplicates(svc, bill_ids, drop_ids, note: str = "",
                      user: str | None = None) -> None:
    """Finance's decision on duplicates flagged on the draft: bill these visits, drop the fee
    of those. Audited; a billed visit's decision cannot change."""
    store = svc.store
    require(store, "invoices.draft")
    bill_ids, drop_ids = set(bill_ids or ()), set(drop_ids or ())
    if bill_ids & drop_ids:
        raise ValidationError("et besøg kan ikke både faktureres og droppes", "dublet")
    if not bill_ids and not drop_ids:
        raise ValidationError("vælg de besøg, der faktureres eller droppes", "dublet")
    with store.session(user=user) as s:
        take_write_lock(s, store.is_sqlite)
        ids = bill_ids | drop_ids
        found = set(s.scalars(select(Visit.id).where(Visit.id.in_(list(ids)))))
        if ids - found:
            raise NotFound("besøg findes ikke: " + ", ".join(str(i) for i in sorted(ids - found)))
        billed = billed_visits(s, ids)
        if billed:
            raise ValidationError(
                "besøget er faktureret på faktura nr. "
                + ", ".join(str(n) for n in sorted({num for _i, num in billed.values()}))
                + "; kreditér det først", "dublet")
        for vid in sorted(ids):
            row = s.get(DuplicateDecision, vid)
            if row is None:
                row = DuplicateDecision(visit_id=vid)
                s.add(row)
            row.decision = "bill" if vid in bill_ids else "drop"
            row.note = note[:200]
            row.decided_by = s.info.get("user", "")
            row.decided_at = dt.datetime.now().replace(microsecond=0)


# --- credit notes ------------------------------------------------------------------------------

def credit_note(svc, invoice_id: int, reason: str, issue_date: dt.date | None = None,
                user: str | None = None, visit_ids=None):
    """Credits an issued invoice with a numbered credit note that references it: in full
    (``visit_ids`` None: whatever earlier credit notes left), or only the selected visits.
    The credited visits are free for a new (replacement) invoice. One transaction."""
    if not reason or not reason.strip():
        raise ValidationError("angiv hvorfor fakturaen krediteres", "begrundelse")
    store = svc.store
    require(store, "invoices.issue")
    ensure_sequence(store)
    issue_date = issue_date or today()
    table = svc.rates.table()
    with store.session(user=user) as s:
        take_write_lock(s, store.is_sqlite)
        orig = locked_invoice(s, invoice_id)
        if orig.kind != "invoice" or orig.status != "issued":
            raise ValidationError("kun en udstedt faktura kan krediteres", "faktura")
        prior = list(s.scalars(select(Invoice).where(Invoice.credits_invoice_id == orig.id,
                                                     Invoice.kind == "credit_note")))
        prior_ids = {it.visit_id for cn in prior for it in cn.items}
        remaining = [it for it in orig.items if it.visit_id not in prior_ids]
        if not remaining:
            raise ConflictError(f"faktura nr. {orig.number} er allerede krediteret")
        if visit_ids is None:
            selected = remaining
        else:
            wanted = {int(v) for v in visit_ids}
            on_invoice = {it.visit_id for it in orig.items}
            errors = []
            if not wanted:
                errors.append(FieldError("besøg", "vælg mindst ét besøg"))
            for vid in sorted(wanted - on_invoice):
                errors.append(FieldError("besøg", f"besøg {vid} er ikke på faktura nr. "
                                                  f"{orig.number}"))
            for vid in sorted(wanted & prior_ids):
                errors.append(FieldError("besøg", f"besøg {vid} er allerede krediteret"))
            if errors:
                raise ValidationError(errors)
            selected = [it for it in remaining if it.visit_id in wanted]
        whole = len(selected) == len(remaining)
        if whole and not prior:
            lines = [(ln.code, ln.text, ln.quantity, ln.unit, ln.rate, ln.amount)
                     for ln in orig.lines]
            tot, vat = orig.total, orig.vat_amount
        elif whole:
            lines = _remainder_lines(orig, prior)
            tot = sum((ln[5] for ln in lines), ZERO)
            vat = orig.vat_amount - sum((cn.vat_amount for cn in prior), ZERO)
        else:
            lines = _lines_for_items(orig, selected, table)
            tot = sum((ln[5] for ln in lines), ZERO)
            vat = round2(tot * orig.agreement.vat_percent / 100)
        cn = Invoice(kind="credit_note", agreement_id=orig.agreement_id,
                     municipality_id=orig.municipality_id,
                     department_id=orig.department_id, month=orig.month, status="issued",
                     total=tot, vat_amount=vat, credits_invoice_id=orig.id,
                     credit_reason=reason.strip(), terms=list(orig.terms or []))
        cn.lines = [InvoiceLine(position=i + 1, code=c, text=t, quantity=q, unit=u, rate=r,
                                amount=a) for i, (c, t, q, u, r, a) in enumerate(lines)]
        cn.items = [InvoiceItem(visit_id=it.visit_id, date=it.date,
                                citizen_name=it.citizen_name, cpr=it.cpr, outcome=it.outcome,
                                billable=it.billable, km_share=it.km_share,
                                ferry_share=it.ferry_share, km_planned=it.km_planned,
                                ekg=it.ekg) for it in selected]
        s.add(cn)
        freed = [it.visit_id for it in selected]
        for v in s.scalars(select(Visit).where(Visit.id.in_(freed))):
            v.shares_locked = False
        cn.number = next_number(s)
        cn.issue_date = issue_date
        cn.due_date = issue_date
        cn.issued_by = s.info.get("user", "")
        s.flush()
        svc._store_documents(s, cn)
        return svc._info(s, cn)


def _key(code: str, rate) -> tuple[str, Decimal]:
    return code, Decimal(rate).quantize(Decimal("0.0001"))


def _remainder_lines(orig: Invoice, prior: list[Invoice]) -> list[tuple]:
    """The original's lines less what earlier credit notes credited (øre-exact)."""
    credited_qty: dict = defaultdict(lambda: ZERO)
    credited_amt: dict = defaultdict(lambda: ZERO)
    for cn in prior:
        for ln in cn.lines:
            credited_qty[_key(ln.code, ln.rate)] += ln.quantity
            credited_amt[_key(ln.code, ln.rate)] += ln.amount
    out = []
    for ln in orig.lines:
        k = _key(ln.code, ln.rate)
        qty, amount = ln.quantity - credited_qty[k], ln.amount - credited_amt[k]
        if qty or amount:
            out.append((ln.code, ln.text, qty, ln.unit, ln.rate, amount))
    return out


def _lines_for_items(orig: Invoice, items, table) -> list[tuple]:
    """The lines the selected visits make up, at the rates the invoice billed them at."""
    ag: Agreement = orig.agreement
    groups: dict = {}
    for it in items:
        key = table.rates_on(it.date).line_rates()
        groups[key] = groups.get(key, Quantities()) + Quantities(
            int(it.billable), it.km_share, it.ferry_share,
            int(it.ekg and ag.ekg_price is not None))
    lines = invoice_lines([(q, r) for r, q in groups.items()], ag.ekg_price,
                          ag.ferry_speed_kmh)
    billed = {_key(ln.code, ln.rate): ln for ln in orig.lines}
    out = []
    for ln in lines:
        k = _key(ln.code, ln.rate)
        if k not in billed:
            raise ConflictError(f"satsen for '{ln.text}' er ændret, siden faktura nr. "
                                f"{orig.number} blev udstedt; kreditér hele fakturaen")
        out.append((ln.code, billed[k].text, ln.quantity, ln.unit, billed[k].rate, ln.amount))
    return out


__all__ = ["issue", "credit_note", "allow_incomplete", "decide_duplicates", "take_write_lock",
           "lock_month", "ensure_sequence", "next_number", "locked_invoice", "draft_changes"]
