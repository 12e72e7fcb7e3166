# Paper Tab. 8 (§4.7), generalisation: the RefCOCO+ model tested on PhraseCut
# test (refer_test.json, 2,545 images, 14,354 phrases). Paper PhraseCut IoU:
# 21.68 (oIoU). A test-only config: it inherits the RefCOCO+ training config
# unchanged (same model, same word limit) and only replaces the test set.
# Use it with the checkpoint trained by that config:
#   python tools/train.py configs/risam/risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py
#   python tools/test.py configs/risam/risam_sam-vit-h_8xb4-50e_refcoco+-to-phrasecut-1024x1024.py \
#       work_dirs/risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024/epoch_50.pth
_base_ = ['./risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py']
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
