"""routes export: the day's routes for the bioanalyst's phone (ICS, navigation links, GPX).

The ``routes`` command itself is made by ``cmd_plan.py``; command modules register in the
order of their names, so this one (``cmd_routes_…``) comes after it and adds its subcommand
to the existing ``routes`` without a line in that file.
"""

from __future__ import annotations

import argparse

from hjemmeprove.cli import args as A
from hjemmeprove.cli import existing_command, open_app
from hjemmeprove.cli.output import parse_date_arg, print_json


def register(sub) -> None:
    # raises when cmd_plan.py is gone or renamed: say so rather than half-register
    routes = existing_command(sub, "routes")
    if routes is None:  # this run builds another command only
        return
    actions = next(a for a in routes._actions if isinstance(a, argparse._SubParsersAction))
    x = actions.add_parser("export", help="ruten til telefonen: ics, links eller gpx")
    x.add_argument("--date", required=True)
    x.add_argument("--format", required=True, choices=["ics", "links", "gpx"])
    x.add_argument("--analyst", help="navn eller id (ellers alle)")
    x.add_argument("--out", default=".", help="mappe", type=A.out_dir)
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=routes_export)


def routes_export(args) -> int:
    from hjemmeprove.contact.service import export_routes

    day = parse_date_arg(args.date, "dato")
    app = open_app(args)
    written = export_routes(app.store, day, args.format, args.out, args.analyst)
    if args.json:
        print_json({"files": [str(p) for p, _ in written],
                    **({"links": [t for _, t in written]} if args.format == "links" else {})})
        return 0
    for path, text in written:
        print(path)
        if args.format == "links":
            print(text)
    return 0
