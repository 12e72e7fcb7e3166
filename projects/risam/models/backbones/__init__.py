"""Visual backbones: a frozen image encoder and its trained enhancement,
behind one interface (:class:`BaseVisualBackbone`)."""
from .base_visual_backbone import BaseVisualBackbone, state_fingerprint
from .sam_backbone import SAM_ARCHS, SAMBackbone, sincos_pos_embed_2d
from .visual_encoder import RISAMVisualEncoder

__all__ = [
           'SAM_ARCHS',
           'BaseVisualBackbone',
           'RISAMVisualEncoder',
           'SAMBackbone',
           'sincos_pos_embed_2d',
           'state_fingerprint',
]
