"""XMP sidecars: new ones parse, existing ones are merged (never replaced), bad ones untouched."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from smartalbum.library.xmp import (
    DC_NS,
    LR_NS,
    RDF_NS,
    SMARTALBUM_NS,
    Labels,
    XmpError,
    read_sidecar,
    sidecar_content,
    sidecar_path,
)

DARKTABLE_SIDECAR = b"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmp:Rating="3"
    darktable:xmp_version="5">
   <dc:subject>
    <rdf:Bag>
     <rdf:li>holiday</rdf:li>
     <rdf:li>grandma</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>places|Tuscany</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:operation="exposure" darktable:enabled="1"/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def test_sidecar_name_keeps_the_extension(tmp_path) -> None:
    assert sidecar_path(tmp_path / "IMG_1.jpg") == tmp_path / "IMG_1.jpg.xmp"
    assert sidecar_path("/a/b.c/IMG_2.HEIC").name == "IMG_2.HEIC.xmp"


def test_new_sidecar_is_well_formed_xmp_with_keywords_and_fields() -> None:
    data = sidecar_content(Labels("landscape", 0.9312, "prediction"))
    root = ET.fromstring(data)  # well-formed; the xpacket wrapper is a processing instruction
    desc = root.find(f"{{{RDF_NS}}}RDF/{{{RDF_NS}}}Description")
    assert desc is not None
    subjects = desc.findall(f"{{{DC_NS}}}subject/{{{RDF_NS}}}Bag/{{{RDF_NS}}}li")
    assert [li.text for li in subjects] == ["landscape"]
    tree = desc.findall(f"{{{LR_NS}}}hierarchicalSubject/{{{RDF_NS}}}Bag/{{{RDF_NS}}}li")
    assert [li.text for li in tree] == ["Smart Album|landscape"]
    assert desc.get(f"{{{SMARTALBUM_NS}}}confidence") == "0.9312"
    assert desc.get(f"{{{SMARTALBUM_NS}}}labelSource") == "prediction"
    assert data.startswith(b"<?xpacket begin=") and b'<?xpacket end="w"?>' in data
    assert b"ns0:" not in data  # known prefixes are kept readable


def test_existing_sidecar_is_merged_not_replaced() -> None:
    merged = sidecar_content(Labels("people", None, "correction"), DARKTABLE_SIDECAR)
    info = read_sidecar(merged)
    assert info["subject"] == ["holiday", "grandma", "people"]
    assert info["hierarchicalSubject"] == ["places|Tuscany", "Smart Album|people"]
    assert info["smartalbum"] == {"label": "people", "labelSource": "correction", "review": "False"}
    text = merged.decode()
    assert 'xmp:Rating="3"' in text and "darktable:history" in text  # the rest survives
    assert 'darktable:operation="exposure"' in text
    # Merging again is idempotent; a new label replaces only what Smart Album wrote.
    assert read_sidecar(sidecar_content(Labels("people", None, "correction"), merged)) == info
    relabelled = read_sidecar(sidecar_content(Labels("pets", 0.8, "prediction"), merged))
    assert relabelled["subject"] == ["holiday", "grandma", "pets"]
    assert relabelled["hierarchicalSubject"] == ["places|Tuscany", "Smart Album|pets"]


def test_uncertain_label_adds_no_keyword_but_marks_review() -> None:
    info = read_sidecar(sidecar_content(Labels("food", 0.41, "prediction", review=True)))
    assert info["subject"] == [] and info["hierarchicalSubject"] == []
    assert info["smartalbum"]["review"] == "True" and info["smartalbum"]["label"] == "food"


def test_bare_rdf_root_is_accepted() -> None:
    bare = (
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about=""/></rdf:RDF>'
    )
    assert read_sidecar(sidecar_content(Labels("pets"), bare))["subject"] == ["pets"]


@pytest.mark.parametrize(
    "bad",
    [
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><unclosed></x:xmpmeta>",
        b"not xml at all",
        b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>",
        b"<html><body/></html>",
    ],
)
def test_unreadable_sidecars_raise(bad: bytes) -> None:
    with pytest.raises(XmpError):
        sidecar_content(Labels("pets"), bad)
