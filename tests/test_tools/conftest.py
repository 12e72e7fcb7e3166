"""Paths of the tool tests (the RefShapes and checkpoint fixtures,
``refshapes_root`` and ``tiny_checkpoint``, are in tests/conftest.py)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'


def data_options(root: Path) -> list:
    """``--cfg-options`` pointing every loader of the demo config at root."""
    return [f'{loader}_dataloader.dataset.data_root={root}'
            for loader in ('train', 'val', 'test')]
