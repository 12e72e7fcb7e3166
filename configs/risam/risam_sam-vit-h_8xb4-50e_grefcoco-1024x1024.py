# RISAM, SAM ViT-H + CLIP ViT-B/16 (frozen), gRefCOCO (paper Tab. 10, §4.9):
# (CLIP ViT-B/16 is our choice: the paper says "GPT-2.0 pre-trained by CLIP".)
# trained and tested on gRefCOCO (UNC splits; a sentence may refer to no
# object, one, or several), same schedule as the RefCOCO configs.
# Metrics printed per split: gIoU, cIoU, N-acc and T-acc (with oIoU, mIoU,
# Pr@X). The paper's Tab. 10 "IoU" is compared with ReLA's cIoU (ReLA's
# gRefCOCO val 62.42), so the cell to compare is cIoU (= oIoU here).
# Paper IoU val/testA/testB: 66.52/70.01/62.23.
# Word limit 25 as RefCOCO+/G-Ref (gRefCOCO's sentences come from RefCOCO,
# the paper states no limit for it): the dataset's max_words and the text
# encoder's max_tokens (CLIP context incl. SOT/EOT, so <= 23 BPE tokens).
_base_ = [
    './_base_/models/risam_sam-vit-h.py', './_base_/datasets/grefcoco.py',
    './_base_/schedules/schedule_50e.py', './_base_/default_runtime.py'
]
max_words = 25  # == the dataset's max_words (see the data base file)
model = dict(text_encoder=dict(max_tokens=max_words))
custom_imports = dict(imports=['projects.risam'], allow_failed_imports=False)
default_scope = 'mmseg'
