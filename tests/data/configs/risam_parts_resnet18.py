# Mixing RISAM parts into a plain mmseg model: an mmseg ResNet-18 backbone
# (random init) feeds MutualAwareFusion + MutualAwareMaskDecoder. Test-only.
custom_imports = dict(imports=['projects.risam'], allow_failed_imports=False)
default_scope = 'mmseg'

model = dict(
    type='risam.RISAM',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=(128, 128),
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        num_stages=4,
        out_indices=(2, ),  # stride 16, 256 channels
        norm_cfg=dict(type='BN', requires_grad=True)),
    text_encoder=dict(
        type='risam.CLIPTokenEncoder',
        model_cfg=dict(
            embed_dim=32,
            text_cfg=dict(
                context_length=77, vocab_size=49408, width=32, heads=2,
                layers=1)),
        max_tokens=12),
    neck=dict(
        type='risam.MutualAwareFusion',
        in_channels=256,
        text_channels=32,
        channels=32,
        num_blocks=1),
    decode_head=dict(
        type='risam.MutualAwareMaskDecoder', in_channels=32, num_heads=2,
        num_layers=1))
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='risam.FrozenAwareOptimWrapperConstructor',  # frozen params out
    optimizer=dict(type='Adam', lr=1e-3))
