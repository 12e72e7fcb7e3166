# Paper Tab. 9 (§4.8), "IoU" column: the CLIP text encoder is trained too
# (same optimizer and lr as the rest).
# Paper RefCOCO+ val/testA/testB IoU: 64.32/71.38/56.42 (RISAM: 66.37/72.10/57.33).
# The model is the RefCOCO row's (risam-tab9-unfrozen-text_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val testA testB) from the RefCOCO+ paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py']
model = dict(text_encoder=dict(frozen=False))
# CLIP's text_projection (it only feeds the pooled sentence feature, which
# RISAM does not read) stays frozen, so every trainable parameter is used.
