# RefCOCO+ (UNC splits): evaluated on val, testA, testB.
_base_ = ['./refer_base.py']
max_words = 25  # paper §4.2
_dataset = dict(
    ann_file='refcoco+/instances.json', split_file='refcoco+/refs(unc).p', max_words=max_words)
train_dataloader = dict(dataset=_dataset)
val_dataloader = dict(dataset=_dataset)
test_dataloader = val_dataloader
test_splits = ['val', 'testA', 'testB']  # tools/test.py default
