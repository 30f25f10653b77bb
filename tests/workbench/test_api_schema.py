"""Schemathesis against the live OpenAPI document: generated requests (bounded) never crash the server and every
answer matches the documented status codes, content types and schemas (problem+json for errors)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.api_env import Api, running_api

EXAMPLES = 12     # per operation: the run stays within about a minute


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("schema") / "workspace", rate=10_000) as a:
        yield a


def test_every_operation_conforms(api: Api) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 9
    seen: dict[str, set[int]] = {}
    for op in operations:
        role = "admin" if op.method.upper() == "POST" and op.path == "/invoices" else "supervisor"
        headers = {"Authorization": f"Bearer {api.token[role]}"}

        run_operation(op, headers, checks, seen.setdefault(f"{op.method.upper()} {op.path}", set()))
    assert len(seen) == len(operations)
    ok = sorted(k for k, codes in seen.items() if any(c < 300 for c in codes))
    assert len(ok) >= 5, seen      # generated requests do get through, not only 4xx
    api.flush_audit()              # the generated calls are in the audit trail, none answered 500
    lines = [line.split() for e in api.store.audit_events(0) if e.action == "api_calls" for line in e.detail.splitlines()]
    assert len(lines) > 50 and all(parts[3] != "500" for parts in lines)


def run_operation(op: schemathesis.APIOperation, headers: dict[str, str], checks: list[Any], codes: set[int]) -> None:
    @given(case=op.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=headers, timeout=60)
        case.validate_response(response, checks=checks)
        codes.add(response.status_code)

    run()


