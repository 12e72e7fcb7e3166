"""tools/analysis_tools/tau_sweep.py on a tiny generated RefShapes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'tools/analysis_tools/tau_sweep.py'


def _parse_taus():
    import importlib.util
    spec = importlib.util.spec_from_file_location('tau_sweep', SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.parse_taus


def test_parse_taus_paper_grid():
    parse = _parse_taus()
    taus = parse('0.05:0.5:0.05')
    assert len(taus) == 10 and taus[0] == 0.05 and taus[-1] == 0.5
    assert 0.35 in taus
    assert parse('0.35,0.1') == [0.1, 0.35]
    with pytest.raises(ValueError):
        parse('0.5:0.05:0.05')


def test_tau_sweep_runs_and_plots(tmp_path):
    data = tmp_path / 'refshapes'
    subprocess.run([sys.executable,
                    str(REPO / 'tools/dataset_converters/make_refshapes.py'),
                    str(data), '--seed', '0', '--train', '8', '--val', '2',
                    '--test', '2'], check=True, cwd=REPO)
    base = REPO / 'configs/risam/_base_'
    cfg = tmp_path / 'tiny_refshapes.py'
    cfg.write_text(
        f"_base_ = ['{base}/models/risam_tiny.py', "
        f"'{base}/datasets/refshapes.py', "
        f"'{base}/schedules/schedule_50e.py', "
        f"'{base}/default_runtime.py']\n"
        f"data_root = '{data}/'\n"
        "_loader = dict(batch_size=8, num_workers=0, "
        "persistent_workers=False)\n"
        "train_dataloader = dict(**_loader, dataset=dict(data_root=data_root))\n"
        "val_dataloader = dict(**_loader, dataset=dict(data_root=data_root))\n"
        "test_dataloader = val_dataloader\n"
        "env_cfg = dict(dist_cfg=dict(backend='gloo'))\n")
    work = tmp_path / 'sweep'
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(cfg), '--taus', '0.35,0.6',
         '--iters', '2', '--work-dir', str(work)],
        cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert '[tau sweep] 1/2: tau=0.35' in log and 'best tau=' in log
    summary = json.loads((work / 'tau_sweep.json').read_text())
    rows = summary['results']
    assert [r['tau'] for r in rows] == [0.35, 0.6]
    # tau reached the neck of each run's model (two MA blocks)
    assert [r['neck_tau'] for r in rows] == [[0.35, 0.35], [0.6, 0.6]]
    for row in rows:
        assert 0.0 <= row['oIoU'] <= 100.0
    # the best tau is the argmax (first on a tie; the fake runs below
    # check a strict one)
    best = max(rows, key=lambda r: r['oIoU'])
    assert summary['best_tau'] == best['tau']
    assert f"best tau={best['tau']:.2f} (oIoU={best['oIoU']:.2f})" in log
    png = (work / 'tau_sweep.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 1000
    assert (work / 'tau_0.60').is_dir()


def _main_with_fake_runs(tmp_path, monkeypatch, scores, neck_tau=None):
    """tau_sweep.main() over fake runs: ``scores`` maps tau -> val oIoU;
    ``neck_tau`` (if given) is what every fake model's blocks report."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('tau_sweep_main', SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    class FakeRunner:
        def __init__(self, tau):
            self.tau = tau
            self.hooks = []
            block = type('Block', (), {
                'tau': tau if neck_tau is None else neck_tau})()
            neck = type('Neck', (), {'blocks': [block, block]})()
            self.model = type('Model', (), {'neck': neck})()

        @classmethod
        def from_cfg(cls, cfg):
            return cls(cfg.model.neck.tau)

        def register_hook(self, hook):
            self.hooks.append(hook)

        def train(self):
            self.hooks[0].after_val_epoch(self,
                                          dict(oIoU=scores[self.tau]))

    cfg = tmp_path / 'cfg.py'
    cfg.write_text("model = dict(neck=dict(type='risam.MutualAwareFusion', "
                   "tau=0.35))\ndefault_hooks = dict()\n")
    monkeypatch.setattr(mod, 'Runner', FakeRunner)
    monkeypatch.setattr(mod, 'plot', lambda *a: None)
    taus = ','.join(str(t) for t in scores)
    monkeypatch.setattr(sys, 'argv', [
        'tau_sweep.py', str(cfg), '--taus', taus, '--iters', '1',
        '--work-dir', str(tmp_path)])
    mod.main()
    return json.loads((tmp_path / 'tau_sweep.json').read_text())


def test_best_tau_is_the_argmax_not_the_last_or_first(tmp_path, monkeypatch):
    """Three fake runs whose best is the middle tau."""
    summary = _main_with_fake_runs(tmp_path, monkeypatch,
                                   {0.1: 30.0, 0.35: 55.5, 0.5: 41.0})
    assert summary['best_tau'] == 0.35
    assert [r['oIoU'] for r in summary['results']] == [30.0, 55.5, 41.0]
    assert [r['neck_tau'] for r in summary['results']] == [
        [0.1, 0.1], [0.35, 0.35], [0.5, 0.5]]


def test_a_tau_that_does_not_reach_the_neck_stops_the_sweep(tmp_path,
                                                           monkeypatch):
    with pytest.raises(RuntimeError, match=r'neck taus \[0\.35, 0\.35\]'):
        _main_with_fake_runs(tmp_path, monkeypatch, {0.1: 30.0},
                             neck_tau=0.35)
