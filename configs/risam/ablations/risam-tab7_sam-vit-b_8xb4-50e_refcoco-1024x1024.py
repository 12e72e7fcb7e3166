# Paper Tab. 7, "RISAM (Ours) ViT-B": SAM ViT-B image encoder (frozen)
# instead of ViT-H; FE/MA/decoder unchanged.
# Paper RefCOCO val IoU: 72.16 (ViT-H: 76.20).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
model = dict(
    backbone=dict(arch='vit_b', checkpoint='checkpoints/sam_vit_b_01ec64.pth'))
