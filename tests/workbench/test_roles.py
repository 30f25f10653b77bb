"""The role matrix, checked on the server side.

1. every workflow verb × every role: allowed roles succeed, the others get PermissionDenied;
2. every page in ``navigation.PAGES`` × every role (Streamlit AppTest, the page file run directly, as a
   hand-typed URL would): allowed pages render without error, refused ones show one access-denied
   message and nothing else; nobody signed in or an expired session gets only the sign-in form.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from graph.core.errors import PermissionDenied
from graph.store import Store
from loaders.load import REVIEW_KIND
from tests.helpers.g_case_data import TAX_IDS, open_embedded, seed
from tests.helpers.paths import CHECKOUT, SCREENS, SOURCES
from workbench import alerts, appeals, audit, auth, cases, data_export, export, ocr_review, overrides, users
from workbench.auth import User
from workbench.ui.navigation import PAGES

PAGES_DIR = SCREENS
Env = tuple[Store, dict[str, User], Path]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("roles")
    store = open_embedded(root / "ws")
    return store, seed(store), root


def _case(env: Env) -> str:
    """A fresh, unrestricted case opened by the supervisor (so visibility never hides it)."""
    store, u, _ = env
    return cases.open_case(store, u["supervisor"], "矩阵", taxpayers=TAX_IDS[:2], restricted=False).case_id


def _appeal(env: Env) -> str:
    store, u, _ = env
    return appeals.record_appeal(store, u["supervisor"], TAX_IDS[0], "申诉").appeal_id


_n = iter(range(10_000))


def _held_scan(env: Env) -> str:
    """A scanned invoice waiting in the OCR review queue (its id)."""
    sha = f"{next(_n):064x}"
    with env[0].writer() as w:
        w.put_record(REVIEW_KIND, sha, {"file": f"scan{sha[-4:]}.png", "sha256": sha, "fields": {}, "status": "open"})
    return sha

# verb name -> (permission it needs, call(env, acting user))
VERBS: dict[str, tuple[str, Callable[[Env, User], object]]] = {
    "open_case": ("open_case", lambda e, u: cases.open_case(e[0], u, "新案", taxpayers=TAX_IDS[:1])),
    "open_case_from_ring": ("open_case", lambda e, u: cases.open_case_from_ring(e[0], u, "R-1")),
    "get_case": ("view_cases", lambda e, u: cases.get_case(e[0], u, _case(e))),
    "list_cases": ("view_cases", lambda e, u: cases.list_cases(e[0], u)),
    "add_note": ("work_case", lambda e, u: cases.add_note(e[0], u, _case(e), "备注")),
    "attach": ("work_case", lambda e, u: cases.attach(e[0], u, _case(e), invoices=["k"])),
    "set_status": ("work_case", lambda e, u: cases.set_status(e[0], u, _case(e), "investigating")),
    "record_disposition": ("record_disposition",
                           lambda e, u: cases.record_disposition(e[0], u, _case(e), TAX_IDS[0], "confirmed")),
    "assign_case": ("assign_case", lambda e, u: cases.assign_case(e[0], u, _case(e), "ivan")),
    "assign_taxpayer": ("assign_case", lambda e, u: overrides.assign(e[0], u, TAX_IDS[1], "ivan")),
    "override_tier": ("override_tier", lambda e, u: overrides.override_tier(e[0], u, TAX_IDS[1], "high", "矩阵测试原因")),
    "record_appeal": ("record_appeal", lambda e, u: appeals.record_appeal(e[0], u, TAX_IDS[0], "申诉")),
    "list_appeals": ("record_appeal", lambda e, u: appeals.list_appeals(e[0], u)),
    "start_review": ("review_appeal", lambda e, u: appeals.start_review(e[0], u, _appeal(e))),
    "answer_appeal": ("review_appeal",
                      lambda e, u: appeals.answer_appeal(e[0], u, _appeal(e), "答复", outcome="upheld")),
    "close_appeal": ("review_appeal", lambda e, u: appeals.close_appeal(e[0], u, _appeal(e))),
    "overdue_appeals": ("review_appeal", lambda e, u: appeals.overdue_appeals(e[0], u)),
    "browse_audit": ("view_audit", lambda e, u: audit.browse(e[0], u)),
    "verify_audit": ("view_audit", lambda e, u: audit.verify_as(e[0], u)),
    "export_case": ("export_case", lambda e, u: export.export_case(e[0], u, _case(e), e[2] / "exports")),
    "export_table": ("export_data", lambda e, u: data_export.export_table(
        e[0], u, pd.DataFrame({"tax_id": [TAX_IDS[0]], "total_fen": [100]}), "rings", "csv")),
    "create_user": ("manage_users",
                    lambda e, u: users.create_user(e[0], f"user{next(_n)}", "password-123", ["analyst"], actor=u)),
    "disable_user": ("manage_users", lambda e, u: users.disable_user(e[0], "ana2", actor=u)),
    "set_roles": ("manage_users", lambda e, u: users.set_roles(e[0], "ana2", ["analyst"], actor=u)),
    "set_alert_rule": ("edit_alert_rules",
                       lambda e, u: alerts.set_rule(e[0], u, "burst", params={"min_count": 20 + next(_n)})),
    "alert_inbox": ("view_alerts", lambda e, u: alerts.inbox(e[0], u)),
    "mark_alerts_read": ("view_alerts", lambda e, u: alerts.mark_read(e[0], u)),
    "reject_scan": ("review_scans", lambda e, u: ocr_review.reject(e[0], u, _held_scan(e), "矩阵")),
    "subscribe_alerts": ("view_alerts", lambda e, u: alerts.subscribe(e[0], u, muted=("burst",) if next(_n) % 2 else ())),
}


@pytest.mark.parametrize("role", auth.ROLES)
@pytest.mark.parametrize("verb", sorted(VERBS))
def test_verb_role_matrix(env: Env, verb: str, role: str) -> None:
    store, u, _ = env
    if users.get_user(store, "ana2") is None:
        users.create_user(store, "ana2", "password-123", ["analyst"])
    action, call = VERBS[verb]
    before = len(store.audit_events())
    if auth.allowed((role,), action):
        call(env, u[role])
    else:
        with pytest.raises(PermissionDenied):
            call(env, u[role])
    assert len(store.audit_events()) >= before  # nothing is ever removed


# permissions checked inside a page beyond the page's own action: page file -> the check in it
PAGE_CHECKS: dict[str, tuple[str, str]] = {
    "run_detection": ("import_data.py", 'allowed(user.roles, "run_detection")'),
    "edit_alert_rules": ("alerts.py", 'allowed(user.roles, "edit_alert_rules")'),
}
# permissions that change what a service does rather than refuse it: permission -> (module, the check in it);
# each has a behavioural test named in the comment
SERVICE_CHECKS: dict[str, tuple[str, str]] = {
    # test_detect.test_dispositions_switch_to_supervised_model: an admin's run ignores dispositions
    "train_model": ("workbench/detect.py", 'allowed(user.roles, "train_model")'),
}
# permissions in the role table that no code path checks yet; strict xfail: enforcing one fails here
# until it is removed from this table
UNENFORCED: dict[str, str] = {}


@pytest.mark.parametrize("action", [
    pytest.param(a, marks=pytest.mark.xfail(strict=True, reason=UNENFORCED[a])) if a in UNENFORCED else a
    for a in sorted(auth.PERMISSIONS)])
def test_every_permission_is_enforced(env: Env, action: str) -> None:
    """Each permission is refused by a verb (called here by a user without roles), a page (the page
    matrix below runs every page for every role) or a check inside a page."""
    verbs = [name for name, (a, _) in VERBS.items() if a == action]
    pages = [p.path for p in PAGES if p.action == action]
    nobody = User("nobody", ())
    for name in verbs:
        with pytest.raises(PermissionDenied, match=repr(action)):
            VERBS[name][1](env, nobody)
    if action in PAGE_CHECKS:
        page, check = PAGE_CHECKS[action]
        assert check in (PAGES_DIR / page).read_text(encoding="utf-8")
        pages.append(page)
    if action in SERVICE_CHECKS:
        module, check = SERVICE_CHECKS[action]
        assert check in (SOURCES / module).read_text(encoding="utf-8")
        return
    assert verbs or pages, f"no verb or page enforces {action!r}"
    assert all((PAGES_DIR / p).is_file() for p in pages)


def test_disabled_or_missing_user_is_refused(env: Env) -> None:
    store, u, _ = env
    ghost = User("ghost", ("supervisor",), disabled=True)
    with pytest.raises(PermissionDenied):
        overrides.override_tier(store, ghost, TAX_IDS[0], "low", "reason here")
    with pytest.raises(PermissionDenied):
        auth.require(None, "view_cases")


# ---------------------------------------------------------------------------------------------- pages
def _page(path: Path, user: User | None, *, signed_in_at: float | None = None) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=60)
    if user is not None:
        at.session_state["fapiao_user"] = user
        at.session_state["fapiao_signed_in_at"] = time.time() if signed_in_at is None else signed_in_at
    at.run()
    return at


def _only_access_denied(at: AppTest) -> bool:
    shown = [e for e in at.main.children.values()] if hasattr(at.main, "children") else []
    errors = [str(e.value) for e in at.error]
    return (len(errors) == 1 and ("无权访问" in errors[0] or "Access denied" in errors[0]) and len(shown) == 1)


@pytest.fixture()
def page_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    from workbench.ui.state import clear_store_cache

    monkeypatch.setenv("FAPIAO_STORE", env[0].uri)
    clear_store_cache()
    return env


@pytest.mark.parametrize("role", auth.ROLES)
@pytest.mark.parametrize("page", [p.path for p in PAGES])
def test_page_role_matrix(page_env: Env, page: str, role: str) -> None:
    _, u, _ = page_env
    spec = next(p for p in PAGES if p.path == page)
    path = PAGES_DIR / page
    if not path.is_file():
        pytest.fail(f"page {page} listed in navigation.PAGES does not exist")
    at = _page(path, u[role])
    assert not at.exception, [e.value for e in at.exception]
    if auth.allowed((role,), spec.action):
        assert not any("无权访问" in str(e.value) for e in at.error), [e.value for e in at.error]
        assert len(at.main.children) > 1
    else:
        assert _only_access_denied(at), [type(c).__name__ for c in at.main.children.values()]


@pytest.mark.parametrize("page", ["cases.py", "audit.py", "users.py", "appeals.py"])
def test_signed_out_and_expired_get_only_the_sign_in_form(page_env: Env, page: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, u, _ = page_env
    monkeypatch.setenv("FAPIAO_SESSION_MINUTES", "30")
    expired_at = time.time() - timedelta(minutes=31).total_seconds()
    for at in (_page(PAGES_DIR / page, None), _page(PAGES_DIR / page, u["admin"], signed_in_at=expired_at)):
        assert not at.exception
        labels = [t.label for t in at.text_input]
        assert labels == ["用户名", "密码"], labels
        assert not at.dataframe and not at.title
        assert "fapiao_user" not in at.session_state


def test_sign_in_form_signs_in_and_is_audited(page_env: Env) -> None:
    store, _, _ = page_env
    at = _page(PAGES_DIR / "cases.py", None)
    at.text_input[0].input("ivan")
    at.text_input[1].input("wrong password")
    at.button[0].click().run()
    assert at.error and "fapiao_user" not in at.session_state
    from tests.helpers.g_case_data import PASSWORD

    at.text_input[0].input("ivan")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["fapiao_user"].username == "ivan"
    acts = [(e.action, e.target) for e in store.audit_events()[-3:]]
    assert ("sign_in_failed", "user:ivan") in acts and ("sign_in", "user:ivan") in acts


@pytest.mark.checkout
def test_operations_doc_lists_every_action_with_its_roles() -> None:
    doc = (CHECKOUT / "docs" / "operations.md").read_text(encoding="utf-8")
    for action, roles in auth.PERMISSIONS.items():
        line = next((ln for ln in doc.splitlines() if ln.startswith(f"| `{action}` |")), None)
        assert line is not None, f"docs/operations.md does not list {action}"
        cells = [c.strip() for c in line.strip("|").split("|")][2:]
        assert {r for r, c in zip(auth.ROLES, cells, strict=True) if c == "✔"} == set(roles), action
