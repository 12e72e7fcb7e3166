# Paper Tab. 2, row #2 "r. MA": the Mutual-Aware Attention blocks replaced
# by conv layers over the concatenated visual and (tiled) sentence features.
# Paper RefCOCO val IoU: 71.27 (RISAM: 76.20).
_base_ = [
    '../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py',
    '../_base_/models/fusion_neck_rows.py'
]
model = dict(neck={{_base_.concat_conv_neck}})
