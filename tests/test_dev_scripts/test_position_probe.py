""".dev_scripts/position_probe.py: the ridge probe and one run."""
import importlib.util
import json
import subprocess
import sys

import pytest
import torch

from .conftest import DEMO_CONFIG, REPO

SCRIPT = REPO / '.dev_scripts/position_probe.py'


def _module():
    spec = importlib.util.spec_from_file_location('position_probe', SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_ridge_r2_known_answers():
    probe = _module()
    xy = probe._xy(50, 8, 8)
    assert xy[:64, 0].reshape(8, 8)[0].tolist() == pytest.approx(
        [(i + 0.5) / 8 for i in range(8)])
    torch.manual_seed(0)
    noise = torch.randn(len(xy), 5)
    # x and y are linear in the first two features: R^2 = 1
    linear = torch.cat([2 * xy + 1, noise], 1)
    assert probe.ridge_r2(linear, xy, alpha=1e-6, seed=0) == pytest.approx(
        [1.0, 1.0], abs=1e-6)
    # features without position: R^2 ~ 0 on the held-out half
    r2 = probe.ridge_r2(noise, xy, alpha=1.0, seed=0)
    assert all(abs(v) < 0.05 for v in r2)
    # only x: x readable, y not
    r2 = probe.ridge_r2(torch.cat([xy[:, :1], noise], 1), xy, alpha=1e-6,
                        seed=0)
    assert r2[0] == pytest.approx(1.0, abs=1e-6) and abs(r2[1]) < 0.05


def test_probe_runs_on_a_checkpoint(tmp_path, refshapes_root,
                                    tiny_checkpoint):
    out = tmp_path / 'probe.json'
    subprocess.run([sys.executable, str(SCRIPT), str(DEMO_CONFIG),
                    str(tiny_checkpoint), '--num-images', '4', '--json',
                    str(out), '--cfg-options',
                    *(f'{loader}_dataloader.dataset.data_root={refshapes_root}'
                      for loader in ('train', 'val', 'test'))],
                   check=True, cwd=REPO)
    r2 = json.loads(out.read_text())
    assert list(r2) == ['tap0', 'tap1', 'tap2', 'F_v', 'F_lav', 'dec0',
                        'dec1', 'upsampled']
    # the frozen encoder's fixed sin-cos table: position is readable
    assert r2['tap0']['x'] > 0.9 and r2['tap0']['y'] > 0.9
