"""A RISAM training step (loss + backward) never waits on the device.

``Tensor.item``, ``tolist``, ``cpu``, ``numpy``, ``__bool__`` (and
``__int__``, ``__float__``, ``torch.equal``) copy a value to the host and so
wait for every queued kernel on a GPU. They are made to raise while the
model computes its loss and gradients; the data preprocessor runs before,
outside the patch: it compares the raw host-side images to mark the samples
of one image (``same_image_as``).
"""
import contextlib

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

TINY = 'configs/risam/_base_/models/risam_tiny.py'
SYNCS = ('item', 'tolist', 'cpu', 'numpy', '__bool__', '__int__',
         '__float__', 'equal')


class HostSync(RuntimeError):
    """A tensor was read on the host inside the training step."""


@contextlib.contextmanager
def no_host_sync(monkeypatch):
    """Make every host-reading Tensor method raise :class:`HostSync`."""
    with monkeypatch.context() as m:
        for name in SYNCS:
            def fail(*args, _name=name, **kwargs):
                raise HostSync(f'Tensor.{_name} called in a training step')
            m.setattr(torch.Tensor, name, fail)
        m.setattr(torch, 'equal', torch.Tensor.equal)
        yield


def _batch(img_ids=(0, 0, 1)):
    torch.manual_seed(0)
    imgs = {i: torch.randint(0, 256, (3, 128, 128), dtype=torch.uint8)
            for i in set(img_ids)}
    samples = []
    for k, i in enumerate(img_ids):
        ds = SegDataSample(metainfo=dict(text=f'the shape number {k}',
                                         img_id=i, img_shape=(128, 128),
                                         ori_shape=(128, 128)))
        gt = torch.zeros(1, 128, 128, dtype=torch.uint8)
        gt[:, 32:64 + 16 * k, 16:] = 1
        ds.gt_sem_seg = PixelData(data=gt)
        samples.append(ds)
    return dict(inputs=[imgs[i] for i in img_ids], data_samples=samples)


def _model(**overrides):
    init_default_scope('mmseg')
    cfg = Config.fromfile(TINY)
    cfg.model.update(overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).train()


def test_the_patch_catches_a_sync(monkeypatch):
    """The guard itself: each patched method raises inside it."""
    t = torch.ones(2)
    with no_host_sync(monkeypatch):
        for call in (lambda: t.sum().item(), t.tolist, t.cpu, t.numpy,
                     lambda: bool(t[0] > 0), lambda: t[0] if t[0] else t,
                     lambda: int(t[0]), lambda: float(t[0]),
                     lambda: torch.equal(t, t)):
            with pytest.raises(HostSync):
                call()
    assert t.sum().item() == 2.0  # restored afterwards


@pytest.mark.parametrize('share', [True, False])
def test_loss_and_backward_without_host_sync(monkeypatch, share):
    model = _model(share_image_encoding=share)
    data = model.data_preprocessor(_batch(), True)
    with no_host_sync(monkeypatch):
        losses = model.loss(**data)
        total = sum(losses.values())
        total.backward()
    # the same step outside the patch gives the same loss (nothing skipped)
    ref_model = _model(share_image_encoding=share)
    ref = sum(ref_model.loss(**ref_model.data_preprocessor(_batch(),
                                                           True)).values())
    assert torch.isfinite(total) and total.item() > 0
    assert abs(total.item() - ref.item()) <= 1e-5 * abs(ref.item())
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
