# Paper §4.2: Adam, lr 1e-4, 50 epochs, lr x0.1 at epochs 30 and 42,
# total batch 32 (8 GPUs x 4). Frozen encoders have requires_grad=False and
# FrozenAwareOptimWrapperConstructor leaves them out of the optimizer.
# Our choice: §4.2 says "Adam [29]", but [29] is the AdamW paper (Loshchilov &
# Hutter, decoupled weight decay) and no weight decay is given. We read the
# word: Adam without weight decay. For the other reading use
# optimizer=dict(type='AdamW', lr=1e-4, weight_decay=...) with a decay of
# your choice (the paper gives none).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='risam.FrozenAwareOptimWrapperConstructor',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.),
    clip_grad=None)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=50,
         milestones=[30, 42], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=32)
