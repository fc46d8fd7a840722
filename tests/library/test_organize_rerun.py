"""Issue 16 item 7: a plain re-run of ``organize`` after a kill must not start beside the
interrupted run without a word; it says so and offers ``--resume`` (or ``--rollback``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import smartalbum.organize as org
from library.test_cli_tools import organised_library  # noqa: F401 - four labelled photos
from smartalbum.cli import main


class Crash(Exception):
    """Stands for a kill -9 right after a journaled step."""


@pytest.fixture
def interrupted(
    catalog_url,
    organised_library,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> tuple[Path, list[str]]:
    """(into, the plain organize command): a copy run into ``into`` killed after its
    second photo was copied (its journal and a hidden .part file may be left)."""
    factory, _, _ = organised_library
    into = tmp_path / "sorted"
    plan = org.plan_from_catalog(factory, into, mode="copy", head="colours")

    def fault(op: str, item) -> None:
        if op == "copied" and item.index == plan.items[1].index:
            raise Crash(op)

    with pytest.raises(Crash):
        org.execute(plan, fault=fault)
    return into, [
        "organize",
        "--into",
        str(into),
        "--head",
        "colours",
        "--database-url",
        catalog_url,
    ]


def test_a_plain_rerun_after_a_kill_offers_resume(interrupted, catalog_url) -> None:
    into, common = interrupted
    (journal,) = org.find_journals(into)
    assert org.unfinished_journals(into) == [journal]

    again = CliRunner().invoke(main, common)
    assert again.exit_code == 2, again.output
    lines = [line for line in again.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and f"--resume {journal}" in lines[-1]
    assert org.find_journals(into) == [journal]  # no second run was started

    assert CliRunner().invoke(main, [*common, "--dry-run"]).exit_code == 0  # a plan only
    resumed = CliRunner().invoke(
        main, ["organize", "--resume", str(journal), "--database-url", catalog_url]
    )
    assert resumed.exit_code == 0, resumed.output
    assert org.unfinished_journals(into) == []
    assert CliRunner().invoke(main, common).exit_code == 0  # finished: a plain run is fine


def test_new_run_starts_beside_an_interrupted_one_when_asked(interrupted) -> None:
    into, common = interrupted
    forced = CliRunner().invoke(main, [*common, "--new-run"])
    assert forced.exit_code == 0, forced.output
    assert len(org.find_journals(into)) == 2
