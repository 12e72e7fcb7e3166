# Paper Tab. 9 (§4.8), "IoU" column: the CLIP text encoder is trained too
# (same optimizer and lr as the rest).
# Paper G-Ref (Google) val (G) IoU: 62.45 (RISAM: 64.78).
# The model is the RefCOCO row's (risam-tab9-unfrozen-text_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val) from the G-Ref (Google) paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcocog-google-1024x1024.py']
model = dict(text_encoder=dict(frozen=False))
# CLIP's text_projection (it only feeds the pooled sentence feature, which
# RISAM does not read) stays frozen, so every trainable parameter is used.
