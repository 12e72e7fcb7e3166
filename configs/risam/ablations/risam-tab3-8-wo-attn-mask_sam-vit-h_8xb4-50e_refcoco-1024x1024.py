# Paper Tab. 3, row #8 "w/o attn. mask": MA blocks without the Eq. 4
# relevance mask (padding words are still masked).
# Paper RefCOCO val IoU: 75.52 (RISAM: 76.20).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
model = dict(neck=dict(use_attn_mask=False))
