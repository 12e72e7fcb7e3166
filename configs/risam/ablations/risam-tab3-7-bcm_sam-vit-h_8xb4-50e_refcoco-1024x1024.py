# Paper Tab. 3, row #7 "BCM": Mutual-Aware Attention replaced by the
# BRINet-style serial bidirectional cross-modal module.
# Paper RefCOCO val IoU: 75.20 (RISAM: 76.20).
_base_ = [
    '../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py',
    '../_base_/models/fusion_neck_rows.py'
]
model = dict(neck={{_base_.bidirectional_cross_modal_neck}})
