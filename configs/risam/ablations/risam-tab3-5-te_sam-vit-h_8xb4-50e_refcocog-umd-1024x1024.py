# Paper Tab. 3, row #5 "TE": Mutual-Aware Attention replaced by the
# ReSTR-style transformer encoder over the concatenated visual and word tokens.
# Paper G-Ref (UMD) val (U) IoU: 62.21 (RISAM: 65.48).
# The model is the RefCOCO row's (risam-tab3-5-te_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val test) from the G-Ref (UMD) paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcocog-umd-1024x1024.py']
model = dict(
    neck=dict(
        _delete_=True,
        type='risam.TransformerEncoderFusion',
        in_channels=256,
        text_channels=512,
        channels=256,
        num_layers=2,
        num_heads=8,
        feedforward_channels=1024))
