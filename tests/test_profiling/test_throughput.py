"""The user benchmark's measuring loop and its test images: encoder passes
with the shared image encoding on and off, the rates' known ratio, the
spread, and the data loading (counts, a missing folder in one line)."""
import pytest
import torch
from mmengine.config import Config
from mmseg.structures import SegDataSample

from projects.risam.datasets.refshapes import generate_refshapes
from projects.risam.profiling.benchmark_images import check_data_folder, load_benchmark_images
from projects.risam.profiling.build import build_risam, config_without_checkpoints
from projects.risam.profiling.synthetic_batch import box_masks, data_samples
from projects.risam.profiling.throughput import benchmark_model, spread, throughput


@pytest.fixture(scope='module')
def tiny_model(tiny_config):
    cfg = config_without_checkpoints(tiny_config)
    model = build_risam(cfg.model).eval()
    model.cfg = cfg
    return model


def _batches(size: int = 128):
    """Two batches: images 0, 1 with 3 sentences each, then image 2 with 2."""
    gen = torch.Generator().manual_seed(0)
    imgs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=gen)
            for _ in range(3)]
    ids = [[0, 0, 0, 1, 1, 1], [2, 2]]
    return [dict(inputs=[imgs[i] for i in b],
                 data_samples=data_samples(size, b, [f'the word{j}' for j in range(len(b))],
                                           box_masks(len(b), size),
                                           sample_type=SegDataSample))
            for b in ids]


def test_spread_known_answer():
    assert spread([1., 2., 3.]) == dict(mean=2., std=1., runs=[1., 2., 3.])
    assert spread([0.5]) == dict(mean=0.5, std=0., runs=[0.5])


@pytest.mark.parametrize('share, encoded', [(True, 3), (False, 8)])
def test_encoder_passes_and_rates(tiny_model, share, encoded):
    """Sharing encodes each distinct image of a batch once (3 of 8
    sentences), not sharing once per sentence; sentences/s is images/s
    times 8/3 in every pass; the model's setting and encode come back."""
    lines = []
    res = throughput(tiny_model, _batches(), share=share, repeat_times=2,
                     log=lines.append, log_interval=2)
    assert res['encoded_images'] == encoded
    for img_rate, sent_rate in zip(res['images_per_s']['runs'],
                                   res['sentences_per_s']['runs']):
        assert sent_rate == pytest.approx(img_rate * 8 / 3, rel=1e-3)
    assert len(res['seconds']) == 2 and all(s > 0 for s in res['seconds'])
    # a progress line per 2 images: after batch 1 (2 images), batch 2 (3)
    assert [line.split(',')[0] for line in lines] == [
        'Done image [2  / 3]', 'Done image [3  / 3]'] * 2
    assert tiny_model.share_image_encoding is True
    assert 'encode' not in vars(tiny_model.backbone)


def test_shared_and_per_sentence_predict_the_same(tiny_model):
    batch = _batches()[0]
    with torch.no_grad():
        tiny_model.share_image_encoding = False
        want = [d.pred_sem_seg.data for d in tiny_model.test_step(batch)]
        tiny_model.share_image_encoding = True
        got = [d.pred_sem_seg.data for d in tiny_model.test_step(batch)]
    assert all(torch.equal(a, b) for a, b in zip(want, got))


@pytest.fixture(scope='module')
def refshapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('refshapes_bench')
    generate_refshapes(str(root), train=0, val=4, test=0, seed=0, size=64,
                       progress=False)
    return root


def _demo_config(tiny_config, root) -> Config:
    cfg = Config.fromfile(tiny_config)
    cfg.test_dataloader.dataset.data_root = str(root)
    return cfg


def test_load_images_counts(tiny_config, refshapes):
    """The first N images with all their sentences, in loader-sized
    batches; a larger N takes the whole split (4 images)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    cfg = _demo_config(tiny_config, refshapes)
    two = load_benchmark_images(cfg, 2)
    all_ = load_benchmark_images(cfg, 100)
    assert (two.images, all_.images) == (2, 4)
    assert 2 <= two.sentences < all_.sentences
    samples = [ds for b in all_.batches for ds in b['data_samples']]
    assert len(samples) == all_.sentences
    assert all(len(b['inputs']) <= cfg.test_dataloader.batch_size for b in all_.batches)
    first = [ds.metainfo['img_id'] for b in two.batches for ds in b['data_samples']]
    assert first == [ds.metainfo['img_id'] for ds in samples[:two.sentences]]
    assert len(set(first)) == 2


def test_missing_data_is_one_line(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError, match='dataset folder not found: .*nowhere') as e:
        check_data_folder(dict(data_root=str(missing)))
    assert '\n' not in str(e.value)
    (tmp_path / 'images').mkdir()
    with pytest.raises(FileNotFoundError, match='ann_file not found: .*instances.json'):
        check_data_folder(dict(data_root=str(tmp_path), ann_file='instances.json',
                               data_prefix=dict(img_path='images')))


def test_benchmark_model_result(tiny_model, refshapes, tiny_config, monkeypatch):
    """One image with all its sentences: one encoder pass when shared."""
    cfg = config_without_checkpoints(tiny_config)
    cfg.test_dataloader.dataset.data_root = str(refshapes)
    monkeypatch.setattr(tiny_model, 'cfg', cfg, raising=False)
    res = benchmark_model(tiny_model, num_images=1, repeat_times=1, log=lambda _: None)
    assert res['input_size'] == 128 and res['num_images'] == 1
    assert res['shared']['encoded_images'] == 1
    assert res['per_sentence']['encoded_images'] == res['num_sentences']
