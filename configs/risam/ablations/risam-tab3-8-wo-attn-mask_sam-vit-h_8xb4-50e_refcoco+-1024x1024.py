# Paper Tab. 3, row #8 "w/o attn. mask": MA blocks without the Eq. 4
# relevance mask (padding words are still masked).
# Paper RefCOCO+ val IoU: 65.82 (RISAM: 66.37).
# The model is the RefCOCO row's (risam-tab3-8-wo-attn-mask_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val testA testB) from the RefCOCO+ paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py']
model = dict(neck=dict(use_attn_mask=False))
