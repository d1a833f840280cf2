"""Run schemathesis over a site's own OpenAPI schema, in-process, through Django's WSGI handler.

The schema is the one the site serves at ``/v1/schema`` (built here with drf-spectacular's
generator, so no server is needed). Every operation gets up to ``examples`` generated cases;
each response must not be a 5xx and must match the schema (body, content type) where the
schema documents its status code. Failures are collected (not shrunk) so one run reports all
of them; the caller asserts the list is empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@dataclass
class Outcome:
    cases: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.cases} cases over {len(self.by_operation)} operations in {self.seconds:.1f} s; "
            f"statuses {dict(sorted(self.statuses.items()))}; failures {len(self.failures)}"
        )


def site_schema() -> schemathesis.BaseSchema:
    document = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = get_wsgi_application()
    return schema


def run(
    *,
    examples: int,
    headers_for: Callable[[Any], dict[str, str]],
    prepare: Callable[[Any, Any], None] | None = None,
    skip: Callable[[Any], bool] = lambda operation: False,
    examples_for: Callable[[Any], int | None] = lambda operation: None,
) -> Outcome:
    """``headers_for(operation)`` gives each call's headers (a fresh token where the call would
    end the session); ``prepare(case, draw)`` may point path parameters at real objects;
    ``examples_for(operation)`` may give an operation fewer (or more) cases than ``examples``."""
    outcome = Outcome()
    started = time.monotonic()
    for result in site_schema().get_all_operations():
        operation = result.ok()
        if skip(operation):
            continue
        count = examples_for(operation) or examples
        _operation_check(operation, count, headers_for, prepare, outcome)()
    outcome.seconds = time.monotonic() - started
    return outcome


def _operation_check(operation, examples, headers_for, prepare, outcome):
    label = operation.label

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(data=st.data())
    def check(data):
        case = data.draw(operation.as_strategy())
        if prepare is not None:
            prepare(case, data.draw)
        headers = headers_for(operation)
        outcome.cases += 1
        outcome.by_operation[label] = outcome.by_operation.get(label, 0) + 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # noqa: BLE001 - an exception out of the app is a 500
            outcome.failures.append(f"{label}: the app raised {exc!r} for {case.body!r} {case.path_parameters!r}")
            return
        outcome.statuses[response.status_code] = outcome.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as exc:  # noqa: BLE001 - schemathesis raises a FailureGroup
            body = response.text[:300]
            outcome.failures.append(
                f"{label} -> {response.status_code}: {str(exc)[:600]}\n  request body {case.body!r} "
                f"path {case.path_parameters!r} query {case.query!r}\n  response {body}"
            )

    return check
