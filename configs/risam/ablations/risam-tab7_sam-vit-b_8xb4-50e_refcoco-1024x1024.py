# Beside Tab. 7: SAM's own ViT-B image encoder (frozen) instead of ViT-H;
# FE/MA/decoder unchanged. Not the paper's ViT-B row, which asks whether the
# gains come from SAM and uses a ViT-B that is not SAM's (risam-tab7_vit-b).
# Paper RefCOCO val IoU: none (the paper's ViT-B row: 72.16; ViT-H: 76.20).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
model = dict(
    backbone=dict(arch='vit_b', checkpoint='checkpoints/sam_vit_b_01ec64.pth'))
