# PhraseCut: generalisation test (paper §4.1.2, Tab. 8) on the test split;
# models are trained on RefCOCO/RefCOCO+/G-Ref, so there is no train loader.
dataset_type = 'risam.PhraseCutDataset'
data_root = 'data/phrasecut/'
img_size = 1024  # S: longest side resized to S (SAM); the model pads to S x S
max_words = 25
val_batch_size = 4
num_workers = 4

refer_meta_keys = ('img_path', 'ori_shape', 'img_shape', 'pad_shape',
                   'scale_factor', 'flip', 'flip_direction',
                   'reduce_zero_label', 'text', 'img_id', 'ref_id', 'sent_id',
                   'expr_type', 'no_target')
# gt is loaded after Resize so it stays at the original size for the metric
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='risam.LoadReferAnnotations'),
    dict(type='PackSegInputs', meta_keys=refer_meta_keys),
]
test_dataloader = dict(
    batch_size=val_batch_size,
    num_workers=num_workers,
    persistent_workers=True,
    # all sentences of an image in a row: one image encoding for all of them
    sampler=dict(type='risam.ImageGroupedSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='refer_test.json',
        data_prefix=dict(img_path='images'),
        max_words=max_words,
        test_mode=True,
        pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='risam.ReferMetric')
val_evaluator = test_evaluator
test_splits = ['test']  # tools/test.py default: refer_test.json
