"""Frozen CLIP text tower returning per-token features (paper §3.1)."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import open_clip
import torch
from mmengine.model import BaseModule
from open_clip.model import _build_text_tower
from torch import Tensor, nn

from ...registry import MODELS
from ...utils.checkpoint import load_state_dict_file

_SKIP_PREFIXES = ('visual.', 'logit_scale', 'logit_bias')


def load_open_clip_text_state(path: str) -> Dict[str, Tensor]:
    """Text-tower entries of an open_clip checkpoint file, keys unchanged
    except for the container prefixes (``module.``, ``text.``).

    Accepts ``open_clip_pytorch_model.bin``/``.pt`` state dicts, training
    checkpoints (``{'state_dict': ...}``) and ``.safetensors`` files.
    """
    out = {}
    for key, value in load_state_dict_file(path).items():
        if key.startswith(_SKIP_PREFIXES):
            continue
        if key.startswith('text.'):  # CustomTextCLIP layout
            key = key[len('text.'):]
        out[key] = value
    return out


@MODELS.register_module()
class CLIPTokenEncoder(BaseModule):
    """open_clip's text transformer with its own tokenizer.

    ``encoder(texts)`` tokenises with open_clip's BPE tokenizer (vocabulary
    shipped in the package), truncated to ``max_tokens`` (17 for RefCOCO, 25
    for RefCOCO+/G-Ref, §4.2; the last kept token becomes EOT as in
    open_clip), and returns:

    - ``tokens``: ``B x L x C'`` final-layer-norm states (``L = max_tokens``),
      the word features F_l of the paper,
    - ``mask``: ``B x L`` bool, True for real tokens (SOT ... EOT).

    The causal mask makes the first ``L`` positions independent of the
    padding, so running only ``L`` positions is exact: :meth:`pool` of the
    tokens equals open_clip's ``encode_text`` on the same ids. RISAM reads
    the per-token features only, so CLIP's ``text_projection`` (which only
    feeds the pooled sentence feature) stays frozen even when the tower
    trains (Tab. 9), and no parameter goes unused in training.

    Args:
        model_name: an open_clip model name (``'ViT-B-16'`` width 512,
            ``'ViT-L-14'`` width 768, ``'*-quickgelu'`` for OpenAI weights).
        model_cfg: instead of a name, an open_clip model config dict
            (``embed_dim``, ``text_cfg``, optional ``quick_gelu``); used by
            the tiny test config.
        pretrained: path of an open_clip checkpoint file, loaded strictly.
            With ``frozen``, a RISAM checkpoint may then omit ``text.*``.
        max_tokens: context length after truncation.
        frozen: eval mode and no gradients (paper); False trains it (Tab. 9).
    """

    def __init__(self,
                 *,
                 model_name: str = 'ViT-B-16',
                 model_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 max_tokens: int = 17,
                 frozen: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if model_cfg is None:
            model_cfg = open_clip.get_model_config(model_name)
            if model_cfg is None:
                raise ValueError(f'unknown open_clip model {model_name!r}')
            tokenizer = open_clip.get_tokenizer(model_name)
        else:
            tokenizer = open_clip.SimpleTokenizer()
        model_cfg = copy.deepcopy(model_cfg)
        self.text = _build_text_tower(
            model_cfg['embed_dim'], model_cfg['text_cfg'],
            quick_gelu=model_cfg.get('quick_gelu', False))
        if getattr(self.text, 'cls_emb', None) is not None:
            raise ValueError('text towers with a CLS embedding (CoCa) are '
                             'not supported')
        if max_tokens > self.text.context_length:
            raise ValueError('max_tokens exceeds the context length')
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.embed_dim = model_cfg['embed_dim']
        if pretrained is not None:
            self.text.load_state_dict(
                load_open_clip_text_state(pretrained), strict=True)
        self.frozen = frozen
        if frozen:
            self.text.requires_grad_(False)
            self.text.eval()
        elif self.text.text_projection is not None:
            self.text.text_projection.requires_grad_(False)
        # frozen weights read from ``pretrained`` here: a RISAM checkpoint
        # may leave them out (see projects.risam.utils.checkpoint)
        self.frozen_pretrained_prefixes: Tuple[str, ...] = (
            ('text.', ) if frozen and pretrained is not None else ())

    @property
    def width(self) -> int:
        """``C'``, channels of the per-token features."""
        return self.text.width

    def train(self, mode: bool = True) -> 'CLIPTokenEncoder':
        """Keep a frozen tower in eval mode whatever ``mode`` is."""
        super().train(mode)
        if self.frozen:
            self.text.eval()
        return self

    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """``list[str]`` -> ``B x L`` token ids (``L = max_tokens``) on the
        model's device. The tokenizer runs on the host; the ids cross to a
        GPU from pinned memory without blocking, so the host goes on
        queueing the step's kernels."""
        ids = self.tokenizer(list(texts), context_length=self.max_tokens)
        device = self.text.token_embedding.weight.device
        if device.type == 'cuda':
            ids = ids.pin_memory()
        return ids.to(device, non_blocking=True)

    def encode_ids(self, ids: Tensor) -> Tuple[Tensor, Tensor]:
        """``B x L`` token ids -> ``(tokens B x L x C', mask B x L)``."""
        text = self.text
        length = ids.shape[1]
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            x = text.token_embedding(ids)
            x = x + text.positional_embedding[:length]
            attn_mask = text.attn_mask
            if attn_mask is not None:
                attn_mask = attn_mask[:length, :length]
            x = text.transformer(x, attn_mask=attn_mask)
            tokens = text.ln_final(x)
        positions = torch.arange(length, device=ids.device)
        mask = positions[None] <= self._eot_index(ids)[:, None]
        return tokens, mask

    def _eot_index(self, ids: Tensor) -> Tensor:
        if self.text.pool_type == 'eos':
            return (ids == self.text.eos_id).int().argmax(-1)
        return ids.argmax(-1)  # CLIP's 'argmax': EOT has the largest id

    def pool(self, tokens: Tensor, ids: Tensor) -> Tensor:
        """open_clip's sentence feature ``B x D`` (``encode_text``) from the
        per-token features of :meth:`encode_ids`."""
        text = self.text
        if text.pool_type in ('argmax', 'eos'):
            pooled = tokens[torch.arange(len(ids)), self._eot_index(ids)]
        elif text.pool_type == 'first':
            pooled = tokens[:, 0]
        else:
            pooled = tokens[:, -1]
        proj = text.text_projection
        if isinstance(proj, nn.Linear):
            return proj(pooled)
        return pooled @ proj if proj is not None else pooled

    def forward(self, texts: Sequence[str]) -> Tuple[Tensor, Tensor]:
        """``list[str]`` -> ``(tokens B x L x C', mask B x L)``."""
        return self.encode_ids(self.tokenize(texts))


__all__: List[str] = ['CLIPTokenEncoder', 'load_open_clip_text_state']
