"""The department's set-up as a TOML file (hjemmeprove.services.setup_file, ``setup`` CLI)."""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hjemmeprove.app import App
from hjemmeprove.cli import main
from hjemmeprove.db.models import Absence, Agreement, Bioanalyst, ClosingDay, Municipality
from hjemmeprove.errors import ValidationError
from hjemmeprove.services.admin import AbsenceRow, AgreementRow, ClosingDayRow
from hjemmeprove.services.setup_file import (
    export_setup,
    export_setup_file,
    import_setup,
    import_setup_file,
)
from tests.conftest import _new_pg_database, pg_admin_url

BASE = "format = 1\n"


@pytest.fixture
def fresh_url(tmp_path):
    """A second empty database of the backend under test."""
    if pg_admin_url():
        url, drop = _new_pg_database()
        yield url
        drop()
    else:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"


def _set_up(app) -> None:
    """A department with something in every part of the file."""
    admin = app.admin
    svendborg = next(a for a in admin.list_agreements() if a.municipality_name == "Svendborg")
    admin.save_agreement(replace(svendborg, end=dt.date(2026, 6, 30), reference="SV-2020",
                                 billable_outcomes="taken,not_home", allocation_rule="equal",
                                 statement_personal_data="name", vat_percent=Decimal("0")))
    admin.save_agreement(AgreementRow(None, svendborg.municipality_id, svendborg.department_id,
                                      dt.date(2026, 7, 1), reference="SV-2026",
                                      ekg_price=Decimal("120.50"), reply_window_minutes=90))
    mette = next(b for b in admin.list_bioanalysts() if b.name == "Mette Holm")
    app.admin.save_bioanalyst(replace(mette, day_start=dt.time(7, 30), day_end=dt.time(14, 45),
                                      skills="ekg,børn", capacity=30, phone="+4512345678"))
    admin.save_absence(AbsenceRow(None, mette.id, dt.date(2026, 12, 1), dt.date(2026, 12, 3),
                                  "Ferie"))
    admin.save_closing_day(ClosingDayRow(dt.date(2026, 5, 15), "Personaledag"))
    app.settings.set_many({"planning.service_minutes": 12, "distance.source": "osrm",
                           "distance.url": "http://127.0.0.1:5000",
                           "planning.area_days": "Langeland=ons", "distance.detour_factor": 1.25,
                           "closing.christmas_eve": False})


def test_round_trip_gives_the_same_file(department_app, fresh_url, tmp_path):
    _set_up(department_app)
    first = tmp_path / "opsaetning.toml"
    export_setup_file(department_app.store, first)
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o600
    text = first.read_text("utf-8")
    assert 'navn = "KBA Svendborg"' in text and "slut = 2026-06-30" in text
    assert 'arbejdstid_start = "07:30"' in text and "ekg_pris = 120.50" in text

    fresh = App(fresh_url, user="test")  # an empty database: no municipalities even
    try:
        result = import_setup_file(fresh.store, first)
        assert result.added["aftaler"] == 4 and result.added["fravær"] == 1
        second = tmp_path / "igen.toml"
        export_setup_file(fresh.store, second)
        assert second.read_bytes() == first.read_bytes()
        # and importing the same file again changes nothing
        again = import_setup(fresh.store, text)
        assert not again.added and not any(again.changed.values())
        assert export_setup(fresh.store) == text
    finally:
        fresh.close()


def test_import_updates_by_natural_keys_and_leaves_the_rest(department_app):
    app = department_app
    with app.store.session() as s:
        before = {n: s.scalar(select(func.count()).select_from(m))
                  for n, m in (("m", Municipality), ("a", Agreement), ("b", Bioanalyst))}
    edited = (BASE + '[[bioanalytikere]]\nnavn = "Louise Friis"\nkapacitet = 12\n'
              '[[bioanalytikere]]\nnavn = "Ny Kollega"\nkompetencer = ["ekg"]\n'
              'fravaer = [{ fra = 2027-01-04, til = "2027-01-08", aarsag = "Kursus" }]\n')
    # a file that names two bioanalysts leaves everything else as it is
    result = import_setup(app.store, edited)
    assert result.added == {"bioanalytikere": 1, "fravær": 1}
    assert result.changed == {"bioanalytikere": 1}
    with app.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Municipality)) == before["m"]
        assert s.scalar(select(func.count()).select_from(Agreement)) == before["a"]
        assert s.scalar(select(func.count()).select_from(Bioanalyst)) == before["b"] + 1
        louise = s.scalar(select(Bioanalyst).where(Bioanalyst.name == "Louise Friis"))
        assert louise.capacity == 12
        new = s.scalar(select(Bioanalyst).where(Bioanalyst.name == "Ny Kollega"))
        assert new.skills == "ekg" and new.day_start == dt.time(8)
        assert [(a.start, a.reason) for a in new.absences] == [(dt.date(2027, 1, 4), "Kursus")]



