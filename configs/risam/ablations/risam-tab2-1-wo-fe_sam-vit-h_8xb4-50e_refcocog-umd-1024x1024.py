# Paper Tab. 2, row #1 "w/o FE" (also Tab. 6 #1): no Feature Enhancement;
# the MA blocks take the raw last global-attention block of SAM ViT-H
# (1280 channels) through their own W_v projection.
# Paper G-Ref (UMD) val (U) IoU: 58.58 (RISAM: 65.48).
# The model is the RefCOCO row's (risam-tab2-1-wo-fe_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val test) from the G-Ref (UMD) paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcocog-umd-1024x1024.py']
model = dict(
    backbone=dict(out_global_blocks=(3, ), feature_enhancement=None),
    neck=dict(in_channels=1280))
