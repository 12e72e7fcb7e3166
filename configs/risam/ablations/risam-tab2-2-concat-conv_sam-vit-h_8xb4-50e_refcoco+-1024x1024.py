# Paper Tab. 2, row #2 "r. MA": the Mutual-Aware Attention blocks replaced
# by conv layers over the concatenated visual and (tiled) sentence features.
# Paper RefCOCO+ val IoU: 61.83 (RISAM: 66.37).
# The model is the RefCOCO row's (risam-tab2-2-concat-conv_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val testA testB) from the RefCOCO+ paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py']
model = dict(
    neck=dict(
        _delete_=True,
        type='risam.ConcatConvFusion',
        in_channels=256,
        text_channels=512,
        channels=256,
        num_convs=2))
