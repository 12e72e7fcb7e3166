# Paper Tab. 3, row #7 "BCM": Mutual-Aware Attention replaced by the
# BRINet-style serial bidirectional cross-modal module.
# Paper G-Ref (UMD) val (U) IoU: 63.73 (RISAM: 65.48).
# The model is the RefCOCO row's (risam-tab3-7-bcm_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val test) from the G-Ref (UMD) paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcocog-umd-1024x1024.py']
model = dict(
    neck=dict(
        _delete_=True,
        type='risam.BidirectionalCrossModalFusion',
        in_channels=256,
        text_channels=512,
        channels=256,
        num_blocks=2))
