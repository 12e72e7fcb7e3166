# Paper Tab. 3, row #6 "SDF": Mutual-Aware Attention replaced by the
# VLT-style Spatial Dynamic Fusion (vision-guided attention only).
# Paper RefCOCO val IoU: 75.08 (RISAM: 76.20).
_base_ = [
    '../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py',
    '../_base_/models/fusion_neck_rows.py'
]
model = dict(neck={{_base_.spatial_dynamic_neck}})
