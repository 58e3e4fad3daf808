"""The offline map and the bundle's self-test."""

from __future__ import annotations

from ui.map.geo import load_municipalities, project


def test_geodata_is_region_syddanmark_small_and_attributed():
    from hjemmeprove import paths

    shapes = load_municipalities()
    codes = {s.code for s in shapes}
    assert len(codes) == 22 and {479, 492, 461, 630} <= codes
    assert 101 not in codes  # København is not in the region
    path = paths.resource("geodata", "kommuner-syd.geojson")
    assert path.stat().st_size < 150_000
    assert "Klimadatastyrelsen" in paths.resource("geodata", "SOURCES.md").read_text("utf-8")


def test_projection_keeps_north_up_and_east_right():
    x1, y1 = project(55.0, 10.0)
    x2, y2 = project(55.5, 10.5)
    assert x2 > x1 and y2 < y1  # east is right, north is up (y grows downwards)


def test_map_draws_stops_lab_and_dashed_ferry_legs(qtbot):
    from PySide6.QtCore import Qt

    from ui.map.widget import MapRoute, MapStop, RouteMap

    m = RouteMap()
    qtbot.addWidget(m)
    lab = (55.0587, 10.5931)  # Svendborg
    route = MapRoute("Mette Holm", [MapStop(55.10, 10.24, "1"),
                                    MapStop(54.888, 10.4117, "2", ferry_leg=True)],
                     ferry_home=True)
    m.show_routes(lab, [route])
    legs = [i for i in m.route_items if i.data(0) in ("leg", "ferry")]
    assert len(legs) == 3  # lab→1, 1→2 (ferry), 2→lab (ferry)
    assert [i.data(0) for i in legs] == ["leg", "ferry", "ferry"]
    assert all(i.pen().style() == Qt.PenStyle.DashLine for i in legs if i.data(0) == "ferry")
    assert [s.text for s in m.stop_items] == ["1", "2"]
    before = m.transform().m11()
    m.zoom(1.25)
    assert m.transform().m11() > before


def test_selftest_passes(tmp_path):
    from ui.main import selftest

    lines = []
    assert selftest(f"sqlite:///{tmp_path / 'st.sqlite3'}", out=lines.append) == 0
    assert lines[-1] == "selvtest bestået"
    assert [ln.split(":")[0] for ln in lines[:-1]] == [
        "OK    database", "OK    gebyr", "OK    pdf", "OK    ruteplan", "OK    anden proces",
        "OK    qt"]
