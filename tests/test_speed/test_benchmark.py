"""benchmark.py --quick writes every JSON key with sane values (no timing
assertions: the quick sizes are too small to be faster)."""
import json
import math
import subprocess
import sys

import pytest

from .conftest import REPO

KEYS = ('shared_encoding_speedup', 'encoder_time_ratio',
        'encoder_memory_ratio', 'encoder_max_abs_diff', 'cache_train_speedup')
INTERACTIVE_KEYS = ('second_sentence_time_ratio_tiny',
                    'second_sentence_time_ratio_vit_b',
                    'onnx_decoder_time_ratio')


@pytest.mark.slow
def test_benchmark_quick_json(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run(
        [sys.executable, 'tools/analysis_tools/benchmark.py', '--quick',
         '--json', str(out)], cwd=REPO, capture_output=True, text=True,
        check=True)
    res = json.loads(out.read_text())
    for k in KEYS:
        assert isinstance(res[k], float) and math.isfinite(res[k]), k
        assert k in proc.stdout
    assert res['encoder_max_abs_diff'] <= 1e-4
    assert res['shared_identical_predictions'] is True
    for k in KEYS[:3] + KEYS[4:]:
        assert 0 < res[k] < 100, (k, res[k])
    for k in INTERACTIVE_KEYS:
        assert isinstance(res[k], float) and 0 < res[k] < 100, (k, res[k])
        assert k in proc.stdout
    assert res['onnx_decoder_max_abs_diff'] <= 1e-3
