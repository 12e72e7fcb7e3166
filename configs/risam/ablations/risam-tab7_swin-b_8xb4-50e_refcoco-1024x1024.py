# Paper Tab. 7, "RISAM (Ours) Swin-B": mmpretrain Swin-B (frozen, ImageNet
# weights) stages 2-4 (strides 8/16/32) resampled to the stride-16 grid,
# then FE, MA and the Mutual-Aware Mask Decoder as in RISAM.
# Paper RefCOCO val IoU: 74.96 (SAM ViT-H: 76.20).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
custom_imports = dict(
    imports=['projects.risam', 'mmpretrain.models'],
    allow_failed_imports=False)
# an mmpretrain Swin-B checkpoint (keys 'backbone.*'), e.g. ImageNet-22k
swin_checkpoint = 'checkpoints/swin-base_3rdparty_in21k-384px.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='risam.RISAMVisualEncoder',
        backbone=dict(
            type='mmpretrain.SwinTransformer',
            arch='base',
            img_size=1024,
            window_size=12,
            out_indices=(1, 2, 3),
            init_cfg=dict(
                type='Pretrained', checkpoint=swin_checkpoint,
                prefix='backbone.')),
        necks=[
            dict(
                type='risam.FeatureResampleAdapter',
                in_channels=[256, 512, 1024],
                out_channels=256,
                ref_index=1),
            dict(type='risam.FeatureEnhancement', in_channels=256,
                 out_channels=256, num_levels=3),
        ],
        frozen_backbone=True,
        # frozen, so run in bf16 as the SAM encoders are (fp32 outputs;
        # fp32 on a CPU without native bf16)
        encoder_dtype='bf16'))
