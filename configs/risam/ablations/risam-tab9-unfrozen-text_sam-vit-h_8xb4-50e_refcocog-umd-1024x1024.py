# Paper Tab. 9 (§4.8), "IoU" column: the CLIP text encoder is trained too
# (same optimizer and lr as the rest).
# Paper G-Ref (UMD) val (U)/test (U) IoU: 64.19/64.80 (RISAM: 65.48/66.60).
# The model is the RefCOCO row's (risam-tab9-unfrozen-text_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val test) from the G-Ref (UMD) paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcocog-umd-1024x1024.py']
model = dict(text_encoder=dict(frozen=False))
# CLIP's text_projection (it only feeds the pooled sentence feature, which
# RISAM does not read) stays frozen, so every trainable parameter is used.
