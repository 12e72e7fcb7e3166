# Paper Tab. 5, row #9 "w/ TOI-A": SAM's token-to-image attention inserted
# into every block of the Mutual-Aware Mask Decoder.
# Paper RefCOCO+ val IoU: 64.87 (RISAM: 66.37).
# The model is the RefCOCO row's (risam-tab5-9-toi-a_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val testA testB) from the RefCOCO+ paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py']
model = dict(decode_head=dict(token_to_image_attn=True))
