"""Unit tests of ``projects.risam.image_encoding`` that mutation testing asks
for: the image identity rule, the shared encoding's grouping, and the
frozen-feature cache's index, shards, checks and messages, on a toy backbone
(no model is built, so every test runs in milliseconds)."""
import json
import os
from typing import List

import pytest
import torch
from torch import Tensor

from projects.risam.image_encoding import (
    FeatureCache,
    FeatureCacheMismatch,
    FeatureCacheWriter,
    encode_images,
    image_key,
)
from projects.risam.image_encoding import feature_cache as feature_cache_mod
from projects.risam.image_encoding.feature_cache import (
    VERSION,
    _first_difference,
    merge_rank_indexes,
)
from projects.risam.image_encoding.shared_encoding import _take, to_device_float

FP = dict(encoder='toy', taps=[1, 2], encoder_sha256='abc')


class ToyBackbone:
    """``encode``: two maps of different sizes, a per-image function of the
    pixels; records the batch size of every call."""

    def __init__(self, frozen: bool = True) -> None:
        self.encoder_frozen = frozen
        self.calls: List[int] = []

    def encode(self, x: Tensor):
        self.calls.append(len(x))
        return (x[:, :2] * 2 + 1, x[:, :1, ::2, ::2] - 3)

    def fingerprint(self) -> dict:
        return dict(FP)


def _images(n: int) -> Tensor:
    return torch.arange(n * 3 * 4 * 4, dtype=torch.float32).view(n, 3, 4, 4)


def _per_sample(x: Tensor):
    return ToyBackbone().encode(x)


