"""The CLI's stable face: JSON shapes, exit status 2 naming the field, nothing written on error."""

import json
import subprocess
import sys

import pytest

from hjemmeprove.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_calendar_deadline_json(capsys, db_url):
    code, out, _ = run(capsys, "--db", db_url, "calendar", "deadline", "2024-03-22", "--json")
    assert code == 0
    assert json.loads(out) == {"received": "2024-03-22", "deadline": "2024-04-10"}


def test_calendar_workdays_json(capsys, db_url):
    code, out, _ = run(capsys, "--db", db_url, "calendar", "workdays", "2024-03-27", "2024-04-03",
                       "--json")
    assert json.loads(out) == ["2024-03-27", "2024-04-02", "2024-04-03"]


def test_bad_date_is_exit_2_naming_the_argument(capsys, db_url):
    code, _, err = run(capsys, "--db", db_url, "calendar", "deadline", "2024-02-30")
    assert code == 2
    assert "DATE" in err and "2024-02-30" in err


def test_import_bad_file_exit_2_and_nothing_written(capsys, tmp_path, department_app):
    url = department_app.store.url
    bad = tmp_path / "h.csv"
    bad.write_text("cpr;navn;adresse;postnr;by;kommunekode;modtaget\n"
                   "010150-1234;A;Vej 1;5700;Svendborg;479;2024-03-01\n"
                   "999999-1234;B;Vej 2;5700;Svendborg;479;2024-03-01\n", encoding="utf-8")
    code, _, err = run(capsys, "--db", url, "requests", "import", str(bad))
    assert code == 2
    assert "række 3, cpr:" in err
    assert "999999-1234" not in err and "9999991234" not in err  # CPR never in full
    assert department_app.requests.count() == 0
    good = tmp_path / "g.csv"
    good.write_text(bad.read_text(encoding="utf-8").rsplit("\n", 2)[0] + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "--db", url, "requests", "import", str(good), "--json")
    assert code == 0 and json.loads(out)["imported"] == 1


def test_console_script_runs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hjemmeprove", "--db",
                          f"sqlite:///{tmp_path / 'x.sqlite3'}", "calendar", "deadline",
                          "2023-04-28"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2023-05-15"


def test_gui_fills_demo_data_only_when_asked(monkeypatch, db_url):
    """``gui --demo-if-empty`` is read (it was declared and ignored, always on)."""
    import ui.main

    calls = []
    monkeypatch.setattr(ui.main, "run", lambda **kw: calls.append(kw) or 0)
    assert main(["--db", db_url, "gui"]) == 0
    assert main(["--db", db_url, "gui", "--demo-if-empty"]) == 0
    assert [c["demo_if_empty"] for c in calls] == [False, True]


def test_demo_marks_the_database_as_demo_data(app):
    from hjemmeprove.demo import fill_demo

    assert not app.holds_demo_data()
    fill_demo(app, seed=1, months=1, per_working_day=2)
    assert app.holds_demo_data()


def test_a_setting_with_choices_refuses_another_value(app):
    from hjemmeprove.errors import ValidationError

    with pytest.raises(ValidationError) as e:
        app.settings.set("distance.source", "google")
    assert e.value.errors[0].field == "Afstandskilde"
    app.settings.set("distance.source", "osrm")
    assert app.settings.get("distance.source") == "osrm"
