"""tools/infer.py and RISAMInferencer: COCO RLE results, resume, interrupts."""
import json
import os
import runpy
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from projects.risam.apis import RISAMInferencer, inference_refer, init_refer_model

from .conftest import DEMO_CONFIG, REPO

SENTENCES = ['the red shape', 'the leftmost shape', 'the biggest circle']


def _tool(name, *args) -> str:
    """Run tools/<name> in-process; return its exit message ('' = ok)."""
    argv = sys.argv
    sys.argv = [name, *map(str, args)]
    try:
        runpy.run_path(str(REPO / 'tools' / name), run_name='__main__')
    except SystemExit as e:
        return str(e.code or '')
    finally:
        sys.argv = argv
    return ''


@pytest.fixture
def jsonl(refshapes_root, tmp_path):
    """3 val images x 3 sentences, paths relative to the JSONL's folder."""
    images = sorted((refshapes_root / 'images').glob('*.png'))[8:11]
    path = refshapes_root / f'input_{tmp_path.name}.jsonl'
    path.write_text(''.join(
        json.dumps(dict(image=f'images/{p.name}', sentences=SENTENCES)) + '\n'
        for p in images))
    yield path, images
    path.unlink()


def _record_calls(monkeypatch):
    calls = dict(encode=0, texts=[])
    encode = RISAMInferencer.encode_prepared
    segment = RISAMInferencer.segment

    def counted_encode(self, inputs, metainfos):
        calls['encode'] += len(metainfos)  # images through the encoder
        return encode(self, inputs, metainfos)

    def recorded_segment(self, embedding, texts):
        calls['texts'].append(list(texts))
        return segment(self, embedding, texts)

    monkeypatch.setattr(RISAMInferencer, 'encode_prepared', counted_encode)
    monkeypatch.setattr(RISAMInferencer, 'segment', recorded_segment)
    return calls


def test_infer_rle_equals_demo_and_resume_redoes_only_missing(
        jsonl, tiny_checkpoint, tmp_path, monkeypatch):
    path, images = jsonl
    out = tmp_path / 'results.json'
    calls = _record_calls(monkeypatch)
    assert _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, path,
                 '--out', out) == ''
    assert calls['encode'] == 3  # one encoder pass per image
    assert calls['texts'] == [SENTENCES] * 3
    doc = json.loads(out.read_text())
    entries = doc['results']
    assert len(entries) == 9 and doc['threshold'] == 0.35

    model = init_refer_model(str(DEMO_CONFIG), str(tiny_checkpoint))
    for k, image in enumerate(images):
        demo_out = tmp_path / f'demo{k}'
        assert _tool('demo.py', image, *SENTENCES, DEMO_CONFIG,
                     tiny_checkpoint, '--out', demo_out) == ''
        expected = inference_refer(model, str(image), SENTENCES)
        h, w = cv2.imread(str(image)).shape[:2]
        for i, sentence in enumerate(SENTENCES):
            entry = entries[3 * k + i]
            assert (entry['image'], entry['sentence_id'],
                    entry['sentence']) == (f'images/{image.name}', i, sentence)
            assert (entry['height'], entry['width']) == (h, w)
            mask = mask_utils.decode(entry['segmentation'])
            demo_mask = cv2.imread(
                str(demo_out / f'{image.stem}_{i}_mask.png'),
                cv2.IMREAD_GRAYSCALE) // 255
            np.testing.assert_array_equal(mask, demo_mask)
            assert entry['area'] == int(mask.sum())
            prob = expected[i].seg_logits.data[0].sigmoid().numpy()
            want = float(prob[mask > 0].mean()) if mask.any() else 0.0
            assert entry['score'] == pytest.approx(want, abs=1e-6)
    assert any(e['area'] > 0 for e in entries)

    # without --resume/--overwrite an existing --out is refused, untouched
    before = out.read_bytes()
    message = _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, path,
                    '--out', out)
    assert 'exists' in message and '--resume' in message
    assert out.read_bytes() == before

    # delete two entries; --resume redoes those two (their images are
    # segmented for all their sentences, as in the first run, so that the
    # entries are those of an uninterrupted run) and writes them in place
    doc['results'] = [e for k, e in enumerate(entries) if k not in (1, 8)]
    out.write_text(json.dumps(doc))
    calls.update(encode=0, texts=[])
    assert _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, path,
                 '--out', out, '--resume') == ''
    assert calls['encode'] == 2
    assert calls['texts'] == [SENTENCES, SENTENCES]
    assert json.loads(out.read_text())['results'] == entries


