# Paper Tab. 4, "MA Num = 3": 3 Mutual-Aware Attention block(s) instead of 2.
# Paper RefCOCO val IoU: 75.89 (2 blocks = RISAM: 76.20).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
model = dict(neck=dict(num_blocks=3))
