"""Positional encoding of the word features (paper Fig. 3, "Pos. Enc.")."""
from torch import Tensor, nn

from ..layers.positional_encoding import PositionTables, sincos_pos_embed_1d


class LinguisticPositionalEncoding(nn.Module):
    """Add a fixed sinusoidal encoding of each word's index to ``F_l``.

    ::

        F_l[b, j] <- F_l[b, j] + P[j]   for real words (mask True)
        F_l[b, j] unchanged             for padding

    ``P[j] = [sin(j w_0), ..., sin(j w_{C'/2-1}), cos(j w_0), ...,
    cos(j w_{C'/2-1})]`` with ``w_k = 10000^(-2k / C')`` (Vaswani et al.
    §3.5), ``j`` the token index (CLIP's start token is 0).

    What the paper says: only the caption of Fig. 3, "Pos. Enc. symbolizes
    position encodings of linguistic features". No equation gives their
    form, where they enter or how often, and no number in the paper isolates
    them.

    Our reading: a fixed encoding of each word's index, added once to the
    word features ``F_l`` where they enter the fusion neck (before ``W_l``
    of Eq. 3 and before the first block), on real words only. The fusion
    blocks (Eq. 3-5, and the ablation necks) treat the words as a set:
    permuting the words of a sentence permutes ``F_val`` and leaves
    ``F_lav`` unchanged; CLIP's own positional table acts inside the frozen
    text tower only.

    Where it is on: the paper configs (``text_pos_embed=True`` in
    ``configs/risam/_base_/models/risam_sam-vit-h.py``) and every fusion
    ablation row that replaces the MA blocks (Tab. 2 #2, Tab. 3 #5-#7), so
    those rows differ from RISAM in the fusion only. It is off by default
    and in the CPU demo config; no model has been trained with it yet.

    Why sinusoidal rather than learned (our choice): it has no parameters
    (the trained parameter counts stay those of the paper's modules), it is
    defined for every sentence length (17 words for RefCOCO, 25 for
    RefCOCO+/G-Ref, or any ``max_tokens`` of a mixed-in config) without a
    table to size or resize, and the encoding of ``j + k`` is a fixed
    linear map of that of ``j``, so the trained projections ``W_l`` can read
    word order relations.

    Args:
        channels: ``C'`` of the word features.
    """

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f'LinguisticPositionalEncoding needs an even '
                             f'number of channels, got {channels}')
        self.channels = channels
        # built once per sentence length on the words' device (no state)
        self._tables = PositionTables(
            lambda length, device: sincos_pos_embed_1d(
                length, channels, device=device))

    def forward(self, text: Tensor, mask: Tensor) -> Tensor:
        """``text``: ``B x L x C'``; ``mask``: ``B x L`` bool, True for real
        words. Returns ``B x L x C'``; padding rows are returned unchanged."""
        if text.shape[-1] != self.channels:
            raise ValueError(f'word features have {text.shape[-1]} channels, '
                             f'the encoding {self.channels}')
        pos = self._tables(text.shape[1], like=text)
        return text + pos[None] * mask[..., None].to(text.dtype)


__all__ = ['LinguisticPositionalEncoding']
