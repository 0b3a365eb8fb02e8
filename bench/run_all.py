"""Run every benchmark in its own process; results land in bench/results/*.json.

python bench/run_all.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
# alignment.py has its own commands: see its docstring
BENCHMARKS = [
    "overhead.py",
    "concurrency.py",
    "local_latency.py",
    "check_latency.py",
    "retrieval.py",
    "review_queue.py",
]

if __name__ == "__main__":
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, str(HERE / name)], check=True, cwd=HERE)
