"""Any image backbone followed by visual adapter necks (paper §4.5.3, §4.6)."""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.model.weight_init import PretrainedInit
from torch import Tensor, nn

from ...registry import MODELS
from .base_visual_backbone import BaseVisualBackbone, state_fingerprint
from .encoder_dtype import cast_matmul_weights, encoder_autocast, resolve_encoder_dtype


def _as_tuple(feats: Tensor | Sequence[Tensor]) -> Tuple[Tensor, ...]:
    return (feats, ) if isinstance(feats, Tensor) else tuple(feats)


def pretrained_init(module: nn.Module) -> Optional[dict]:
    """The ``Pretrained`` entry of ``module.init_cfg`` that names a file, or
    None."""
    cfgs = module.init_cfg if isinstance(module.init_cfg, (list, tuple)) \
        else [module.init_cfg]
    for cfg in cfgs:
        if isinstance(cfg, dict) and cfg.get('type') in (
                'Pretrained', PretrainedInit) and cfg.get('checkpoint'):
            return cfg
    return None


@MODELS.register_module()
class RISAMVisualEncoder(BaseVisualBackbone):
    """``backbone`` then ``necks`` in order, as RISAM's visual branch.

    Lets an ablation swap what produces ``F_v`` without touching the
    segmentor::

        B x 3 x S x S -> backbone -> (maps...)          encode  (frozen)
                      -> neck_1 -> ... -> (F_v,)        enhance (trained)

    Used for Tab. 6 row #11 (``risam.SAMBackbone`` raw taps ->
    ``risam.SimpleFeaturePyramidNeck``) and Tab. 7 Swin-B
    (``mmpretrain.SwinTransformer`` -> ``risam.FeatureResampleAdapter`` ->
    ``risam.FeatureEnhancement``). When ``backbone`` is itself a
    :class:`BaseVisualBackbone`, :meth:`encode` is its ``encode`` and its own
    ``enhance`` runs before the necks; any other backbone (an mmseg or
    mmpretrain one) is the encoder as a whole. Either way the shared image
    encoding and the frozen-feature cache apply whenever the encoder is
    frozen.

    Args:
        backbone: image backbone config (any registry scope, e.g.
            ``'mmpretrain.SwinTransformer'``).
        necks: visual neck configs applied in order (trained).
        frozen_backbone: freeze ``backbone`` (no gradients, eval mode), the
            paper's PEFT setting. A :class:`BaseVisualBackbone` such as
            ``risam.SAMBackbone`` decides that itself. A frozen backbone
            whose ``init_cfg`` is ``Pretrained`` with a file loads that file
            here, when it is built (mmengine's ``PretrainedInit``, as
            ``init_weights`` would, which then leaves it alone), as
            ``SAMBackbone`` does with its checkpoint: its weights come from
            their own file in every tool, so checkpoints leave them out
            (``risam.SlimCheckpointHook``).
        encoder_dtype: ``'fp32'`` or ``'bf16'`` for a frozen backbone that is
            not a :class:`BaseVisualBackbone` (which has its own): bf16
            stores its matmul weights in bf16 and runs it under autocast,
            with fp32 outputs (:mod:`.encoder_dtype`; falls back to fp32
            with a log line on a CPU without native bf16).
    """

    def __init__(self,
                 *,
                 backbone: dict,
                 necks: Sequence[dict] = (),
                 frozen_backbone: bool = False,
                 encoder_dtype: str = 'fp32',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.necks = nn.ModuleList(MODELS.build(n) for n in necks)
        self.backbone_cfg = dict(backbone)
        self.frozen_backbone = frozen_backbone
        own_frozen = frozen_backbone and self._inner is None
        if encoder_dtype != 'fp32' and not own_frozen:
            raise ValueError(
                'RISAMVisualEncoder: encoder_dtype applies to a frozen '
                'backbone that is not a BaseVisualBackbone (set '
                'frozen_backbone=True, or the inner backbone\'s own '
                f'encoder_dtype); got {encoder_dtype!r}')
        self.encoder_dtype = resolve_encoder_dtype(encoder_dtype,
                                                   'RISAMVisualEncoder')
        # frozen weights read from their own file here: a RISAM checkpoint
        # may leave them out (see projects.risam.utils.checkpoint)
        self.frozen_pretrained_prefixes: Tuple[str, ...] = ()
        if frozen_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()
        pretrained = pretrained_init(self.backbone) if own_frozen and \
            hasattr(self.backbone, 'init_weights') else None
        if pretrained is not None:
            PretrainedInit(**{k: v for k, v in pretrained.items()
                              if k != 'type'})(self.backbone)
            self.backbone._is_init = True  # init_weights leaves it alone
            self.frozen_pretrained_prefixes = ('backbone.', )
        if self.encoder_dtype == 'bf16':
            cast_matmul_weights(self.backbone, torch.bfloat16)

    @property
    def _inner(self) -> Optional[BaseVisualBackbone]:
        bb = self.backbone
        return bb if isinstance(bb, BaseVisualBackbone) else None

    @property
    def encoder_frozen(self) -> bool:
        """Frozen when the wrapped backbone's encoder is."""
        if self._inner is not None:
            return self._inner.encoder_frozen
        return self.frozen_backbone

    def train(self, mode: bool = True) -> 'RISAMVisualEncoder':
        """Keep a frozen backbone in eval mode whatever ``mode`` is."""
        super().train(mode)
        if self.frozen_backbone:
            self.backbone.eval()
        return self

    def encode(self, images: Tensor) -> Tuple[Tensor, ...]:
        """``B x 3 x S x S`` -> the backbone's raw maps."""
        if self._inner is not None:
            return self._inner.encode(images)
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen_backbone), \
                encoder_autocast(images.device.type, self.encoder_dtype):
            feats = _as_tuple(self.backbone(images))
        if self.encoder_dtype == 'bf16':
            feats = tuple(f.float() for f in feats)
        return feats

    def enhance(self, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Raw maps -> necks in order -> ``(F_v,)`` normally."""
        feats = tuple(feats)
        if self._inner is not None:
            feats = self._inner.enhance(feats)
        for neck in self.necks:
            feats = _as_tuple(neck(feats))
        return feats

    def fingerprint(self) -> dict:
        """The wrapped backbone's fingerprint, or its config and weights."""
        if self._inner is not None:
            return self._inner.fingerprint()
        return dict(backbone=str(self.backbone_cfg),
                    encoder_sha256=state_fingerprint(self.backbone),
                    # bf16 features are not fp32 ones
                    **({'encoder_dtype': 'bf16'}
                       if self.encoder_dtype == 'bf16' else {}))


__all__ = ['RISAMVisualEncoder']
