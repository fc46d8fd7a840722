"""Model bundles: a directory that holds everything needed to classify, and nothing else.

Layout (all written by ``smartalbum train`` / ``smartalbum export``)::

    bundle.json       manifest: format, name, backbone facts, default head, created
    backbone.onnx     image batch (N x 3 x S x S float32) -> embedding (N x D) [+ imagenet logits]
    heads/NAME.json   one file per head (labels, layers, temperature, threshold)
    preprocess.json   the PreprocessSpec used in training, applied again when serving
    metrics.json      validation/test metrics of each head
    card.md           the model card: data sources and their terms, metrics, limits

The bundle's version is a content hash of the files that change predictions (manifest,
backbone, heads, preprocessing), so caches keyed by it can never serve a stale result.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from smartalbum.atomic import atomic_dir
from smartalbum.errors import EXIT_USAGE, SmartAlbumError
from smartalbum.imaging.preprocess import PreprocessSpec
from smartalbum.model.heads import Head

BUNDLE_FORMAT = "smartalbum-bundle/1"
IMAGENET_FC = "imagenet_fc.npz"  # the backbone's ImageNet classifier, for concept features
DEFAULT_BUNDLE_DIR = Path(__file__).resolve().parent / "default"


class BundleError(SmartAlbumError):
    """A bundle directory is missing, incomplete or of an unknown format."""

    code = "bad_bundle"
    title = "Model bundle cannot be loaded"
    status = 500
    exit_code = EXIT_USAGE


class UnknownHeadError(SmartAlbumError, KeyError):
    """A request or command names a head the bundle does not have.

    Also a ``KeyError`` (what :meth:`Bundle.head` raises for a missing name), so existing
    ``except KeyError`` keep working. ``available`` lists the bundle's heads; it is part of
    :meth:`to_dict`, as ``POST /api/v1/classify`` answers it.
    """

    code = "unknown_head"
    title = "Unknown head"
    status = 400
    exit_code = EXIT_USAGE

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"No head {name!r}; available: {', '.join(available)}.")
        self.name = name
        self.available = list(available)

    def __str__(self) -> str:  # KeyError's own would quote the message
        return str(self.args[0]) if self.args else ""

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "available": self.available}


@dataclass
class Bundle:
    """A loaded bundle's metadata and heads (the ONNX session lives in the engine)."""

    path: Path
    manifest: dict[str, Any]
    preprocess: PreprocessSpec
    heads: dict[str, Head]
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.path.name))

    @property
    def backbone_path(self) -> Path:
        return self.path / self.manifest["backbone"]["file"]

    @property
    def backbone(self) -> dict[str, Any]:
        return dict(self.manifest["backbone"])

    @cached_property
    def backbone_version(self) -> str:
        """What determines embeddings: the backbone file and the preprocessing (16 hex).

        Narrower than :attr:`version` on purpose: adding or re-fitting a head changes the
        bundle but not a single embedding, so stored embeddings stay valid and only the new
        head's predictions are computed (from the embeddings, without decoding anything).
        The catalog stores it with every embedding, so its formula must not change.
        """
        h = hashlib.sha256()
        for rel in ("preprocess.json", self.manifest["backbone"]["file"]):
            h.update(rel.encode())
            with (self.path / rel).open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()[:16]

    @property
    def default_head(self) -> str:
        return str(self.manifest.get("default_head") or next(iter(self.heads)))

    def resolve_head(self, name: str | None = None, *, default: str | None = None) -> str:
        """The head a request asks for: ``name``, else ``default`` (a configured head), else
        the bundle's default. A name the bundle lacks is an error, never a silent fallback:
        :class:`UnknownHeadError` (code ``unknown_head``, status 400) lists the heads."""
        key = name if name is not None else (default or self.default_head)  # "" is a bad name
        if key not in self.heads:
            raise UnknownHeadError(key, list(self.heads))
        return key

    def head(self, name: str | None = None) -> Head:
        """The named head (or the default); a clear error names the available ones."""
        key = name or self.default_head
        try:
            return self.heads[key]
        except KeyError:
            raise KeyError(
                f"no head {key!r} in bundle {self.name!r}; available: {', '.join(self.heads)}"
            ) from None

    @property
    def version(self) -> str:
        """Content hash (16 hex digits) of what determines predictions."""
        h = hashlib.sha256()
        files = ["bundle.json", "preprocess.json", self.manifest["backbone"]["file"]]
        if (self.path / IMAGENET_FC).is_file():
            files.append(IMAGENET_FC)
        for rel in files:
            h.update(rel.encode())
            h.update(_file_digest(self.path / rel))
        for name in sorted(self.heads):
            h.update(name.encode())
            h.update(self.heads[name].version.encode())
        return h.hexdigest()[:16]

    @classmethod
    def load(cls, path: Path | str | None = None) -> Bundle:
        """Load a bundle directory (default: the one shipped inside the package)."""
        root = Path(path) if path is not None else DEFAULT_BUNDLE_DIR
        manifest_path = root / "bundle.json"
        if not manifest_path.is_file():
            raise BundleError(f"{root} is not a model bundle (no bundle.json)")
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{root}: unknown bundle format {manifest.get('format')!r}")
        if not (root / manifest["backbone"]["file"]).is_file():
            raise BundleError(f"{root}: backbone file {manifest['backbone']['file']} is missing")
        heads = {p.stem: Head.load(p) for p in sorted((root / "heads").glob("*.json"))}
        if not heads:
            raise BundleError(f"{root}: no heads in heads/")
        metrics_path = root / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
        spec = PreprocessSpec.from_json(root / "preprocess.json")
        fc_path = root / IMAGENET_FC
        if fc_path.is_file():
            with np.load(fc_path) as npz:
                fc = (npz["weight"].astype(np.float32), npz["bias"].astype(np.float32))
            for head in heads.values():
                head.concept_fc = fc
        missing = [h.name for h in heads.values() if h.concepts and h.concept_fc is None]
        if missing:
            raise BundleError(f"{root}: heads {missing} need {IMAGENET_FC}, which is missing")
        return cls(path=root, manifest=manifest, preprocess=spec, heads=heads, metrics=metrics)

    @property
    def concept_fc(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The ImageNet classifier, when the bundle carries one (for concept heads)."""
        return next((h.concept_fc for h in self.heads.values() if h.concept_fc), None)

    def save_head(self, head: Head) -> None:
        """Add or replace one head in place (atomic per file)."""
        if head.concepts and head.concept_fc is None:
            head.concept_fc = self.concept_fc
        (self.path / "heads").mkdir(exist_ok=True)
        head.save(self.path / "heads" / f"{head.name}.json")
        self.heads[head.name] = head


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def write_bundle(
    out: Path,
    *,
    backbone_onnx: Path,
    backbone: dict[str, Any],
    preprocess: PreprocessSpec,
    heads: list[Head],
    default_head: str,
    metrics: dict[str, Any],
    card: str,
    name: str,
    extra_files: dict[str, Path] | None = None,
) -> Bundle:
    """Write a complete bundle atomically: build it in a sibling temp dir, then swap it in.

    An interrupted write leaves either the old bundle or the new one, never half of each.
    """
    out = Path(out)
    with atomic_dir(out) as tmp:
        shutil.copyfile(backbone_onnx, tmp / "backbone.onnx")
        (tmp / "heads").mkdir()
        for head in heads:
            head.save(tmp / "heads" / f"{head.name}.json")
        preprocess.to_json(tmp / "preprocess.json")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / "card.md").write_text(card)
        for rel, src in (extra_files or {}).items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tmp / rel)
        manifest = {
            "format": BUNDLE_FORMAT,
            "name": name,
            "backbone": {**backbone, "file": "backbone.onnx"},
            "default_head": default_head,
        }
        (tmp / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return Bundle.load(out)
