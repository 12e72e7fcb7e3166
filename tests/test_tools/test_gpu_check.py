"""tools/analysis_tools/gpu_check.py: its GPU paths, checked on the CPU."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from projects.risam.profiling import config_without_checkpoints, make_batch

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
CPU = torch.device('cpu')


def _tool():
    spec = importlib.util.spec_from_file_location(
        'gpu_check', REPO / 'tools/analysis_tools/gpu_check.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return _tool()


def test_without_cuda_one_line_and_exit_2(tool, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert tool.main([]) == 2
    out, err = capsys.readouterr()
    assert out == ''
    assert err.count('\n') == 1 and 'no CUDA device' in err


def test_missing_package_is_named(tool, capsys, monkeypatch):
    with pytest.raises(tool.MissingPackage, match='no_such_pkg cannot be'):
        tool.check_stack(['torch', 'no_such_pkg'])
    monkeypatch.setattr(tool, 'STACK', ('numpy', 'no_such_pkg'))
    assert tool.main([]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith(
        "gpu_check.py: error: no_such_pkg cannot be imported "
        "(ModuleNotFoundError: No module named 'no_such_pkg'); install")


def test_ddp_worker_flag_runs_one_rank(tool, tmp_path):
    """``--ddp-worker SPEC`` (how the 2-GPU comparison starts its ranks)
    runs one rank: on one gloo process its DDP step is the plain step."""
    import socket

    from projects.risam.profiling.build import build_core
    from projects.risam.profiling.ddp_compare import two_steps
    from projects.risam.profiling.training_step import adam
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = tmp_path / 'rank0.json'
    spec = tmp_path / 'spec0.json'
    spec.write_text(json.dumps(dict(
        rank=0, world=1, port=port, backend='gloo', config=str(TINY),
        batch=1, size=128, out=str(out))))
    assert tool.main(['--ddp-worker', str(spec)]) == 0
    model = build_core(config_without_checkpoints(str(TINY)).model, CPU)
    want = two_steps(model, adam(model), CPU, 1, 128)
    assert json.loads(out.read_text()) == pytest.approx(want, rel=1e-6)


# -- the import path of a bare GPU machine -----------------------------------
#: What the GPU machine's wheel pack leaves out (requirements/gpu_check.txt):
#: in a child process these imports fail as if not installed.
NOT_PACKED = ('mmseg', 'mmcv', 'cv2', 'scipy', 'pycocotools')
HIDE = '''
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in {hidden!r}:
            raise ModuleNotFoundError(f'No module named {{name!r}}',
                                      name=name)
sys.meta_path.insert(0, Hide())
'''


def _without_mmseg(code: str, hidden=NOT_PACKED
                   ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-c', HIDE.format(hidden=tuple(hidden)) + code],
        cwd=REPO, capture_output=True, text=True, timeout=300)


def _tiny_loss(model) -> float:
    inputs, samples = make_batch(2, 4, 128, 5, CPU, seed=3)
    model.train()
    losses = model(inputs, samples, mode='loss')
    return float(sum(v for k, v in losses.items() if 'loss' in k))


def test_core_import_path_needs_no_mmseg_mmcv_opencv_scipy():
    """Without mmseg (and mmcv, OpenCV, SciPy, pycocotools) installed,
    ``projects.risam`` registers the model core; the check runs to its
    no-CUDA exit; asking for the mmseg classes is a one-line ImportError."""
    proc = _without_mmseg(f'''
import torch
torch.cuda.is_available = lambda: False
import projects.risam as risam
from projects.risam import models
print('WITH_MMSEG', risam.WITH_MMSEG)
try:
    models.RISAM
except ImportError as e:
    print('RISAM:', e)
spec = __import__('importlib.util').util.spec_from_file_location(
    'gpu_check', 'tools/analysis_tools/gpu_check.py')
tool = __import__('importlib.util').util.module_from_spec(spec)
spec.loader.exec_module(tool)
code = tool.main([])
loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({NOT_PACKED!r}))
print('exit', code, 'loaded', loaded)
''')
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == 'WITH_MMSEG False'
    assert out[1].startswith('RISAM: projects.risam.models.RISAM subclasses '
                             'mmsegmentation')
    assert out[2] == 'exit 2 loaded []'
    assert proc.stderr.count('\n') == 1 and 'no CUDA device' in proc.stderr


def test_core_trains_as_risam():
    """The check's model (``RISAMCore``, built in a process without mmseg)
    gives the loss that ``risam.RISAM``, built from the same config in this
    process through mmseg's registry, gives on the same batch: the check
    measures the paper model's training step, not a look-alike."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from projects.risam.models import RISAM, RISAMCore
    for name in ('forward', 'loss', '_forward', 'extract_visual',
                 'extract_text', 'decode'):
        assert getattr(RISAM, name) is getattr(RISAMCore, name), name
    proc = _without_mmseg(f'''
import torch
from projects.risam.profiling import (build_core, config_without_checkpoints,
                                      make_batch)
model = build_core(config_without_checkpoints({str(TINY)!r}).model,
                   torch.device('cpu'))
inputs, samples = make_batch(2, 4, 128, 5, torch.device('cpu'), seed=3)
model.train()
losses = model(inputs, samples, mode='loss')
print(type(model).__name__, repr(float(sum(
    v for k, v in losses.items() if 'loss' in k))))
''')
    assert proc.returncode == 0, proc.stderr
    name, core_loss = proc.stdout.split()
    cfg = config_without_checkpoints(str(TINY))
    init_default_scope('mmseg')
    torch.manual_seed(0)  # build_core's seed
    risam = MODELS.build(cfg.model)
    assert type(risam) is RISAM and name == 'RISAMCore'
    full = _tiny_loss(risam)
    assert float(core_loss) == pytest.approx(full, rel=1e-6, abs=1e-7)


def test_an_installed_mmseg_that_fails_to_import_is_an_error():
    """Only a missing mmseg selects the core: with mmseg installed but mmcv
    missing, ``import projects.risam`` fails naming mmcv."""
    proc = _without_mmseg('import projects.risam', hidden=('mmcv', ))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ModuleNotFoundError: No module named 'mmcv'")
