"""Fixed sine-cosine positional encodings (Transformer / MAE / DETR form)."""
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import Tensor


def _float64_on(device: Optional[torch.device]) -> torch.dtype:
    """float64 where the device has it (every device but Apple's MPS)."""
    return torch.float32 if device is not None and torch.device(
        device).type == 'mps' else torch.float64


def _sincos(pos: Tensor, dim: int) -> Tensor:
    """``N`` positions -> ``N x dim`` as ``[sin(p w_k), cos(p w_k)]`` with
    ``w_k = 10000^(-k / (dim / 2))`` (float64 inside, float32 out), on
    ``pos``'s device."""
    half = dim // 2
    dtype = _float64_on(pos.device)
    omega = 1.0 / 10000**(torch.arange(half, dtype=dtype, device=pos.device)
                          / half)
    out = pos.to(dtype)[:, None] * omega
    return torch.cat([out.sin(), out.cos()], -1)


def sincos_pos_embed_1d(length: int, dim: int, *,
                        device: Optional[torch.device] = None) -> Tensor:
    """Sinusoidal encoding of positions ``0 .. length - 1``, ``length x dim``
    (Vaswani et al., "Attention is all you need", §3.5), computed on
    ``device`` (default: the host)."""
    if dim % 2:
        raise ValueError('a 1-D sincos position embedding needs an even dim')
    return _sincos(torch.arange(length, device=device), dim).float()


def sincos_pos_embed_2d(height: int, width: int, dim: int, *,
                        device: Optional[torch.device] = None) -> Tensor:
    """Fixed 2-D sine-cosine position embedding, ``1 x H x W x dim``: the
    first half of the channels encodes the row, the second half the column
    (each as :func:`sincos_pos_embed_1d` with ``dim / 2`` channels),
    computed on ``device`` (default: the host)."""
    if dim % 4:
        raise ValueError('sincos position embedding needs dim % 4 == 0')
    ys, xs = torch.meshgrid(torch.arange(height, device=device),
                            torch.arange(width, device=device),
                            indexing='ij')
    emb = torch.cat([_sincos(ys.reshape(-1), dim // 2),
                     _sincos(xs.reshape(-1), dim // 2)], -1)
    return emb.float().reshape(1, height, width, dim)


class PositionTables:
    """Fixed position tables, each built once per (shape, device, dtype) on
    its device and kept: a forward pass then neither recomputes a table nor
    copies one from the host (a blocking copy on a GPU). The tables are not
    module state, so checkpoints do not hold them.

    Args:
        build: ``build(*shape, device=...)`` -> the fp32 table, e.g.
            :func:`sincos_pos_embed_1d`.
    """

    def __init__(self, build: Callable[..., Tensor]) -> None:
        self.build = build
        self._tables: Dict[Tuple, Tensor] = {}

    def __call__(self, *shape: int, like: Tensor) -> Tensor:
        """The table of ``shape`` on ``like``'s device, in its dtype."""
        key = (shape, like.device, like.dtype)
        table = self._tables.get(key)
        if table is None:
            # a plain tensor even when first asked for under inference_mode,
            # so that a later training step may use it
            with torch.inference_mode(False), torch.no_grad():
                table = self.build(*shape, device=like.device).to(like.dtype)
            self._tables[key] = table
        return table

    def __len__(self) -> int:
        return len(self._tables)


__all__ = ['PositionTables', 'sincos_pos_embed_1d', 'sincos_pos_embed_2d']
