"""tools/analysis_tools/benchmark.py CONFIG CHECKPOINT: images/s and
sentences/s of a trained model on the config's test images, with the shared
image encoding on and off; a missing data folder is a one-line error."""
import json
import re
import subprocess
import sys

import pytest

from .conftest import DEMO_CONFIG, REPO, data_options

TOOL = 'tools/analysis_tools/benchmark.py'


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TOOL, str(DEMO_CONFIG), *args],
                          cwd=REPO, capture_output=True, text=True)


def _rate(stdout: str, unit: str, share: bool) -> float:
    match = re.search(rf'^{unit}/s \(share_image_encoding={share}\): '
                      r'([0-9.]+) \+/- ([0-9.]+)$', stdout, re.M)
    assert match, stdout
    return float(match.group(1))


def test_benchmark_rates(refshapes_root, tiny_checkpoint, tmp_path):
    out = tmp_path / 'bench.json'
    proc = _run(str(tiny_checkpoint), '--num-images', '2', '--repeat-times', '2',
                '--log-interval', '1', '--json', str(out), '--work-dir', str(tmp_path / 'wd'),
                '--cfg-options', *data_options(refshapes_root))
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    n_img, n_sent = res['num_images'], res['num_sentences']
    assert n_img == 2 and n_sent >= 2
    assert (res['input_size'], res['device'], res['repeat_times']) == (128, 'cpu', 2)
    for name, share in (('shared', True), ('per_sentence', False)):
        images, sentences = (_rate(proc.stdout, u, share) for u in ('images', 'sentences'))
        assert images > 0 and sentences >= images
        # the printed means are the JSON's; sentences/s = images/s x n_sent/n_img
        assert images == round(res[name]['images_per_s']['mean'], 2)
        assert res[name]['sentences_per_s']['mean'] == pytest.approx(
            res[name]['images_per_s']['mean'] * n_sent / n_img, rel=1e-3)
        assert len(res[name]['seconds']) == 2
        assert f'encoded images per pass (share_image_encoding={share}): ' \
            f'{res[name]["encoded_images"]}' in proc.stdout
    # one encoder pass per image of a batch when shared, one per sentence if not
    assert n_img <= res['shared']['encoded_images'] < res['per_sentence']['encoded_images']
    assert res['per_sentence']['encoded_images'] == n_sent
    # progress as mmseg's benchmark: both images are in one batch, so one
    # line per pass (2 settings x 2 passes), after that batch
    assert re.findall(r'^Done image \[(\d+) */ (\d+)\]', proc.stdout, re.M) == [('2', '2')] * 4
    assert len(list((tmp_path / 'wd').glob('benchmark_*.json'))) == 1


def test_benchmark_missing_data_is_one_line(tiny_checkpoint, tmp_path):
    missing = tmp_path / 'no_refshapes'
    proc = _run(str(tiny_checkpoint), '--cfg-options', *data_options(missing))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f'error: dataset folder not found: {missing} (point the config at the data, '
        'e.g. --cfg-options test_dataloader.dataset.data_root=DIR)')
    assert 'Traceback' not in proc.stderr
