# Paper Tab. 9 (§4.8), PhraseCut column: the RefCOCO model trained with the CLIP
# text encoder unfrozen, tested on PhraseCut test. Paper IoU: 17.96 (frozen
# text encoder = RISAM: 22.82, Tab. 8).
# Paper PhraseCut test IoU: 17.96. A test-only config for the checkpoint
# of risam-tab9-unfrozen-text_sam-vit-h_8xb4-50e_refcoco-1024x1024.py:
#   python tools/test.py configs/risam/ablations/risam-tab9-unfrozen-text_sam-vit-h_8xb4-50e_refcoco-to-phrasecut-1024x1024.py \
#       work_dirs/risam-tab9-unfrozen-text_sam-vit-h_8xb4-50e_refcoco-1024x1024/epoch_50.pth
# It inherits the RefCOCO paper config directly (not the Tab. 8 test config)
# to stay within three levels of inheritance, so the two lines of Tab. 9 and
# the PhraseCut test set of Tab. 8 are both written here.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']
model = dict(text_encoder=dict(frozen=False))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='risam.PhraseCutDataset',
        data_root='data/phrasecut/',
        ann_file='refer_test.json',
        data_prefix=dict(img_path='images'),
        max_words={{_base_.max_words}},
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
test_splits = ['test']  # a PhraseCut split is a file: refer_<split>.json
