# Paper Tab. 7, "RISAM (Ours) ViT-B" (§4.6: do the gains come from SAM?),
# compared with ReSTR and ETRIS: a frozen ViT-B/16 that is not SAM's,
# mmpretrain's published ViT-B/16 (ImageNet-21k pre-trained, 1k fine-tuned,
# loaded as published with prefix 'backbone.'), then FE, MA and the
# Mutual-Aware Mask Decoder as in RISAM. No SAM weights anywhere.
# Paper RefCOCO val IoU: 72.16; testA/testB 74.73/68.25 (SAM ViT-H: 76.20).
# Input: SAM's 1024 pipeline, so the row compares with the SAM rows; the
# 24 x 24 position table of the 384-px checkpoint is resized (bicubic) to
# 64 x 64 when the checkpoint is loaded, and images are normalised as this
# ViT was trained (mean = std = 127.5), not with SAM's ImageNet statistics.
# Taps: blocks 6, 9 and 12 (0-based 5, 8, 11) feed Feature Enhancement, the
# depths of SAM ViT-B's 2nd-4th global-attention blocks (2, 5, 8, 11) that
# RISAM taps; every ViT-B block attends globally, so depth is what matches.
# Frozen encoder: 88,793,856 parameters (3,146,496 of them the resized
# position table, 4,097 x 768).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
custom_imports = dict(
    imports=['projects.risam', 'mmpretrain.models'],
    allow_failed_imports=False)
vit_checkpoint = ('checkpoints/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_'
                  'in1k-384_20210928-98e8652b.pth')
model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5],
                           std=[127.5, 127.5, 127.5]),
    backbone=dict(
        _delete_=True,
        type='risam.RISAMVisualEncoder',
        backbone=dict(
            type='mmpretrain.VisionTransformer',
            arch='base',
            img_size=1024,
            patch_size=16,
            out_indices=(5, 8, 11),
            out_type='featmap',
            interpolate_mode='bicubic',
            init_cfg=dict(
                type='Pretrained', checkpoint=vit_checkpoint,
                prefix='backbone.')),
        necks=[
            dict(type='risam.FeatureEnhancement', in_channels=768,
                 out_channels=256, num_levels=3),
        ],
        frozen_backbone=True,
        # frozen, so run in bf16 as the SAM encoders are (fp32 outputs;
        # fp32 on a CPU without native bf16)
        encoder_dtype='bf16'))
