# Tiny RISAM: randomly initialised small SAM ViT and small CLIP text tower.
# For tests and the CPU RefShapes demo (128x128 inputs). No checkpoint files.
# custom_imports / default_scope come from ../default_runtime.py (or the
# leaf config), since mmengine forbids duplicate keys among bases.

crop_size = (128, 128)
channels = 64
max_tokens = 17

data_preprocessor = dict(
    type='risam.RISAMDataPreProcessor',  # SegDataPreProcessor + test padding
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=crop_size,
    pad_val=0,
    seg_pad_val=255,
    test_cfg=dict(size=crop_size))
model = dict(
    type='risam.RISAM',
    data_preprocessor=data_preprocessor,
    threshold=0.35,
    backbone=dict(
        type='risam.SAMBackbone',
        # 16x16 tokens, windows of 4, global blocks 0, 2, 4, 5: the 2nd-4th
        # global blocks (2, 4, 5) are tapped as in the paper.
        arch=dict(
            img_size=128,
            patch_size=8,
            embed_dim=64,
            depth=6,
            num_heads=2,
            window_size=4,
            global_attn_indexes=(0, 2, 4, 5)),
        checkpoint=None,
        # a frozen random SAM encoder is position-blind without this
        init_pos_embed='sincos',
        out_global_blocks=(1, 2, 3),
        feature_enhancement=dict(out_channels=channels),
        frozen=True),
    text_encoder=dict(
        type='risam.CLIPTokenEncoder',
        model_cfg=dict(
            embed_dim=64,
            text_cfg=dict(
                context_length=77,
                vocab_size=49408,
                width=64,
                heads=2,
                layers=2)),
        pretrained=None,
        max_tokens=max_tokens,
        frozen=True),
    neck=dict(
        type='risam.MutualAwareFusion',
        in_channels=channels,
        text_channels=64,
        channels=channels,
        num_blocks=2,
        tau=0.35,
        use_attn_mask=True),
    decode_head=dict(
        type='risam.MutualAwareMaskDecoder',
        in_channels=channels,
        num_heads=4,
        num_layers=2,
        extra_linguistic_guidance=True,
        loss_decode=dict(type='risam.RISAMFocalDiceLoss')))
