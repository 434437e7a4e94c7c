"""The REST API against its own OpenAPI document: schemathesis generates requests for every
operation (valid and invalid) and checks the answers, authenticated with a manager's token,
in-process against the app as production wraps it. No 5xx, and every response matches its
documented status, content type and schema. Bounded: a few examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.services import api_tokens, segments
from tests.factories import make_client, make_ticket, make_user
from tests.test_api_permissions import empty_database

EXAMPLES_PER_OPERATION = 15


@pytest.fixture(scope="module")
def manager_token(database_url: str) -> str:
    empty_database()
    manager = make_user("manager")
    client = make_client(manager, "Ada Lovelace")
    for n in range(3):
        make_ticket(manager, client, f"Request {n}")
    segments.save_segment(
        manager,
        name="Moderate",
        rules={
            "op": "and",
            "rules": [{"field": "risk_category", "operator": "eq", "value": "moderate"}],
        },
    )
    return api_tokens.create_token(manager, "schemathesis", "write", 1).token


# Schema-valid input may still break a business rule the schema cannot state (a client id
# that does not exist, a portal user who is not a client, a phone number that does not parse):
# that is a 422 with the error shape, which the response checks still validate.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
            }
        }
    }
)
# The document needs no database: it is read once, when the tests are collected.
schema = schemathesis.openapi.from_asgi(
    "/api/openapi.json", SecurityMiddleware(build_api()), config=CONFIG
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_as_its_openapi_document_says(
    case: schemathesis.Case, manager_token: str
) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {manager_token}"})
