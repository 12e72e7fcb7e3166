# Paper Tab. 3, row #7 "BCM": Mutual-Aware Attention replaced by the
# BRINet-style serial bidirectional cross-modal module.
# Paper RefCOCO+ val IoU: 64.73 (RISAM: 66.37).
# The neck is the row's (../_base_/models/fusion_neck_rows.py);
# data, 25-word limit and test splits (val testA testB) from the RefCOCO+ paper config.
_base_ = [
    '../risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py',
    '../_base_/models/fusion_neck_rows.py'
]
model = dict(neck={{_base_.bidirectional_cross_modal_neck}})
