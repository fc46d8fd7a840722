"""Run every benchmark (bench/bench_*.py) and print their JSON results as one object.

Each benchmark runs in its own process so one's memory and threads do not colour the next.
`make bench` calls this; pass names to run a subset: `python bench/run_all.py classify web`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(BENCH.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in argv]
    results: dict[str, object] = {}
    failed = 0
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        if proc.returncode != 0:
            failed += 1
            results[name] = {"error": proc.stderr.strip().splitlines()[-5:]}
            continue
        results[name] = json.loads(proc.stdout)
    print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
