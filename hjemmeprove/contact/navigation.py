"""The route on the bioanalyst's phone: an ICS calendar (one event per visit), navigation
links (Google Maps directions in legs of at most 9 waypoints, a ``geo:`` link per stop) and
GPX. Pure functions of a ``services.planning.RouteInfo``-shaped route (no database).

What leaves the paper: addresses, windows and access notes; never a CPR number, a name or a
clinical note (a phone's calendar is often synchronised to a cloud). The Google Maps links
carry the *addresses* as a person would type them, not the positions: no coordinates go to a
public routing service (docs/domain.md, Personal data). ``geo:`` links (opened by the phone's
own map app) and the GPX file carry the positions.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Copenhagen")
MAX_WAYPOINTS = 9  # Google Maps URLs: at most 9 waypoints between origin and destination
GOOGLE_DIR = "https://www.google.com/maps/dir/"
GPX_NS = "http://www.topografix.com/GPX/1/1"


@dataclass(frozen=True)
class Point:
    label: str  # "Laboratoriet" or "3. Vestergade 3, 5700 Svendborg"
    address: str
    lat: float | None = None
    lon: float | None = None
    stop: int | None = None  # the stop's number on the sheet; None for the lab


def stop_points(route) -> list[Point]:
    return [Point(f"{i}. {s.address}", s.address, s.lat, s.lon, i)
            for i, s in enumerate(route.stops, start=1)]


def route_points(route, lab: Point) -> list[Point]:
    """Lab, the stops in order with a return to the lab between trips, lab."""
    points = [lab]
    prev_trip = None
    for p, s in zip(stop_points(route), route.stops):
        if prev_trip is not None and s.trip != prev_trip:
            points.append(lab)
        prev_trip = s.trip
        points.append(p)
    points.append(lab)
    return points


@dataclass(frozen=True)
class Leg:
    url: str
    points: tuple[Point, ...]  # origin, waypoints, destination

    @property
    def stops(self) -> list[int]:
        """The stops this leg drives to (its origin is where the last leg ended)."""
        return [p.stop for p in self.points[1:] if p.stop is not None]


def legs(route, lab: Point, max_waypoints: int = MAX_WAYPOINTS) -> list[Leg]:
    """Directions URLs covering the whole day in order; each leg starts where the last ended
    and has at most ``max_waypoints`` waypoints."""
    points = route_points(route, lab)
    out = []
    i = 0
    while i < len(points) - 1:
        j = min(i + max_waypoints + 1, len(points) - 1)
        params = {"api": "1", "origin": points[i].address, "destination": points[j].address,
                  "travelmode": "driving"}
        middle = points[i + 1:j]
        if middle:
            params["waypoints"] = "|".join(p.address for p in middle)
        out.append(Leg(GOOGLE_DIR + "?" + urlencode(params, quote_via=quote, safe=","),
                       tuple(points[i:j + 1])))
        i = j
    return out


def google_legs(route, lab: Point, max_waypoints: int = MAX_WAYPOINTS) -> list[str]:
    return [leg.url for leg in legs(route, lab, max_waypoints)]


def geo_link(p: Point) -> str:
    """RFC 5870 ``geo:`` URI (with the address as query for the map app's label); without a
    position, the address alone."""
    q = quote(p.address, safe="")
    if p.lat is None or p.lon is None:
        return f"geo:0,0?q={q}"
    return f"geo:{p.lat:.6f},{p.lon:.6f}?q={p.lat:.6f},{p.lon:.6f}({q})"


def links_text(route, lab: Point) -> str:
    lines = [f"Rute {route.date} – {route.analyst}", "",
             "Navigation (Google Maps), i rækkefølge:"]
    for n, url in enumerate(google_legs(route, lab), start=1):
        lines.append(f"Del {n}: {url}")
    lines += ["", "Hvert stop (geo:):"]
    for p in stop_points(route):
        lines.append(f"{p.label}: {geo_link(p)}")
    return "\n".join(lines) + "\n"


def _description(s) -> str:
    parts = []
    if s.window[0] and s.window[1]:
        parts.append(f"Tidsvindue {s.window[0]:%H:%M}-{s.window[1]:%H:%M}")
    if s.arrival:
        parts.append(f"Planlagt ankomst {s.arrival:%H:%M}")
    if s.access_info:
        parts.append(f"Adgang: {s.access_info}")
    if s.presence_required:
        parts.append(f"Til stede: {s.presence_required}")
    if s.ferry_link:
        parts.append(f"Færge: {s.ferry_link}")
    return "\n".join(parts)


def ics(route, now: dt.datetime | None = None) -> bytes:
    """One VEVENT per visit (its window, address, access notes), times in Europe/Copenhagen."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//hjemmeprove//rute//DA")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Rute {route.date} {route.analyst}")
    stamp = now or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    for n, s in enumerate(route.stops, start=1):
        start_t = s.window[0] or s.arrival or dt.time(8)
        end_t = s.window[1] or s.arrival or start_t
        start = dt.datetime.combine(route.date, start_t, TZ)
        end = dt.datetime.combine(route.date, end_t, TZ)
        if end <= start:
            end = start + dt.timedelta(minutes=15)
        ev = Event()
        ev.add("uid", f"{route.date}-{s.request_id}@hjemmeprove")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", start)
        ev.add("dtend", end)
        ev.add("summary", f"{n}. {s.address}")
        ev.add("location", s.address)
        ev.add("description", _description(s))
        if s.lat is not None and s.lon is not None:
            ev.add("geo", (s.lat, s.lon))
        cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()


def gpx(route, lab: Point) -> bytes:
    """GPX 1.1: a waypoint per stop and the day as one route (lab, stops, lab)."""
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "hjemmeprove"})
    meta = ET.SubElement(root, f"{{{GPX_NS}}}metadata")
    ET.SubElement(meta, f"{{{GPX_NS}}}name").text = f"Rute {route.date} {route.analyst}"

    def point(tag, parent, p: Point, desc: str = ""):
        el = ET.SubElement(parent, f"{{{GPX_NS}}}{tag}",
                           {"lat": f"{p.lat:.6f}", "lon": f"{p.lon:.6f}"})
        ET.SubElement(el, f"{{{GPX_NS}}}name").text = p.label
        if desc:
            ET.SubElement(el, f"{{{GPX_NS}}}desc").text = desc
        return el

    stops = list(zip(stop_points(route), route.stops))
    for p, s in stops:
        if p.lat is not None and p.lon is not None:
            point("wpt", root, p, _description(s))
    rte = ET.SubElement(root, f"{{{GPX_NS}}}rte")
    ET.SubElement(rte, f"{{{GPX_NS}}}name").text = f"Rute {route.date} {route.analyst}"
    for p in route_points(route, lab):
        if p.lat is not None and p.lon is not None:
            point("rtept", rte, p)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
