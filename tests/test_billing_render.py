"""A large billing run renders part of its drafts' documents in a second process
(``billing.render``): the files are the same as one process renders; a failure there is a
Danish error, with no file written."""

import datetime as dt

import pytest

from hjemmeprove.billing import render
from hjemmeprove.cli import main
from hjemmeprove.errors import HjemmeproveError
from tests.test_invoice_fixtures import add_route, set_2020_rates

MARCH = "2020-03"


def _month(app):
    """Three municipalities' visits on shared routes (Svendborg, Faaborg-Midtfyn, Ærø)."""
    set_2020_rates(app)
    for day in (10, 11, 12):
        add_route(app, dt.date(2020, 3, day),
                  [dict(code=c, standalone=str(3 + i), name=f"Borger {day}-{i}")
                   for i, c in enumerate((479, 430, 492, 479, 430, 479))], km="41.7")


@pytest.fixture
def two_processes(monkeypatch):
    """A second process for any run with files, however small; records each one started."""
    started = []
    real = render.Helper.__init__

    def init(self):
        real(self)
        started.append(self)

    monkeypatch.setattr(render, "MIN_ITEMS", 0)
    monkeypatch.setattr(render.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(render.Helper, "__init__", init)
    return started


def test_two_processes_write_the_files_one_process_renders(department_app, tmp_path,
                                                           two_processes):
    app = department_app
    _month(app)
    out = tmp_path / "out"
    infos = app.billing.run(MARCH, out)
    assert len(two_processes) == 1 and not two_processes[0].proc.is_alive()
    assert len(infos) == 3
    lanes = two_processes[0].on_result.__self__
    assert lanes.rendered_there >= 1 and lanes.rendered_here + lanes.rendered_there == 3
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 9 and all(not n.startswith(".") for n in written)  # no temporaries
    for info in infos:
        assert set(info.files) == {"invoice_pdf", "statement_pdf", "statement_csv"}
        # a draft's documents rendered afresh in this process: byte for byte the same
        for kind, (name, content) in app.billing.documents(info.id).items():
            assert info.files[kind].endswith(name)
            assert (out / name).read_bytes() == content, (info.municipality_code, kind)


def test_one_process_below_the_threshold_or_when_asked(department_app, tmp_path, monkeypatch):
    app = department_app
    _month(app)
    monkeypatch.setattr(render, "Helper", None)  # a second process would fail the run
    assert len(app.billing.run(MARCH, tmp_path / "small")) == 3  # 18 visits: not worth it
    monkeypatch.setattr(render, "MIN_ITEMS", 0)
    monkeypatch.setattr(app.billing, "render_processes", 1)
    assert len(app.billing.run(MARCH, tmp_path / "one")) == 3


def _no_files(path):
    return not path.exists() or not any(path.iterdir())


def test_a_failure_in_the_second_process_is_a_danish_error_and_nothing_is_written(
        department_app, tmp_path, monkeypatch, two_processes):
    app = department_app
    _month(app)

    def submit(self, doc):  # the second process fails on what it is sent
        self.conn.send(doc if doc is None else "not a document")

    monkeypatch.setattr(render.Helper, "submit", submit)
    with pytest.raises(render.DocumentError) as e:
        app.billing.run(MARCH, tmp_path / "out")
    assert isinstance(e.value, HjemmeproveError)
    assert "kunne ikke dannes" in str(e.value) and "ingen filer er skrevet" in str(e.value)
    assert "AttributeError" in str(e.value)
    assert _no_files(tmp_path / "out")
    assert not two_processes[0].proc.is_alive()


def test_the_second_process_dying_is_a_danish_error_and_nothing_is_written(
        department_app, tmp_path, monkeypatch, two_processes):
    app = department_app
    _month(app)

    def submit(self, doc):  # killed (out of memory, by the user) before it answers
        self.proc.kill()
        self.proc.join(5)

    monkeypatch.setattr(render.Helper, "submit", submit)
    with pytest.raises(render.DocumentError, match="stoppede uventet"):
        app.billing.run(MARCH, tmp_path / "out")
    assert _no_files(tmp_path / "out")


def test_cli_reports_the_failure_in_danish_with_exit_1(department_app, tmp_path, monkeypatch,
                                                        two_processes, capsys):
    app = department_app
    _month(app)
    monkeypatch.setattr(render.Helper, "submit", lambda self, doc: self.conn.send(
        doc if doc is None else "not a document"))
    assert main(["--db", app.store.url, "invoice", "run", "--month", MARCH,
                 "--out", str(tmp_path / "out")]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]  # the message, not a traceback
    assert "kunne ikke dannes" in last and "ingen filer er skrevet" in last
    assert _no_files(tmp_path / "out")
