"""Schemathesis checks the API against its own description, /api/v1/openapi.json.

Every operation, state-changing ones included, gets generated requests (the examples, the
coverage phase's edge values, valid and invalid fuzzed input, and stateful sequences that
follow a created record to its reads, changes and deletion), sent to the real app served on
loopback with a real bearer token of a seeded world. Every check the installed schemathesis
has judges each answer: no server error; statuses, content types, headers and bodies as
described; valid input accepted and invalid input refused; 405 with ``Allow`` for a method a
path lacks; a deleted record gone; the token required. So the description tells the truth
about what the API accepts and answers, and the API keeps to it.

The engine runs in-process (``schemathesis.engine``, what its command line runs): its pytest
integration needs pytest < 9.2 (it sets ``Node._nodeid``), and its WSGI transport passes
``max_redirects`` to werkzeug in the ``ignored_auth`` check; a loopback server has neither
problem. Reproducible: a fixed seed, derandomized Hypothesis, no example database, a bounded
number of examples per operation.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from flask import Flask
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from crm.db import Database
from crm.services.users import create_token
from tests.conftest import World
from tests.mail_archive.conftest import Dossier
from tests.web.browser import live_server

MAX_EXAMPLES = 15
# A raw message is text on the wire.
schemathesis.serializer.alias("message/rfc822", "text/plain")

# A body names other records by id. Whether they exist, may be seen or assigned by this user,
# and fit together (the deal's partner, a member of the record's group) is beyond what a
# schema can say: such a refusal (422 naming the field) is a right answer to schema-valid
# input. Any other 422 to valid input fails the test.
RELATIONAL = (
    "no such ",
    "is not an active user",
    "is not a valid id",
    "member of the record's group",
    "is not the deal's partner",
    "is not a deal of",
    "is not a person of this partner",
    "you can only assign records to your own groups",
    "may change this",
)
# A change (PATCH) is checked against the record as it is: a deal made lost needs a reason
# unless it has one already. Created and replaced records carry the rule in their schema.
STATEFUL = ("is required when a deal is lost",)


def only_relational_refusals(response: Any, *, change: bool) -> bool:
    if response.status_code != 422:
        return False
    try:
        fields = response.json()["error"]["fields"]
    except (ValueError, KeyError, TypeError):
        return False
    markers = RELATIONAL + STATEFUL if change else RELATIONAL
    return bool(fields) and all(
        any(marker in str(message) for marker in markers) for message in fields.values()
    )


def list_given_as_text(case: Any) -> bool:
    """A list field sent as one string: the description says it is taken (items separated by
    commas or lines, as a form sends them), which a schema's ``type`` cannot say."""
    schema = case.operation.body[0].definition if case.operation.body else {}
    lists = {
        name
        for name, prop in resolved_properties(case, schema).items()
        if "array" in (prop.get("type") or ())
    }
    body = case.body if isinstance(case.body, dict) else {}
    return any(isinstance(body.get(name), str) for name in lists)


def resolved_properties(case: Any, schema: Any) -> dict[str, Any]:
    ref = schema.get("schema", schema).get("$ref", "") if isinstance(schema, dict) else ""
    if not ref:
        return {}
    name = ref.rsplit("/", 1)[-1]
    components = case.operation.schema.raw_schema["components"]["schemas"]
    return dict(components.get(name, {}).get("properties", {}))


def off_pattern_if_match(case: Any, response: Any) -> bool:
    """The coverage phase sends header values outside their pattern as positive ones."""
    sent = (case.headers or {}).get("If-Match")
    return (
        response.status_code == 400
        and sent is not None
        and re.fullmatch(r'\*|"[1-9][0-9]{0,8}"', sent) is None
    )


def failures_of(event: events.EngineEvent) -> list[str]:
    """Readable reports of the failed checks (with the request and answer) in one event."""
    if isinstance(event, events.ScenarioFinished):
        out = []
        for case_id, nodes in event.recorder.checks.items():
            for node in nodes:
                if node.failure_info is None:
                    continue
                interaction = event.recorder.interactions.get(case_id)
                answer = b""
                if interaction is not None and interaction.response is not None:
                    answer = interaction.response.content[:500]
                failure = node.failure_info.failure
                out.append(
                    f"{node.name} on {event.recorder.label}: {failure.title}\n"
                    f"{failure.message[:800]}\n{node.failure_info.code_sample[:1500]}\n"
                    f"answer: {answer.decode('utf-8', 'replace')}"
                )
        return out
    if isinstance(event, events.NonFatalError):
        return [f"error on {event.label}: {event.info.format()[:2000]}"]
    if isinstance(event, events.FatalError):
        return [f"fatal: {event.exception!r}"]
    if isinstance(event, events.EngineFinished):
        return [f"{f.title}: {f.message[:800]}" for f in event.failures]
    return []


def test_the_api_keeps_to_its_description(
    app: Flask, database: Database, world: World, dossier: Dossier
) -> None:
    with database.session() as s:
        token = create_token(s, world.sales_a.email, "schemathesis")
    auth = {"Authorization": f"Bearer {token}"}
    config = SchemathesisConfig.from_dict(
        {
            "headers": auth,
            "seed": 8,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # text no database stores is refused (422), as the description says; positive
                # cases must be storable text
                "allow-x00": False,
                "codec": "utf-8",
            },
            "checks": {"enabled": True},
        }
    )
    with live_server(app) as url:
        schema = schemathesis.openapi.from_url(
            f"{url}/api/v1/openapi.json", config=config, headers=auth
        )
        schema.config.update(base_url=url)

        @schema.hook
        def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
            if "positive_data_acceptance" in failure.checks:
                # versions (issue 9 §6): 412 refuses on the record's state, like a relational
                # refusal; an If-Match outside its documented pattern is no positive case
                if response.status_code == 412 or off_pattern_if_match(case, response):
                    return False
                return not only_relational_refusals(response, change=case.method == "PATCH")
            # a raw message is bytes: a JSON object sent as one is still a message/rfc822 body
            typed_body = "violates `type`" in failure.message
            if typed_body and case.media_type == "message/rfc822":
                return False
            return not (typed_body and list_given_as_text(case))

        reports: list[str] = []
        requests = 0
        for event in schemathesis.engine.from_schema(schema).execute():
            reports.extend(failures_of(event))
            if isinstance(event, events.ScenarioFinished):
                requests += len(event.recorder.interactions)
    assert requests > 1000  # every phase ran
    assert not reports, f"{len(reports)} failures:\n\n" + "\n\n".join(dict.fromkeys(reports))
