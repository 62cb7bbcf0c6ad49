"""Open redirects: every redirect that takes a ``next`` (after login, the language switch,
marking an activity done) goes only to a path on this site, whatever the encoding trick, and
a line break in it is no 500."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest
from flask.testing import FlaskClient

from crm.db import Database
from crm.services.activities import activities
from tests.conftest import World, csrf_of, login, post_form

# as they arrive in the query string (still percent-encoded) ...
FOREIGN = [
    "/%09/evil.test",  # the reported one: a browser drops the tab and goes to //evil.test
    "/%0a/evil.test",  # a line break: was a 500
    "/%0d%0aSet-Cookie:%20x=1",
    "%0a/evil.test",
    "/%0b/evil.test",
    "/%e2%80%8b/evil.test",  # a zero-width space
    "/%c2%a0/evil.test",  # a no-break space
    "//evil.test",
    "///evil.test",
    "//evil.test/%2F..",
    "/\\evil.test",
    "/%5Cevil.test",
    "\\\\evil.test",
    "\\/evil.test",
    "/%2F%2Fevil.test",  # arrives as ///evil.test
    "/%252F%252Fevil.test",  # encoded twice
    "/%25252F%25252Fevil.test",  # three times
    "/%255Cevil.test",
    "/%2509/evil.test",
    "https://evil.test/",
    "https:evil.test",
    "http:/evil.test",
    "HTTPS://evil.test",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "%20//evil.test",
    "data:text/html,<script>alert(1)</script>",
    "evil.test",
    "./evil",
    "",
    "/" + "a" * 5000,  # very long
]
# ... and paths that must survive
LOCAL = [
    "/deals/?page=2",
    "/partners/?q=P%C5%99%C3%ADbram",
    "/partners/?q=a%2Fb&sort=-name",
    "/activities/?salesperson_id=3&done=false",
    "/partners/12#deals",
]


def login_to(client: FlaskClient, world: World, raw_next: str) -> str:
    client.get("/login")
    response = client.post(
        "/login?next=" + raw_next,
        data={
            "email": world.sales_a.email,
            "password": World.password,
            "csrf_token": csrf_of(client),
        },
    )
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


@pytest.mark.parametrize("target", FOREIGN)
def test_login_never_sends_the_user_elsewhere(
    client: FlaskClient, world: World, target: str
) -> None:
    assert login_to(client, world, target.replace("#", "%23")) == "/"


@pytest.mark.parametrize("target", LOCAL)
def test_login_goes_back_to_a_local_page(client: FlaskClient, world: World, target: str) -> None:
    assert login_to(client, world, quote(target, safe="")) == target


def test_the_way_back_from_a_login_prompt_works(client: FlaskClient, world: World) -> None:
    prompt = client.get("/partners/?q=P%C5%99%C3%ADbram&sort=-name")
    assert prompt.status_code == 302
    login_url = prompt.headers["Location"]
    assert login_url.startswith("/login?next=")
    client.get(login_url)
    response = post_form(
        client, login_url, {"email": world.sales_a.email, "password": World.password}
    )
    assert response.headers["Location"] == "/partners/?q=P%C5%99%C3%ADbram&sort=-name"


def decoded(raw: str) -> str:
    """What a form field holds after the browser sent ``raw`` percent-encoded."""
    return unquote(raw)


def test_the_language_switch_never_sends_the_user_elsewhere(
    client: FlaskClient, world: World
) -> None:
    login(client, world.sales_a)  # once: the switch keeps the session
    went = {}
    for target in [*FOREIGN, "/\t/evil.test", "/\n/evil.test", "/\r\n"]:
        response = post_form(client, "/language", {"language": "cs", "next": decoded(target)})
        went[target] = (response.status_code, response.headers.get("Location"))
    assert {t: w for t, w in went.items() if w != (302, "/")} == {}


def test_the_language_switch_works_logged_out_too(client: FlaskClient) -> None:
    client.get("/login")
    response = post_form(client, "/language", {"language": "cs", "next": "/\t/evil.test"})
    assert response.headers["Location"] == "/"
    response = post_form(client, "/language", {"language": "en", "next": "/login"})
    assert response.headers["Location"] == "/login"


def test_the_language_switch_goes_back(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    for target in LOCAL:
        response = post_form(client, "/language", {"language": "cs", "next": target})
        assert response.headers["Location"] == target


def test_marking_done_never_sends_the_user_elsewhere(
    client: FlaskClient, database: Database, world: World
) -> None:
    with database.session() as s:
        task = activities.create(s, world.sales_a, {"kind": "task", "title": "Zavolat"})
    login(client, world.sales_a)
    for target in ["/%09/evil.test", "/\n/x", "//evil.test", "https://e.test", "/%5Cevil"]:
        response = post_form(client, f"/activities/{task.id}/done", {"next": decoded(target)})
        assert response.status_code == 302
        assert response.headers["Location"] == f"/activities/{task.id}", target