def test_infer_interrupted_run_keeps_finished_images(
        jsonl, tiny_checkpoint, tmp_path, monkeypatch):
    path, images = jsonl
    out = tmp_path / 'results.json'
    segment = RISAMInferencer.segment
    seen = []

    def interrupted(self, embedding, texts):
        seen.append(texts)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return segment(self, embedding, texts)

    monkeypatch.setattr(RISAMInferencer, 'segment', interrupted)
    with pytest.raises(KeyboardInterrupt):
        _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, path, '--out', out)
    # --out is written at the end; the part file holds the finished image
    assert not out.exists()
    part = tmp_path / 'results.json.part.jsonl'
    head, *lines = [json.loads(x) for x in part.read_text().splitlines()]
    assert head == dict(format='risam-infer', threshold=0.35,
                        score=head['score'])
    assert [(e['image'], e['sentence_id']) for e in lines] == [
        (f'images/{images[0].name}', i) for i in range(3)]
    assert not list(tmp_path.glob('.infer-*'))  # no temporary left behind
    message = _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, path,
                    '--out', out)
    assert 'interrupted run' in message and '--resume' in message
    monkeypatch.setattr(RISAMInferencer, 'segment', segment)
    assert _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, path, '--out', out,
                 '--resume') == ''
    entries = json.loads(out.read_text())['results']
    assert entries[:3] == lines and len(entries) == 9
    assert not part.exists()


def test_infer_folder_input_and_clear_errors(refshapes_root, tiny_checkpoint,
                                             tmp_path):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    image = sorted((refshapes_root / 'images').glob('*.png'))[8]
    (folder / image.name).write_bytes(image.read_bytes())
    sentences = tmp_path / 'sentences.txt'
    sentences.write_text('the red shape\n\nthe blue shape\n')
    out = tmp_path / 'r.json'
    assert _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, folder,
                 '--sentences', sentences, '--out', out) == ''
    entries = json.loads(out.read_text())['results']
    assert [(e['image'], e['sentence']) for e in entries] == [
        (image.name, 'the red shape'), (image.name, 'the blue shape')]

    bad = tmp_path / 'bad.jsonl'
    bad.write_text('{"image": "nope.png", "sentences": ["x"]}\n')
    message = _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, bad,
                    '--out', tmp_path / 'x.json')
    assert 'image not found' in message and 'nope.png' in message
    bad.write_text('{"image": "a.png"\n')
    message = _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, bad,
                    '--out', tmp_path / 'x.json')
    assert 'line 1' in message and 'not JSON' in message
    message = _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, folder,
                    '--out', tmp_path / 'x.json')
    assert '--sentences' in message
    assert not (tmp_path / 'x.json').exists()