def _assert_same(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and torch.equal(a, b)


# -- image_key -----------------------------------------------------------
def test_image_key_prefers_img_id_then_img_path():
    assert image_key(dict(img_id=3, img_path='a.png')) == '3'
    assert image_key(dict(img_id=0, img_path='a.png')) == '0'  # falsy id
    assert image_key(dict(img_id=None, img_path='a.png')) == 'a.png'
    assert image_key(dict(img_path='b.png')) == 'b.png'
    assert image_key(dict(img_path=None)) is None
    assert image_key({}) is None


# -- _first_difference ---------------------------------------------------
def test_first_difference_names_the_first_differing_path():
    assert _first_difference(dict(a=1, b=[1, 2]), dict(a=1, b=(1, 2))) is None
    assert _first_difference(
        dict(z=1, a=dict(x=1, y=2)), dict(z=2, a=dict(x=1, y=3))) == \
        'a.y (cache: 2, model: 3)'  # sorted keys: 'a' before 'z'
    assert _first_difference(dict(a=1), dict(a=1, b=2)) == \
        'b (cache: None, model: 2)'
    assert _first_difference([1, 2], (1, 3), 'p') == \
        'p (cache: [1, 2], model: [1, 3])'
    assert _first_difference(1, 1) is None
    # one side a list or a dict, the other not: a plain difference
    assert _first_difference([1, 2], None, 'p') == \
        'p (cache: [1, 2], model: None)'
    assert _first_difference(None, (1, ), 'p') == \
        'p (cache: None, model: (1,))'
    assert _first_difference(dict(a=1), None, 'p') == \
        "p (cache: {'a': 1}, model: None)"
    assert _first_difference(None, dict(a=1), 'p') == \
        "p (cache: None, model: {'a': 1})"


# -- FeatureCacheWriter ------------------------------------------------------
def _write(tmp_path, n=5, shard_size=2, dtype='float16', name='cache'):
    out = tmp_path / name / 'nested'
    w = FeatureCacheWriter(out_dir=str(out), fingerprint=FP,
                           input_size=(4, 4), dtype=dtype,
                           shard_size=shard_size)
    feats = _per_sample(_images(n))
    for i in range(n):
        w.add(f'img{i}', [t[i] for t in feats])
    return out, w, feats


def test_writer_index_shards_and_layout(tmp_path):
    out, w, feats = _write(tmp_path)
    # shard_size 2: two full shards written, the 5th image pending; the
    # running index names the written ones only, and is not complete
    assert sorted(p.name for p in out.iterdir()) == [
        'index.json', 'shard_00000.pt', 'shard_00001.pt']
    running = json.loads((out / 'index.json').read_text())
    assert running['complete'] is False
    assert sorted(running['images']) == ['img0', 'img1', 'img2', 'img3']
    assert 'img4' in w and 'img5' not in w
    w.add('img0', [t[1] for t in feats])  # a key already there: ignored
    index = w.close()
    assert index == json.loads((out / 'index.json').read_text())
    assert index['complete'] is True
    assert index['version'] == 2 and index['fingerprint'] == FP
    assert index['input_size'] == [4, 4] and index['dtype'] == 'float16'
    assert index['tap_shapes'] == [[2, 4, 4], [1, 2, 2]]
    assert index['shards'] == ['shard_00000.pt', 'shard_00001.pt',
                               'shard_00002.pt']
    assert index['images'] == {'img0': [0, 0], 'img1': [0, 1],
                               'img2': [1, 0], 'img3': [1, 1],
                               'img4': [2, 0]}
    # (2*4*4 + 1*2*2) fp16 values: 72 bytes
    assert index['mb_per_image'] == round(72 / 2**20, 3)
    shard = torch.load(out / 'shard_00001.pt', weights_only=True)
    assert [s.dtype for s in shard] == [torch.float16] * 2
    assert [tuple(s.shape) for s in shard] == [(2, 2, 4, 4), (2, 1, 2, 2)]
    assert torch.equal(shard[0][1], feats[0][3].half())
    assert len(torch.load(out / 'shard_00002.pt', weights_only=True)[0]) == 1


def test_writer_mb_per_image_in_float32_and_empty(tmp_path):
    _, w, _ = _write(tmp_path, n=1, dtype='float32', shard_size=64)
    c = 1000  # 4 MB per image in float32: the rounding shows the units
    w.index['tap_shapes'] = [[c, 1000, 1]]
    assert w.close()['mb_per_image'] == round(c * 1000 * 4 / 2**20, 3)
    empty = FeatureCacheWriter(out_dir=str(tmp_path / 'e'), fingerprint=FP,
                               input_size=[4, 4])
    index = empty.close()
    assert index['mb_per_image'] == 0 and index['shards'] == []
    assert index['dtype'] == 'float16' and index['tap_shapes'] is None
    assert empty.shard_size == 64


def test_writer_refuses_bad_dtype_and_other_shapes(tmp_path):
    with pytest.raises(ValueError) as err:
        FeatureCacheWriter(out_dir=str(tmp_path / 'x'), fingerprint=FP,
                           input_size=(4, 4), dtype='int8')
    assert str(err.value) == ("dtype must be one of ['float16', 'bfloat16', "
                              "'float32']")
    out, w, feats = _write(tmp_path, n=1)
    with pytest.raises(ValueError) as err:
        w.add('odd', [feats[0][0], feats[0][0]])
    assert str(err.value) == (
        f'feature cache {out}: image odd has maps [[2, 4, 4], [2, 4, 4]], '
        'the cache holds [[2, 4, 4], [1, 2, 2]]')
    # an existing folder is fine
    FeatureCacheWriter(out_dir=str(out), fingerprint=FP, input_size=(4, 4))


def test_writer_stores_bfloat16(tmp_path):
    out, w, feats = _write(tmp_path, n=1, dtype='bfloat16')
    w.close()
    shard = torch.load(out / 'shard_00000.pt', weights_only=True)
    assert shard[0].dtype == torch.bfloat16


# -- FeatureCache --------------------------------------------------------
def test_cache_reads_back_in_key_order_as_fp32(tmp_path):
    out, w, feats = _write(tmp_path)
    w.close()
    cache = FeatureCache(str(out))
    assert len(cache) == 5
    assert 'img4' in cache and 'img9' not in cache and None not in cache
    with pytest.raises(RuntimeError) as err:
        cache.lookup(['img0'], torch.device('cpu'))
    assert str(err.value) == (f'feature cache {out}: call verify() with the '
                              'model fingerprint first')
    cache.verify(dict(FP), [4, 4])
    got = cache.lookup(['img4', 'img1', 'img1'], torch.device('cpu'))
    want = tuple(t[[4, 1, 1]].half().float() for t in feats)
    _assert_same(got, want)
    assert all(t.dtype == torch.float32 for t in got)


def test_cache_checks_once_and_names_what_differs(tmp_path):
    out, w, _ = _write(tmp_path)
    w.close()
    cache = FeatureCache(str(out))
    other = dict(FP, encoder_sha256='def')
    with pytest.raises(FeatureCacheMismatch) as err:
        cache.ensure_compatible(other, (4, 4))
    assert str(err.value) == (
        f'feature cache {out} was written by a different frozen encoder: '
        'encoder_sha256 (cache: abc, model: def); rebuild it with '
        'tools/analysis_tools/cache_features.py')
    with pytest.raises(FeatureCacheMismatch, match=r'input_size \(cache: '
                       r'\[4, 4\], model: \[8, 8\]\)'):
        cache.ensure_compatible(FP, (8, 8))
    assert not cache._verified
    cache.ensure_compatible(FP, (4, 4))
    assert cache._verified
    verified = []
    cache.verify = lambda *a: verified.append(a)
    cache.ensure_compatible(FP, (4, 4))  # checked already: no cost
    assert verified == []
    # the encoder's weights changed since: checked again
    cache.ensure_compatible(other, (4, 4))
    assert verified == [(other, (4, 4))]


def test_cache_refuses_a_missing_index_and_another_version(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        FeatureCache(str(tmp_path))
    assert str(err.value) == (
        f'feature cache {tmp_path}: no index.json (write it with '
        'tools/analysis_tools/cache_features.py)')
    (tmp_path / 'index.json').write_text(json.dumps(dict(version=1)))
    with pytest.raises(FeatureCacheMismatch) as err:
        FeatureCache(str(tmp_path))
    assert str(err.value) == (
        f'feature cache {tmp_path} has format version 1, this version reads '
        '2; rebuild it with tools/analysis_tools/cache_features.py')


def test_cache_loads_each_shard_once(tmp_path, monkeypatch):
    out, w, _ = _write(tmp_path)
    w.close()
    cache = FeatureCache(str(out))
    cache.verify(FP, (4, 4))
    loads = []
    load = torch.load

    def counting(path, **kw):
        loads.append((str(path), kw))
        return load(path, **kw)

    monkeypatch.setattr(torch, 'load', counting)
    cache.lookup(['img0', 'img1', 'img2'], torch.device('cpu'))
    cache.lookup(['img3'], torch.device('cpu'))
    assert [p for p, _ in loads] == [str(out / 'shard_00000.pt'),
                                     str(out / 'shard_00001.pt')]
    # plain tensors only, memory-mapped, on the host (a cache may be
    # larger than memory; the device copy is lookup's)
    assert loads[0][1] == dict(map_location='cpu', weights_only=True,
                               mmap=True)


def test_lookup_and_encode_images_put_the_maps_on_the_inputs_device(
        tmp_path):
    """The ``meta`` device stands for an accelerator: the maps read from
    the host-side cache go to the device of the batch."""
    imgs = _images(2)
    cache = _cache(tmp_path, ['k0', 'k1'], imgs)
    cache.verify(FP, (4, 4))
    meta = torch.device('meta')
    assert [t.device for t in cache.lookup(['k1'], meta)] == [meta] * 2
    out = encode_images(ToyBackbone(), imgs.to(meta), ['k1', 'k0'],
                        cache=cache)
    assert [t.device for t in out] == [meta] * 2
    assert [t.shape for t in out] == [(2, 2, 4, 4), (2, 1, 2, 2)]


# -- encode_images -------------------------------------------------------
def test_take_returns_the_tensor_itself_for_all_rows_in_order():
    t = _images(3)
    assert _take(t, [0, 1, 2]) is t
    assert torch.equal(_take(t, [2, 0, 0]), t[[2, 0, 0]])
    assert torch.equal(_take(t, [0, 1]), t[:2])


@pytest.mark.parametrize('keys,frozen,share', [
    (None, True, True), (['a', None, 'a'], True, True),
    (['a', 'a', 'a'], False, True), (['a', 'a', 'a'], True, False)])
def test_every_sample_is_encoded_without_keys_or_sharing(keys, frozen, share):
    bb = ToyBackbone(frozen)
    x = _images(1).expand(3, -1, -1, -1)  # one image, three times
    _assert_same(encode_images(bb, x, keys, share=share), _per_sample(x))
    assert bb.calls == [3]


def test_shared_encoding_groups_by_key_and_pixels():
    bb = ToyBackbone()
    imgs = _images(3)
    # same key and pixels: one pass; same key other pixels, or other key
    # same pixels: their own pass
    x = imgs[[0, 0, 1, 0, 2, 2]]
    keys = ['a', 'a', 'a', 'a', 'c', 'd']
    out = encode_images(bb, x, keys)
    _assert_same(out, _per_sample(x))
    assert bb.calls == [4]


def test_shared_encoding_trusts_same_image_as_labels():
    x = _images(3)
    bb = ToyBackbone()
    # labels say samples 0 and 2 are one image: the second is not encoded
    out = encode_images(bb, x, ['a', 'b', 'a'], same_image_as=[0, 1, 0])
    assert bb.calls == [2]
    _assert_same(out, _per_sample(x[[0, 1, 0]]))
    # one unknown label: compare the images instead
    bb = ToyBackbone()
    out = encode_images(bb, x[[0, 1, 0]], ['a', 'a', 'a'],
                        same_image_as=[0, None, 0])
    assert bb.calls == [2]
    _assert_same(out, _per_sample(x[[0, 1, 0]]))
    # labels apart: encoded apart, though key and pixels agree
    bb = ToyBackbone()
    encode_images(bb, x[[0, 0]], ['a', 'a'], same_image_as=[0, 1])
    assert bb.calls == [2]


def _cache(tmp_path, keys, images):
    w = FeatureCacheWriter(out_dir=str(tmp_path / 'cache'), fingerprint=FP,
                           input_size=(4, 4), dtype='float32')
    feats = _per_sample(images)
    for i, k in enumerate(keys):
        w.add(k, [t[i] for t in feats])
    w.close()
    return FeatureCache(str(tmp_path / 'cache'))


def test_cached_and_live_samples_are_merged_in_place(tmp_path):
    imgs = _images(4)
    # the cache holds images 1 and 3 (key 'k1', 'k3'), with other values
    # than live encoding would give, so the test sees which path ran
    cache = _cache(tmp_path, ['k1', 'k3'], imgs[[1, 3]] + 0.5)
    x = imgs[[0, 1, 2, 0, 3]]
    keys = ['k0', 'k1', 'k2', 'k0', 'k3']
    for share, calls in ((True, [2]), (False, [3])):
        bb = ToyBackbone()
        out = encode_images(bb, x, keys, share=share, cache=cache)
        assert bb.calls == calls
        want = _per_sample(x + torch.tensor([0, .5, 0, 0, .5]).view(
            -1, 1, 1, 1))
        _assert_same(out, want)
    assert cache._verified


def test_all_cached_skips_the_encoder_and_a_wrong_cache_is_refused(
        tmp_path):
    imgs = _images(2)
    cache = _cache(tmp_path, ['k0', 'k1'], imgs)
    bb = ToyBackbone()
    out = encode_images(bb, imgs[[1, 0, 1]], ['k1', 'k0', 'k1'], share=False,
                        cache=cache)
    assert bb.calls == []
    _assert_same(out, _per_sample(imgs[[1, 0, 1]]))
    # the cache is checked against the fingerprint and the input size
    other = FeatureCache(str(tmp_path / 'cache'))
    with pytest.raises(FeatureCacheMismatch, match='input_size'):
        encode_images(bb, torch.zeros(1, 3, 8, 8), ['k0'], cache=other)
    bb.fingerprint = lambda: dict(FP, encoder='other')
    with pytest.raises(FeatureCacheMismatch, match='encoder'):
        encode_images(bb, imgs, ['k0', 'k1'], cache=other)


# -- several ranks, one cache --------------------------------------------
def _maps(i: int) -> List[Tensor]:
    """One image's maps, 8 x 64 x 64 and 2 x 32 x 32 (0.066 MiB in fp16)."""
    return [torch.full((8, 64, 64), float(i)), torch.full((2, 32, 32), -i)]


def _rank(out, rank, world, keys, *, close=True, fp=FP, shard_size=2):
    w = FeatureCacheWriter(out_dir=str(out), fingerprint=fp,
                           input_size=(64, 64), shard_size=shard_size,
                           rank=rank, world_size=world)
    for k in keys:
        w.add(k, _maps(int(k[3:])))
    if close:
        w.close()
    return w


def test_rank_indexes_merge_in_rank_order(tmp_path):
    """Rank 0: three images (two shards), rank 1: none (fewer images than
    ranks), rank 2: one. The merged index numbers the shards in rank order
    and reads back every image from its rank's shard."""
    _rank(tmp_path, 0, 3, ['img0', 'img1', 'img2'])
    _rank(tmp_path, 1, 3, [])
    _rank(tmp_path, 2, 3, ['img5'])
    merged = merge_rank_indexes(str(tmp_path), 3)
    assert merged['shards'] == ['shard_r0_00000.pt', 'shard_r0_00001.pt',
                                'shard_r2_00000.pt']
    assert merged['images'] == {'img0': [0, 0], 'img1': [0, 1],
                                'img2': [1, 0], 'img5': [2, 0]}
    assert merged['tap_shapes'] == [[8, 64, 64], [2, 32, 32]]
    assert merged['mb_per_image'] == 0.066  # (8*64*64 + 2*32*32) * 2 B
    assert merged['complete'] is True
    assert json.loads((tmp_path / 'index.json').read_text()) == merged
    cache = FeatureCache(str(tmp_path))
    for key, i in (('img2', 2), ('img5', 5)):
        got = cache.read(key)
        assert [t.dtype for t in got] == [torch.float16] * 2
        assert all(torch.equal(g, w.half()) for g, w in zip(got, _maps(i)))
        # a copy of the row, not a view of the mapped shard
        assert got[0].untyped_storage().nbytes() == 8 * 64 * 64 * 2


def test_a_first_rank_without_images_is_skipped(tmp_path):
    _rank(tmp_path, 0, 2, [])
    _rank(tmp_path, 1, 2, ['img3'])
    merged = merge_rank_indexes(str(tmp_path), 2)
    assert merged['shards'] == ['shard_r1_00000.pt']
    assert merged['tap_shapes'] == [[8, 64, 64], [2, 32, 32]]
    assert merged['mb_per_image'] == 0.066


def test_ranks_without_images_give_an_empty_cache(tmp_path):
    _rank(tmp_path, 0, 2, [])
    _rank(tmp_path, 1, 2, [])
    merged = merge_rank_indexes(str(tmp_path), 2)
    assert merged['images'] == {} and merged['shards'] == []
    assert merged['mb_per_image'] == 0.0 and merged['complete'] is True


def test_merge_refuses_missing_unfinished_other_and_shared_parts(tmp_path):
    out = tmp_path / 'a'
    _rank(out, 0, 2, ['img0'])
    with pytest.raises(FileNotFoundError) as err:
        merge_rank_indexes(str(out), 2)
    assert str(err.value) == (f'feature cache {out}: no {out}/index.rank1.'
                              'json (rank 1 did not finish)')
    _rank(out, 1, 2, ['img1'], close=False, shard_size=1)
    with pytest.raises(FeatureCacheMismatch) as err:
        merge_rank_indexes(str(out), 2)
    assert str(err.value) == (f'feature cache {out}: rank 1 did not finish '
                              'its part')
    other = tmp_path / 'b'
    _rank(other, 0, 2, ['img0'])
    _rank(other, 1, 2, ['img1'], fp=dict(FP, encoder_sha256='def'))
    with pytest.raises(FeatureCacheMismatch) as err:
        merge_rank_indexes(str(other), 2)
    assert str(err.value) == (
        f'feature cache {other}: rank 1 wrote another cache: '
        'fingerprint.encoder_sha256 (cache: abc, model: def)')
    twice = tmp_path / 'c'
    _rank(twice, 0, 2, ['img0', 'img1'])
    _rank(twice, 1, 2, ['img1'])
    with pytest.raises(FeatureCacheMismatch) as err:
        merge_rank_indexes(str(twice), 2)
    assert str(err.value) == (f'feature cache {twice}: image img1 written by '
                              'two ranks')


def test_to_device_float_makes_host_maps_fp32_on_the_device():
    maps = torch.tensor([[1.5, -2.25]], dtype=torch.float16)
    got = to_device_float(maps, torch.device('cpu'))
    assert got.dtype == torch.float32 and got.tolist() == [[1.5, -2.25]]
    meta = to_device_float(maps, torch.device('meta'))
    assert meta.device.type == 'meta' and meta.dtype == torch.float32




def test_to_device_float_pins_and_copies_without_blocking(monkeypatch):
    """On a GPU the host maps are pinned, copied with ``non_blocking=True``
    to that device, and made float there (spied: this machine has none)."""
    calls = []

    class Pinned:
        def __init__(self, t):
            self.t = t

        def to(self, *args, **kwargs):
            calls.append(('to', args, kwargs))
            return self.t

    def pin(self):
        calls.append(('pin', self.dtype))
        return Pinned(self)

    monkeypatch.setattr(torch.Tensor, 'pin_memory', pin)
    cuda = torch.device('cuda', 1)
    got = to_device_float(torch.ones(2, dtype=torch.float16), cuda)
    assert calls == [('pin', torch.float16),
                     ('to', (cuda, ), dict(non_blocking=True))]
    assert got.dtype == torch.float32


def test_writer_resumes_a_running_index(tmp_path):
    """A second writer on a folder with a running index holds its images
    and goes on after its last shard."""
    out, w, feats = _write(tmp_path)  # img0-3 in two shards, img4 pending
    again = FeatureCacheWriter(out_dir=str(out), fingerprint=FP,
                               input_size=(4, 4), shard_size=2)
    assert again.resumed == 4
    assert 'img3' in again and 'img4' not in again
    again.add('img4', [t[4] for t in feats])
    index = again.close()
    assert index['shards'] == ['shard_00000.pt', 'shard_00001.pt',
                               'shard_00002.pt']
    assert index['images']['img4'] == [2, 0] and index['complete'] is True
    cache = FeatureCache(str(out))
    cache.verify(dict(FP), [4, 4])
    keys = [f'img{i}' for i in range(5)]
    _assert_same(cache.lookup(keys, torch.device('cpu')),
                 tuple(t.half().float() for t in feats))
    fresh = FeatureCacheWriter(out_dir=str(tmp_path / 'new'), fingerprint=FP,
                               input_size=(4, 4))
    assert fresh.resumed == 0


@pytest.mark.parametrize('change, diff', [
    (dict(version=0), f'format version (cache: 0, this writer: {VERSION})'),
    (dict(fingerprint=dict(FP, encoder_sha256='x')),
     'fingerprint.encoder_sha256 (cache: x, model: abc)'),
    (dict(input_size=[8, 8]), 'input_size (cache: [8, 8], model: [4, 4])'),
    (dict(dtype='float32'), 'dtype (cache: float32, model: float16)')])
def test_writer_refuses_to_resume_another_cache(tmp_path, change, diff):
    out, _, _ = _write(tmp_path)
    path = out / 'index.json'
    index = json.loads(path.read_text())
    index.update(change)
    path.write_text(json.dumps(index))
    with pytest.raises(FeatureCacheMismatch) as err:
        FeatureCacheWriter(out_dir=str(out), fingerprint=FP,
                           input_size=(4, 4))
    assert str(err.value) == (f'feature cache {out} holds another cache: '
                              f'{diff}; choose another folder or delete it')


def test_reader_refuses_an_unfinished_cache_in_one_line(tmp_path):
    out, _, _ = _write(tmp_path)  # not closed: 4 images in shards
    with pytest.raises(FeatureCacheMismatch) as err:
        FeatureCache(str(out))
    assert str(err.value) == (
        f'feature cache {out} is incomplete (4 images written): run '
        'tools/analysis_tools/cache_features.py with the same arguments '
        'again to finish it')


def test_non_finite_maps_are_refused_whole(tmp_path):
    out, w, feats = _write(tmp_path, n=1)
    bad = [feats[0][0] * float('inf'), feats[1][0]]
    with pytest.raises(ValueError) as err:
        w.add('bad', bad)
    assert str(err.value) == (
        f'feature cache {out}: image bad has non-finite features in float16 '
        '(nan or inf); nothing of it is written')
    assert 'bad' not in w


def test_reader_keeps_the_most_recently_used_shards_open(tmp_path):
    out, w, _ = _write(tmp_path)  # shards: img0-1, img2-3, img4
    w.close()
    assert FeatureCache(str(out)).max_open_shards == 4
    assert FeatureCache(str(out), max_open_shards=0).max_open_shards == 1
    cache = FeatureCache(str(out), max_open_shards=2)
    for key in ('img0', 'img2', 'img0', 'img4'):
        cache.read(key)
    assert list(cache._shards) == [0, 2]  # shard 1 was the least recent


def test_atomic_writes_rename_within_the_folder(tmp_path, monkeypatch):
    moves = []
    real = feature_cache_mod.os.replace
    monkeypatch.setattr(feature_cache_mod.os, 'replace',
                        lambda a, b: moves.append((a, b)) or real(a, b))
    out, w, _ = _write(tmp_path, n=2)  # one shard and the running index
    assert len(moves) == 2
    for src, dst in moves:
        assert os.path.dirname(src) == os.path.dirname(dst) == str(out)
        assert os.path.basename(src) == f'.{os.path.basename(dst)}.tmp'


def test_maps_read_by_workers_replace_the_encoder(tmp_path):
    """``cached=``: samples with maps (as ``risam.LoadCachedFeatures`` hands
    them over, in the cache's dtype) are hits, made fp32; the others are
    encoded; with every sample cached the encoder does not run."""
    out, w, feats = _write(tmp_path, n=3)
    w.close()
    cache = FeatureCache(str(out))
    x = _images(3)
    backbone = ToyBackbone()
    cached = [cache.read('img0'), None, cache.read('img2')]
    got = encode_images(backbone, x, ['img0', 'img1', 'img2'], cache=cache,
                        cached=cached)
    assert backbone.calls == [1]
    want = _per_sample(x)
    for g, t in zip(got, want):
        assert g.dtype == torch.float32
        assert torch.equal(g[1], t[1])
        assert torch.equal(g[[0, 2]], t[[0, 2]].half().float())
    backbone.calls.clear()
    none = encode_images(backbone, x, ['img0', 'img1', 'img2'], cache=cache,
                         cached=[None, None, None])  # no maps: all encoded
    assert backbone.calls == [3]
    _assert_same(none, want)
    backbone.calls.clear()
    got = encode_images(backbone, x[[0, 2]], ['img0', 'img2'], cache=cache,
                        cached=[cached[0], cached[2]])
    assert backbone.calls == []
    _assert_same(got, tuple(t[[0, 2]].half().float() for t in want))
