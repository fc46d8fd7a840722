"""The search and tags API, the search page and the search box on every page."""

from __future__ import annotations

import re

import pytest

from smartalbum.config import ModelSettings, Settings, WebSettings
from smartalbum.web import create_app
from tags.conftest import fill_catalog


@pytest.fixture
def web(tmp_path, tiny_bundle_dir, tagger):
    """(client, name -> photo id) of an app over a tagged catalog."""
    from smartalbum.library import db

    url = f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite3'}"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        model=ModelSettings(bundle=tiny_bundle_dir, threads=1),
        web=WebSettings(rate_limit=""),
    )
    app = create_app(settings)
    _, factory = db.open_catalog(url=url)
    (tmp_path / "photos").mkdir()
    ids = fill_catalog(factory, tagger, tmp_path / "photos")
    yield app.test_client(), ids
    db.dispose_all()


def test_search_api_ranks_and_explains(web):
    client, ids = web
    resp = client.get("/api/v1/search?q=Florence+2023")
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["total"] == 1 and data["dates"] == ["2023"]
    (hit,) = data["results"]
    assert hit["photo_id"] == ids["pizza.jpg"] and 'place "Florence"' in hit["why"]
    assert hit["photo"]["id"] == ids["pizza.jpg"]
    assert hit["photo"]["thumbnail"].endswith(f"/photos/{ids['pizza.jpg']}/thumbnail")
    beach = client.get("/api/v1/search?q=beach&limit=1").get_json()
    assert beach["results"][0]["photo_id"] == ids["beach.jpg"] and len(beach["results"]) == 1


@pytest.mark.parametrize(
    "url", ["/api/v1/search", "/api/v1/search?q=", "/api/v1/search?q=%20", "/api/v1/search?q=a%00",
            "/api/v1/search?q=x&limit=0", "/api/v1/search?q=x&page=2"],
)  # fmt: skip
def test_search_api_bad_requests_are_problems(web, url):
    client, _ = web
    resp = client.get(url)
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"


def test_tags_api_list_add_remove(web):
    client, ids = web
    pid = ids["cat.jpg"]
    tags = client.get(f"/api/v1/photos/{pid}/tags").get_json()
    assert tags["tags"][0] == {"tag": "cat", "confidence": 1.0, "source": "auto"}
    added = client.post(f"/api/v1/photos/{pid}/tags", json={"tag": " Tiger "})
    assert added.status_code == 200
    assert {"tag": "tiger", "confidence": 1.0, "source": "user"} in added.get_json()["tags"]
    removed = client.delete(f"/api/v1/photos/{pid}/tags/cat").get_json()
    assert removed["removed"] == ["cat"] and "cat" not in [t["tag"] for t in removed["tags"]]
    # the edit is searchable at once
    hits = client.get("/api/v1/search?q=tiger").get_json()["results"]
    assert [h["photo_id"] for h in hits] == [pid]


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/api/v1/photos/9999/tags", None, 404),
        ("post", "/api/v1/photos/9999/tags", {"tag": "x"}, 404),
        ("post", "/api/v1/photos/{cat}/tags", {"tag": "  "}, 400),
        ("post", "/api/v1/photos/{cat}/tags", {"tag": "x" * 65}, 400),
        ("post", "/api/v1/photos/{cat}/tags", {"label": "x"}, 400),
        ("post", "/api/v1/photos/{cat}/tags", ["x"], 400),
        ("delete", "/api/v1/photos/{cat}/tags/unicorn", None, 404),
        ("delete", "/api/v1/photos/9999/tags/cat", None, 404),
    ],
)
def test_tags_api_errors(web, method, url, body, status):
    client, ids = web
    resp = getattr(client, method)(url.format(cat=ids["cat.jpg"]), json=body)
    assert resp.status_code == status and resp.mimetype == "application/problem+json"


def test_search_page_and_box_on_every_page(web):
    client, _ = web
    page = client.get("/search?q=my+dog")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-query="my dog"' in html and "/static/search.js" in html
    assert 'id="search-results"' in html
    for url in ("/", "/gallery", "/gallery/photos/1", "/jobs", "/search"):
        html = client.get(url).get_data(as_text=True)
        box = re.search(r'<form class="search-box".*?</form>', html, flags=re.S)
        assert box and 'action="/search"' in box.group(0) and 'name="q"' in box.group(0), url
    photo = client.get("/gallery/photos/1").get_data(as_text=True)
    assert 'id="photo-tags"' in photo and "/static/tags.js" in photo
    for asset in ("search.js", "tags.js", "search.css"):
        got = client.get(f"/static/{asset}")
        assert got.status_code == 200
        assert "innerHTML" not in got.get_data(as_text=True)
        got.close()


def test_openapi_documents_the_search_and_tag_operations(web):
    client, _ = web
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "get" in doc["paths"]["/api/v1/search"]
    assert set(doc["paths"]["/api/v1/photos/{photo_id}/tags"]) == {"get", "post"}
    assert "delete" in doc["paths"]["/api/v1/photos/{photo_id}/tags/{tag}"]
    assert {"SearchResults", "PhotoTags", "Tag"} <= set(doc["components"]["schemas"])
