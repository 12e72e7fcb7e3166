# Paper Tab. 3, row #6 "SDF": Mutual-Aware Attention replaced by the
# VLT-style Spatial Dynamic Fusion (vision-guided attention only).
# Paper RefCOCO+ val IoU: 64.09 (RISAM: 66.37).
# The model is the RefCOCO row's (risam-tab3-6-sdf_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val testA testB) from the RefCOCO+ paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py']
model = dict(
    neck=dict(
        _delete_=True,
        type='risam.SpatialDynamicFusion',
        in_channels=256,
        text_channels=512,
        channels=256,
        num_blocks=2))
