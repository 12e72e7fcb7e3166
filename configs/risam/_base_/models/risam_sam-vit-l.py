# RISAM with SAM ViT-L: the ViT-H model (./risam_sam-vit-h.py) with the
# frozen SAM ViT-L image encoder and its official checkpoint; everything else
# (CLIP ViT-B/16 text tower, FE neck, MA blocks, decoder) is unchanged.
_base_ = ['./risam_sam-vit-h.py']
sam_arch = 'vit_l'
sam_checkpoint = 'checkpoints/sam_vit_l_0b3195.pth'
model = dict(backbone=dict(arch=sam_arch, checkpoint=sam_checkpoint))
