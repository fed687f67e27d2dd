"""Puts the generated package (scripts/uniffi-bindings → target/bindings/python) on sys.path."""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, os.environ.get("SILA_STORE_PYTHON", str(REPO / "target" / "bindings" / "python")))
