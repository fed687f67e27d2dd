"""The package under test: the installed wheel with SILA_STORE_INSTALLED=1 (what
scripts/test runs: scripts/python-wheel, then `pip install` into a fresh venv), else the
generated package (scripts/uniffi-bindings → target/bindings/python, or
SILA_STORE_PYTHON) put first on sys.path."""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if os.environ.get("SILA_STORE_INSTALLED") != "1":
    sys.path.insert(0, os.environ.get("SILA_STORE_PYTHON", str(REPO / "target" / "bindings" / "python")))
