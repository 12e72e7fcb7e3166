# RISAM with SAM ViT-H (paper main setting): frozen SAM ViT-H image encoder,
# frozen CLIP ViT-B/16 text tower (OpenAI weights, via open_clip), FE neck,
# 2 Mutual-Aware Attention blocks, Mutual-Aware Mask Decoder.
# Checkpoint paths are plain variables: override them in a leaf config or
# with --cfg-options model.backbone.checkpoint=... .
# custom_imports / default_scope come from ../default_runtime.py (or the
# leaf config), since mmengine forbids duplicate keys among bases.

sam_arch = 'vit_h'
sam_checkpoint = 'checkpoints/sam_vit_h_4b8939.pth'
# open_clip state dict, e.g. open_clip_pytorch_model.bin of
# hf.co/timm/vit_base_patch16_clip_224.openai, renamed:
clip_model_name = 'ViT-B-16-quickgelu'
clip_checkpoint = 'checkpoints/open_clip_vit-b-16_openai.bin'
clip_width = 512
max_tokens = 17
crop_size = (1024, 1024)
channels = 256

# FE and the decoder's upsampler have BatchNorm: one set of statistics over
# all GPUs (mmengine converts on distributed runs; dropped with a log line on
# CPU/gloo runs, see projects/risam/utils/sync_bn.py).
sync_bn = 'torch'

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
        arch=sam_arch,
        checkpoint=sam_checkpoint,
        out_global_blocks=(1, 2, 3),
        feature_enhancement=dict(out_channels=channels),
        frozen=True,
        # frozen encoder in bf16 (CUDA, or a CPU with native bf16; else fp32
        # with a log line). Pin 'fp32' to compare two paths for equality.
        encoder_dtype='bf16'),
    text_encoder=dict(
        type='risam.CLIPTokenEncoder',
        model_name=clip_model_name,
        pretrained=clip_checkpoint,
        max_tokens=max_tokens,
        frozen=True),
    neck=dict(
        type='risam.MutualAwareFusion',
        in_channels=channels,
        text_channels=clip_width,
        channels=channels,
        num_blocks=2,
        tau=0.35,
        use_attn_mask=True,
        # Fig. 3: positional encodings of the words at the fusion entrance
        text_pos_embed=True),
    decode_head=dict(
        type='risam.MutualAwareMaskDecoder',
        in_channels=channels,
        num_heads=8,
        num_layers=2,
        extra_linguistic_guidance=True,
        loss_decode=dict(
            type='risam.RISAMFocalDiceLoss',
            focal_weight=0.5,
            dice_weight=0.5,
            gamma=2.0,
            ignore_index=255)))
