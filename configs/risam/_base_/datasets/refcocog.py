# G-Ref / RefCOCOg (UMD splits): evaluated on val and test (--splits val test).
_base_ = ['./refer_base.py']
max_words = 25  # paper §4.2
_dataset = dict(
    ann_file='refcocog/instances.json', split_file='refcocog/refs(umd).p', max_words=max_words)
train_dataloader = dict(dataset=_dataset)
val_dataloader = dict(dataset=_dataset)
test_dataloader = val_dataloader
test_splits = ['val', 'test']  # tools/test.py default
