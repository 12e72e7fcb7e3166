# gRefCOCO (UNC splits): evaluated on val, testA, testB; sentences may have
# no target (empty mask) or several (union). Max words: as RefCOCO+/G-Ref.
_base_ = ['./refer_base.py']
max_words = 25
_dataset = dict(
    type='risam.GReferDataset',
    ann_file='grefcoco/instances.json',
    split_file='grefcoco/grefs(unc).json',
    max_words=max_words)
train_dataloader = dict(dataset=_dataset)
val_dataloader = dict(dataset=_dataset)
test_dataloader = val_dataloader
val_evaluator = dict(grefcoco=True)
test_evaluator = val_evaluator
test_splits = ['val', 'testA', 'testB']  # tools/test.py default