def _refused(app, text: str) -> set[str]:
    before = export_setup(app.store)
    with pytest.raises(ValidationError) as e:
        import_setup(app.store, text)
    assert export_setup(app.store) == before  # nothing saved
    return e.value.fields




@pytest.mark.parametrize("text, key", [
    (BASE + '[[bioanalytikere]]\nnavn = "Louise Friis"\nkapacitet = "mange"\n',
     "bioanalytikere[1].kapacitet"),
    (BASE + '[[bioanalytikere]]\nnavn = "A"\n[[bioanalytikere]]\nnavn = "Louise Friis"\n'
     'arbejdstid_start = "15:00"\narbejdstid_slut = "08:00"\n',
     "bioanalytikere[2].arbejdstid_slut"),
    (BASE + '[[bioanalytikere]]\nnavn = "Louise Friis"\narbejdstid_start = "25:00"\n',
     "bioanalytikere[1].arbejdstid_start"),
    (BASE + '[[bioanalytikere]]\nnavn = "Louise Friis"\n'
     'fravaer = [{ fra = 2026-12-05, til = 2026-12-01 }]\n',
     "bioanalytikere[1].fravaer[1].til"),
    (BASE + '[[aftaler]]\nkommune = 999\nstart = 2026-01-01\n', "aftaler[1].kommune"),
    (BASE + '[[aftaler]]\nkommune = 479\nstart = 2024-01-01\n', "aftaler[1].start"),
    (BASE + '[[aftaler]]\nkommune = 461\nstart = 2026-01-01\n[[aftaler]]\nkommune = 461\n'
     'start = 2026-06-01\nslut = 2026-12-31\n', "aftaler[1].start"),
    (BASE + '[[aftaler]]\nkommune = 461\nstart = 2026-01-01\nfakturerbare_udfald = ["maybe"]\n',
     "aftaler[1].fakturerbare_udfald"),
    (BASE + '[[aftaler]]\nkommune = 461\nstart = 2026-01-01\nmoms_procent = 125\n',
     "aftaler[1].moms_procent"),
    (BASE + '[[kommuner]]\nkode = 461\nean = "123"\n', "kommuner[1].ean"),
    (BASE + '[[kommuner]]\nkode = 461\nnavn = "' + "x" * 101 + '"\n', "kommuner[1].navn"),
    (BASE + '[afdeling]\ncvr = "12"\n', "afdeling.cvr"),
    (BASE + '[afdeling]\nbreddegrad = 40.0\n', "afdeling.breddegrad"),
    (BASE + '[indstillinger]\nafstandskilde = "google"\n', "indstillinger.afstandskilde"),
    (BASE + '[indstillinger]\nankomst_minutter = 10.5\n', "indstillinger.ankomst_minutter"),
    # numbers outside what a department can mean, and area days that named no island or
    # day, were stored: a detour factor of -1, an area rule dropped by a typo
    (BASE + '[indstillinger]\nankomst_minutter = 100000\n', "indstillinger.ankomst_minutter"),
    (BASE + '[indstillinger]\nomvejsfaktor = -1\n', "indstillinger.omvejsfaktor"),
    (BASE + '[indstillinger]\nomvejsfaktor = nan\n', "indstillinger.omvejsfaktor"),
    (BASE + '[indstillinger]\nomraadedage = "Langeland=tisdag"\n', "indstillinger.omraadedage"),
    (BASE + '[indstillinger]\nomraadedage = "Taasinge=tir"\n', "indstillinger.omraadedage"),
    (BASE + '[afdeling]\nbetalingsfrist_dage = 99999999999999999999\n',
     "afdeling.betalingsfrist_dage"),
    (BASE + '[indstillinger]\nsms_noegle = "hemmelig"\n', "indstillinger.sms_noegle"),
    (BASE + '[[lukkedage]]\ndato = "31-12-2026"\n', "lukkedage[1].dato"),
    (BASE + '[[bioanalytikere]]\nnavm = "Louise Friis"\n', "bioanalytikere[1].navm"),
    (BASE + '[[kommuner]]\nkode = 461\n[[kommuner]]\nkode = 461\n', "kommuner[2].kode"),
    (BASE + '[[bioanalytikere]]\nnavn = "Louise Friis"\nfravaer = [{ fra = 2026-12-01, '
     'til = 2026-12-02 }, { fra = 2026-12-01, til = 2026-12-02 }]\n',
     "bioanalytikere[1].fravaer[2].fra"),
    (BASE + 'kommuner = "Odense"\n', "kommuner"),
    ('format = 2\n', "format"),
    ('format = true\n', "format"),
    ('', "format"),
    ('[afdeling\nnavn = "x"\n', "fil"),
])
def test_bad_input_names_the_key_and_saves_nothing(department_app, text, key):
    assert key in _refused(department_app, text)


