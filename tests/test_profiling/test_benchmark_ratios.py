""".dev_scripts/benchmark_ratios.py --quick writes every JSON key with sane
values (no timing assertions: the quick sizes are too small to be faster);
its measurements in projects.risam.profiling.ratios."""
import json
import math
import subprocess
import sys

import pytest

from projects.risam.profiling.ratios import GROUPS, SUMMARY_KEYS, encoder, report_lines
from projects.risam.profiling.ratios.common import QUICK_ARCH
from projects.risam.utils import peak_memory

from .conftest import REPO

KEYS = ('shared_encoding_speedup', 'encoder_time_ratio',
        'encoder_memory_ratio', 'encoder_max_abs_diff', 'cache_train_speedup',
        'encoder_bf16_time_ratio', 'encoder_bf16_max_rel_err',
        'cache_train_speedup_worker_reader')
INTERACTIVE_KEYS = ('second_sentence_time_ratio_tiny',
                    'second_sentence_time_ratio_vit_b',
                    'onnx_decoder_time_ratio')


@pytest.mark.slow
def test_benchmark_quick_json(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run(
        [sys.executable, '.dev_scripts/benchmark_ratios.py', '--quick',
         '--json', str(out)], cwd=REPO, capture_output=True, text=True,
        check=True)
    res = json.loads(out.read_text())
    for k in KEYS:
        assert isinstance(res[k], float) and math.isfinite(res[k]), k
        assert k in proc.stdout
    assert res['encoder_max_abs_diff'] <= 1e-4
    assert res['shared_identical_predictions'] is True
    for k in KEYS[:3] + KEYS[4:6]:
        assert 0 < res[k] < 100, (k, res[k])
    assert 'invalid' not in res
    assert 0 < res['cache_train_speedup_worker_reader'] < 100
    # the cached iteration's stages: the frozen encoder never runs, the
    # stages and the rest add up to the iteration
    stages = res['cache_worker_iter_stages_s']
    assert 'encode' not in stages
    assert {'preprocess', 'maps', 'enhance', 'text', 'fusion', 'decode',
            'loss', 'loss_backward', 'optimizer', 'batch_copy',
            'other'} < set(stages) and 'visual' not in stages
    # the stages are disjoint: nothing is counted twice (maps excludes FE);
    # each stage is rounded to 1e-4 s, so 'other' may read -1e-4
    assert stages['other'] >= -5e-4 and stages['maps'] >= -5e-4
    assert res['cache_untimed_share'] == pytest.approx(
        stages['other'] / stages['iteration'])
    assert all(v >= 0 for k, v in stages.items() if k != 'other')
    parts = sum(v for k, v in stages.items() if k != 'iteration')
    assert abs(parts - stages['iteration']) < 1e-3
    # bf16 features are not fp32 ones, and close to them
    assert (1e-5 < res['encoder_bf16_max_rel_err'] < 5e-2
            if res['encoder_bf16_native'] else
            res['encoder_bf16_max_rel_err'] == 0)
    for k in INTERACTIVE_KEYS:
        assert isinstance(res[k], float) and 0 < res[k] < 100, (k, res[k])
        assert k in proc.stdout
    assert res['onnx_decoder_max_abs_diff'] <= 1e-3
    peak = res['onnx_decoder_peak_mib']
    assert set(peak) == {'torch_eager', 'onnxruntime'}
    assert all(math.isfinite(v) and v >= 0 for v in peak.values()), peak


def test_peak_reset_failure_is_an_error(tmp_path, monkeypatch):
    """Without a reset of the peak RSS, the peak would include building the
    model: the step raises, it is never skipped."""
    monkeypatch.setattr(peak_memory, 'CLEAR_REFS',
                        str(tmp_path / 'no' / 'file'))
    with pytest.raises(peak_memory.MeasurementError, match='peak RSS'):
        encoder.reset_peak_rss()


def test_failed_memory_step_marks_the_ratio_invalid(monkeypatch):
    def fail(impl, arch, size):
        raise peak_memory.MeasurementError(f'memory worker ({impl}) failed: x')

    monkeypatch.setattr(encoder, 'peak_growth_mb', fail)
    res = encoder.bench_encoder(QUICK_ARCH, 64, 1)
    assert res['encoder_memory_ratio'] is None
    assert 'memory worker (sam) failed' in res['invalid'][
        'encoder_memory_ratio']
    assert res['encoder_max_abs_diff'] <= 1e-4


def test_memory_worker_runs_in_a_fresh_process():
    """The worker process imports the package and reports a peak; the
    SDPA encoder's forward at 64 px grows the resident set by > 0 MB."""
    assert encoder.peak_growth_mb('sdpa', QUICK_ARCH, 64) > 0


def test_groups_table_and_report():
    """One table names the groups (``--only``'s choices, in run order); the
    report prints the summary keys present, an invalid ratio and why."""
    assert list(GROUPS) == ['shared', 'encoder', 'bf16', 'cache', 'interactive',
                            'infer']
    res = dict(encoder_time_ratio=0.51234, encoder_memory_ratio=None,
               invalid=dict(encoder_memory_ratio='memory worker (sam) failed: x'),
               cache_worker_iter_stages_s=dict(iteration=0.5, other=0.01),
               shared_identical_predictions=True)
    lines = report_lines(res)
    assert lines[1] == f'{"encoder_time_ratio":<34}{"0.5123":>12}'
    assert lines[2] == f'{"encoder_memory_ratio":<34}{"invalid":>12}'
    assert lines[3] == 'encoder_memory_ratio is invalid: memory worker (sam) failed: x'
    assert lines[4].endswith('seconds per stage: iteration 0.500, other 0.010')
    assert lines[5] == 'shared_identical_predictions: True'
    assert len(lines) == 6 and 'cache_untimed_share' in SUMMARY_KEYS


def test_stage_breakdown_counts_each_second_once(monkeypatch):
    """A fake step on a fake clock: every stage takes a known, distinct
    number of seconds, so a stage counted twice (the loss forward in both
    ``loss`` and ``loss_backward``) or missed shows in ``other``."""
    import time as time_module
    from types import SimpleNamespace

    from torch import nn

    from projects.risam.profiling.ratios.cache import stage_breakdown
    now = [0.]

    def tick(seconds):
        now[0] += seconds

    monkeypatch.setattr(time_module, 'perf_counter', lambda: now[0])

    class Head(nn.Module):
        def forward(self, x):
            tick(19.)
            return x

        def loss_by_feat(self):
            tick(5.)

    class Part(nn.Module):
        def __init__(self, seconds):
            super().__init__()
            self.seconds = seconds

        def forward(self, x):
            tick(self.seconds)
            return x

    model = SimpleNamespace(
        backbone=SimpleNamespace(encode=lambda: tick(100.),
                                 enhance=lambda: tick(2.)),
        text_encoder=Part(23.), neck=Part(29.), decode_head=Head(),
        data_preprocessor=SimpleNamespace(forward=lambda: tick(1.)))

    def extract_visual():
        tick(3.)  # the cache check and the maps
        model.backbone.enhance()

    model.extract_visual = extract_visual

    def step(timer):
        with timer.timing('batch_copy'):
            tick(13.)
        model.data_preprocessor.forward()
        model.extract_visual()
        model.text_encoder(0)
        model.neck(0)
        model.decode_head(0)
        model.decode_head.loss_by_feat()
        tick(17.)  # bookkeeping no stage covers
        with timer.timing('loss_backward'):
            tick(7.)
        with timer.timing('optimizer'):
            tick(11.)

    stages = stage_breakdown(model, step, reps=2)
    assert stages == dict(batch_copy=13., preprocess=1., maps=3., enhance=2.,
                          text=23., fusion=29., decode=19., loss=5.,
                          loss_backward=7., optimizer=11., other=17.,
                          iteration=130.)
