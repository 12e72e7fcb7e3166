# Paper Tab. 3, row #5 "TE": Mutual-Aware Attention replaced by the
# ReSTR-style transformer encoder over the concatenated visual and word tokens.
# Paper RefCOCO val IoU: 74.85 (RISAM: 76.20).
_base_ = [
    '../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py',
    '../_base_/models/fusion_neck_rows.py'
]
model = dict(neck={{_base_.transformer_encoder_neck}})
