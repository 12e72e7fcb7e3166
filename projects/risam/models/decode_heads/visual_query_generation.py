"""The query of Tab. 5 row #10 "w/o ELG", generated from ``F_lav`` alone."""
import torch
from torch import Tensor, nn


def coordinate_channels(x: Tensor) -> Tensor:
    """``B x C x H x W`` -> ``B x (C + 2) x H x W``: x and y of each pixel in
    [-1, 1] appended (VLT's ``concat_coord``)."""
    b, _, h, w = x.shape
    ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    coords = torch.stack([grid_x, grid_y])[None].expand(b, -1, -1, -1)
    return torch.cat([x, coords], dim=1)


class VisualQueryGeneration(nn.Module):
    """Generate the mask query from the language-aware visual features.

    §4.5.2, row #10: "we only send language-aware visual features into the
    mask decoder, where the structure is the same as [3]". [3] is VLT, whose
    Query Generation Module makes its queries from the input rather than
    learning fixed ones: coordinates are appended to the multi-modal map,
    three 3x3 conv-BN-LeakyReLU layers and a 1x1 conv give one spatial map
    per query, each map becomes that query's vision feature, and the query
    then attends over the words (VLT's released code, ``vlt_querynet`` and
    ``lang_tf_enc``). Without ``F_val`` there are no words to attend, and
    ``F_lav`` already carries the sentence (Eq. 5), so here::

        M = Conv1x1(CBL3x3 x num_convs([F_lav; x; y]))    B x 1 x H x W
        a = softmax of M over the H W pixels
        q = sum_p a_p F_lav[p]                            B x C

    and the decoder's query token is ``F_m = token + q``: it differs between
    images and sentences, unlike a learned token that only attends itself.

    Our choices (the paper names only [3]): one query, because RISAM's
    decoder has one query token (VLT has several and a Query Balance Module
    that weights them, which one query does not need); VLT turns each map
    into a vector with a dense layer over its fixed 26 x 26 positions, which
    ties the weights to one grid size, so the map here is an attention over
    the pixels that pools ``F_lav`` at any input size; conv widths stay
    ``C + 2`` as in VLT (1,799,035 parameters at ``C = 256``).

    Args:
        channels: ``C`` of ``F_lav``.
        num_convs: 3x3 conv-BN-LeakyReLU layers before the 1x1 map (VLT: 3).
    """

    def __init__(self, *, channels: int, num_convs: int = 3) -> None:
        super().__init__()
        width = channels + 2
        layers = []
        for _ in range(num_convs):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.LeakyReLU(0.1)]
        self.convs = nn.Sequential(*layers)
        self.to_map = nn.Conv2d(width, 1, 1)

    def attention(self, lav: Tensor) -> Tensor:
        """``F_lav`` ``B x C x H x W`` -> ``a`` ``B x HW`` (sums to 1)."""
        logits = self.to_map(self.convs(coordinate_channels(lav)))
        return logits.flatten(1).softmax(dim=-1)

    def forward(self, lav: Tensor) -> Tensor:
        """``F_lav`` ``B x C x H x W`` -> ``q`` ``B x C``."""
        a = self.attention(lav)
        return torch.einsum('bp,bcp->bc', a, lav.flatten(2))


__all__ = ['VisualQueryGeneration', 'coordinate_channels']
