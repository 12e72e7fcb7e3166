# Paper Tab. 11 (§5), "SAM": SAM's whole image encoder (ViT-H blocks and its
# own neck, loaded from the SAM checkpoint, frozen) and the frozen CLIP text
# encoder; a linear text projection (512 -> 256) and SAM's mask decoder,
# prompted by the projected words, are the only trained parts. No FE, no MA.
# Trainable parameters: 3,637,632 = text projection 131,328 + SAM's mask
# decoder 3,506,304 (its IoU head and the 3 multi-mask hyper-network MLPs,
# which never reach the single-mask output, stay frozen, as does SAM's
# prompt-encoder no_mask_embed).
# Paper RefCOCO+ val/testA/testB IoU: 44.95/50.35/41.38 (RISAM: 66.37/72.10/57.33).
# The model is the row's (../_base_/models/sam_mask_decoder_rows.py);
# data, 25-word limit and test splits (val testA testB) from the RefCOCO+ paper config.
_base_ = [
    '../risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py',
    '../_base_/models/sam_mask_decoder_rows.py'
]
model = {{_base_.sam_baseline_model}}
