"""Create bench/peers/.venv with the peers at pinned versions plus runlane (editable).

    python3.11 bench/peers/setup.py [--python python3.11] [--recreate]

The virtual environment is separate from the project's own .venv so the peers' dependency
trees (MLflow, Aim, W&B, Trackio, ML-Dash) never touch runlane's. Needs PyPI access; exits
non-zero with pip's message when an install fails.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VENV = HERE / ".venv"

# Versions that install together on Python 3.11 (checked on this machine kind).
PEERS: tuple[str, ...] = (
    "mlflow==3.17.2",
    "psycopg2-binary==2.9.13",  # mlflow server on PostgreSQL (bench/server.py)
    "aim==3.29.1",
    "trackio==0.43.0",
    "ml-dash==0.11.0",
    "wandb==0.31.0",
    "orjson==3.13.0",
    "numpy==2.4.6",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="create bench/peers/.venv")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venv")
    parser.add_argument("--recreate", action="store_true", help="delete an existing venv first")
    ns = parser.parse_args(argv)
    if ns.recreate and VENV.exists():
        shutil.rmtree(VENV)
    if not VENV.exists():
        subprocess.run([ns.python, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *PEERS], check=True)
    subprocess.run([*pip, "-e", str(REPO)], check=True)
    print(f"peers ready: {VENV / 'bin' / 'python'} {REPO / 'bench' / 'peers' / 'run.py'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
