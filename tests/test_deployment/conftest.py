"""The ONNX tests' export tool, run in-process (the tiny checkpoint they
export is tests/conftest.py's ``tiny_checkpoint``)."""
import runpy
import sys
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_export(config: Path, checkpoint: Path, out: Path) -> None:
    """``python tools/deployment/export_onnx.py CONFIG CKPT --out OUT``."""
    argv = sys.argv
    sys.argv = ['export_onnx.py', str(config), str(checkpoint), '--out',
                str(out)]
    try:
        runpy.run_path(str(REPO / 'tools/deployment/export_onnx.py'),
                       run_name='__main__')
    finally:
        sys.argv = argv


@pytest.fixture
def export_tool() -> Callable[[Path, Path, Path], None]:
    """:func:`run_export`, for the tests of this folder."""
    return run_export
