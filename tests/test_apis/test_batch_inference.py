"""The batch-inference runner: flat cost per image, resume after a kill or a
torn line, batching and workers that change nothing."""
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from projects.risam.apis import RISAMInferencer, infer_results
from projects.risam.apis.batch_inference import (
    InferOptions,
    Stopped,
    run_batch_inference,
)
from projects.risam.apis.infer_inputs import InputError
from projects.risam.apis.infer_results import PartWriter, part_path

from .conftest import DEMO_CONFIG, write_images, write_input

# 0.5 splits the tiny random model's probabilities (about 0.5 everywhere)
# into masks of different areas; the config's 0.35 keeps every pixel
THRESHOLD = 0.5


def _opts(small_input, ckpt, out, **kw) -> InferOptions:
    return InferOptions(config=str(DEMO_CONFIG), checkpoint=str(ckpt),
                        input=str(small_input), out=str(out),
                        threshold=THRESHOLD, progress_every=1e9, **kw)


@pytest.fixture(scope='module')
def uninterrupted(small_input, tiny_checkpoint, tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp('whole') / 'r.json'
    run_batch_inference(_opts(small_input, tiny_checkpoint, out))
    return out.read_bytes()


def test_uninterrupted_run_has_every_entry_in_input_order(uninterrupted):
    doc = json.loads(uninterrupted)
    entries = doc['results']
    assert doc['threshold'] == THRESHOLD
    assert [(e['image'], e['sentence_id']) for e in entries] == [
        (f'imgs/img_{k:04d}.png', i) for k in range(12)
        for i in range(1 + k % 4)]
    areas = [e['area'] for e in entries]
    assert 0 < min(areas) < max(areas) < max(e['height'] * e['width']
                                             for e in entries)
    for e in entries:
        assert mask_utils.decode(e['segmentation']).sum() == e['area']


def test_cost_per_image_is_flat(tmp_path, tiny_checkpoint, monkeypatch):
    """Per image: one append of that image's lines, no file opened, no
    earlier entry serialised again, however many images are done."""
    source = write_input(tmp_path / 'in.jsonl',
                         write_images(tmp_path / 'imgs', 40, seed=3))
    out = tmp_path / 'r.json'
    opened, dumped, per_image = [], [0], []
    real_open, real_dumps = open, json.dumps

    def counting_open(path, *a, **kw):
        opened.append(str(path))
        return real_open(path, *a, **kw)

    def counting_dumps(obj, *a, **kw):
        dumped[0] += 1
        return real_dumps(obj, *a, **kw)

    monkeypatch.setattr(infer_results, 'open', counting_open, raising=False)
    monkeypatch.setattr(infer_results.json, 'dumps', counting_dumps)
    write = PartWriter.write

    def recorded(self, entries):
        before = (len(opened), dumped[0], self.bytes_written)
        write(self, entries)
        per_image.append((len(entries), len(opened) - before[0],
                          dumped[0] - before[1],
                          self.bytes_written - before[2]))

    monkeypatch.setattr(PartWriter, 'write', recorded)
    run_batch_inference(_opts(source, tiny_checkpoint, out, batch_size=4))
    assert len(per_image) == 40
    lines = out.read_text()
    for n, opens, dumps, written in per_image:
        assert opens == 0 and dumps == n  # its own entries, once
    # bytes per image: that image's entries only (no rewrite of the rest)
    sizes = [w for _, _, _, w in per_image]
    assert sum(sizes) < len(lines) + 1000
    first, last = np.mean(sizes[:10]), np.mean(sizes[-10:])
    assert last < 1.5 * first


def test_stop_then_resume_equals_uninterrupted(small_input, tiny_checkpoint,
                                               tmp_path, uninterrupted,
                                               monkeypatch):
    out = tmp_path / 'r.json'
    with pytest.raises(Stopped):
        run_batch_inference(_opts(small_input, tiny_checkpoint, out,
                                  stop_after=5, batch_size=2))
    assert not out.exists()
    part = tmp_path / 'r.json.part.jsonl'
    assert len(part.read_text().splitlines()) == 1 + (1 + 2 + 3 + 4 + 1)
    with pytest.raises(InputError, match='left from an interrupted run'):
        run_batch_inference(_opts(small_input, tiny_checkpoint, out))

    # a kill in the middle of image 3's lines: 2 written, the third torn
    lines = part.read_bytes().splitlines(keepends=True)
    part.write_bytes(b''.join(lines[:1 + 1 + 2 + 3 + 2])
                     + b'{"image": "imgs/img_0003.png", "sent')
    images = []
    segment = RISAMInferencer.segment

    def recorded(self, embedding, texts):
        images.append(len(texts))
        return segment(self, embedding, texts)

    monkeypatch.setattr(RISAMInferencer, 'segment', recorded)
    summary = run_batch_inference(_opts(small_input, tiny_checkpoint, out,
                                        resume=True, batch_size=3))
    # image 3 (4 sentences) had 2 lines: it is segmented again (all its
    # sentences, as the uninterrupted run did), and 8 more images
    assert images == [4] + [1 + k % 4 for k in range(4, 12)]
    assert summary['todo_entries'] == 2 + sum(1 + k % 4 for k in range(4, 12))
    assert out.read_bytes() == uninterrupted
    assert not part.exists()
    assert not list(tmp_path.glob('.infer-*'))  # no temporary left behind


def test_resume_of_a_finished_output_redoes_only_what_is_missing(
        small_input, tiny_checkpoint, tmp_path, uninterrupted):
    out = tmp_path / 'r.jsonl'
    run_batch_inference(_opts(small_input, tiny_checkpoint, out,
                              format='jsonl'))
    lines = out.read_text().splitlines()
    doc = json.loads(uninterrupted)
    assert json.loads(lines[0]) == {k: doc[k] for k in ('format',
                                                         'threshold', 'score')}
    for line, entry in zip(lines[1:], doc['results'], strict=True):
        got = json.loads(line)
        assert got == entry
        np.testing.assert_array_equal(
            mask_utils.decode(got['segmentation']),
            mask_utils.decode(entry['segmentation']))
    # drop two entries; resume fills them in at their places
    out.write_text('\n'.join(lines[:3] + lines[4:-1]) + '\n')
    summary = run_batch_inference(_opts(small_input, tiny_checkpoint, out,
                                        resume=True, format='json'))
    assert summary['todo_entries'] == 2 and summary['images'] == 2
    assert out.read_bytes() == uninterrupted


def test_batches_and_workers_change_nothing(small_input, tiny_checkpoint,
                                            tmp_path, uninterrupted):
    out = tmp_path / 'r.json'
    run_batch_inference(_opts(small_input, tiny_checkpoint, out,
                              batch_size=8, num_workers=2))
    assert out.read_bytes() == uninterrupted


def test_an_unreadable_image_is_named(tmp_path, tiny_checkpoint):
    images = write_images(tmp_path / 'imgs', 3)
    images[1].write_bytes(b'not a png')
    source = write_input(tmp_path / 'in.jsonl', images)
    with pytest.raises(InputError, match=r'in.jsonl: imgs/img_0001.png: '
                       r'cannot read image'):
        run_batch_inference(_opts(source, tiny_checkpoint,
                                  tmp_path / 'r.json', num_workers=1))
    part = open(part_path(str(tmp_path / 'r.json'))).read().splitlines()
    assert [json.loads(x)['image'] for x in part[1:]] == ['imgs/img_0000.png']