def test_inferencer_call_reuses_the_image_embedding(refshapes_root,
                                                    tiny_checkpoint,
                                                    tmp_path):
    image = sorted((refshapes_root / 'images').glob('*.png'))[8]
    inferencer = RISAMInferencer(str(DEMO_CONFIG), str(tiny_checkpoint))
    first = inferencer(dict(img=str(image), texts=SENTENCES[:1]),
                       out_dir=str(tmp_path / 'o'))
    again = inferencer(dict(img=cv2.imread(str(image)), texts=SENTENCES))
    assert inferencer.num_encoded == 1  # same pixels: the cache answered
    expected = inference_refer(inferencer.model, str(image), SENTENCES)
    for pred, want in zip(again['predictions'], expected):
        np.testing.assert_array_equal(pred['sem_seg'],
                                      want.pred_sem_seg.data[0].numpy())
    np.testing.assert_array_equal(first['predictions'][0]['sem_seg'],
                                  again['predictions'][0]['sem_seg'])
    saved = cv2.imread(str(tmp_path / 'o/pred' / f'{image.stem}_0.png'),
                       cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(saved // 255,
                                  again['predictions'][0]['sem_seg'])
    assert (tmp_path / 'o/vis' / f'{image.stem}_0.png').exists()
    with pytest.raises(FileExistsError, match='exists'):
        inferencer(dict(img=str(image), texts=SENTENCES[:1]),
                   out_dir=str(tmp_path / 'o'))


def test_binarize_says_nothing_matches_on_hand_made_logits():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from projects.risam.apis import binarize

    # sigmoid: -5 -> 0.0067, 0 -> 0.5, 2 -> 0.881, 5 -> 0.9933
    sample = SegDataSample()
    sample.seg_logits = PixelData(data=torch.tensor([[[-5., 0.], [2., 5.]]]))
    sample.pred_sem_seg = PixelData(
        data=torch.zeros(1, 2, 2, dtype=torch.uint8))
    assert binarize(sample).nothing_matches  # the given (empty) mask
    binarize(sample, 0.5)  # 0.5 itself is not above 0.5
    assert sample.pred_sem_seg.data.tolist() == [[[0, 0], [1, 1]]]
    assert sample.nothing_matches is False
    binarize(sample, 0.99)
    assert sample.pred_sem_seg.data.tolist() == [[[0, 0], [0, 1]]]
    assert sample.nothing_matches is False
    binarize(sample, 0.995)
    assert sample.pred_sem_seg.data.tolist() == [[[0, 0], [0, 0]]]
    assert sample.nothing_matches is True
    with pytest.raises(ValueError, match='threshold'):
        binarize(sample, 1.5)


def test_inferencer_and_infer_tool_say_nothing_matches(
        jsonl, tiny_checkpoint, tmp_path):
    path, images = jsonl
    inferencer = RISAMInferencer(str(DEMO_CONFIG), str(tiny_checkpoint))
    # threshold 1.0: no probability exceeds it, every mask is empty;
    # threshold 0.0: every pixel with a finite logit is in the mask
    for threshold, empty in ((1.0, True), (0.0, False)):
        inferencer.model.threshold = threshold
        preds = inferencer(dict(img=str(images[0]), texts=SENTENCES))[
            'predictions']
        assert [p['nothing_matches'] for p in preds] == [empty] * 3
        assert [p['sem_seg'].any() for p in preds] == [not empty] * 3
        samples = inferencer(dict(img=str(images[0]), texts=SENTENCES),
                             return_datasamples=True)['predictions']
        assert [s.nothing_matches for s in samples] == [empty] * 3
        out = tmp_path / f'r{threshold}.json'
        assert _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, path, '--out',
                     out, '--threshold', threshold) == ''
        entries = json.loads(out.read_text())['results']
        assert [e['nothing_matches'] for e in entries] == [empty] * 9
        assert all((e['area'] == 0) == empty for e in entries)
    # a per-call threshold overrides the model's without changing it
    samples = inferencer.predict(str(images[0]), SENTENCES, threshold=1.0)
    assert [s.nothing_matches for s in samples] == [True] * 3
    assert inferencer.model.threshold == 0.0
    # the default threshold: the field says whether the mask is empty
    out = tmp_path / 'default.json'
    assert _tool('infer.py', DEMO_CONFIG, tiny_checkpoint, path,
                 '--out', out) == ''
    for entry in json.loads(out.read_text())['results']:
        assert entry['nothing_matches'] == (
            not mask_utils.decode(entry['segmentation']).any())


def _shapes_input(tmp_path, count: int):
    """``count`` generated images, 1-3 sentences each, as a JSONL input."""
    rng = np.random.default_rng(7)
    (tmp_path / 'imgs').mkdir()
    lines = []
    for k in range(count):
        img = np.full((int(rng.integers(32, 65)), int(rng.integers(32, 65)),
                       3), 30, np.uint8)
        img[4:20, 6:30] = rng.integers(0, 256, size=3)
        cv2.imwrite(str(tmp_path / f'imgs/{k:03d}.png'), img)
        lines.append(json.dumps(dict(image=f'imgs/{k:03d}.png',
                                     sentences=SENTENCES[:1 + k % 3])))
    path = tmp_path / 'input.jsonl'
    path.write_text('\n'.join(lines) + '\n')
    return path


