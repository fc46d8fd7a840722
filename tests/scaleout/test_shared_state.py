"""State has one home (issue 14): a web node and two workers on private data dirs agree.

Each node runs in its own mount namespace with a private tmpfs as its data dir
(tests/scaleout/nodes.py); they share only PostgreSQL and Redis, as separate machines do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .nodes import DATA_MOUNT, cluster

pytestmark = [pytest.mark.services, pytest.mark.slow]

REDIS_DB = 12  # the broker database of these tests (test_kill_worker uses 14)


def test_nodes_have_private_data_dirs(tmp_path: Path, tiny_bundle_dir: Path) -> None:
    with cluster(tmp_path, tiny_bundle_dir, redis_db=REDIS_DB) as c:
        web = c.start_web()
        w1 = c.start_worker()
        c.wait_ready()
        w1.run(["sh", "-c", f"echo secret > {DATA_MOUNT}/only-here"], check=True)
        assert w1.run(["cat", f"{DATA_MOUNT}/only-here"]).stdout.strip() == "secret"
        assert web.run(["ls", "-A", str(DATA_MOUNT)]).stdout.split().count("only-here") == 0
        assert not (DATA_MOUNT / "only-here").exists()
