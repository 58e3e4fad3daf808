"""roles (PostgreSQL database roles), users, whoami and retention (erasure of old citizen data)."""

from __future__ import annotations

import sys

from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app
from hjemmeprove.cli.output import parse_date_arg, print_json
from hjemmeprove.errors import HjemmeproveError


def register(sub) -> None:
    p = sub.add_parser("roles", help="databaseroller og rettigheder (PostgreSQL)")
    rsub = p.add_subparsers(dest="roles_command", metavar="HANDLING")
    s = rsub.add_parser("setup", help="opret grupperoller, rettigheder og beskyttende triggere")
    s.add_argument("--print", action="store_true", help="vis kun SQL'en (til DBA'en)")
    s.set_defaults(func=roles_setup)
    w = rsub.add_parser("whoami", help="hvem er jeg, og hvilke roller har jeg")
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=roles_whoami)

    p = sub.add_parser("users", help="brugere og deres roller")
    usub = p.add_subparsers(dest="users_command", metavar="HANDLING")
    a = usub.add_parser("add", help="opret en bruger eller skift dens rolle")
    a.add_argument("username", type=A.text(100))
    a.add_argument("--role", required=True, help="coordinator, finance eller administrator")
    a.add_argument("--name", default="", type=A.text(200), help="fulde navn")
    a.set_defaults(func=users_add)
    ls = usub.add_parser("list", help="vis brugerne")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=users_list)
    d = usub.add_parser("deactivate", help="luk en bruger")
    d.add_argument("username", type=A.text(100))
    d.set_defaults(func=users_deactivate)

    p = sub.add_parser("retention", help="slet borgerdata efter opbevaringsperioden")
    tsub = p.add_subparsers(dest="retention_command", metavar="HANDLING")
    r = tsub.add_parser("run", help="slet personoplysninger om borgere, hvis sidste faktura er "
                        "ældre end 'retention.years' år; fakturaernes beløb bliver")
    r.add_argument("--dry-run", action="store_true", help="vis kun, hvor mange der slettes")
    r.add_argument("--today",
                   type=A.date_text, help="dato at regne fra (ÅÅÅÅ-MM-DD); ellers dags dato")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=retention_run)


def roles_setup(args) -> int:
    from hjemmeprove.db import pg_roles
    from hjemmeprove.security import require

    if args.print:
        for stmt in pg_roles.setup_sql():
            print(stmt.strip() + ";")
        return 0
    app = open_app(args)
    if app.store.is_sqlite:
        raise HjemmeproveError("databaseroller findes kun på PostgreSQL; på SQLite håndhæver "
                               "programmet rollerne (hjemmeprove users add)")
    require(app.store, "roles.setup")
    for role in pg_roles.setup(app.store):
        print(role)
    return 0


def roles_whoami(args) -> int:
    from hjemmeprove.security import identity, roles_text

    who = identity(open_app(args).store)
    if args.json:
        print_json({"user": who.user, "roles": sorted(who.roles),
                    "single_user": who.single_user, "all_rights": who.all_rights})
    else:
        extra = " (enkeltbruger: alle rettigheder)" if who.single_user else (
            " (ejer: alle rettigheder)" if who.superuser else "")
        print(f"{who.user}: {roles_text(who.roles)}{extra}")
    return 0


def users_add(args) -> int:
    from hjemmeprove.security import add_user

    row = add_user(open_app(args).store, args.username, args.role, args.name)
    print(f"{row.username}: {row.role}")
    return 0


def users_list(args) -> int:
    from hjemmeprove.security import list_users

    rows = list_users(open_app(args).store)
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            print(f"{r.username:<20} {r.role:<14} {'aktiv' if r.active else 'lukket':<7} "
                  f"{r.full_name}")
    return 0


def users_deactivate(args) -> int:
    from hjemmeprove.security import deactivate_user

    deactivate_user(open_app(args).store, args.username)
    print(f"{args.username} er lukket")
    return 0


def retention_run(args) -> int:
    from hjemmeprove.services.retention import RetentionService

    app = open_app(args)
    today = parse_date_arg(args.today, "--today") if args.today else None
    result = RetentionService(app.store).erase_expired(today=today, dry_run=args.dry_run)
    if args.json:
        print_json(result)
    else:
        verb = "ville blive slettet" if args.dry_run else "slettet"
        print(f"{result.citizens} borgere {verb} (sidste faktura før {result.cutoff})")
    if result.vacuum_problem:
        print(f"advarsel: {result.vacuum_problem}", file=sys.stderr)
    return 0
