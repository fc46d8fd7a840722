"""Hosts, origins and the API key's reach (issue 16 items 6 and 7).

Without an API key the address alone guards the service: a request for a foreign Host (DNS
rebinding's precondition) and a state-changing request sent by another site's page are
refused, while the server's own pages and non-browser clients keep working.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from smartalbum.config import Settings, WebSettings
from smartalbum.web.security import (
    PUBLIC_ENDPOINTS,
    host_allowed,
    hosts_for_bind,
    same_origin,
    shared_limit_warning,
)
from smartalbum.web.server import with_bound_host

SERVED = "http://localhost"  # the Flask test client's Host is "localhost"


# --------------------------------------------------------------------------- Host


def test_a_foreign_host_gets_no_data(client) -> None:
    resp = client.get("/api/v1/model", headers={"Host": "attacker.example"})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == "untrusted_host"
    assert "attacker.example" in body["detail"]
    assert "heads" not in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:5000", "127.0.0.1:5000", "127.0.1.1", "[::1]:8080"]
)
def test_loopback_hosts_are_served_by_default(client, host) -> None:
    assert client.get("/api/v1/model", headers={"Host": host}).status_code == 200


def test_configured_hosts_are_served(make_app: Callable[..., Flask]) -> None:
    app = make_app(allowed_hosts=["photos.example.org", ".lan", "192.168.1.5", "fd00::5"])
    client = app.test_client()
    for host in ["photos.example.org", "PHOTOS.example.org:443", "nas.lan", "192.168.1.5:5000",
                 "[fd00::5]:5000"]:
        assert client.get("/api/v1/model", headers={"Host": host}).status_code == 200, host
    for host in ["example.org", "photos.example.org.evil", "192.168.1.6", "[fd00::6]"]:
        assert client.get("/api/v1/model", headers={"Host": host}).status_code == 400, host


@pytest.mark.parametrize("host", ["[::1", "a b", "", "localhost:0", "localhost:99999", "évil.example"])
def test_malformed_hosts_are_400_not_500(client, host) -> None:
    resp = client.get("/api/v1/model", headers={"Host": host})
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "untrusted_host"


@pytest.mark.parametrize("origin", ["http://[::1", "http://localhost:99999", "\u00e9"])
def test_malformed_origins_are_403_not_500(client, origin) -> None:
    for header in ("Origin", "Referer"):
        resp = client.delete("/api/v1/categories/x", headers={header: origin})
        assert resp.status_code == 403, (header, origin)


def test_a_star_serves_any_host(make_app: Callable[..., Flask]) -> None:
    client = make_app(allowed_hosts=["*"]).test_client()
    assert client.get("/api/v1/model", headers={"Host": "any.example"}).status_code == 200


def test_host_check_helpers() -> None:
    assert host_allowed({}, [])  # HTTP/1.0 without Host: not a browser
    assert not host_allowed({"HTTP_HOST": "attacker.example"}, [])
    assert hosts_for_bind("127.0.0.1") == [] and hosts_for_bind("localhost") == []
    assert hosts_for_bind("192.168.1.5") == ["192.168.1.5"]
    assert hosts_for_bind("[fd00::5]") == ["fd00::5"]
    assert hosts_for_bind("nas.lan") == ["nas.lan"]
    assert len(hosts_for_bind("0.0.0.0")) >= 1  # this machine's name at least


def test_serve_adds_the_bound_address(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(allowed_hosts=["photos.example.org"])
    assert with_bound_host(settings, "127.0.0.1") is settings
    bound = with_bound_host(settings, "192.168.1.5")
    assert bound.web.allowed_hosts == ["photos.example.org", "192.168.1.5"]


# --------------------------------------------------------------------------- Origin


def test_a_cross_site_form_post_is_refused(client) -> None:
    for path in ["/api/v1/retrain", "/api/v1/jobs/classify"]:
        resp = client.post(
            path,
            data={"paths": "/"},
            content_type="application/x-www-form-urlencoded",
            headers={"Origin": "http://attacker.example"},
        )
        assert resp.status_code == 403, path
        assert resp.get_json()["code"] == "cross_origin_request"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null"},  # a sandboxed frame or a file: page
        {"Origin": "http://localhost:8080"},  # another app on this machine
        {"Origin": "https://attacker.example"},
        {"Referer": "http://attacker.example/page.html"},  # no Origin: its Referer
    ],
)
def test_foreign_origins_cannot_change_anything(client, headers) -> None:
    resp = client.delete("/api/v1/categories/anything", headers=headers)
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "cross_origin_request"


def test_same_origin_and_non_browser_posts_still_work(
    make_app: Callable[..., Flask], photo, multipart
) -> None:
    client = make_app(api_key="k").test_client()
    key = {"X-API-Key": "k"}
    for headers in [
        {**key, "Origin": SERVED},  # the server's own page (fetch sends Origin)
        {**key, "Origin": SERVED, "Host": "127.0.0.1:5000"} | {"Origin": "http://127.0.0.1:5000"},
        {**key, "Referer": f"{SERVED}/gallery"},
        key,  # curl, scripts: neither Origin nor Referer
    ]:
        resp = client.post(
            "/api/v1/classify", data=multipart((photo("red"), "a.jpg")), headers=headers
        )
        assert resp.status_code == 200, (headers, resp.get_json())
        assert resp.get_json()["results"][0]["label"] == "red"
    # a GET from anywhere is only a read (the key still guards it)
    resp = client.get("/api/v1/model", headers={**key, "Origin": "http://attacker.example"})
    assert resp.status_code == 200


def test_same_origin_helper() -> None:
    assert same_origin("http://localhost:5000", "localhost:5000")
    assert same_origin("http://Photos.example.org:80", "photos.example.org")
    assert same_origin("https://photos.example.org", "photos.example.org:443")
    assert not same_origin("http://localhost:5001", "localhost:5000")
    assert not same_origin("null", "localhost")
    assert not same_origin("file://", "localhost")


# --------------------------------------------------------------------------- pages and key


def test_every_page_is_public(app: Flask) -> None:
    """Pages are shells whose data comes from the keyed API: a page route missing from
    PUBLIC_ENDPOINTS answers a browser 401 JSON instead of asking for the key."""
    pages = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith("/api/")
        and not (rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}
        # Machine endpoints of the api blueprint (/metrics stays behind the key).
        and rule.endpoint != "api.metrics"
    }
    assert pages <= PUBLIC_ENDPOINTS | {"static"}


@pytest.mark.parametrize("path", ["/people", "/categories", "/search?q=beach", "/categories/x",
                                  "/people/1"])
def test_pages_load_with_a_key_set(make_app: Callable[..., Flask], path) -> None:
    client = make_app(api_key="k").test_client()
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    assert client.get("/api/v1/categories").status_code == 401  # the data still needs it


# --------------------------------------------------------------------------- rate limit


def test_several_processes_with_memory_storage_are_warned_about() -> None:
    web = WebSettings()
    warning = shared_limit_warning(web, 4)
    assert warning and "4 server processes" in warning and "redis://" in warning
    assert shared_limit_warning(web, 1) is None
    assert shared_limit_warning(WebSettings(rate_limit_storage="redis://localhost:6379"), 4) is None
    assert shared_limit_warning(WebSettings(rate_limit=""), 4) is None


@pytest.mark.browser
def test_pages_ask_for_the_key_then_work(browser, start_server) -> None:
    """People, categories and search with a key set: the page loads (200 HTML), asks for
    the key on the API's 401, then shows its data; the page's own POST (same origin) passes
    the origin check."""
    base = start_server(api_key="s3cret")
    context = browser.new_context()
    try:
        api_status: list[tuple[str, str, int]] = []
        pg = context.new_page()
        pg.on("response", lambda r: api_status.append((r.request.method, r.url, r.status))
              if "/api/" in r.url else None)
        for path, loaded in [
            ("/people", "() => !document.getElementById('people-empty').hidden"),
            ("/categories", "() => !document.getElementById('cat-empty').hidden"),
            ("/search?q=red", "() => /for “red”/.test("
                              "document.getElementById('search-summary').textContent)"),
        ]:
            resp = pg.goto(base + path)
            assert resp is not None and resp.status == 200, path
            assert "text/html" in resp.headers["content-type"]
            pg.wait_for_selector("#key-panel:not([hidden])")  # asked, not an error
            pg.fill("#api-key", "s3cret")
            pg.click("#key-form button")
            pg.wait_for_selector("#key-panel[hidden]", state="attached")
            pg.wait_for_function(loaded)
            pg.evaluate("() => sessionStorage.clear()")  # the next page asks again
        pg.goto(base + "/categories")
        pg.wait_for_selector("#key-panel:not([hidden])")
        pg.fill("#api-key", "s3cret")
        pg.click("#key-form button")
        pg.wait_for_function("() => !document.getElementById('cat-empty').hidden")
        with pg.expect_response(lambda r: r.url.endswith("/api/v1/retrain")) as posted:
            pg.click("#retrain-all")
        assert posted.value.status == 202  # a same-origin POST: not 403
        assert not [s for s in api_status if s[2] == 403]
    finally:
        context.close()
