# Paper Tab. 3, row #5 "TE": Mutual-Aware Attention replaced by the
# ReSTR-style transformer encoder over the concatenated visual and word tokens.
# Paper G-Ref (UMD) val (U) IoU: 62.21 (RISAM: 65.48).
# The neck is the row's (../_base_/models/fusion_neck_rows.py);
# data, 25-word limit and test splits (val test) from the G-Ref (UMD) paper config.
_base_ = [
    '../risam_sam-vit-h_8xb4-50e_refcocog-umd-1024x1024.py',
    '../_base_/models/fusion_neck_rows.py'
]
model = dict(neck={{_base_.transformer_encoder_neck}})
