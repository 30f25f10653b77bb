"""Saved searches: a user names the filters of a list page (the rings list, the risk queue) and opens them
again later. Each is a store record of kind ``saved_search`` that belongs to one user: a user lists, opens
and deletes only their own. Saving, opening and deleting are audited; the page's own permission is checked.

A saved search holds the page's address parameters (``{"kind": "fan_hub", "score": "0.5"}``), the same text
the page reads from ``?…`` (see :mod:`workbench.ui.urlstate`), so opening one is following a link.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from graph.core.errors import InvalidData, NotFound
from graph.store import Store, Writer
from workbench import audit
from workbench.auth import User, require

KIND = "saved_search"
#: page name -> the permission that opens it (a saved search is only as visible as its page)
PAGES = {"rings": "view_rings", "risk_queue": "view_risk_queue"}
MAX_NAME = 40
MAX_PER_PAGE = 50


@dataclass(frozen=True)
class SavedSearch:
    search_id: str
    user: str
    page: str
    name: str
    params: dict[str, str]
    saved_at: datetime


def _check(user: User | None, page: str) -> User:
    if page not in PAGES:
        raise InvalidData(f"no saved searches on page {page!r}; pages: {sorted(PAGES)}")
    return require(user, PAGES[page])


def _id(username: str, page: str, name: str) -> str:
    """One id per user, page and name: saving under a name already used replaces that search."""
    return "S-" + hashlib.sha256(f"{username}\x1f{page}\x1f{name}".encode()).hexdigest()[:16]


def _from(rec: dict[str, object]) -> SavedSearch:
    params = rec.get("params") or {}
    return SavedSearch(str(rec["search_id"]), str(rec["user"]), str(rec["page"]), str(rec["name"]),
                       {str(k): str(v) for k, v in dict(params).items()},  # type: ignore[call-overload]
                       datetime.fromisoformat(str(rec["saved_at"])))


def mine(store: Store, user: User | None, page: str) -> list[SavedSearch]:
    """The user's saved searches of ``page``, newest first (nobody else's)."""
    me = _check(user, page)
    rows = store.records_page(KIND, {"user": me.username, "page": page}, unset=["deleted_at"],
                              newest=["saved_at"], limit=MAX_PER_PAGE)
    return [_from(r) for r in rows]


def save(store: Store, user: User | None, page: str, name: str, params: dict[str, str]) -> SavedSearch:
    """Save ``params`` under ``name`` for the user (replacing their search of that name); audited."""
    me = _check(user, page)
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise InvalidData(f"a saved search needs a name of 1 to {MAX_NAME} characters")
    search_id = _id(me.username, page, name)
    if len(mine(store, me, page)) >= MAX_PER_PAGE and store.record(KIND, search_id) is None:
        raise InvalidData(f"at most {MAX_PER_PAGE} saved searches per page; delete one first")
    rec: dict[str, object] = {"search_id": search_id, "user": me.username, "page": page, "name": name,
                              "params": {str(k): str(v) for k, v in params.items()},
                              "saved_at": audit.now().isoformat(), "deleted_at": None}

    def write(w: Writer) -> None:
        w.put_record(KIND, search_id, rec)

    audit.record(store, me, "saved_search_save", f"saved_search:{search_id}",
                 f"{page}: {name} {json.dumps(rec['params'], ensure_ascii=False, sort_keys=True)}", change=write)
    return _from(rec)


def _own(store: Store, me: User, search_id: str) -> dict[str, object]:
    rec = store.record(KIND, search_id)
    if rec is None or rec.get("user") != me.username or rec.get("deleted_at"):
        raise NotFound(f"no saved search {search_id!r} of yours")   # another user's looks like none at all
    return rec


def open_search(store: Store, user: User | None, search_id: str) -> SavedSearch:
    """The user's own saved search ``search_id`` (NotFound for anybody else's); audited."""
    if user is None:
        raise NotFound(f"no saved search {search_id!r}")
    rec = _own(store, user, search_id)
    found = _from(rec)
    _check(user, found.page)
    audit.record(store, user, "saved_search_open", f"saved_search:{search_id}", f"{found.page}: {found.name}")
    return found


def delete(store: Store, user: User | None, search_id: str) -> None:
    """Delete the user's own saved search (kept in the store as deleted, like every record); audited."""
    if user is None:
        raise NotFound(f"no saved search {search_id!r}")
    rec = _own(store, user, search_id)
    _check(user, str(rec["page"]))

    def write(w: Writer) -> None:
        w.put_record(KIND, search_id, {**rec, "deleted_at": audit.now().isoformat()})

    audit.record(store, user, "saved_search_delete", f"saved_search:{search_id}", f"{rec['page']}: {rec['name']}",
                 change=write)
