"""tools/test.py: one table row per split, --out JSON, --override-text,
--show-dir; and the same numbers scored independently of ReferMetric."""
import io
import json
import re
import runpy
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest
from pycocotools.coco import COCO

from .conftest import DEMO_CONFIG, REPO, data_options


def run_tool(tool: str, *args) -> None:
    """Run tools/<tool> in-process (as ``python tools/<tool> ARGS``)."""
    argv = sys.argv
    sys.argv = [tool, *map(str, args)]
    try:
        runpy.run_path(str(REPO / 'tools' / tool), run_name='__main__')
    finally:
        sys.argv = argv


@pytest.fixture(scope='module')
def test_outputs(refshapes_root, tiny_checkpoint, tmp_path_factory):
    work = tmp_path_factory.mktemp('test_tool')
    opts = ['--cfg-options', *data_options(refshapes_root),
            'test_dataloader.batch_size=8']
    with redirect_stdout(io.StringIO()) as out:
        run_tool('test.py', DEMO_CONFIG, tiny_checkpoint, '--work-dir',
                 work / 'a', '--out', work / 'metrics.json', '--show-dir',
                 'vis', *opts, f'test_evaluator.dump_file={work}/samples.json')
    (work / 'stdout_a.txt').write_text(out.getvalue())
    with redirect_stdout(io.StringIO()) as out:
        run_tool('test.py', DEMO_CONFIG, tiny_checkpoint, '--splits', 'val',
                 '--override-text', '', '--work-dir', work / 'b', '--out',
                 work / 'blind.json', '--no-paper', *opts,
                 f'test_evaluator.dump_file={work}/blind_samples.json',
                 'paper_model=risam_sam-vit-h_8xb4-50e_refcoco-1024x1024')
    (work / 'stdout_b.txt').write_text(out.getvalue())
    return work


def test_every_split_reported_with_all_keys(test_outputs, capsys):
    metrics = json.loads((test_outputs / 'metrics.json').read_text())
    assert list(metrics) == ['val', 'testA', 'testB']
    keys = {'oIoU', 'mIoU', 'Pr@50', 'Pr@60', 'Pr@70', 'Pr@80', 'Pr@90'}
    for split, values in metrics.items():
        assert keys <= set(values), split
        assert all(0 <= v <= 100 for v in values.values())
        pr = [values[f'Pr@{x}'] for x in (50, 60, 70, 80, 90)]
        assert pr == sorted(pr, reverse=True)  # Pr@X cannot rise with X
    # the three splits hold different images, so their numbers differ
    assert len({m['oIoU'] for m in metrics.values()}) == 3


def test_show_dir_writes_one_overlay_per_sentence(test_outputs,
                                                  refshapes_root):
    from projects.risam.datasets import load_refs
    refs = load_refs(str(refshapes_root / 'refs(unc).p'))
    n_sent = sum(len(r['sentences']) for r in refs
                 if r['split'] in ('val', 'testA', 'testB'))
    pngs = list((test_outputs / 'a').glob('*/vis/*.png'))
    assert len(pngs) == n_sent


def test_per_split_sample_dumps_and_override_text(test_outputs):
    """Each split gets its own dump; --override-text '' reaches the model
    as the sentence of every sample, and the table is recomputable from the
    dump."""
    dumps = {s: json.loads((test_outputs / f'samples_{s}.json').read_text())
             for s in ('val', 'testA', 'testB')}
    blind = json.loads((test_outputs / 'blind_samples_val.json').read_text())
    assert len(blind) == len(dumps['val'])
    assert all(row['text'] for row in dumps['val'])
    assert {row['text'] for row in blind} == {''}
    metrics = json.loads((test_outputs / 'metrics.json').read_text())
    for split, rows in dumps.items():
        miou = 100 * sum(r['iou'] for r in rows) / len(rows)
        assert metrics[split]['mIoU'] == pytest.approx(miou, abs=0.006)
        pr50 = 100 * sum(r['iou'] >= 0.5 for r in rows) / len(rows)
        assert metrics[split]['Pr@50'] == pytest.approx(pr50, abs=0.006)


