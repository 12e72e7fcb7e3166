# Data settings shared by every refer-format dataset (RefCOCO, RefCOCO+, G-Ref,
# gRefCOCO, RefShapes). As written it reads RefCOCO (UNC splits); the
# per-dataset files beside it inherit this one and change only the dataset
# fields (files, type, word limit), so a fix here reaches all of them.
dataset_type = 'risam.ReferDataset'
data_root = 'data/'
img_size = 1024  # S: longest side resized to S (SAM); the model pads to S x S
max_words = 17  # paper §4.2
train_batch_size = 4  # x 8 GPUs = 32 (paper §4.2)
val_batch_size = 4
num_workers = 4

refer_meta_keys = ('img_path', 'ori_shape', 'img_shape', 'pad_shape',
                   'scale_factor', 'flip', 'flip_direction',
                   'reduce_zero_label', 'text', 'img_id', 'ref_id', 'sent_id',
                   'expr_type', 'no_target')
# no random flip: sentences say left/right
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='risam.LoadReferAnnotations'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='PackSegInputs', meta_keys=refer_meta_keys),
]
# gt is loaded after Resize so it stays at the original size for the metric
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='risam.LoadReferAnnotations'),
    dict(type='PackSegInputs', meta_keys=refer_meta_keys),
]

_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='refcoco/instances.json',
    split_file='refcoco/refs(unc).p',
    data_prefix=dict(img_path='images/mscoco/images/train2014'),
    max_words=max_words)

# pinned batches cross to the GPU without blocking the host (the data
# preprocessor copies with non_blocking=True)
train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers=num_workers,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_dataset, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=val_batch_size,
    num_workers=num_workers,
    persistent_workers=True,
    pin_memory=True,
    # all sentences of an image in a row: one image encoding for all of them
    sampler=dict(type='risam.ImageGroupedSampler'),
    dataset=dict(
        **_dataset, split='val', test_mode=True, pipeline=test_pipeline))
# other splits: tools/test.py CONFIG CKPT --splits testA
test_dataloader = val_dataloader
val_evaluator = dict(type='risam.ReferMetric')
test_evaluator = val_evaluator
