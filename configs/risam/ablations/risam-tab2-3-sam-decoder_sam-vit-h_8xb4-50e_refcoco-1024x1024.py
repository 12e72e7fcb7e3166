# Paper Tab. 2, row #3 "r. DE": the Mutual-Aware Mask Decoder replaced by
# SAM's mask decoder (pretrained weights from the SAM checkpoint), F_val's
# real words as sparse prompt (see SAMMaskDecoderHead).
# Paper RefCOCO val IoU: 74.97 (RISAM: 76.20).
_base_ = [
    '../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py',
    '../_base_/models/sam_mask_decoder_rows.py'
]
model = dict(decode_head={{_base_.sam_mask_decoder_head}})
