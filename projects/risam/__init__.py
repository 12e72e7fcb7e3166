"""RISAM for mmsegmentation 1.x.

Importing ``projects.risam`` (directly or through
``custom_imports=dict(imports=['projects.risam'])``) registers every RISAM
model, dataset, transform and metric in mmseg's registries and allow-lists the
classes that mmengine's training checkpoints need under ``weights_only``
loading, so ``--resume`` works. It also makes mmengine read local checkpoints
(``load_from``, ``resume``, ``Pretrained`` init) with ``weights_only=True``
explicitly (:mod:`projects.risam.utils.checkpoint`).
"""
from .utils import register_checkpoint_safe_globals, register_weights_only_loader
from .version import __version__

register_checkpoint_safe_globals()
register_weights_only_loader()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models']
