"""A RISAM training step makes no blocking copy from the host to the device.

On a GPU, a copy from host memory with ``non_blocking=False`` waits until
every queued kernel has finished, so the host cannot queue the text tower
and the trained parts while the frozen encoder runs. The model the ViT-H
RefCOCO config builds is made on the ``meta`` device (no weights, no
arithmetic, seconds for a whole step), and a ``TorchDispatchMode`` records
every copy whose source is on the host and whose destination is not, and
every operator that is handed a host tensor together with a device one (an
implicit copy). A ``TorchFunctionMode`` sees what the dispatcher cannot: a
device tensor indexed with a Python list, and ``torch.tensor(data,
device=...)``, whose host-to-device copies happen below the dispatch modes.
A data-dependent operation (``item``, ``nonzero``, a boolean
mask index) cannot run on ``meta`` at all, so a new host sync fails here too.

Each copy this guards against was once in the step; the ``put back`` tests
restore each one and check that the recorder sees it.
"""
import glob
from typing import List, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from projects.risam.image_encoding import FeatureCacheWriter, shared_encoding
from projects.risam.models.decode_heads import mutual_aware_mask_decoder
from projects.risam.models.layers import sincos_pos_embed_1d, sincos_pos_embed_2d
from projects.risam.models.necks import linguistic_positional_encoding
from projects.risam.models.text_encoders import CLIPTokenEncoder

PAPER = 'configs/risam/risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py'
SIZE = 1024
FACTORIES = ('tensor', 'as_tensor', 'asarray')


class HostCopies(TorchDispatchMode):
    """Records ``(op, shape, non_blocking)`` of every host-to-device copy,
    and ``(op, shapes)`` of operators given host and device tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: List[Tuple[str, tuple, bool]] = []
        self.mixed: List[Tuple[str, list]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default:
            src, dst = args[0], kwargs.get('device') or args[0].device
            self._copy(func, src, dst, kwargs.get('non_blocking', False))
        elif func is torch.ops.aten.copy_.default:
            non_blocking = args[2] if len(args) > 2 else kwargs.get(
                'non_blocking', False)
            self._copy(func, args[1], args[0].device, non_blocking)
        else:
            tensors = [a for a in _flat(args) + _flat(kwargs.values())
                       if isinstance(a, torch.Tensor)]
            host = [t for t in tensors if t.device.type == 'cpu' and t.dim()]
            if host and any(t.device.type != 'cpu' for t in tensors):
                self.mixed.append((str(func), [tuple(t.shape) for t in host]))
        return func(*args, **kwargs)

    def _copy(self, func, src, dst, non_blocking: bool) -> None:
        if src.device.type == 'cpu' and torch.device(dst).type != 'cpu':
            self.copies.append((str(func), tuple(src.shape),
                                bool(non_blocking)))

    @property
    def blocking(self) -> list:
        return [c for c in self.copies if not c[2]] + self.mixed


class HostData(TorchFunctionMode):
    """Records the Python-side calls that copy host data to a device below
    the dispatcher: indexing a device tensor with a list, and the tensor
    factories given Python data and a device."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: List[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, '__name__', str(func))
        if name in ('__getitem__', '__setitem__') and \
                args[0].device.type != 'cpu' and _has_list(args[1]):
            self.calls.append(f'{name} with a Python list')
        elif name in FACTORIES and kwargs.get('device') is not None and \
                torch.device(kwargs['device']).type != 'cpu':
            self.calls.append(f'torch.{name}(..., device=...)')
        return func(*args, **kwargs)


def _has_list(index) -> bool:
    if isinstance(index, tuple):
        return any(_has_list(i) for i in index)
    return isinstance(index, list)


def _flat(items) -> list:
    out = []
    for a in items:
        out.extend(_flat(a) if isinstance(a, (list, tuple)) else [a])
    return out


def _paper_cfg(**model_changes) -> Config:
    init_default_scope('mmseg')
    cfg = Config.fromfile(PAPER)
    cfg.model.backbone.checkpoint = None
    cfg.model.text_encoder.pretrained = None
    cfg.model.decode_head.image_pos_embed = True  # the decoder's table too
    cfg.model.update(model_changes)
    return cfg


def _meta_model(cfg: Config):
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    # moves nothing, but tells the data preprocessor where the model is
    return model.to(torch.device('meta')).train()


