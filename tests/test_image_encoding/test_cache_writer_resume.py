"""The feature-cache writer at RefCOCO scale: an interrupted run (SIGKILL)
continues where it stopped, two ranks write one cache, a cache that does not
fit is refused before anything is written, and non-finite features are
never written."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from projects.risam.image_encoding import FeatureCache, FeatureCacheWriter

from .conftest import REPO, tiny_config

TOOL = REPO / 'tools/analysis_tools/cache_features.py'
# runs the tool, killed with SIGKILL right after its shard KILL_AFTER is
# renamed into place (a real kill: no finally, no close)
KILLER = '''
import os, runpy, signal, sys
from projects.risam.image_encoding import feature_cache
after = int(os.environ['KILL_AFTER'])
flush = feature_cache.FeatureCacheWriter._flush
def dying_flush(self):
    flush(self)
    if len(self.index['shards']) == after:
        os.kill(os.getpid(), signal.SIGKILL)
feature_cache.FeatureCacheWriter._flush = dying_flush
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def _tool(args, kill_after=None, **env_extra):
    env = dict(os.environ, **env_extra)
    cmd = [sys.executable, str(TOOL), *map(str, args)]
    if kill_after is not None:
        env['KILL_AFTER'] = str(kill_after)
        cmd = [sys.executable, '-c', KILLER, *cmd[1:]]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                          env=env)


def _shards(folder):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in folder.glob('shard_*.pt')}


def _tensors(folder):
    index = json.loads((folder / 'index.json').read_text())
    cache = FeatureCache(str(folder))
    cache.verify(index['fingerprint'], index['input_size'])
    keys = sorted(index['images'])
    return keys, cache.lookup(keys, torch.device('cpu'))


@pytest.fixture(scope='module')
def cfg_file(small_refshapes, tmp_path_factory):
    work = tmp_path_factory.mktemp('cache_resume')
    cfg = tiny_config(small_refshapes, work)
    path = work / 'cfg.py'
    cfg.dump(str(path))
    return path


@pytest.mark.slow  # three tool runs
def test_killed_writer_resumes_and_equals_one_go(cfg_file, tmp_path):
    common = [cfg_file, '--split', 'train', '--shard-size', '3',
              '--batch-size', '2', '--device', 'cpu']
    one_go = tmp_path / 'one_go'
    run = _tool([*common, '--out', one_go])
    assert run.returncode == 0, run.stderr[-2000:]
    assert 'GiB in' in run.stdout  # the size, printed before writing

    cut = tmp_path / 'cut'
    run = _tool([*common, '--out', cut], kill_after=2)
    assert run.returncode == -signal.SIGKILL
    running = json.loads((cut / 'index.json').read_text())
    assert running['complete'] is False and len(running['images']) == 6
    before = _shards(cut)
    assert sorted(before) == ['shard_00000.pt', 'shard_00001.pt']
    with pytest.raises(RuntimeError, match='incomplete'):
        FeatureCache(str(cut))

    run = _tool([*common, '--out', cut])
    assert run.returncode == 0, run.stderr[-2000:]
    assert '6 of them written by an earlier run' in run.stdout
    assert '10 encoded by this run' in run.stdout  # not the first 6 again
    after = _shards(cut)
    for name, stamp in before.items():  # kept, not rewritten
        assert after[name] == stamp, name
    assert not list(cut.glob('.*.tmp'))
    keys_a, a = _tensors(one_go)
    keys_b, b = _tensors(cut)
    assert keys_a == keys_b and len(keys_a) == 16
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.slow  # a 2-process gloo run
def test_two_ranks_write_one_cache(cfg_file, tmp_path):
    out = tmp_path / 'two'
    run = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone',
         '--nproc_per_node', '2', str(TOOL), str(cfg_file), '--split',
         'train', '--shard-size', '3', '--out', str(out), '--launcher',
         'pytorch', '--device', 'cpu'], cwd=REPO, capture_output=True,
        text=True, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert run.returncode == 0, run.stderr[-3000:]
    index = json.loads((out / 'index.json').read_text())
    assert index['complete'] is True
    names = sorted(p.name for p in out.glob('shard_*.pt'))
    assert names == sorted(index['shards'])
    assert {n.split('_')[1] for n in names} == {'r0', 'r1'}
    one = tmp_path / 'one'
    assert _tool([cfg_file, '--split', 'train', '--shard-size', '3',
                  '--out', one, '--device', 'cpu']).returncode == 0
    keys_two, two = _tensors(out)
    keys_one, ones = _tensors(one)
    assert keys_two == keys_one and len(keys_one) == 16  # each once
    assert all(torch.equal(x, y) for x, y in zip(two, ones))


def test_a_cache_that_does_not_fit_is_refused(cfg_file, tmp_path,
                                              monkeypatch):
    import shutil
    from collections import namedtuple
    usage = namedtuple('usage', 'total used free')
    monkeypatch.setattr(shutil, 'disk_usage',
                        lambda path: usage(10**9, 10**9 - 1000, 1000))
    from mmengine.config import Config
    from mmengine.registry import DATASETS

    from .test_feature_cache import cache_features
    cfg = Config.fromfile(str(cfg_file))
    model = cache_features.build_model(cfg)
    dataset = DATASETS.build(cache_features.split_dataset_cfg(cfg, 'val'))
    out = tmp_path / 'small_disk'
    with pytest.raises(cache_features.NotEnoughSpace,
                       match=r'needs .* GiB more and .* has 0.00 GiB free'):
        cache_features.cache_split(model, dataset, str(out))
    assert not list(out.glob('shard_*'))  # nothing written
    index = cache_features.cache_split(model, dataset, str(out), force=True)
    assert index['complete'] and len(index['images']) == 6


def test_non_finite_features_are_never_written(tmp_path):
    w = FeatureCacheWriter(out_dir=str(tmp_path), fingerprint={},
                           input_size=(2, 2), dtype='float16', shard_size=1)
    w.add('ok', [torch.ones(1, 2, 2)])
    # finite in fp32, inf in fp16: checked in the cache's dtype
    with pytest.raises(ValueError, match=r'image big has non-finite'):
        w.add('big', [torch.full((1, 2, 2), 1e6)])
    with pytest.raises(ValueError, match=r'image nan has non-finite'):
        w.add('nan', [torch.full((1, 2, 2), float('nan'))])
    index = w.close()
    assert sorted(index['images']) == ['ok']


def test_a_different_cache_in_the_folder_is_refused(tmp_path):
    FeatureCacheWriter(out_dir=str(tmp_path), fingerprint={'a': 1},
                       input_size=(2, 2)).close()
    with pytest.raises(RuntimeError, match=r'holds another cache: '
                       r'fingerprint.a \(cache: 1, model: 2\)'):
        FeatureCacheWriter(out_dir=str(tmp_path), fingerprint={'a': 2},
                           input_size=(2, 2))


def test_the_tool_refuses_a_folder_of_another_cache_in_one_line(cfg_file,
                                                                tmp_path):
    """``cache_features.py --out`` a folder that holds a cache of another
    encoder: one line naming the folder and the difference, exit 1, and
    the folder as it was."""
    out = tmp_path / 'cache'
    FeatureCacheWriter(out_dir=str(out), fingerprint={'encoder': 'other'},
                       input_size=(128, 128), dtype='float32').close()
    before = (out / 'index.json').read_bytes()
    proc = _tool([cfg_file, '--split', 'val', '--out', out,
                  '--dtype', 'float32'])
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'cache_features.py: error: feature cache {out} '
                           'holds another cache: fingerprint'), proc.stderr
    assert 'Traceback' not in proc.stderr
    assert (out / 'index.json').read_bytes() == before
    assert not list(out.glob('shard_*'))
