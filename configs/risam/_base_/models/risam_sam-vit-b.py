# RISAM with SAM ViT-B: the ViT-H model (./risam_sam-vit-h.py) with the
# frozen SAM ViT-B image encoder and its official checkpoint; everything else
# (CLIP ViT-B/16 text tower, FE neck, MA blocks, decoder) is unchanged.
_base_ = ['./risam_sam-vit-h.py']
sam_arch = 'vit_b'
sam_checkpoint = 'checkpoints/sam_vit_b_01ec64.pth'
# fp32: this model is the reference of the ONNX export and benchmark
# comparisons (an ONNX graph cannot take a bf16 encoder). The Tab. 7 ViT-B
# row (ablations/, built on the ViT-H paper config) runs it in bf16.
model = dict(backbone=dict(arch=sam_arch, checkpoint=sam_checkpoint,
                           encoder_dtype='fp32'))