def _batch(img_ids=(0, 0, 1, 1)):
    """One sentence per entry of ``img_ids``, as host tensors (the config's
    batch of 4)."""
    torch.manual_seed(0)
    imgs = {i: torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8)
            for i in set(img_ids)}
    samples = []
    for k, i in enumerate(img_ids):
        ds = SegDataSample(metainfo=dict(
            text=f'the person number {k} in red', img_id=i,
            img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
        ds.gt_sem_seg = PixelData(
            data=torch.zeros(1, SIZE, SIZE, dtype=torch.uint8))
        samples.append(ds)
    return dict(inputs=[imgs[i] for i in img_ids], data_samples=samples)


class Recorder:
    """Both recorders over one training step."""

    def __init__(self) -> None:
        self.copies, self.host_data = HostCopies(), HostData()

    @property
    def blocking(self) -> list:
        return self.copies.blocking + self.host_data.calls


def _train_step(model, cfg: Config, data=None) -> Recorder:
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    seen = Recorder()
    with seen.host_data, seen.copies:
        log_vars = model.train_step(data or _batch(), optim)
    assert log_vars['loss'].device.type == 'meta'  # the step ran whole
    return seen


@pytest.fixture(scope='module')
def paper():
    cfg = _paper_cfg()
    return cfg, _meta_model(cfg)


def test_paper_training_step_copies_without_blocking(paper):
    cfg, model = paper
    seen = _train_step(model, cfg)
    assert seen.blocking == []
    # the batch (4 images, 4 targets) and the token ids, each exactly once
    shapes = sorted(c[1] for c in seen.copies.copies)
    assert shapes == sorted([(3, SIZE, SIZE)] * 4 + [(1, SIZE, SIZE)] * 4 +
                            [(4, 17)])


def _host_pe_1d(self, text, mask):
    pos = sincos_pos_embed_1d(text.shape[1], self.channels).to(text)
    return text + pos[None] * mask[..., None].to(text.dtype)


def _host_tokenize(self, texts):
    ids = self.tokenizer(list(texts), context_length=self.max_tokens)
    return ids.to(self.text.token_embedding.weight.device)


class _HostTables:
    """The decoder's 2-D table built on the host and copied per forward."""

    def __call__(self, h, w, c, like):
        return sincos_pos_embed_2d(h, w, c).to(like)


@pytest.mark.parametrize('put_back', ['tokenize', 'text_pos', 'image_pos',
                                      'preprocessor'])
def test_each_old_blocking_copy_is_seen(paper, monkeypatch, put_back):
    """The recorder fails the step when one copy is made as it once was."""
    cfg, model = paper
    if put_back == 'tokenize':
        monkeypatch.setattr(CLIPTokenEncoder, 'tokenize', _host_tokenize)
    elif put_back == 'text_pos':
        monkeypatch.setattr(linguistic_positional_encoding.
                            LinguisticPositionalEncoding, 'forward',
                            _host_pe_1d)
    elif put_back == 'image_pos':
        assert isinstance(model.decode_head, mutual_aware_mask_decoder.
                          MutualAwareMaskDecoder)
        monkeypatch.setattr(model.decode_head, '_pos_tables', _HostTables())
    else:
        monkeypatch.setattr(model.data_preprocessor, '_non_blocking', False)
    assert _train_step(model, cfg).blocking != []


def test_a_boolean_mask_index_cannot_hide_on_meta():
    """Why a host sync fails here: a data-dependent shape has no meta
    answer."""
    x = torch.ones(4, device='meta')
    with pytest.raises((RuntimeError, NotImplementedError)):
        x[x > 0].sum().item()


def _old_interleave(hits, rest, hit):
    """How the maps were placed: Python-list indices into an empty batch."""
    out = hits.new_empty((len(hits) + len(rest), ) + hits.shape[1:])
    out[list(hit)] = hits
    out[[i for i in range(len(out)) if i not in hit]] = rest
    return out


@pytest.mark.parametrize('put_back', [None, 'interleave'])
def test_cached_training_step_copies_without_blocking(tmp_path, paper,
                                                      monkeypatch, put_back):
    """One step that reads the frozen encoder's maps of images 0 and 1
    from a feature cache and encodes image 2 (the fingerprint stubbed: a
    meta encoder has no values to hash)."""
    fingerprint = dict(stub='meta encoder')
    taps = [(1280, SIZE // 16, SIZE // 16)] * 3  # ViT-H global blocks 2-4
    writer = FeatureCacheWriter(out_dir=str(tmp_path), fingerprint=fingerprint,
                                input_size=(SIZE, SIZE))
    for img_id in (0, 1):
        writer.add(str(img_id), [torch.zeros(s) for s in taps])
    writer.close()
    cfg = _paper_cfg(feature_cache=str(tmp_path))
    model = _meta_model(cfg)
    model.backbone.fingerprint = lambda: fingerprint
    encoded = []
    encode = model.backbone.encode
    model.backbone.encode = lambda x: encoded.append(len(x)) or encode(x)
    if put_back:
        monkeypatch.setattr(shared_encoding, '_interleave', _old_interleave)
    seen = _train_step(model, cfg, _batch((0, 1, 2, 0)))
    assert encoded == [1]  # image 2 only
    if put_back:
        # two placements (hits, encoded) for each of the 3 taps
        assert seen.blocking == ['__setitem__ with a Python list'] * 6
        return
    assert seen.blocking == []
    # each tap's maps crossed once, for the batch's 3 cached samples
    maps = [c for c in seen.copies.copies if c[1][1:] == taps[0]]
    assert [c[1][0] for c in maps] == [3, 3, 3]


def test_paper_configs_pin_and_copy_without_blocking():
    """Every config that trains at 1024 px (the paper's and its ablation
    rows) pins its batches, and its data preprocessor copies them without
    blocking; the CPU demo configs pin nothing."""
    paper = 0
    for path in sorted(glob.glob('configs/risam/*.py') +
                       glob.glob('configs/risam/ablations/*.py')):
        cfg = Config.fromfile(path)
        pre = MODELS.build(cfg.model.data_preprocessor)
        assert pre._non_blocking, path
        loader = cfg.get('train_dataloader')
        if '1024x1024' in path and loader is not None:
            assert loader.get('pin_memory') is True, path
            paper += 1
        elif 'refshapes' in path:
            assert loader.get('pin_memory') is False, path
    assert paper >= 40
