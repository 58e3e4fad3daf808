"""setup export / setup import: the department's set-up as a TOML file (docs/cli.md)."""

from __future__ import annotations

from hjemmeprove.cli import args as A
from hjemmeprove.cli import open_app


def register(sub) -> None:
    p = sub.add_parser("setup", help="afdelingens opsætning som fil (TOML): aftaler, kommuner, "
                       "bioanalytikere, lukkedage, afstandskilde …")
    ssub = p.add_subparsers(dest="setup_command", metavar="HANDLING")
    e = ssub.add_parser("export", help="skriv opsætningen til en fil")
    e.add_argument("file", metavar="FIL", type=A.out_file, help="fx opsaetning.toml")
    e.set_defaults(func=setup_export)
    i = ssub.add_parser("import", help="læs en opsætningsfil ind (alt eller intet); rækker, "
                        "filen ikke nævner, bliver stående")
    i.add_argument("file", metavar="FIL", type=A.in_file)
    i.set_defaults(func=setup_import)


def setup_export(args) -> int:
    from hjemmeprove.services.setup_file import export_setup_file

    print(export_setup_file(open_app(args).store, args.file))
    return 0


def setup_import(args) -> int:
    from hjemmeprove.services.setup_file import import_setup_file

    result = import_setup_file(open_app(args).store, args.file)
    for line in result.lines():
        print(line)
    if result.new_absences:
        print("nyt fravær er gemt uden at lægge ruterne om: kør 'hjemmeprove plan' for de "
              "berørte dage")
    return 0
