"""RISAM's registries: children of mmseg's, in the scope ``risam``.

Every RISAM component is registered here rather than in mmseg's registries,
so its names cannot clash with mmseg, mmdet, mmpretrain or the public SAM
plugins for mmseg (two of which register a ``SAMBackbone`` of their own).
From any mmseg config (``default_scope='mmseg'``) a RISAM component is named
with the scope prefix, ``type='risam.SAMBackbone'``; inside the ``risam``
scope the prefix is optional, and names that RISAM does not define (mmseg's
``SegDataPreProcessor``, ``'mmpretrain.SwinTransformer'``...) resolve
through the parent registries as usual.

Where mmsegmentation is not installed at all (a bare GPU machine running
``tools/analysis_tools/gpu_check.py``), the registries are roots of their
own in the same scope and ``projects.risam`` registers only its model core
(:data:`WITH_MMSEG` is False; see ``projects/risam/__init__.py``). An
installed mmseg that fails to import (mmcv without its compiled ops, say)
is an error, as before: only a missing ``mmseg`` selects the core.
"""
from typing import Optional

from mmengine.registry import Registry

SCOPE = 'risam'


def _import_mmseg_registry() -> Optional[object]:
    try:
        from mmseg import registry
    except ModuleNotFoundError as e:
        if e.name != 'mmseg':  # installed, but one of its imports is missing
            raise
        return None
    return registry


_mmseg_registry = _import_mmseg_registry()
#: Whether mmsegmentation is installed: the registries are children of its
#: own and everything is registered. False: the model core only.
WITH_MMSEG = _mmseg_registry is not None


def _child(attr: str, name: str) -> Registry:
    """The child of mmseg's registry ``attr`` (named ``name``), or a root
    registry of that name without mmseg."""
    parent = (getattr(_mmseg_registry, attr)
              if _mmseg_registry is not None else None)
    return Registry(name, parent=parent, scope=SCOPE,
                    locations=['projects.risam'])


MODELS = _child('MODELS', 'model')
DATASETS = _child('DATASETS', 'dataset')
DATA_SAMPLERS = _child('DATA_SAMPLERS', 'data sampler')
TRANSFORMS = _child('TRANSFORMS', 'transform')
METRICS = _child('METRICS', 'metric')
HOOKS = _child('HOOKS', 'hook')
OPTIM_WRAPPER_CONSTRUCTORS = _child('OPTIM_WRAPPER_CONSTRUCTORS',
                                    'optimizer wrapper constructor')

__all__ = [
    'DATASETS',
    'DATA_SAMPLERS',
    'HOOKS',
    'METRICS',
    'MODELS',
    'OPTIM_WRAPPER_CONSTRUCTORS',
    'SCOPE',
    'TRANSFORMS',
    'WITH_MMSEG',
]
