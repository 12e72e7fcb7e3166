# Paper Tab. 11 (§5), "SAM": frozen SAM ViT-H and CLIP encoders, linear
# projections to 256 channels, and SAM's own (pretrained) mask decoder with
# the projected words as sparse prompt; only projections + decoder train.
# No FE, no MA. SAM's own image neck is replaced by the visual projection.
# Paper RefCOCO val IoU: 57.23 (RISAM: 76.20).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
model = dict(
    backbone=dict(out_global_blocks=(3, ), feature_enhancement=None),
    neck=dict(
        _delete_=True,
        type='risam.LinearProjectionNeck',
        in_channels=1280,
        text_channels=512,
        channels=256),
    decode_head=dict(
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
            ignore_index=255)))
