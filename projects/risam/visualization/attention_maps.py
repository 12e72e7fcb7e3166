"""Fig. 7: the attention maps of one Mutual-Aware Attention block.

The maps come from the model's own forward: a forward hook on the block's
hook point ``attention_weights``
(:class:`~projects.risam.models.necks.mutual_aware_attention.AttentionTap`)
records ``A`` of Eq. 3 after the Eq. 4 mask and the pairs that mask keeps;
nothing here recomputes the equations.

- Vision-guided attention (Fig. 7(a)): row ``i`` of ``A`` is pixel ``i``'s
  weights over the words; :meth:`AttentionMaps.region_weights` averages the
  rows over the pixels of a box.
- Language-guided attention (Fig. 7(b)): column ``j`` of ``A`` (what Eq. 5's
  ``A^T`` gathers for word ``j``) is word ``j``'s map over the image.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import Tensor

from ..apis.inference import init_refer_model, prepare_image, segment_visual
from ..models.segmentors.risam import resize_to_original

#: the fusion neck whose blocks record attention maps
MA_NECK = 'MutualAwareFusion'

#: ``(x, y, w, h)`` in original image pixels
Box = Tuple[int, int, int, int]


@dataclass
class AttentionMaps:
    """The attention of one MA block for one image and one sentence.

    ``L`` counts the real tokens (start and end tokens included), ``h x w``
    is the fused visual grid, ``H x W`` the original image.

    Attributes:
        sentence: the sentence.
        words: the ``L`` tokens as text.
        block: the MA block, 1-based.
        tau: the block's Eq. 4 threshold.
        attention: ``h x w x L``, ``A`` of Eq. 3 after the Eq. 4 mask
            (removed pairs are 0; each pixel's weights sum to 1).
        allowed: ``h x w x L`` bool, the pairs Eq. 4 keeps.
        word_maps: ``L x H x W``, each word's column of ``A`` resized to the
            image (:func:`~projects.risam.models.segmentors.risam.resize_to_original`,
            as the mask logits); at every pixel the words still sum to 1.
        removed: ``L x H x W`` bool, where the pair (pixel, word) is removed
            by the Eq. 4 mask (the resized ``~allowed`` above one half).
        mask: ``H x W`` uint8, the model's predicted mask.
    """

    sentence: str
    words: List[str]
    block: int
    tau: float
    attention: np.ndarray
    allowed: np.ndarray
    word_maps: np.ndarray
    removed: np.ndarray
    mask: np.ndarray

    def full_box(self) -> Box:
        """The whole image as a box."""
        return (0, 0, self.mask.shape[1], self.mask.shape[0])

    def region_weights(self, box: Optional[Box] = None
                       ) -> Tuple[np.ndarray, np.ndarray]:
        """Vision-guided weights over the words averaged over the pixels of
        ``box`` (default: the image), Fig. 7(a3).

        Returns:
            ``(weights L, removed_share L)``: the mean of each word's
            weight over the box (they sum to 1), and the share of the box's
            pixels whose pair with the word the Eq. 4 mask removed.
        """
        x, y, w, h = check_box(box or self.full_box(), self.mask.shape)
        weights = self.word_maps[:, y:y + h, x:x + w].mean(axis=(1, 2))
        removed = self.removed[:, y:y + h, x:x + w].mean(axis=(1, 2))
        return weights, removed


def check_box(box: Sequence[int], shape: Tuple[int, int]) -> Box:
    """``(x, y, w, h)`` clipped to an image of ``shape`` (H, W); a box
    with no pixel inside the image is a ValueError."""
    x, y, w, h = (int(v) for v in box)
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, shape[1]), min(y + h, shape[0])
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f'box {tuple(box)} (x, y, w, h) has no pixel in '
                         f'the {shape[1]} x {shape[0]} image')
    return x0, y0, x1 - x0, y1 - y0


def parse_box(text: str) -> Box:
    """``'x,y,w,h'`` -> a box; anything else is a one-line ValueError."""
    try:
        x, y, w, h = (int(v) for v in text.split(','))
    except ValueError:
        raise ValueError(f'--box must be x,y,w,h in pixels, got {text!r}')
    return x, y, w, h


def neck_type(model: Union[torch.nn.Module, dict]) -> str:
    """The class name of the fusion neck of a model, or of a model config
    (``cfg.model``; its registry scope dropped)."""
    if isinstance(model, torch.nn.Module):
        return type(getattr(model, 'neck', None)).__name__
    neck = model.get('neck') or {}
    return str(neck.get('type', None)).split('.')[-1]


def require_ma_neck(model: Union[torch.nn.Module, dict]) -> None:
    """A one-line ValueError naming the neck unless the model's (or the
    model config's) neck is ``risam.MutualAwareFusion``."""
    name = neck_type(model)
    if name != MA_NECK:
        raise ValueError(f'attention maps need the risam.{MA_NECK} neck; '
                         f'this model\'s neck is {name}')


def init_attention_model(config: str, checkpoint: str, device: str = 'cpu',
                         cfg_options: Optional[dict] = None
                         ) -> torch.nn.Module:
    """The attention tools' model: the config (with ``cfg_options``
    merged) refused in one line unless its neck is
    ``risam.MutualAwareFusion``, before the checkpoint is read; then
    :func:`~projects.risam.apis.init_refer_model`. A missing file is a
    FileNotFoundError naming it."""
    for path in (config, checkpoint):
        if not osp.isfile(path):
            raise FileNotFoundError(f'file not found: {path}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    require_ma_neck(cfg.model)
    return init_refer_model(cfg, checkpoint, device)


def token_words(model: torch.nn.Module, sentence: str) -> List[str]:
    """The sentence's real tokens as text (start and end tokens too)."""
    encoder = model.text_encoder
    ids = encoder.tokenize([sentence])
    _, mask = encoder.encode_ids(ids)
    real = ids[0][mask[0]].tolist()
    return [encoder.tokenizer.decode([i]).strip() for i in real]


def resolve_block(model: torch.nn.Module, block: Optional[int]) -> int:
    """The 1-based block number (default: the last)."""
    n = len(model.neck.blocks)
    if block is None:
        return n
    if not 1 <= block <= n:
        raise ValueError(f'--block must be 1..{n} (the neck has {n} MA '
                         f'blocks), got {block}')
    return block


@torch.no_grad()
def record_attention(model: torch.nn.Module,
                     img: Union[str, np.ndarray],
                     sentences: Sequence[str],
                     blocks: Optional[Sequence[int]] = None
                     ) -> Dict[int, List[AttentionMaps]]:
    """Run the model once on ``img`` for all ``sentences`` (the image is
    encoded once) and record the attention of every block in ``blocks``
    (1-based; default the last) through its hook point.

    Returns:
        ``{block: [maps of each sentence]}``.
    """
    require_ma_neck(model)
    if not sentences:
        raise ValueError('need at least one sentence')
    blocks = [resolve_block(model, b)
              for b in (blocks if blocks is not None else [None])]
    records: Dict[int, Tuple[Tensor, Tensor]] = {}
    handles = [
        model.neck.blocks[b - 1].attention_weights.register_forward_hook(
            lambda module, inputs, output, b=b: records.__setitem__(b, inputs))
        for b in blocks]
    try:
        inputs, meta = prepare_image(model, img)
        visual = model.extract_visual(inputs)
        samples = segment_visual(model, visual, meta, list(sentences))
    finally:
        for handle in handles:
            handle.remove()
    fused = visual if isinstance(visual, Tensor) else \
        visual[model.neck.in_index]
    h, w = fused.shape[-2:]
    out: Dict[int, List[AttentionMaps]] = {}
    for b in blocks:
        attn_all, allowed_all = records[b]
        out[b] = []
        for i, (sentence, sample) in enumerate(zip(sentences, samples)):
            words = token_words(model, sentence)
            real = len(words)
            attn = attn_all[i, :, :real].float().reshape(h, w, real)
            allowed = allowed_all[i, :, :real].reshape(h, w, real)
            word_maps = resize_to_original(attn.permute(2, 0, 1)[None], meta)
            removed = resize_to_original(
                (~allowed).permute(2, 0, 1)[None].float(), meta) > 0.5
            out[b].append(AttentionMaps(
                sentence=sentence, words=words, block=b,
                tau=float(model.neck.blocks[b - 1].tau),
                attention=attn.cpu().numpy(), allowed=allowed.cpu().numpy(),
                word_maps=word_maps.cpu().numpy(),
                removed=removed.cpu().numpy(),
                mask=sample.pred_sem_seg.data[0].cpu().numpy().astype(
                    np.uint8)))
    return out


def attention_maps(model: torch.nn.Module,
                   img: Union[str, np.ndarray],
                   sentence: str,
                   block: Optional[int] = None) -> AttentionMaps:
    """Run the model on ``img`` and ``sentence`` and record block
    ``block``'s attention (1-based; default the last); see
    :func:`record_attention`.

    Args:
        model: a RISAM model (:func:`~projects.risam.apis.init_refer_model`)
            whose neck is ``risam.MutualAwareFusion``.
        img: image path or BGR ``H x W x 3`` uint8 array.
        sentence: the referring expression.
        block: which MA block.
    """
    maps = record_attention(model, img, [sentence], [block])
    return next(iter(maps.values()))[0]
