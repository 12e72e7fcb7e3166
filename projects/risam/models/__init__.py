"""RISAM model components; importing registers them in the ``risam`` scope.

Without mmsegmentation installed (``registry.WITH_MMSEG`` False) only the
model core is here: everything but :class:`RISAM` and
:class:`RISAMDataPreProcessor`, whose base classes are mmseg's; the training
step is :class:`RISAMCore`'s.
"""
from typing import Any

from ..registry import WITH_MMSEG
from .backbones import BaseVisualBackbone, RISAMVisualEncoder, SAMBackbone
from .decode_heads import MutualAwareMaskDecoder
from .losses import RISAMFocalDiceLoss
from .necks import FeatureEnhancement, MutualAwareAttention, MutualAwareFusion
from .segmentors import RISAMCore
from .text_encoders import CLIPTokenEncoder

#: the classes that subclass mmseg's
NEED_MMSEG = ('RISAM', 'RISAMDataPreProcessor')

__all__ = [
    'BaseVisualBackbone',
    'CLIPTokenEncoder',
    'FeatureEnhancement',
    'MutualAwareAttention',
    'MutualAwareFusion',
    'MutualAwareMaskDecoder',
    'RISAMCore',
    'RISAMFocalDiceLoss',
    'RISAMVisualEncoder',
    'SAMBackbone',
]
if WITH_MMSEG:
    from .data_preprocessors import RISAMDataPreProcessor  # noqa: F401
    from .segmentors import RISAM  # noqa: F401
    __all__ += list(NEED_MMSEG)
else:

    def __getattr__(name: str) -> Any:
        if name in NEED_MMSEG:
            raise ImportError(
                f'projects.risam.models.{name} subclasses mmsegmentation\'s '
                'and mmsegmentation is not installed: pip install '
                'mmsegmentation (the model core, RISAMCore, runs without it)')
        raise AttributeError(
            f'module {__name__!r} has no attribute {name!r}')
