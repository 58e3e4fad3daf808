"""What a search of the request list finds, checked on its three readers."""

from __future__ import annotations

from unittest import mock

from hjemmeprove.domain.labels import ACTIVE_STATUSES
from hjemmeprove.services import requests as request_service


def found(app, term: str, **filters) -> set[int]:
    """The requests the search ``term`` finds under ``filters``, after checking that the list,
    its count (the exact number the list shows) and its page by key agree: the same rows, the
    page in the list's order (by name: a sort on the citizen). Each is checked on "Alle" and
    "Aktive" (unless ``filters`` names a status: SQLite counts a filtered search and an
    unfiltered one differently) and with the term taken as a common one too (``CHECK_FROM``
    0: never looked up, checked on each row; on PostgreSQL every sample says common, so a
    count reads the rows' narrow copy, 0013), so every path is held to the list."""
    statuses = [filters.pop("status")] if "status" in filters else [None, ACTIVE_STATUSES]
    out = None
    for check_from in (request_service.CHECK_FROM, 0):
        common = {} if check_from else {"_SAMPLE": 1, "COMMON_SHARE": 0}
        with mock.patch.multiple(request_service, CHECK_FROM=check_from, **common):
            for status in statuses:
                ids = [r.id for r in app.requests.list(search=term, sort="name", status=status,
                                                       **filters)]
                where = (term, status, filters, check_from)
                assert app.requests.count(search=term, status=status, **filters) == len(ids), \
                    where
                page = app.requests.page(search=term, sort="name", status=status,
                                         limit=max(200, len(ids) + 1), **filters)
                assert [r.id for r in page.rows] == ids, where
                if out is None:
                    out = set(ids)
    return out


def found_at_head(db_url: str, term: str) -> set[int]:
    """``found`` on the database at ``db_url``, opened as the program opens it (migrated to
    the head first): for the migrations' tests."""
    from hjemmeprove.app import App

    app = App(db_url, user="test")
    try:
        return found(app, term)
    finally:
        app.close()
