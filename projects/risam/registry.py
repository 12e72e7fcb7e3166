"""RISAM's registries: children of mmseg's, in the scope ``risam``.

Every RISAM component is registered here rather than in mmseg's registries,
so its names cannot clash with mmseg, mmdet, mmpretrain or the public SAM
plugins for mmseg (two of which register a ``SAMBackbone`` of their own).
From any mmseg config (``default_scope='mmseg'``) a RISAM component is named
with the scope prefix, ``type='risam.SAMBackbone'``; inside the ``risam``
scope the prefix is optional, and names that RISAM does not define (mmseg's
``SegDataPreProcessor``, ``'mmpretrain.SwinTransformer'``...) resolve
through the parent registries as usual.
"""
from mmengine.registry import Registry
from mmseg import registry as mmseg_registry

SCOPE = 'risam'


def _child(parent: Registry) -> Registry:
    return Registry(parent.name, parent=parent, scope=SCOPE,
                    locations=['projects.risam'])


MODELS = _child(mmseg_registry.MODELS)
DATASETS = _child(mmseg_registry.DATASETS)
DATA_SAMPLERS = _child(mmseg_registry.DATA_SAMPLERS)
TRANSFORMS = _child(mmseg_registry.TRANSFORMS)
METRICS = _child(mmseg_registry.METRICS)
HOOKS = _child(mmseg_registry.HOOKS)
OPTIM_WRAPPER_CONSTRUCTORS = _child(
    mmseg_registry.OPTIM_WRAPPER_CONSTRUCTORS)

__all__ = [
    'DATASETS',
    'DATA_SAMPLERS',
    'HOOKS',
    'METRICS',
    'MODELS',
    'OPTIM_WRAPPER_CONSTRUCTORS',
    'SCOPE',
    'TRANSFORMS',
]
