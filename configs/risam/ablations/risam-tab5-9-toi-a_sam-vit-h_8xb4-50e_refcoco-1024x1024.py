# Paper Tab. 5, row #9 "w/ TOI-A": SAM's token-to-image attention inserted
# into every block of the Mutual-Aware Mask Decoder.
# Paper RefCOCO val IoU: 75.40 (RISAM: 76.20).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
model = dict(decode_head=dict(token_to_image_attn=True))