def test_table_scored_independently(test_outputs, refshapes_root,
                                    tiny_checkpoint):
    """Every split's row against a scoring that shares nothing with the
    tool but the weights: masks from the inference API, one image at a
    time; targets decoded by pycocotools from instances.json; oIoU, mIoU
    and Pr@X added up here with numpy (DESIGN §4)."""
    from projects.risam.apis import inference_refer, init_refer_model
    from projects.risam.datasets import load_refs
    model = init_refer_model(str(DEMO_CONFIG), str(tiny_checkpoint))
    coco = COCO(str(refshapes_root / 'instances.json'))
    refs = load_refs(str(refshapes_root / 'refs(unc).p'))
    metrics = json.loads((test_outputs / 'metrics.json').read_text())
    for split in ('val', 'testA', 'testB'):
        inter, union = [], []
        for ref in (r for r in refs if r['split'] == split):
            img = coco.imgs[ref['image_id']]
            gt = coco.annToMask(coco.anns[ref['ann_id']]).astype(bool)
            texts = [s['sent'] for s in ref['sentences']]
            for out in inference_refer(
                    model, str(refshapes_root / 'images' / img['file_name']),
                    texts):
                pred = out.pred_sem_seg.data[0].numpy().astype(bool)
                inter.append((pred & gt).sum())
                union.append((pred | gt).sum())
        inter, union = np.array(inter, float), np.array(union, float)
        ious = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        row = metrics[split]
        assert row['oIoU'] == pytest.approx(
            100 * inter.sum() / union.sum(), abs=0.05), split
        assert row['mIoU'] == pytest.approx(100 * ious.mean(), abs=0.05)
        for x in (50, 60, 70, 80, 90):
            assert row[f'Pr@{x}'] == pytest.approx(
                100 * (ious >= x / 100).mean(), abs=0.006), (split, x)
    # the random weights give masks that are neither empty nor everything
    assert 0 < row['oIoU'] < 100 and inter.sum() > 0


def test_paper_column_beside_a_metafile_entry(refshapes_root,
                                              tiny_checkpoint, tmp_path,
                                              capsys):
    """The tiny model on RefShapes val, reported as the paper config's
    Model (``paper_model`` through --cfg-options): the paper's RefCOCO val
    cells, each with the difference. (The demo config's own run, and one
    with --no-paper, print no such table: see the next test.)"""
    name = 'risam_sam-vit-h_8xb4-50e_refcoco-1024x1024'
    run_tool('test.py', DEMO_CONFIG, tiny_checkpoint, '--splits', 'val',
             '--work-dir', tmp_path, '--out', tmp_path / 'm.json',
             '--cfg-options', *data_options(refshapes_root),
             f'paper_model={name}')
    out = capsys.readouterr().out
    ours = json.loads((tmp_path / 'm.json').read_text())['val']
    assert f"the paper's numbers ({name}, model-index.yml):" in out
    rows = {r[1]: r for r in ([c.strip() for c in line.split('|')]
                              for line in out.splitlines())
            if len(r) == 6 and r[0] == 'val'}
    assert set(rows) == {'oIoU', 'Pr@50', 'Pr@60', 'Pr@70', 'Pr@80',
                         'Pr@90'}
    assert rows['oIoU'][2:6] == [
        f"{ours['oIoU']:.2f}", '76.20', f"{ours['oIoU'] - 76.20:+.2f}",
        'RefCOCO val, Tab. 1, Tab. 2, Tab. 3, Tab. 5, Tab. 4, Tab. 6, '
        'Tab. 7, Tab. 9, Tab. 11']
    assert rows['Pr@90'][3] == '42.38'


def test_no_paper_table_for_the_demo_or_with_no_paper(test_outputs):
    """The demo config has no Model in the metafile; --no-paper hides the
    table even where ``paper_model`` names one (the fixture's runs)."""
    plain = (test_outputs / 'stdout_a.txt').read_text()
    hidden = (test_outputs / 'stdout_b.txt').read_text()
    for out in (plain, hidden):  # the metric table, and nothing more
        assert re.search(r'split \|\s+oIoU \|\s+mIoU \|', out)
        assert "paper's numbers" not in out and 'ours - paper' not in out
