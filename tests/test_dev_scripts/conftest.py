"""Paths of the developer-script tests (the RefShapes and checkpoint
fixtures are in tests/conftest.py)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
