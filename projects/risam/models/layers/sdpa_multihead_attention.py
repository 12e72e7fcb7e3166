"""``nn.MultiheadAttention`` that always attends through SDPA."""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['SDPAMultiheadAttention']


class SDPAMultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` (batch first) without its inference fast
    path.

    In eval mode without autograd, ``nn.MultiheadAttention`` runs plain
    self-attention (query, key and value the same tensor) through the fused
    ``torch._native_multi_head_attention``, which materialises the
    ``heads x L x L`` weights with ``bmm`` and ``softmax``. For the
    Mutual-Aware Mask Decoder's Eq. 6 over SAM's 64 x 64 visual tokens that
    is ~0.9 s of a ~1.1 s further sentence on 2 CPU cores, against ~0.16 s
    per layer for the flash kernel of ``F.scaled_dot_product_attention``.
    This class always calls ``F.multi_head_attention_forward`` (the path
    that training and tracing take already), which attends through SDPA.

    Parameters, state-dict keys and results (within fp32 rounding) are those
    of ``nn.MultiheadAttention``; ``need_weights=True`` falls back to it.

    In an ONNX export, SDPA is lowered to ``MatMul``/``Softmax`` that hold
    the whole ``N x heads x L x S`` weights at once: for Eq. 6 over the
    64 x 64 tokens of a 1024 px input, 0.5 GiB per sentence and layer. The
    export therefore attends in blocks of queries (:meth:`_attend_in_blocks`)
    whose weights stay within :attr:`export_block_bytes` per sentence, so
    the exported graph's attention memory is bounded; eager runs are
    unchanged.
    """

    #: bytes of attention weights per sentence and query block in an
    #: exported graph (fp32); a block has at least one query. 16 MiB: at
    #: 1024 px with 7 sentences the prompt decoder under onnxruntime peaked
    #: at 420 MiB (7,592 MiB in one block; 1,156 MiB with 64 MiB blocks),
    #: and stayed faster than eager PyTorch (docs/speed.md)
    export_block_bytes: int = 16 * 2**20

    def __init__(self, embed_dim: int, num_heads: int, **kwargs) -> None:
        kwargs.setdefault('batch_first', True)
        if not kwargs['batch_first']:
            raise ValueError('SDPAMultiheadAttention is batch first')
        if kwargs.get('kdim') not in (None, embed_dim) or kwargs.get(
                'vdim') not in (None, embed_dim):
            raise ValueError('SDPAMultiheadAttention needs kdim = vdim = '
                             'embed_dim')
        super().__init__(embed_dim, num_heads, **kwargs)

    def forward(self,
                query: Tensor,
                key: Tensor,
                value: Tensor,
                key_padding_mask: Optional[Tensor] = None,
                need_weights: bool = True,
                attn_mask: Optional[Tensor] = None,
                average_attn_weights: bool = True,
                is_causal: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
        if need_weights or query.dim() != 3:
            return super().forward(
                query, key, value, key_padding_mask=key_padding_mask,
                need_weights=need_weights, attn_mask=attn_mask,
                average_attn_weights=average_attn_weights,
                is_causal=is_causal)
        if torch.onnx.is_in_onnx_export() and attn_mask is None and not (
                is_causal or self.bias_k is not None or self.add_zero_attn):
            return self._attend_in_blocks(query, key, value,
                                          key_padding_mask), None
        q, k, v = (x.transpose(0, 1) for x in (query, key, value))
        out, _ = F.multi_head_attention_forward(
            q, k, v, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn,
            self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask,
            need_weights=False, attn_mask=attn_mask, is_causal=is_causal)
        return out.transpose(0, 1), None

    def _attend_in_blocks(self, query: Tensor, key: Tensor, value: Tensor,
                          key_padding_mask: Optional[Tensor]) -> Tensor:
        """``F.multi_head_attention_forward`` at eval, written out with the
        queries taken in blocks of at most ``export_block_bytes`` of
        weights per sentence (a static split: ``L`` and ``S`` are fixed by
        the exported feature size)."""
        n, length, dim = query.shape
        keys = key.shape[1]
        heads, d = self.num_heads, dim // self.num_heads
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = (self.in_proj_bias.chunk(3)
                         if self.in_proj_bias is not None else (None, ) * 3)

        def split(x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return F.linear(x, w, b).view(n, -1, heads, d).transpose(1, 2)

        q = split(query, w_q, b_q) / math.sqrt(d)
        k, v = split(key, w_k, b_k), split(value, w_v, b_v)
        bias = None
        if key_padding_mask is not None:  # True = padding, as in torch
            bias = torch.zeros(n, 1, 1, keys, dtype=q.dtype).masked_fill(
                key_padding_mask.view(n, 1, 1, keys), float('-inf'))
        block = max(1, self.export_block_bytes //
                    (heads * keys * q.element_size()))
        outs = []
        for start in range(0, length, block):
            scores = q[:, :, start:start + block] @ k.transpose(-2, -1)
            if bias is not None:
                scores = scores + bias
            outs.append(scores.softmax(-1) @ v)
        out = torch.cat(outs, 2) if len(outs) > 1 else outs[0]
        out = out.transpose(1, 2).reshape(n, length, dim)
        return self.out_proj(out)
