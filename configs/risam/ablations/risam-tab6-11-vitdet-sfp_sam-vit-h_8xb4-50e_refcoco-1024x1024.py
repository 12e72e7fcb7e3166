# Paper Tab. 6, row #11 "VIT-DET": FE replaced by ViT-DET's simple feature
# pyramid built from the last SAM ViT-H layer only (merged back to 1/16).
# Paper RefCOCO val IoU: 71.55 (RISAM: 76.20; w/o FE: 69.19).
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='risam.RISAMVisualEncoder',
        backbone=dict(
            type='risam.SAMBackbone',
            arch='vit_h',
            checkpoint='checkpoints/sam_vit_h_4b8939.pth',
            out_global_blocks=(3, ),
            feature_enhancement=None,
            frozen=True,
            encoder_dtype='bf16'),  # as the paper configs' encoder
        necks=[
            dict(
                type='risam.SimpleFeaturePyramidNeck',
                in_channels=1280,
                out_channels=256,
                scales=(4.0, 2.0, 1.0, 0.5),
                fuse=True)
        ]))
