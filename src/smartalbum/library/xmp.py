"""XMP sidecars with Smart Album's labels, readable by digiKam, darktable and Lightroom.

**Name**: ``photo.jpg.xmp`` (the full file name plus ``.xmp``), the convention of darktable
and digiKam (digiKam reads both forms). It never collides for ``IMG_1.jpg`` and
``IMG_1.heic`` side by side, which ``IMG_1.xmp`` would. Lightroom Classic reads sidecars
named ``IMG_1.xmp`` for raw files only and keeps JPEG metadata inside the file, so for
Lightroom import the keywords with "Read metadata from files" after converting, or use
digiKam/darktable; writing into the user's JPEGs is out of the question (files are sacred).

**Content**: the label as a keyword in ``dc:subject`` (the keyword list every one of these
programs reads) and as ``Smart Album|<label>`` in ``lr:hierarchicalSubject`` (digiKam's and
Lightroom's keyword tree), plus Smart Album's own fields in its namespace
(:data:`SMARTALBUM_NS`): ``label``, ``confidence``, ``labelSource`` (correction or
prediction) and ``review`` (True for an uncertain prediction; such photos get no keyword,
because a guess must not pollute the user's keywords). The photo's tags (automatic and the
user's, smartalbum.tags) are keywords too (``Smart Album|tags|<tag>`` in the tree), listed
in ``smartalbum:tags`` so the next export replaces them.

**Merging**: an existing sidecar is never replaced wholesale: its keywords, other fields and
other namespaces are kept; Smart Album's keywords are added, and only what Smart Album
wrote before is updated (its own fields, its ``Smart Album|…`` entries and the previous
label keyword it recorded). A sidecar that is not well-formed XMP (or has a DTD, which XMP
never has) is left untouched: :class:`XmpError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from smartalbum.errors import SmartAlbumError

X_NS = "adobe:ns:meta/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC_NS = "http://purl.org/dc/elements/1.1/"
LR_NS = "http://ns.adobe.com/lightroom/1.0/"
SMARTALBUM_NS = "http://smartalbum.invalid/ns/1.0/"
HIERARCHY_ROOT = "Smart Album"
MAX_SIDECAR_BYTES = 4 << 20

_KNOWN_PREFIXES = {
    "x": X_NS,
    "rdf": RDF_NS,
    "dc": DC_NS,
    "lr": LR_NS,
    "smartalbum": SMARTALBUM_NS,
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "darktable": "http://darktable.sf.net/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
}
_FIELDS = ("label", "confidence", "labelSource", "review", "tags")
_PACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_END = '\n<?xpacket end="w"?>\n'


class XmpError(SmartAlbumError, ValueError):
    """An existing sidecar that cannot be merged safely (it is left as it is).

    Organising counts and logs it (``xmp_unreadable``) and goes on; as an error of its own
    it is the user's file the service cannot process.
    """

    code = "xmp_unreadable"
    title = "XMP sidecar cannot be merged"
    status = 422


@dataclass(frozen=True)
class Labels:
    """What Smart Album writes about one photo."""

    label: str | None
    confidence: float | None = None
    source: str | None = None  # "correction" or "prediction"
    review: bool = False
    tags: tuple[str, ...] = ()  # the photo's tags (smartalbum.tags), written as keywords

    @property
    def keyword(self) -> str | None:
        """The keyword to add: the label, unless it is only an uncertain guess."""
        return None if self.review or not self.label else self.label


def sidecar_path(photo: str | os.PathLike[str]) -> Path:
    """``/a/IMG_1.jpg`` -> ``/a/IMG_1.jpg.xmp``."""
    return Path(os.fspath(photo) + ".xmp")


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _register(prefixes: dict[str, str]) -> None:
    for prefix, uri in prefixes.items():
        with contextlib.suppress(ValueError):  # "ns0"-style prefixes are reserved
            ET.register_namespace(prefix, uri)


def _parse(data: bytes) -> tuple[ET.Element, dict[str, str]]:
    if len(data) > MAX_SIDECAR_BYTES:
        raise XmpError(f"sidecar larger than {MAX_SIDECAR_BYTES} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmpError("sidecar declares a DTD or entities; XMP never does")
    prefixes: dict[str, str] = {}
    try:
        for event, value in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
            if event == "start-ns":
                prefix, uri = value  # type: ignore[misc]
                prefixes.setdefault(prefix, uri)
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise XmpError(f"not well-formed XML: {exc}") from exc
    if root.tag == _q(RDF_NS, "RDF"):
        meta = ET.Element(_q(X_NS, "xmpmeta"))
        meta.append(root)
        root = meta
    if root.tag != _q(X_NS, "xmpmeta") or root.find(_q(RDF_NS, "RDF")) is None:
        raise XmpError("no x:xmpmeta/rdf:RDF packet")
    return root, prefixes


def _bag_items(description: ET.Element, ns: str, name: str) -> list[str]:
    prop = description.find(_q(ns, name))
    if prop is None:
        return []
    container = next(iter(prop), None)
    if container is None:
        return [prop.text.strip()] if prop.text and prop.text.strip() else []
    return [li.text or "" for li in container.findall(_q(RDF_NS, "li"))]


def _set_bag(description: ET.Element, ns: str, name: str, items: list[str]) -> None:
    prop = description.find(_q(ns, name))
    if prop is None:
        prop = ET.SubElement(description, _q(ns, name))
    container = next(iter(prop), None)
    if container is None or container.tag not in (_q(RDF_NS, "Bag"), _q(RDF_NS, "Seq")):
        for child in list(prop):
            prop.remove(child)
        prop.text = None
        container = ET.SubElement(prop, _q(RDF_NS, "Bag"))
    for li in list(container):
        container.remove(li)
    for item in items:
        ET.SubElement(container, _q(RDF_NS, "li")).text = item


def read_sidecar(data: bytes) -> dict[str, object]:
    """Keywords, hierarchical keywords and Smart Album fields of a sidecar (for tests/tools)."""
    return _read(_parse(data)[0])


def _read(root: ET.Element) -> dict[str, object]:
    subjects: list[str] = []
    hierarchical: list[str] = []
    fields: dict[str, str] = {}
    for description in root.iter(_q(RDF_NS, "Description")):
        subjects += _bag_items(description, DC_NS, "subject")
        hierarchical += _bag_items(description, LR_NS, "hierarchicalSubject")
        for name in _FIELDS:
            value = description.get(_q(SMARTALBUM_NS, name))
            element = description.find(_q(SMARTALBUM_NS, name))
            if element is not None and element.text:
                value = element.text
            if value is not None:
                fields[name] = value
    return {"subject": subjects, "hierarchicalSubject": hierarchical, "smartalbum": fields}


def _empty_packet() -> ET.Element:
    root = ET.Element(_q(X_NS, "xmpmeta"))
    rdf = ET.SubElement(root, _q(RDF_NS, "RDF"))
    ET.SubElement(rdf, _q(RDF_NS, "Description"), {_q(RDF_NS, "about"): ""})
    return root


def sidecar_content(labels: Labels, existing: bytes | None = None) -> bytes:
    """The sidecar to write: a new one, or ``existing`` with Smart Album's labels merged in."""
    if existing is None:
        root, prefixes = _empty_packet(), {}
    else:
        root, prefixes = _parse(existing)
    _register({**prefixes, **_KNOWN_PREFIXES})
    rdf = root.find(_q(RDF_NS, "RDF"))
    assert rdf is not None
    descriptions = rdf.findall(_q(RDF_NS, "Description"))
    if not descriptions:
        descriptions = [ET.SubElement(rdf, _q(RDF_NS, "Description"), {_q(RDF_NS, "about"): ""})]

    # What this program wrote before (so it can be updated instead of piling up).
    previous = _read(root)["smartalbum"]
    old_label = previous.get("label") if isinstance(previous, dict) else None
    # Tags written before (recorded in smartalbum:tags) are replaced, not piled up; a
    # keyword the user had typed themselves is never in that list, so it stays.
    old_tags = set(str(previous.get("tags", "")).split("|")) - {""}
    old_tags -= set(labels.tags)
    target = descriptions[0]
    for description in descriptions:
        for name in _FIELDS:
            description.attrib.pop(_q(SMARTALBUM_NS, name), None)
            for element in description.findall(_q(SMARTALBUM_NS, name)):
                description.remove(element)
        if description.find(_q(DC_NS, "subject")) is not None:
            target = description

    subjects = _bag_items(target, DC_NS, "subject")
    hierarchical = _bag_items(target, LR_NS, "hierarchicalSubject")
    keyword = labels.keyword
    if old_label and old_label != keyword:
        subjects = [s for s in subjects if s != old_label]
    subjects = [s for s in subjects if s not in old_tags]
    hierarchical = [h for h in hierarchical if not h.startswith(HIERARCHY_ROOT + "|")]
    if keyword:
        if keyword not in subjects:
            subjects.append(keyword)
        hierarchical.append(f"{HIERARCHY_ROOT}|{keyword}")
    for tag in labels.tags:
        if tag not in subjects:
            subjects.append(tag)
        hierarchical.append(f"{HIERARCHY_ROOT}|tags|{tag}")
    if subjects or target.find(_q(DC_NS, "subject")) is not None:
        _set_bag(target, DC_NS, "subject", subjects)
    if hierarchical or target.find(_q(LR_NS, "hierarchicalSubject")) is not None:
        _set_bag(target, LR_NS, "hierarchicalSubject", hierarchical)

    if labels.label:
        target.set(_q(SMARTALBUM_NS, "label"), labels.label)
    if labels.confidence is not None:
        target.set(_q(SMARTALBUM_NS, "confidence"), f"{labels.confidence:.4f}")
    if labels.source:
        target.set(_q(SMARTALBUM_NS, "labelSource"), labels.source)
    target.set(_q(SMARTALBUM_NS, "review"), "True" if labels.review else "False")
    if labels.tags:
        target.set(_q(SMARTALBUM_NS, "tags"), "|".join(labels.tags))

    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return (_PACKET_BEGIN + body + _PACKET_END).encode("utf-8")
