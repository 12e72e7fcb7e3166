"""Shared skeleton of the fusion necks that stack (visual, words) blocks."""
from typing import Callable, Optional, Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn

from .linguistic_positional_encoding import LinguisticPositionalEncoding

# block_factory(visual_channels=..., text_channels=..., channels=...) -> block
BlockFactory = Callable[..., nn.Module]


class WordFusionNeck(BaseModule):
    """What every fusion neck does before it fuses: pick the backbone
    output ``in_index`` when given a tuple, and add Fig. 3's
    :class:`LinguisticPositionalEncoding` (sinusoidal) to the real words
    when ``text_pos_embed`` is set, so the fusion sees word order; padding
    stays masked.

    Args:
        text_channels: ``C'`` of the word features.
        in_index: which backbone output to fuse when given a tuple.
        text_pos_embed: add the linguistic positional encoding.
    """

    def __init__(self, *, text_channels: int, in_index: int,
                 text_pos_embed: bool,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_index = in_index
        self.text_pos_embed = (
            LinguisticPositionalEncoding(channels=text_channels)
            if text_pos_embed else None)

    def select_inputs(self, visual: Tensor | Sequence[Tensor], text: Tensor,
                      mask: Tensor) -> Tuple[Tensor, Tensor]:
        """The visual map to fuse and the words, positions added."""
        if not isinstance(visual, Tensor):
            visual = visual[self.in_index]
        if self.text_pos_embed is not None:
            text = self.text_pos_embed(text, mask.bool())
        return visual, text


class BlockStackFusion(WordFusionNeck):
    """``num_blocks`` sequential blocks mapping ``(F_v, F_l, mask)`` to
    ``(F_lav, F_val)``; block ``k + 1`` takes block ``k``'s outputs.

    Subclasses (MA, SDF, BCM) only choose the block and own the defaults
    (every argument here is required). The first block sees ``C_v`` /
    ``C'`` input channels, later ones ``C``.

    Args:
        block_factory: builds one block from ``visual_channels``,
            ``text_channels`` and ``channels``.
        in_channels: ``C_v`` of the visual map(s) from the backbone.
        text_channels: ``C'`` of the word features.
        channels: ``C`` of the fused features.
        num_blocks: number of stacked blocks.
        in_index: which backbone output to fuse when given a tuple.
        text_pos_embed: add :class:`LinguisticPositionalEncoding` (Fig. 3,
            sinusoidal) to the real words before the first block, so the
            fusion sees word order; padding stays masked. Without it the
            blocks treat a sentence as a set of words.
    """

    def __init__(self,
                 *,
                 block_factory: BlockFactory,
                 in_channels: int,
                 text_channels: int,
                 channels: int,
                 num_blocks: int,
                 in_index: int,
                 text_pos_embed: bool,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(text_channels=text_channels, in_index=in_index,
                         text_pos_embed=text_pos_embed, init_cfg=init_cfg)
        self.channels = channels
        self.blocks = nn.ModuleList(
            block_factory(
                visual_channels=in_channels if i == 0 else channels,
                text_channels=text_channels if i == 0 else channels,
                channels=channels) for i in range(num_blocks))

    def forward(self, visual: Tensor | Sequence[Tensor], text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Fuse a visual map with word features.

        Args:
            visual: ``B x C_v x H x W`` (or a tuple of them; ``in_index``).
            text: ``B x L x C'`` word features.
            mask: ``B x L`` bool, True for real words.

        Returns:
            ``F_lav`` as ``B x C x H x W`` and ``F_val`` as ``B x L x C``.
        """
        visual, text = self.select_inputs(visual, text, mask)
        b, _, h, w = visual.shape
        lav, val = visual.flatten(2).transpose(1, 2), text
        for block in self.blocks:
            lav, val = block(lav, val, mask)
        return lav.transpose(1, 2).reshape(b, self.channels, h, w), val


class ProjectedBlock(nn.Module):
    """The projections and norms a fusion block starts from (Eq. 3's
    ``Z_v = F_v W_v``, ``Z_l = F_l W_l``, Eq. 5's layer norms); subclasses
    write ``forward``.

    Args:
        visual_channels: ``C_v`` of ``F_v``.
        text_channels: ``C'`` of ``F_l``.
        channels: ``C`` of ``Z_v``, ``Z_l`` and the outputs.
    """

    def __init__(self, *, visual_channels: int, text_channels: int,
                 channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.visual_proj = nn.Linear(visual_channels, channels, bias=False)
        self.text_proj = nn.Linear(text_channels, channels, bias=False)
        self.visual_norm = nn.LayerNorm(channels)
        self.text_norm = nn.LayerNorm(channels)


class FixedBlockStackFusion(BlockStackFusion):
    """A :class:`BlockStackFusion` of the subclass's ``block_type``, with the
    MA stack's defaults: two blocks, ``C = 256``, the last backbone output,
    no linguistic positional encoding unless asked (the paper configs ask:
    the MA row and the fusion rows of Tab. 2-3). The arguments are
    :class:`BlockStackFusion`'s but ``block_factory``.
    """

    #: the block class, built as ``block_type(visual_channels=...,
    #: text_channels=..., channels=...)``
    block_type: BlockFactory

    def __init__(self,
                 *,
                 in_channels: int,
                 text_channels: int,
                 channels: int = 256,
                 num_blocks: int = 2,
                 in_index: int = -1,
                 text_pos_embed: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            block_factory=type(self).block_type, in_channels=in_channels,
            text_channels=text_channels, channels=channels,
            num_blocks=num_blocks, in_index=in_index,
            text_pos_embed=text_pos_embed, init_cfg=init_cfg)
