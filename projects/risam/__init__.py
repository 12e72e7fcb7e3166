"""RISAM for mmsegmentation 1.x.

Importing ``projects.risam`` (directly or through
``custom_imports=dict(imports=['projects.risam'])``) registers every RISAM
model, dataset, transform and metric in mmseg's registries and allow-lists the
classes that mmengine's training checkpoints need under ``weights_only``
loading, so ``--resume`` works on torch >= 2.6.
"""
from .utils import register_checkpoint_safe_globals
from .version import __version__

register_checkpoint_safe_globals()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models']
