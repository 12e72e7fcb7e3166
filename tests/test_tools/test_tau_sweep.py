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
        [sys.executable, str(SCRIPT), str(cfg), '--taus', '0.1,0.35',
         '--iters', '2', '--work-dir', str(work)],
        cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert '[tau sweep] 1/2: tau=0.10' in log and 'best tau=' in log
    summary = json.loads((work / 'tau_sweep.json').read_text())
    assert [r['tau'] for r in summary['results']] == [0.1, 0.35]
    for row in summary['results']:
        assert 0.0 <= row['oIoU'] <= 100.0
    assert summary['best_tau'] in (0.1, 0.35)
    png = (work / 'tau_sweep.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 1000
    assert (work / 'tau_0.35').is_dir()
