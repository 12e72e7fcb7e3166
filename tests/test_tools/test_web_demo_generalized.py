"""tools/web_demo.py on generalized RefShapes: the threshold slider decides
the "nothing matches" caption; the examples come from the val refs."""
import json
import pickle
import runpy

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from projects.risam.apis import RISAMInferencer, demo_examples, inference_refer
from projects.risam.datasets.grefshapes import generate_grefshapes
from projects.risam.datasets.refer_io import ReferFormatError

from .conftest import DEMO_CONFIG, REPO

GREF_CONFIG = REPO / \
    'configs/risam/risam_tiny-vit_1xb16-5500it_grefshapes-128x128.py'
web_demo = runpy.run_path(str(REPO / 'tools/web_demo.py'))
NOTHING = 'nothing in the image matches this sentence'


@pytest.fixture(scope='module')
def grefshapes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('grefshapes')
    generate_grefshapes(str(root), train=4, val=4, test=4, seed=0,
                        progress=False)
    return root


def _gref_cfg(root) -> Config:
    cfg = Config.fromfile(str(GREF_CONFIG))
    for loader in ('train', 'val', 'test'):
        cfg[f'{loader}_dataloader'].dataset.data_root = str(root) + '/'
    return cfg


@pytest.fixture(scope='module')
def few_iter_checkpoint(grefshapes_root, tmp_path_factory):
    """The generalized demo config trained for 3 iterations (batch 4)."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = _gref_cfg(grefshapes_root)
    cfg.work_dir = str(tmp_path_factory.mktemp('work'))
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3,
                         val_interval=100)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=3,
                                        by_epoch=False)
    cfg.custom_hooks = []
    runner = Runner.from_cfg(cfg)
    start = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    after = runner.model.state_dict()
    assert any(not torch.equal(start[k], after[k]) for k in start), \
        'training did not change any weight'
    path = tmp_path_factory.mktemp('ckpt') / 'few_iters.pth'
    torch.save(dict(state_dict=after, meta=dict()), path)
    return path


def _val_image(root):
    refs = json.loads((root / 'grefs(unc).json').read_text())
    name = next(r['file_name'] for r in refs if r['split'] == 'val')
    return root / 'images' / name


def test_threshold_slider_decides_the_empty_mask_caption(
        grefshapes_root, few_iter_checkpoint, tmp_path):
    cfg = _gref_cfg(grefshapes_root)
    inferencer = RISAMInferencer(cfg, str(few_iter_checkpoint))
    session = web_demo['DemoSession'](inferencer=inferencer,
                                      out_dir=str(tmp_path))
    image = _val_image(grefshapes_root)
    rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
    texts = ['the red shape', 'a purple star']
    logits = [s.seg_logits.data[0] for s in
              inference_refer(inferencer.model, str(image), texts)]

    # threshold 1.0: sigmoid never exceeds it, every mask is empty
    gallery, files, status = session.segment(rgb, '\n'.join(texts), 1.0)
    assert [c for _, c in gallery] == [
        f'"{t}": {NOTHING} (empty mask)' for t in texts]
    assert status.count(NOTHING) == 2 and '(threshold 1.00)' in status
    for path in files:
        assert not cv2.imread(path, cv2.IMREAD_GRAYSCALE).any()

    # threshold near 0: the masks are sigmoid(logits) > t, not empty
    for t in (0.01, 0.5):
        gallery, files, status = session.segment(rgb, '\n'.join(texts), t)
        for (_, caption), path, logit in zip(gallery, files, logits):
            want = (logit.sigmoid() > t).numpy().astype(np.uint8)
            got = cv2.imread(path, cv2.IMREAD_GRAYSCALE) // 255
            np.testing.assert_array_equal(got, want)
            if want.any():
                assert NOTHING not in caption
                assert f'{int(want.sum())} px' in caption
            else:
                assert NOTHING in caption
    gallery, _, status = session.segment(rgb, '\n'.join(texts), 0.01)
    assert NOTHING not in status and all(NOTHING not in c
                                         for _, c in gallery)
    # no threshold: the model's (the config's 0.35); the model is unchanged
    assert inferencer.model.threshold == pytest.approx(0.35)
    assert '(threshold 0.35)' in session.segment(rgb, texts[0])[2]


def test_examples_from_generalized_refshapes(grefshapes_root):
    examples = demo_examples(_gref_cfg(grefshapes_root))
    refs = json.loads((grefshapes_root / 'grefs(unc).json').read_text())
    by_sentence = {}
    for ref in refs:
        for s in ref['sentences']:
            by_sentence.setdefault((ref['file_name'], s['sent']), []).append(
                (ref['split'], s['kind'], s['type'], ref['no_target']))
    kinds = [e.kind for e in examples]
    assert set(kinds) == {'single', 'multi', 'none'}
    assert kinds == sorted(kinds, key=['single', 'multi', 'none'].index)
    assert all(kinds.count(k) <= 2 for k in kinds)
    # different images while the 4 val images last
    assert len({e.image for e in examples}) == min(4, len(examples))
    for e in examples:
        assert e.image.startswith(str(grefshapes_root / 'images'))
        rows = by_sentence[(e.image.rsplit('/', 1)[1], e.sentence)]
        assert ('val', e.kind, e.type, e.kind == 'none') in rows
    # types differ within a kind
    for k in set(kinds):
        types = [e.type for e in examples if e.kind == k]
        assert len(types) == len(set(types))


def test_examples_from_refshapes_and_absent_data(refshapes_root, tmp_path):
    cfg = Config.fromfile(str(DEMO_CONFIG))
    cfg.val_dataloader.dataset.data_root = str(refshapes_root) + '/'
    examples = demo_examples(cfg, per_kind=3)
    with open(refshapes_root / 'refs(unc).p', 'rb') as f:
        refs = pickle.load(f)
    val = {(r['file_name'], s['sent'], s['type']) for r in refs
           if r['split'] == 'val' for s in r['sentences']}
    assert len(examples) == 3 and {e.kind for e in examples} == {'single'}
    for e in examples:
        assert (e.image.rsplit('/', 1)[1], e.sentence, e.type) in val

    cfg.val_dataloader.dataset.data_root = str(tmp_path / 'nothing') + '/'
    assert demo_examples(cfg) == []  # no data: no examples, no error
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'refs(unc).p').write_bytes(b'not a pickle')
    cfg.val_dataloader.dataset.data_root = str(bad) + '/'
    with pytest.raises(ReferFormatError, match='refs'):
        demo_examples(cfg)


def test_page_has_threshold_slider_and_examples(grefshapes_root,
                                                tiny_checkpoint, tmp_path):
    pytest.importorskip('gradio')
    cfg = _gref_cfg(grefshapes_root)
    inferencer = RISAMInferencer(cfg, str(tiny_checkpoint))
    inferencer.model.threshold = 0.42
    session = web_demo['DemoSession'](inferencer=inferencer,
                                      out_dir=str(tmp_path))
    examples = demo_examples(cfg)
    page = web_demo['build_demo'](session, 'test', examples)
    props = {c['props'].get('elem_id'): c for c in page.config['components']}
    slider = props['risam-threshold']
    assert slider['type'] == 'slider'
    assert slider['props']['value'] == pytest.approx(0.42)
    assert (slider['props']['minimum'], slider['props']['maximum']) == (0, 1)
    samples = props['risam-examples']['props']
    assert samples['sample_labels'] == [
        f'{e.kind} ({e.type}): {e.sentence}' for e in examples]


def test_browser_example_and_threshold_slider(grefshapes_root,
                                              few_iter_checkpoint, tmp_path):
    """In Chromium: the page offers the val examples; a no-target example
    fills the image and the sentence; the slider's value reaches the
    prediction (1.0: the empty-mask caption; 0.01: a mask)."""
    from .test_web_demo import _server, headless_chromium
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data/grefshapes').symlink_to(grefshapes_root)
    examples = demo_examples(_gref_cfg(grefshapes_root))
    with headless_chromium() as driver, \
            _server(few_iter_checkpoint, tmp_path, GREF_CONFIG) as url:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        wait = WebDriverWait(driver, 120)
        driver.get(url)
        buttons = wait.until(lambda d: d.find_elements(
            By.CSS_SELECTOR, '#risam-examples button'))
        assert [b.text for b in buttons] == [
            f'{e.kind} ({e.type}): {e.sentence}' for e in examples]
        chosen = [e.kind for e in examples].index('none')
        buttons[chosen].click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR,
                                             '#risam-image img'))
        box = driver.find_element(By.CSS_SELECTOR, '#risam-sentences textarea')
        wait.until(lambda d: box.get_attribute('value') ==
                   examples[chosen].sentence)
        number = driver.find_element(By.CSS_SELECTOR,
                                     '#risam-threshold input[type=number]')
        assert float(number.get_attribute('value')) == pytest.approx(0.35)

        def status_with(text):
            return wait.until(lambda d: text in d.find_element(
                By.CSS_SELECTOR, '#risam-status').text and d.find_element(
                    By.CSS_SELECTOR, '#risam-status').text)

        for value, empty in (('1', True), ('0.01', False)):
            number.clear()
            number.send_keys(value + '\t')
            driver.find_element(By.CSS_SELECTOR, '#risam-segment').click()
            status = status_with(f'(threshold {float(value):.2f})')
            assert (NOTHING in status) == empty, status
