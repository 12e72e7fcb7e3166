"""Paths of the benchmark test (the image-encoding tests and their
fixtures are in tests/test_image_encoding/)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
