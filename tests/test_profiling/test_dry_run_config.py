"""projects.risam.profiling.dry_run_config: the dry run's two configs."""
from mmengine.config import Config

from projects.risam.profiling.dry_run_config import (
    dry_run_config,
    is_iter_based,
    resume_config,
)


def test_iteration_based_run_and_its_resume(tiny_config):
    cfg = Config.fromfile(tiny_config)
    assert is_iter_based(cfg)
    first, last = dry_run_config(cfg, '/out', iters=3, val_samples=5)
    assert last == 'iter_3.pth' and first.work_dir == '/out'
    assert first.train_dataloader.dataset.indices == 3 * 16
    assert first.val_dataloader.dataset.indices == 5
    assert (first.train_cfg.max_iters, first.train_cfg.val_interval,
            first.train_cfg.val_begin) == (3, 3, 1)
    assert (first.launcher, first.resume, first.load_from) == ('none', False,
                                                               None)
    assert cfg.train_cfg.max_iters == 3000  # the original is unchanged
    second = resume_config(first, '/out/iter_3.pth')
    assert (second.resume, second.load_from) == (True, '/out/iter_3.pth')
    assert second.train_cfg.max_iters == 4 and second.train_cfg.val_begin == 5
    assert second.train_dataloader.dataset.indices == 16
    assert second.default_hooks.checkpoint.save_last is False
    assert first.train_cfg.max_iters == 3


def test_epoch_based_run_is_one_epoch(tiny_config):
    cfg = Config.fromfile(tiny_config)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50)
    assert not is_iter_based(cfg)
    first, last = dry_run_config(cfg, '/out', iters=1, val_samples=1)
    assert last == 'epoch_1.pth' and first.train_cfg.max_epochs == 1
    second = resume_config(first, '/out/epoch_1.pth')
    assert (second.train_cfg.max_epochs, second.train_cfg.val_begin) == (2, 3)
