"""Memory bombs inside the limits (issue 16): what a 13000 x 13000 1-bit PNG costs a process.

The PNG is ~50 KB on disk and 169 M pixels (under the 200 M limit). Each scenario runs in
a fresh child process that decodes it ``--at-once`` times concurrently (threads, as the
web server and ``classify`` do) and reports: the peak RSS the decodes added
(``ru_maxrss``), the RSS left once they are done, and the wall time.

    python bench/bench_bombs.py                     # this checkout, 1 and 4 at once
    python bench/bench_bombs.py --src OLD/src       # another checkout's code (before/after)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, resource, sys, threading, time, warnings
warnings.simplefilter("ignore")
from smartalbum.imaging import load_photo

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")

path, n = sys.argv[1], int(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before = rss_mb()
errors = []
def one():
    try:
        load_photo(path, max_side=512)
    except Exception as exc:
        errors.append(type(exc).__name__)
start = time.perf_counter()
threads = [threading.Thread(target=one) for _ in range(n)]
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"at_once": n, "peak_added_mb": round(peak - base), "rss_after_added_mb":
      round(rss_mb() - before), "seconds": round(elapsed, 2), "errors": errors}))
"""


def run(src: Path, bomb: Path, at_once: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(bomb), str(at_once)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=REPO_ROOT / "src")
    parser.add_argument("--at-once", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from imaging.bombs import write_png_bomb

    with tempfile.TemporaryDirectory() as tmp:
        bomb = write_png_bomb(Path(tmp) / "bomb.png")
        result = {
            "bomb": {"bytes": bomb.stat().st_size, "pixels": "13000x13000", "mode": "1"},
            "code": str(args.src),
            "runs": [run(args.src, bomb, n) for n in args.at_once],
        }
    print(json.dumps(result, indent=2))  # one object: bench/run_all.py reads it


if __name__ == "__main__":
    main()
