"""SAM ViT attention through ``F.scaled_dot_product_attention``.

segment_anything's ``Attention`` materialises the full ``(B*heads) x N x N``
score matrix, adds the decomposed relative-position terms in a second full
copy and softmaxes into a third. :class:`SAMSDPAttention` computes the same
function with SDPA in its documented 4-D form: ``B x heads x N x d`` query,
key and value, and the decomposed bias (MViTv2's, as SAM uses it)

    bias[b, n, (i, j), (k, l)] = <q[b, n, i, j], R_h[i - k]>
                                 + <q[b, n, i, j], R_w[j - l]>

as a 4-D additive ``attn_mask`` in the query's dtype. The relative-position
tables ``R_h``, ``R_w`` are gathered once per forward, on the tensor's
device; the bias is built in chunks of (batch, heads) so that at most
``max_bias_bytes`` of it exist at once (a full vit_b global-attention bias
at 1024 px would be 805 MB in fp32). Parameters keep the names of
segment_anything's ``Attention`` (``qkv``, ``proj``, ``rel_pos_h``,
``rel_pos_w``), so official checkpoints load unchanged into a swapped
encoder.
"""
from typing import Iterator, Tuple

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import Attention
from torch import Tensor, nn

__all__ = ['SAMSDPAttention', 'rel_pos_table', 'swap_sam_attention']


def rel_pos_table(q_size: int, k_size: int, rel_pos: Tensor) -> Tensor:
    """``(2*max-1) x d`` table -> ``q_size x k_size x d`` relative terms.

    segment_anything's ``get_rel_pos`` (same interpolation and index), with
    the index built on ``rel_pos``'s device instead of the CPU.
    """
    max_rel_dist = int(2 * max(q_size, k_size) - 1)
    if rel_pos.shape[0] != max_rel_dist:
        rel_pos = F.interpolate(
            rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1),
            size=max_rel_dist, mode='linear')
        rel_pos = rel_pos.reshape(-1, max_rel_dist).permute(1, 0)
    dev = rel_pos.device
    q_coords = torch.arange(q_size, device=dev)[:, None] * max(
        k_size / q_size, 1.0)
    k_coords = torch.arange(k_size, device=dev)[None, :] * max(
        q_size / k_size, 1.0)
    rel = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[rel.long()]


def _chunks(batch: int, heads: int,
            items: int) -> Iterator[Tuple[slice, slice]]:
    """(batch, head) slices covering ``batch x heads`` with at most
    ``items`` (batch, head) pairs each (whole heads when possible)."""
    if items >= heads:
        step = items // heads
        for s in range(0, batch, step):
            yield slice(s, s + step), slice(None)
    else:
        for b in range(batch):
            for s in range(0, heads, items):
                yield slice(b, b + 1), slice(s, s + items)


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

    @staticmethod
    def _bias(q: Tensor, r_h: Tensor, r_w: Tensor) -> Tensor:
        """Decomposed rel-pos bias: ``B x n x N x d`` queries and tables
        ``h x h x d``, ``w x w x d`` -> ``B x n x N x N`` in q's dtype."""
        b, n, _, d = q.shape
        h, w = r_h.shape[0], r_w.shape[0]
        q = q.reshape(b, n, h, w, d)
        bias_h = torch.einsum('bnijc,ikc->bnijk', q, r_h).contiguous()
        bias_w = torch.einsum('bnijc,jlc->bnijl', q, r_w).contiguous()
        # an explicit contiguous output: the broadcast add would otherwise
        # follow einsum's strides and the final view would become a copy
        bias = q.new_empty((b, n, h, w, h, w))
        torch.add(bias_h[..., :, None], bias_w[..., None, :], out=bias)
        return bias.view(b, n, h * w, h * w)

    def forward(self, x: Tensor) -> Tensor:
        """``B x H x W x C`` -> ``B x H x W x C``."""
        b, h, w, c = x.shape
        n = h * w
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, -1)
        # each B x heads x N x d
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if not self.use_rel_pos:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            r_h = rel_pos_table(h, h, self.rel_pos_h).to(q.dtype)
            r_w = rel_pos_table(w, w, self.rel_pos_w).to(q.dtype)
            items = max(1, self.max_bias_bytes // (n * n * q.element_size()))
            outs = [F.scaled_dot_product_attention(
                q[bs, hs], k[bs, hs], v[bs, hs],
                attn_mask=self._bias(q[bs, hs], r_h, r_w))
                for bs, hs in _chunks(b, self.num_heads, items)]
            if len(outs) == 1:
                out = outs[0]
            elif items >= self.num_heads:
                out = torch.cat(outs, 0)
            else:
                per = len(outs) // b
                out = torch.cat([torch.cat(outs[i * per:(i + 1) * per], 1)
                                 for i in range(b)], 0)
        # B x heads x N x d -> B x H x W x C
        out = out.permute(0, 2, 1, 3).reshape(b, h, w, c)
        return self.proj(out)


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
