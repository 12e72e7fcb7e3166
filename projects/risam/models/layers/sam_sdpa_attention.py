"""SAM ViT attention through ``F.scaled_dot_product_attention``.

segment_anything's ``Attention`` materialises the full ``(B*heads) x N x N``
score matrix, adds the decomposed relative-position terms in a second full
copy and softmaxes into a third. :class:`SAMSDPAttention` computes the same
function with the fused SDPA kernel (flash on CPU and GPU accepts an
additive ``attn_mask``); the decomposed bias (Eq. of MViTv2 used by SAM)

    bias[b, (i, j), (k, l)] = <q[b, i, j], R_h[i - k]> + <q[b, i, j], R_w[j - l]>

is built as the additive mask in chunks of ``(batch*heads)`` so that at most
``max_bias_bytes`` of bias exist at once (a full vit_b global-attention bias
at 1024 px would be 805 MB). Parameters keep the names of segment_anything's
``Attention`` (``qkv``, ``proj``, ``rel_pos_h``, ``rel_pos_w``), so official
checkpoints load unchanged into a swapped encoder.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import Attention, get_rel_pos
from torch import Tensor, nn

__all__ = ['SAMSDPAttention', 'swap_sam_attention']


class SAMSDPAttention(nn.Module):
    """Multi-head attention with decomposed relative positions via SDPA.

    Args:
        qkv: the ``C -> 3C`` projection (shared with the replaced module).
        proj: the ``C -> C`` output projection.
        num_heads: number of heads.
        rel_pos_h, rel_pos_w: ``(2*size-1) x head_dim`` tables or None.
        max_bias_bytes: memory budget of one chunk of the additive bias.
    """

    def __init__(self,
                 *,
                 qkv: nn.Linear,
                 proj: nn.Linear,
                 num_heads: int,
                 rel_pos_h: nn.Parameter | None = None,
                 rel_pos_w: nn.Parameter | None = None,
                 max_bias_bytes: int = 64 * 2**20) -> None:
        super().__init__()
        self.qkv = qkv
        self.proj = proj
        self.num_heads = num_heads
        self.use_rel_pos = rel_pos_h is not None
        if self.use_rel_pos:
            self.rel_pos_h = rel_pos_h
            self.rel_pos_w = rel_pos_w
        self.max_bias_bytes = max_bias_bytes

    @classmethod
    def from_sam(cls, attn: Attention, **kwargs) -> 'SAMSDPAttention':
        """Wrap the parameters of a segment_anything ``Attention``."""
        return cls(qkv=attn.qkv, proj=attn.proj, num_heads=attn.num_heads,
                   rel_pos_h=getattr(attn, 'rel_pos_h', None)
                   if attn.use_rel_pos else None,
                   rel_pos_w=getattr(attn, 'rel_pos_w', None)
                   if attn.use_rel_pos else None, **kwargs)

    def _bias(self, q: Tensor, size: Tuple[int, int]) -> Tensor:
        """Decomposed rel-pos bias, ``G x N x d`` queries -> ``G x N x N``."""
        h, w = size
        r_h = get_rel_pos(h, h, self.rel_pos_h).to(q.dtype)  # h x h x d
        r_w = get_rel_pos(w, w, self.rel_pos_w).to(q.dtype)  # w x w x d
        q = q.reshape(q.shape[0], h, w, -1)
        bias_h = torch.einsum('gijc,ikc->gijk', q, r_h)  # G x h x w x h
        bias_w = torch.einsum('gijc,jlc->gijl', q, r_w)  # G x h x w x w
        bias = bias_h[..., :, None] + bias_w[..., None, :]
        return bias.reshape(q.shape[0], h * w, h * w)

    def forward(self, x: Tensor) -> Tensor:
        """``B x H x W x C`` -> ``B x H x W x C``."""
        b, h, w, c = x.shape
        n = h * w
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).reshape(
            3, b * self.num_heads, n, -1).unbind(0)  # each G x N x d
        if not self.use_rel_pos:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            per_item = n * n * q.element_size()
            step = max(1, self.max_bias_bytes // per_item)
            outs = []
            for s in range(0, q.shape[0], step):
                sl = slice(s, s + step)
                outs.append(F.scaled_dot_product_attention(
                    q[sl], k[sl], v[sl],
                    attn_mask=self._bias(q[sl], (h, w))))
            out = torch.cat(outs) if len(outs) > 1 else outs[0]
        out = out.view(b, self.num_heads, h, w, -1).permute(0, 2, 3, 1, 4)
        return self.proj(out.reshape(b, h, w, c))


def swap_sam_attention(encoder: nn.Module, **kwargs) -> int:
    """Replace every block's segment_anything ``Attention`` in place by a
    :class:`SAMSDPAttention` sharing its parameters; returns how many.

    State-dict keys are unchanged (``blocks.i.attn.qkv.weight`` ...).
    """
    count = 0
    for block in getattr(encoder, 'blocks', []):
        if isinstance(block.attn, Attention):
            block.attn = SAMSDPAttention.from_sam(block.attn, **kwargs)
            count += 1
    return count
