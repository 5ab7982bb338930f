"""Where the samples are, the date every test runs on, and the sample employers' unit accounts."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
TODAY = "2026-11-22"
A, B, C, D = "0101000123", "0101000456", "0101000789", "0101000321"
"""The sample employers: A, B and D file valid November lists; C has no file."""
