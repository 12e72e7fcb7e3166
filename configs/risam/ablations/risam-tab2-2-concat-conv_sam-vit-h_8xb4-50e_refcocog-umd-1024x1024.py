# Paper Tab. 2, row #2 "r. MA": the Mutual-Aware Attention blocks replaced
# by conv layers over the concatenated visual and (tiled) sentence features.
# Paper G-Ref (UMD) val (U) IoU: 60.21 (RISAM: 65.48).
# The neck is the row's (../_base_/models/fusion_neck_rows.py);
# data, 25-word limit and test splits (val test) from the G-Ref (UMD) paper config.
_base_ = [
    '../risam_sam-vit-h_8xb4-50e_refcocog-umd-1024x1024.py',
    '../_base_/models/fusion_neck_rows.py'
]
model = dict(neck={{_base_.concat_conv_neck}})
