"""tools/pack_wheels.sh --install: only what the machine lacks, never its
torch or torchvision."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = [ln.split('#')[0].strip() for ln in
                (REPO / 'requirements/gpu_check.txt').read_text().splitlines()]


def _install(python: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ['bash', 'tools/pack_wheels.sh', '--install', 'wheels'], cwd=REPO,
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHON=python, PIP='echo PIP', **(env or {})))


def test_a_complete_machine_gets_nothing():
    proc = _install(sys.executable)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('pack_wheels: installed: nothing (torch ')
    assert 'PIP' not in proc.stdout


def test_only_what_is_missing_and_not_a_preinstalled_torchvision(tmp_path):
    """A Python that sees no site-packages (``-S``) except a torchvision
    distribution: every requirement is installed from the pack with
    --no-deps, torchvision is not, torch never is."""
    site = tmp_path / 'site'
    info = site / 'torchvision-0.26.0+cu128.dist-info'
    info.mkdir(parents=True)
    (info / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: torchvision\nVersion: 0.26.0+cu128\n')
    fake = tmp_path / 'python'
    fake.write_text(  # torch is there; the rest as this interpreter -S sees
        '#!/bin/bash\n'
        'if [ "$1" = -c ]; then echo 2.11.0+cu128; exit 0; fi\n'
        f'exec {sys.executable} -S "$@"\n')
    fake.chmod(0o755)
    proc = _install(str(fake), env=dict(PYTHONPATH=str(site)))
    assert proc.returncode == 0, proc.stderr
    pip, summary = proc.stdout.splitlines()
    assert pip == ('PIP install --no-index --find-links wheels --no-deps '
                   + ' '.join(r for r in REQUIREMENTS if r))
    assert 'torchvision' not in pip and 'torch' not in pip.split()
    assert summary.endswith('(torch 2.11.0+cu128 kept)')