def test_infer_batches_workers_and_jsonl_give_the_same_results(
        tiny_checkpoint, tmp_path, capsys):
    path = _shapes_input(tmp_path, 20)
    one, batched = tmp_path / 'one.json', tmp_path / 'batched.json'
    common = [DEMO_CONFIG, tiny_checkpoint, path, '--threshold', 0.5]
    assert _tool('infer.py', *common, '--out', one, '--batch-size', 1,
                 '--num-workers', 0) == ''
    assert _tool('infer.py', *common, '--out', batched, '--batch-size', 8,
                 '--num-workers', 2) == ''
    assert batched.read_bytes() == one.read_bytes()
    entries = json.loads(one.read_text())['results']
    assert len({e['area'] for e in entries}) > 3  # masks that differ

    lines = tmp_path / 'r.jsonl'
    assert _tool('infer.py', *common, '--out', lines, '--format', 'jsonl',
                 '--batch-size', 4, '--sync-every', 5) == ''
    with open(lines) as f:
        head = json.loads(f.readline())
        assert head['format'] == 'risam-infer' and head['threshold'] == 0.5
        for entry, line in zip(entries, f, strict=True):
            got = json.loads(line)
            np.testing.assert_array_equal(
                mask_utils.decode(got['segmentation']),
                mask_utils.decode(entry['segmentation']))
            assert got == entry
    assert _tool('infer.py', *common, '--out', tmp_path / 'x.json',
                 '--sync-every', 'often') == '2'
    assert 'expected images (e.g. 500) or seconds' in capsys.readouterr().err


def _wait_for_lines(path, count: int, proc, timeout: float = 120.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if path.exists() and path.read_bytes().count(b'\n') >= count:
            return
        assert proc.poll() is None, 'the run ended before it was killed'
        time.sleep(0.02)
    raise AssertionError(f'{path} did not reach {count} lines')


def test_infer_killed_then_resumed_equals_an_uninterrupted_run(
        tiny_checkpoint, tmp_path):
    path = _shapes_input(tmp_path, 60)
    common = [DEMO_CONFIG, tiny_checkpoint, path, '--threshold', 0.5,
              '--batch-size', 2, '--num-workers', 1]
    whole = tmp_path / 'whole.json'
    assert _tool('infer.py', *common, '--out', whole) == ''
    out = tmp_path / 'killed.json'
    proc = subprocess.Popen(
        [sys.executable, str(REPO / 'tools/infer.py'), *map(str, common),
         '--out', str(out), '--batch-size', '1', '--num-workers', '0'],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        _wait_for_lines(tmp_path / 'killed.json.part.jsonl', 20, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not out.exists()
    assert _tool('infer.py', *common, '--out', out, '--resume') == ''
    assert out.read_bytes() == whole.read_bytes()


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process below it (torchrun starts its
    workers in sessions of their own), as a lost machine would stop them."""
    children = {}
    for stat in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{stat}/stat') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    for p in tree:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _dist_infer(*args):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    env.pop('PORT', None)
    return subprocess.Popen(['bash', 'tools/dist_infer.sh', *map(str, args)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


@pytest.mark.slow
def test_dist_infer_two_cpu_processes_equal_one_and_resume_on_every_rank(
        tiny_checkpoint, tmp_path):
    path = _shapes_input(tmp_path, 40)
    common = [DEMO_CONFIG, tiny_checkpoint, path]
    options = ['--threshold', 0.5, '--batch-size', 4, '--num-workers', 1]
    one = tmp_path / 'one.json'
    assert _tool('infer.py', *common, '--out', one, *options) == ''

    two = tmp_path / 'two.json'
    proc = _dist_infer(*common, 2, '--out', two, '--device', 'cpu', *options)
    log = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, log[-3000:]
    assert '2 processes' in log
    assert two.read_bytes() == one.read_bytes()
    assert not list(tmp_path.glob('two.json.part*'))

    # SIGKILL every process once both ranks have written, then --resume
    killed = tmp_path / 'killed.json'
    proc = _dist_infer(*common, 2, '--out', killed, '--device', 'cpu',
                       '--batch-size', 1, '--num-workers', 0,
                       '--threshold', 0.5)
    try:
        for rank in (0, 1):
            _wait_for_lines(tmp_path / f'killed.json.part.rank{rank}.jsonl',
                            5, proc)
    finally:
        _kill_tree(proc.pid)
        proc.wait()
    assert not killed.exists()
    proc = _dist_infer(*common, 2, '--out', killed, '--device', 'cpu',
                       '--resume', *options)
    log = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, log[-3000:]
    assert killed.read_bytes() == one.read_bytes()
