"""Tags as XMP keywords: written by ``organize --xmp``, replaced (not piled up) on re-export."""

from __future__ import annotations

from click.testing import CliRunner

from smartalbum.cli import main
from smartalbum.library.xmp import Labels, read_sidecar, sidecar_content


def test_tags_become_keywords_and_are_replaced_on_the_next_export():
    first = sidecar_content(Labels("pets", 0.9, "prediction", False, ("cat", "pet")))
    data = read_sidecar(first)
    assert data["subject"] == ["pets", "cat", "pet"]
    assert "Smart Album|tags|cat" in data["hierarchicalSubject"]
    assert data["smartalbum"]["tags"] == "cat|pet"
    # the user adds a keyword in digiKam; Smart Album's tags then change
    edited = first.replace(b"<rdf:li>pet</rdf:li>", b"<rdf:li>pet</rdf:li><rdf:li>Mimi</rdf:li>")
    second = read_sidecar(sidecar_content(Labels("pets", 0.9, "prediction", False, ("tiger",)),
                                          edited))  # fmt: skip
    assert second["subject"] == ["pets", "Mimi", "tiger"]
    assert second["smartalbum"]["tags"] == "tiger"
    third = read_sidecar(sidecar_content(Labels("pets", 0.9, "prediction", False), edited))
    assert "tags" not in third["smartalbum"] and "cat" not in third["subject"]


def test_organize_xmp_writes_the_photos_tags(tagged_catalog, tmp_path):
    url, factory, ids = tagged_catalog
    from smartalbum.tags.store import add_tag

    with factory() as s:
        add_tag(s, ids["cat.jpg"], "Mimi")
        s.commit()
    out = tmp_path / "organized"
    result = CliRunner().invoke(
        main, ["organize", "--into", str(out), "--xmp", "--quiet", "--database-url", url],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sidecars = {p.name: read_sidecar(p.read_bytes()) for p in out.rglob("*.xmp")}
    cat = sidecars["cat.jpg.xmp"]
    assert {"mimi", "cat", "pet"} <= set(cat["subject"])
    assert "beach" in sidecars["beach.jpg.xmp"]["subject"]
    original = (tmp_path / "photos" / "cat.jpg").read_bytes()  # untouched, copied as is
    assert next(out.rglob("cat.jpg")).read_bytes() == original
