# Fusion necks of the rows that replace the Mutual-Aware Attention blocks,
# one copy for every dataset of a row. A leaf lists this file beside its
# paper config (the names differ from every key there) and picks its neck:
#   model = dict(neck={{_base_.concat_conv_neck}})
# Each keeps the reference row's linguistic positional encoding
# (text_pos_embed=True, as the paper configs' MutualAwareFusion), so a row
# differs from RISAM in the fusion mechanism only, not also in word order.

# Tab. 2 #2 "r. MA": conv layers over the concatenated visual and (tiled)
# sentence features.
concat_conv_neck = dict(
    _delete_=True,
    type='risam.ConcatConvFusion',
    in_channels=256,
    text_channels=512,
    channels=256,
    num_convs=2,
    text_pos_embed=True)

# Tab. 3 #5 "TE": ReSTR-style transformer encoder over the concatenated
# visual and word tokens.
transformer_encoder_neck = dict(
    _delete_=True,
    type='risam.TransformerEncoderFusion',
    in_channels=256,
    text_channels=512,
    channels=256,
    num_layers=2,
    num_heads=8,
    feedforward_channels=1024,
    text_pos_embed=True)

# Tab. 3 #6 "SDF": VLT-style Spatial Dynamic Fusion (vision-guided
# attention only). Without Eq. 4's tau mask: VLT has none and the paper does
# not say (stated in ablations/README.md).
spatial_dynamic_neck = dict(
    _delete_=True,
    type='risam.SpatialDynamicFusion',
    in_channels=256,
    text_channels=512,
    channels=256,
    num_blocks=2,
    use_attn_mask=False,
    text_pos_embed=True)

# Tab. 3 #7 "BCM": BRINet-style serial bidirectional cross-modal module
# (vision-guided linguistic attention, then language-guided visual
# attention, in BRINet's order).
bidirectional_cross_modal_neck = dict(
    _delete_=True,
    type='risam.BidirectionalCrossModalFusion',
    in_channels=256,
    text_channels=512,
    channels=256,
    num_blocks=2,
    text_pos_embed=True)
