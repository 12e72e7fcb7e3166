# G-Ref / RefCOCOg (Google splits): evaluated on val only.
_base_ = ['./refer_base.py']
max_words = 25  # paper §4.2
_dataset = dict(
    ann_file='refcocog/instances.json', split_file='refcocog/refs(google).p', max_words=max_words)
train_dataloader = dict(dataset=_dataset)
val_dataloader = dict(dataset=_dataset)
test_dataloader = val_dataloader
test_splits = ['val']  # tools/test.py default