def test_every_problem_is_reported_and_nothing_is_saved(department_app):
    text = (BASE + '[afdeling]\nnavn = "Omdøbt"\n'
            '[[kommuner]]\nkode = 461\nean = "5798000000124"\n'
            '[[bioanalytikere]]\nnavn = "Louise Friis"\nkapacitet = 0\n'
            '[[lukkedage]]\ndato = 2026-12-28\n')
    fields = _refused(department_app, text)
    assert fields == {"bioanalytikere[1].kapacitet"}
    with department_app.store.session() as s:
        assert s.get(ClosingDay, dt.date(2026, 12, 28)) is None
        assert s.scalar(select(Municipality.ean).where(Municipality.code == 461)) == ""
        assert not s.scalars(select(Absence)).all()


def test_overlapping_agreement_refused_in_settings_too(department_app):
    """The overlap rule is Indstillinger's as well as the file's."""
    admin = department_app.admin
    a = admin.list_agreements()[0]
    with pytest.raises(ValidationError) as e:
        admin.save_agreement(AgreementRow(None, a.municipality_id, a.department_id,
                                          dt.date(2025, 1, 1)))
    assert "startdato" in e.value.fields
    admin.save_agreement(replace(a, end=dt.date(2024, 12, 31)))
    admin.save_agreement(AgreementRow(None, a.municipality_id, a.department_id,
                                      dt.date(2025, 1, 1)))


def test_cli_export_and_import(department_app, tmp_path, capsys):
    url = department_app.store.url
    out = tmp_path / "setup.toml"
    assert main(["--db", url, "setup", "export", str(out)]) == 0
    assert out.read_text("utf-8").startswith("# hjemmeprøve")
    assert main(["--db", url, "setup", "import", str(out)]) == 0
    assert "uændrede" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + '[[bioanalytikere]]\nnavn = "Louise Friis"\nkapacitet = -1\n', "utf-8")
    assert main(["--db", url, "setup", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bioanalytikere[1].kapacitet" in err and "Traceback" not in err
    assert main(["--db", url, "setup", "import", str(tmp_path / "findes-ikke.toml")]) == 2


def test_the_readme_example_imports(department_app):
    import re
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    section = readme[readme.index("## The department's set-up as a file"):]
    example = re.search(r"```toml\n(.*?)```", section, re.S)[1]
    result = import_setup(department_app.store, example)
    assert result.changed["aftaler"] == 1 and result.added["fravær"] == 1
    assert department_app.settings.get("planning.area_days") == "Langeland=tir;Tåsinge=tir"


def test_new_municipality_and_its_agreement_in_one_file(department_app):
    text = (BASE + '[[kommuner]]\nkode = 999\nnavn = "Prøvekommune"\n'
            '[[aftaler]]\nkommune = 999\nstart = 2026-01-01\nslut = 2026-12-31\n'
            'ekg_pris = 100\n')
    result = import_setup(department_app.store, text)
    assert result.added == {"kommuner": 1, "aftaler": 1}
    a = next(a for a in department_app.admin.list_agreements() if a.municipality_name ==
             "Prøvekommune")
    assert (a.start, a.end, a.ekg_price) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31),
                                             Decimal("100.00"))
    # and "" takes the end date and the ECG price away again
    import_setup(department_app.store, BASE + '[[aftaler]]\nkommune = 999\nstart = 2026-01-01\n'
                 'slut = ""\nekg_pris = ""\n')
    a = next(x for x in department_app.admin.list_agreements() if x.id == a.id)
    assert a.end is None and a.ekg_price is None


@pytest.mark.sqlite_only  # on PostgreSQL the database login's role decides
def test_rights_are_needed_only_where_the_file_changes_something(department_app):
    from hjemmeprove.db.models import User
    from hjemmeprove.errors import PermissionDenied

    app = department_app
    if not app.store.is_sqlite:
        pytest.skip("SQLite: the program's own users and roles")
    text = export_setup(app.store)
    with app.store.session() as s:
        s.add(User(username="test", role="coordinator"))
    # a coordinator may change a bioanalyst; the unchanged agreements need no right
    import_setup(app.store, text.replace("kapacitet = 24", "kapacitet = 20", 1))
    with pytest.raises(PermissionDenied):
        import_setup(app.store, text.replace('reference = ""', 'reference = "X"', 1))
    assert 'reference = "X"' not in export_setup(app.store)
