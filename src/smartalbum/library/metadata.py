"""When, with what and where a photo was taken, read from its EXIF block.

The indexer already holds a file's bytes (it hashed and decoded them), so EXIF is parsed
from those same bytes: :func:`read_exif` only opens the *header* (Pillow's ``Image.open``
is lazy; no pixel is decoded), for JPEG/MPO, HEIC/HEIF (via pillow-heif), WebP, PNG
(``eXIf``) and TIFF alike.

Rules, and why:

* **Taken at** = ``DateTimeOriginal`` (+ ``SubSecTimeOriginal``) with ``OffsetTimeOriginal``
  when present, else ``DateTimeDigitized`` (the same instant on every digital camera).
  ``DateTime`` (IFD0) is *not* used: it is the last edit, which is why the shared
  DSCN*.jpg say 2008-11-01 there but were shot on 2008-10-22. Dates that cannot be real
  ("0000:00:00", month 99, years before photography or after next year) are ignored.
  Without a usable EXIF date the file's modification time is used, in the machine's local
  time, and marked ``source="file"`` so nobody mistakes it for a capture time.
* **GPS**: degrees/minutes/seconds rationals -> signed decimal degrees using the N/S/E/W
  references; a coordinate without its reference, out of range, NaN (0/0 rationals) or
  exactly (0, 0) (what receivers without a fix write) is dropped rather than guessed.
  Altitude is negative when ``GPSAltitudeRef`` is 1 (below sea level).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()  # idempotent; imaging.decode does the same

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_DATETIME_ORIGINAL = 0x9003
TAG_DATETIME_DIGITIZED = 0x9004
TAG_OFFSET_ORIGINAL = 0x9011
TAG_OFFSET_DIGITIZED = 0x9012
TAG_SUBSEC_ORIGINAL = 0x9291
TAG_SUBSEC_DIGITIZED = 0x9292
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6

#: Capture years outside this range are clock garbage (the first photograph is from 1826).
MIN_YEAR = 1826
_OPEN_FORMATS = ["JPEG", "HEIF", "WEBP", "PNG", "TIFF"]
_DATE_RE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_RE = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


@dataclass(frozen=True)
class PhotoMetadata:
    """What EXIF (or, for the date, the file system) says about one photo."""

    taken_at: datetime | None = None  # local wall-clock time of the camera, naive
    taken_at_source: str | None = None  # "exif" or "file"
    tz_offset_min: int | None = None  # UTC offset of taken_at, minutes; None when unknown
    camera_make: str | None = None
    camera_model: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None

    @property
    def gps(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude)


@dataclass(frozen=True)
class RawExif:
    """The three EXIF directories we read, materialised while the image was open (a TIFF's
    sub-directories are read lazily from the file, so they must be fetched before closing)."""

    base: dict[int, Any]
    exif: dict[int, Any]
    gps: dict[int, Any]

    @classmethod
    def from_pillow(cls, exif: Image.Exif) -> RawExif:
        return cls(base=dict(exif), exif=_ifd(exif, EXIF_IFD), gps=_ifd(exif, GPS_IFD))


def read_exif(data: bytes) -> RawExif | None:
    """The EXIF of an image held in memory (header parse only, no pixel decoded), or None."""
    try:
        with Image.open(io.BytesIO(data), formats=_OPEN_FORMATS) as im:
            exif = im.getexif()
            if not len(exif):
                return None
            return RawExif.from_pillow(exif)
    except Exception:  # noqa: BLE001 - no or broken metadata is normal: the photo still counts
        return None


def extract_metadata(
    exif: RawExif | Image.Exif | None, *, mtime_ns: int | None = None
) -> PhotoMetadata:
    """Date, camera and GPS from parsed EXIF; the file time as the date fallback."""
    if isinstance(exif, Image.Exif):
        exif = RawExif.from_pillow(exif)
    taken_at = offset = None
    source = None
    make = model = None
    lat = lon = alt = None
    if exif is not None:
        taken_at, offset = _exif_datetime(exif.exif)
        if taken_at is not None:
            source = "exif"
        make = _text(exif.base.get(TAG_MAKE))
        model = _text(exif.base.get(TAG_MODEL))
        lat, lon, alt = gps_from_ifd(exif.gps)
    if taken_at is None and mtime_ns is not None:
        taken_at, offset = file_time(mtime_ns)
        source = "file"
    return PhotoMetadata(
        taken_at=taken_at,
        taken_at_source=source,
        tz_offset_min=offset,
        camera_make=make,
        camera_model=model,
        latitude=lat,
        longitude=lon,
        altitude=alt,
    )


def metadata_from_bytes(data: bytes, *, mtime_ns: int | None = None) -> PhotoMetadata:
    """:func:`extract_metadata` of :func:`read_exif` (never raises for bad metadata)."""
    return extract_metadata(read_exif(data), mtime_ns=mtime_ns)


def file_time(mtime_ns: int) -> tuple[datetime, int]:
    """A file time as the local wall-clock time of this machine and its UTC offset."""
    aware = datetime.fromtimestamp(mtime_ns / 1e9).astimezone()
    delta = aware.utcoffset() or timedelta(0)
    return aware.replace(tzinfo=None), int(delta.total_seconds() // 60)


# --------------------------------------------------------------------------- dates


def _exif_datetime(sub: dict[int, Any]) -> tuple[datetime | None, int | None]:
    pairs = (
        (TAG_DATETIME_ORIGINAL, TAG_SUBSEC_ORIGINAL, TAG_OFFSET_ORIGINAL),
        (TAG_DATETIME_DIGITIZED, TAG_SUBSEC_DIGITIZED, TAG_OFFSET_DIGITIZED),
    )
    for date_tag, subsec_tag, offset_tag in pairs:
        when = parse_exif_datetime(sub.get(date_tag), sub.get(subsec_tag))
        if when is not None:
            return when, parse_offset(sub.get(offset_tag))
    return None, None


def parse_exif_datetime(value: Any, subsec: Any = None) -> datetime | None:
    """``"YYYY:MM:DD HH:MM:SS"`` (+ sub-second digits) -> datetime, or None if not a real date."""
    text = _text(value)
    if not text:
        return None
    m = _DATE_RE.match(text)
    if not m:
        return None
    try:
        when = datetime(*(int(g) for g in m.groups()))
    except ValueError:  # month 99, day 00, hour 24...
        return None
    if not MIN_YEAR <= when.year <= datetime.now().year + 1:
        return None
    digits = "".join(ch for ch in (_text(subsec) or "") if ch.isdigit())[:6]
    if digits:
        when = when.replace(microsecond=int(digits.ljust(6, "0")))
    return when


def parse_offset(value: Any) -> int | None:
    """``"+02:00"`` / ``"-0500"`` -> minutes east of UTC; None when absent or impossible."""
    text = _text(value)
    if not text:
        return None
    m = _OFFSET_RE.match(text)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if int(m.group(3)) >= 60 or minutes > 14 * 60:
        return None
    return -minutes if m.group(1) == "-" else minutes


# --------------------------------------------------------------------------- GPS


def gps_from_ifd(gps: dict[int, Any]) -> tuple[float | None, float | None, float | None]:
    """(latitude, longitude, altitude) from a GPS IFD; None for what is absent or invalid."""
    if not gps:
        return None, None, None
    lat = _coordinate(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "N", "S", 90.0)
    lon = _coordinate(gps.get(GPS_LON), gps.get(GPS_LON_REF), "E", "W", 180.0)
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        lat = lon = None
    alt = _number(gps.get(GPS_ALT))
    if alt is not None:
        ref = gps.get(GPS_ALT_REF)
        if isinstance(ref, bytes):
            ref = ref[:1][0] if ref[:1] else 0
        if ref == 1:
            alt = -alt
        if not -12_000.0 <= alt <= 100_000.0:  # deeper than any sea, higher than any plane
            alt = None
    return lat, lon, alt


def dms_to_decimal(dms: Any, ref: Any, positive: str, negative: str) -> float | None:
    """Degrees/minutes/seconds (1 to 3 rationals) and a reference letter -> decimal degrees."""
    return _coordinate(dms, ref, positive, negative, 180.0)


def _coordinate(dms: Any, ref: Any, positive: str, negative: str, limit: float) -> float | None:
    letter = (_text(ref) or "").upper()[:1]
    if letter not in (positive, negative) or dms is None:
        return None
    parts = list(dms) if isinstance(dms, (tuple, list)) else [dms]
    if not 1 <= len(parts) <= 3:
        return None
    values = [_number(p) for p in parts]
    if any(v is None or v < 0 for v in values):
        return None
    degrees = sum(v / 60**i for i, v in enumerate(values))  # type: ignore[operator]
    if degrees > limit:
        return None
    return -degrees if letter == negative else degrees


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------- helpers


def _ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # noqa: BLE001 - a damaged sub-IFD loses that part only
        return {}


def _text(value: Any) -> str | None:
    """An EXIF ASCII value as clean text (bytes decoded, NULs and padding stripped)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value).replace("\x00", "").strip()
    return text or None
