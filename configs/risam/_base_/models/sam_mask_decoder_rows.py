# Model parts of the rows that use SAM's own mask decoder, one copy for every
# dataset of a row. A leaf lists this file beside its paper config (the
# names differ from every key there) and picks its part:
#   Tab. 2 #3 "r. DE":  model = dict(decode_head={{_base_.sam_mask_decoder_head}})
#   Tab. 11 "SAM":      model = {{_base_.sam_baseline_model}}

# SAM's mask decoder, pretrained from the SAM ViT-H checkpoint, in place of
# the Mutual-Aware Mask Decoder; F_val's real words are its sparse prompt.
sam_mask_decoder_head = dict(
    _delete_=True,
    type='risam.SAMMaskDecoderHead',
    in_channels=256,
    num_heads=8,
    depth=2,
    mlp_dim=2048,
    checkpoint='checkpoints/sam_vit_h_4b8939.pth',
    loss_decode=dict(
        type='risam.RISAMFocalDiceLoss',
        focal_weight=0.5,
        dice_weight=0.5,
        gamma=2.0,
        ignore_index=255))

# Tab. 11 "SAM": SAM's whole image encoder, neck included, frozen; no FE and
# no MA blocks; a linear text projection prompts SAM's mask decoder.
sam_baseline_model = dict(
    backbone=dict(
        out_global_blocks=(3, ), feature_enhancement=None, sam_neck=True),
    neck=dict(
        _delete_=True,
        type='risam.LinearProjectionNeck',
        in_channels=None,  # SAM's neck already gives 256 channels
        text_channels=512,
        channels=256),
    decode_head=sam_mask_decoder_head)
