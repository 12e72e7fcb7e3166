# RefShapes: generated with
#   python tools/dataset_converters/make_refshapes.py data/refshapes --seed 0
# Splits: train, val, testA (3-4 objects per image), testB (5 objects).
_base_ = ['./refer_base.py']
data_root = 'data/refshapes/'
img_size = 128  # S: longest side resized to S; the model pads to S x S
max_words = 5
train_batch_size = 16
val_batch_size = 16
num_workers = 2

# no random flip: sentences say left/right
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='risam.LoadReferAnnotations'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='PackSegInputs', meta_keys={{_base_.refer_meta_keys}}),
]
# gt is loaded after Resize so it stays at the original size for the metric
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='risam.LoadReferAnnotations'),
    dict(type='PackSegInputs', meta_keys={{_base_.refer_meta_keys}}),
]
_dataset = dict(
    data_root=data_root,
    ann_file='instances.json',
    split_file='refs(unc).p',
    data_prefix=dict(img_path='images'),
    max_words=max_words)
# a CPU demo: nothing to pin memory for
train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers=num_workers,
    pin_memory=False,
    dataset=dict(**_dataset, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=val_batch_size,
    num_workers=num_workers,
    pin_memory=False,
    dataset=dict(**_dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
