"""tools/test.py: one table row per split, --out JSON, --override-text,
--show-dir; and the same numbers from the metric run by hand."""
import json
import runpy
import sys

import pytest

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
    run_tool('test.py', DEMO_CONFIG, tiny_checkpoint, '--work-dir',
             work / 'a', '--out', work / 'metrics.json', '--show-dir', 'vis',
             *opts, f'test_evaluator.dump_file={work}/samples.json')
    run_tool('test.py', DEMO_CONFIG, tiny_checkpoint, '--splits', 'val',
             '--override-text', '', '--work-dir', work / 'b', '--out',
             work / 'blind.json', *opts,
             f'test_evaluator.dump_file={work}/blind_samples.json')
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
