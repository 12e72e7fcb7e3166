# RISAM, SAM ViT-H + CLIP ViT-B/16 (frozen), RefCOCO+ (UNC) (paper Tab. 1, §4.2):
# Adam 1e-4, 50 epochs (x0.1 at 30, 42), 8 GPUs x 4 images, input 1024,
# max_tokens = 25 (the paper's "maximum word number", as a CLIP context).
_base_ = [
    './_base_/models/risam_sam-vit-h.py', './_base_/datasets/refcoco+.py',
    './_base_/schedules/schedule_50e.py', './_base_/default_runtime.py'
]
model = dict(text_encoder=dict(max_tokens=25))
custom_imports = dict(imports=['projects.risam'], allow_failed_imports=False)
default_scope = 'mmseg'
