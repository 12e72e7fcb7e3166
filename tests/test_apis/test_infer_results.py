"""The results files of batch inference: the append-only writer, the repair
of a torn last line, resume checks, and the merge in input order."""
import json

import pytest

from projects.risam.apis import infer_results
from projects.risam.apis.infer_inputs import InputError, Job
from projects.risam.apis.infer_results import (
    EntryIndex,
    PartWriter,
    existing_parts,
    header,
    load_done,
    merge_parts,
    part_path,
    repair_part,
    seed_part,
)

JOBS = [Job('a.png', 'a.png', ['x', 'y']), Job('b.png', 'b.png', ['z']),
        Job('c.png', 'c.png', ['u', 'v', 'w'])]


def _entry(name, sid, sentence, **kw):
    return dict(image=name, sentence_id=sid, sentence=sentence, **kw)


def _all_entries():
    return [_entry(j.name, i, s, area=10 * k + i)
            for k, j in enumerate(JOBS) for i, s in enumerate(j.sentences)]


def test_writer_appends_and_fsyncs_at_the_image_interval(tmp_path,
                                                         monkeypatch):
    path = tmp_path / 'r.json.part.jsonl'
    syncs = []
    monkeypatch.setattr(infer_results.os, 'fsync',
                        lambda fd: syncs.append(fd))
    writer = PartWriter(str(path), 0.35, sync_images=5, sync_seconds=None)
    assert writer.syncs == 1  # the header is durable at once
    sizes = []
    for k in range(12):
        writer.write([_entry(f'{k}.png', 0, 's')])
        sizes.append(path.stat().st_size)  # flushed after every image
    assert writer.syncs == 1 + 2  # after images 5 and 10
    writer.close()
    assert writer.syncs == 4 and len(syncs) == 4
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == header(0.35)
    assert [json.loads(x)['image'] for x in lines[1:]] == [
        f'{k}.png' for k in range(12)]
    growth = [b - a for a, b in zip(sizes, sizes[1:])]
    assert growth == [len(json.dumps(_entry(f'{k}.png', 0, 's'))) + 1
                      for k in range(1, 12)]


def test_writer_fsyncs_at_the_time_interval(tmp_path, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(infer_results.time, 'monotonic', lambda: now[0])
    monkeypatch.setattr(infer_results.os, 'fsync', lambda fd: None)
    writer = PartWriter(str(tmp_path / 'p'), 0.35, sync_seconds=10.0)
    for k in range(30):
        now[0] += 1.0  # one image per second
        writer.write([_entry(f'{k}.png', 0, 's')])
    assert writer.syncs == 1 + 3  # at 10, 20 and 30 seconds
    writer.close()


def test_repair_cuts_only_a_torn_last_line(tmp_path):
    path = tmp_path / 'p.jsonl'
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": ')
    assert repair_part(str(path)) == len(b'{"c": ')
    assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    assert repair_part(str(path)) == 0
    path.write_bytes(b'{"torn')
    assert repair_part(str(path)) == 6 and path.read_bytes() == b''


def _part(path, entries, threshold=0.35):
    path.write_text(json.dumps(header(threshold)) + '\n' + ''.join(
        json.dumps(e) + '\n' for e in entries))
    return str(path)


def test_merge_writes_input_order_from_shuffled_parts(tmp_path):
    entries = _all_entries()
    out = tmp_path / 'r.json'
    extra = _entry('gone.png', 0, 'old')
    # two ranks, each out of order, one extra entry of an unlisted image
    p0 = _part(tmp_path / 'r.json.part.rank0.jsonl',
               [entries[5], extra, entries[0], entries[3]])
    p1 = _part(tmp_path / 'r.json.part.rank1.jsonl',
               [entries[2], entries[1], entries[4]])
    assert existing_parts(str(out)) == [p0, p1]
    index = EntryIndex(JOBS)
    assert merge_parts([p0, p1], str(out), index, 0.35) == 7
    doc = dict(header(0.35), results=entries + [extra])
    assert out.read_text() == json.dumps(doc)  # byte for byte json.dump's
    assert existing_parts(str(out)) == []  # the parts are gone

    p = _part(tmp_path / 'r.jsonl.part.jsonl', entries[::-1])
    merge_parts([p], str(tmp_path / 'r.jsonl'), index, 0.35, 'jsonl')
    lines = (tmp_path / 'r.jsonl').read_text().splitlines()
    assert [json.loads(x) for x in lines] == [header(0.35)] + entries


def test_merge_refuses_a_missing_entry(tmp_path):
    p = _part(tmp_path / 'r.json.part.jsonl', _all_entries()[:-1])
    with pytest.raises(InputError, match='1 entries are in no part'):
        merge_parts([p], str(tmp_path / 'r.json'), EntryIndex(JOBS), 0.35)
    assert not (tmp_path / 'r.json').exists()


def test_load_done_checks_threshold_and_sentences(tmp_path):
    index = EntryIndex(JOBS)
    p = _part(tmp_path / 'p.jsonl', _all_entries()[:2])
    with open(p, 'a') as f:
        f.write('{"image": "c.png", "sente')  # torn: ignored
    assert load_done([p], index, 0.35, 'in.jsonl') == {('a.png', 0),
                                                      ('a.png', 1)}
    with pytest.raises(InputError, match='threshold 0.35, this run uses 0.5'):
        load_done([p], index, 0.5, 'in.jsonl')
    bad = _part(tmp_path / 'q.jsonl', [_entry('a.png', 1, 'changed')])
    with pytest.raises(InputError, match=r"a.png sentence 1 is 'changed' "
                       r"there but 'y' in in.jsonl"):
        load_done([bad], index, 0.35, 'in.jsonl')
    (tmp_path / 'n.jsonl').write_text('{"format": "risam-infer", '
                                      '"threshold": 0.35}\nnot json\n')
    with pytest.raises(InputError, match='n.jsonl line 2: not JSON'):
        load_done([str(tmp_path / 'n.jsonl')], index, 0.35, 'in.jsonl')


def test_seed_part_from_a_finished_document(tmp_path):
    entries = _all_entries()
    out = tmp_path / 'r.json'
    out.write_text(json.dumps(dict(header(0.35), results=entries[:4])))
    part = part_path(str(out))
    seed_part(str(out), part, 0.35)
    assert load_done([part], EntryIndex(JOBS), 0.35, 'x') == {
        (e['image'], e['sentence_id']) for e in entries[:4]}
    with pytest.raises(InputError, match='made with threshold 0.35'):
        seed_part(str(out), part, 0.4)
    assert part_path('o.json', 1, 2) == 'o.json.part.rank1.jsonl'
