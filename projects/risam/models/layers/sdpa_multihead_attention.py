"""``nn.MultiheadAttention`` that always attends through SDPA."""
from typing import Optional, Tuple

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
    """

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
        q, k, v = (x.transpose(0, 1) for x in (query, key, value))
        out, _ = F.multi_head_attention_forward(
            q, k, v, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn,
            self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask,
            need_weights=False, attn_mask=attn_mask, is_causal=is_causal)
        return out.transpose(0, 1), None
