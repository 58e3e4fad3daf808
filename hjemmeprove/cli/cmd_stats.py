"""stats --year Y [--json | --csv] [--pdf FILE] (docs/cli.md)."""

from __future__ import annotations

import sys
from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app
from hjemmeprove.cli.output import print_json


def register(sub) -> None:
    p = sub.add_parser("stats", help="opfølgning: henvisninger, prøvetagninger, borgere")
    p.add_argument("--year", required=True, type=A.year_text)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true")
    g.add_argument("--csv", action="store_true")
    p.add_argument("--pdf",
                   type=A.out_file, help="skriv også en side med søjlediagrammer til denne fil")
    p.add_argument("--all", action="store_true", help="også kommuner uden aktivitet")
    p.set_defaults(func=stats)


def stats(args) -> int:
    app = open_app(args)
    st = app.stats.year(args.year, only_active=not args.all)
    if args.pdf:
        from hjemmeprove.documents.stats_pdf import render
        from hjemmeprove.fileio import write_atomic

        write_atomic(args.pdf, render(st))  # 0600: whole or not at all
    if args.json:
        print_json(st.as_json())
    elif args.csv:
        from hjemmeprove.documents import csvsafe

        w = csvsafe.writer(sys.stdout, lineterminator="\n")
        w.writerows(st.csv_rows())
    else:
        for row in st.csv_rows():
            print("  ".join(f"{x!s:>12}" if i > 2 else f"{x!s:<16}" for i, x in enumerate(row)))
        if args.pdf:
            print(f"PDF: {args.pdf}")
    return 0
