# Paper Tab. 9 (§4.8), "IoU" column: the CLIP text encoder is trained too
# (same optimizer and lr as the rest).
# Paper RefCOCO val IoU: 75.82 (frozen text encoder = RISAM: 76.20);
# testA/testB: 77.24/70.06 (RISAM: 78.92/71.84). PhraseCut (trained on
# RefCOCO): 17.96 (RISAM: 22.82).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
model = dict(text_encoder=dict(frozen=False))
# CLIP's text_projection (it only feeds the pooled sentence feature, which
# RISAM does not read) stays frozen, so every trainable parameter is used.
