"""Fixed sine-cosine positional encodings (Transformer / MAE / DETR form)."""
import torch
from torch import Tensor


def _sincos(pos: Tensor, dim: int) -> Tensor:
    """``N`` positions -> ``N x dim`` as ``[sin(p w_k), cos(p w_k)]`` with
    ``w_k = 10000^(-k / (dim / 2))`` (float64 inside, float32 out)."""
    half = dim // 2
    omega = 1.0 / 10000**(torch.arange(half, dtype=torch.float64) / half)
    out = pos.to(torch.float64)[:, None] * omega
    return torch.cat([out.sin(), out.cos()], -1)


def sincos_pos_embed_1d(length: int, dim: int) -> Tensor:
    """Sinusoidal encoding of positions ``0 .. length - 1``, ``length x dim``
    (Vaswani et al., "Attention is all you need", §3.5)."""
    if dim % 2:
        raise ValueError('a 1-D sincos position embedding needs an even dim')
    return _sincos(torch.arange(length), dim).float()


def sincos_pos_embed_2d(height: int, width: int, dim: int) -> Tensor:
    """Fixed 2-D sine-cosine position embedding, ``1 x H x W x dim``: the
    first half of the channels encodes the row, the second half the column
    (each as :func:`sincos_pos_embed_1d` with ``dim / 2`` channels)."""
    if dim % 4:
        raise ValueError('sincos position embedding needs dim % 4 == 0')
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width),
                            indexing='ij')
    emb = torch.cat([_sincos(ys.reshape(-1), dim // 2),
                     _sincos(xs.reshape(-1), dim // 2)], -1)
    return emb.float().reshape(1, height, width, dim)


__all__ = ['sincos_pos_embed_1d', 'sincos_pos_embed_2d']
