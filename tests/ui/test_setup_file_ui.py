"""Indstillinger's "Eksportér opsætning…"/"Importér opsætning…" (services.setup_file)."""

from __future__ import annotations

from tests.ui.conftest import settle


def test_export_then_import_from_settings(qtbot, window, dialogs, tmp_path):
    view = window.show_view("settings")
    settle(qtbot)
    out = tmp_path / "opsaetning.toml"
    view.choose_export_file = lambda: str(out)
    view.export_button.click()
    settle(qtbot)
    assert dialogs[-1] == ("Opsætning eksporteret", f"Gemt i {out}")
    text = out.read_text("utf-8")
    assert "[[bioanalytikere]]" in text

    edited = tmp_path / "rettet.toml"
    edited.write_text('format = 1\n[[bioanalytikere]]\nnavn = "Louise Friis"\nkapacitet = 17\n'
                      'fravaer = [{ fra = 2024-04-08, til = 2024-04-09, aarsag = "Kursus" }]\n',
                      "utf-8")
    view.choose_import_file = lambda: str(edited)
    view.import_button.click()
    settle(qtbot)
    title, message = dialogs[-1]
    assert title == "Opsætning importeret"
    assert "bioanalytikere: 0 nye, 1 ændrede" in message and "planlæg" in message
    page = view.pages["bioanalysts"]
    settle(qtbot)
    louise = next(r for r in page.model.rows if r.name == "Louise Friis")
    assert louise.capacity == 17
    assert any(a.reason == "Kursus" for a in page.absence_model.rows)


def test_bad_file_shows_the_key_and_saves_nothing(qtbot, window, dialogs, tmp_path):
    view = window.show_view("settings")
    settle(qtbot)
    bad = tmp_path / "forkert.toml"
    bad.write_text('format = 1\n[[bioanalytikere]]\nnavn = "Louise Friis"\nkapacitet = 17\n'
                   '[[bioanalytikere]]\nnavn = "Mette Holm"\narbejdstid_slut = "07:00"\n',
                   "utf-8")
    view.choose_import_file = lambda: str(bad)
    view.import_button.click()
    settle(qtbot)
    title, message = dialogs[-1]
    assert title == "Kontrollér indtastningen"
    assert "bioanalytikere[2].arbejdstid_slut" in message
    louise = next(b for b in window.app.admin.list_bioanalysts() if b.name == "Louise Friis")
    assert louise.capacity == 24


def test_cancelled_file_choice_does_nothing(qtbot, window, dialogs):
    view = window.show_view("settings")
    settle(qtbot)
    view.choose_export_file = lambda: ""
    view.choose_import_file = lambda: ""
    view.export_button.click()
    view.import_button.click()
    settle(qtbot)
    assert dialogs == []
