# Paper Tab. 2, row #3 "r. DE": the Mutual-Aware Mask Decoder replaced by
# SAM's mask decoder (pretrained weights from the SAM checkpoint), F_val's
# real words as sparse prompt (see SAMMaskDecoderHead).
# Paper RefCOCO+ val IoU: 65.09 (RISAM: 66.37).
# The model is the RefCOCO row's (risam-tab2-3-sam-decoder_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val testA testB) from the RefCOCO+ paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='risam.SAMMaskDecoderHead',
        in_channels=256,
        num_heads=8,
        depth=2,
        mlp_dim=2048,
        checkpoint='checkpoints/sam_vit_h_4b8939.pth',
        loss_decode=dict(
            type='risam.RISAMFocalDiceLoss',
            focal_weight=0.5,
            dice_weight=0.5,
            gamma=2.0,
            ignore_index=255)))
