"""tools/analysis_tools/gpu_check.py: the whole check run on the CPU
(``--device cpu``, once per module), its exits, and the import path of a
bare GPU machine."""
import contextlib
import importlib.util
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from projects.risam.profiling import config_without_checkpoints, make_batch
from projects.risam.profiling.gpu_check import SCHEMA, SECTIONS
from projects.risam.profiling.report_schema import schema_errors

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


@pytest.fixture(scope='module')
def cpu_check(tool, tmp_path_factory):
    """One run of the whole check on the CPU with the tiny config, at the
    smallest sizes (1 timed iteration, batch 2): exit code, stdout lines,
    the --json file."""
    out = tmp_path_factory.mktemp('gpu_check') / 'report.json'
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = tool.main(['--device', 'cpu', '--config', str(TINY), '--json',
                          str(out), '--iters', '1', '--batch', '2',
                          '--encoder-batch', '1'])
    return code, stdout.getvalue().splitlines(), json.loads(out.read_text())


def test_cpu_check_reports_every_section_as_it_goes(cpu_check):
    code, lines, report = cpu_check
    assert code == 0
    entries = [json.loads(line) for line in lines[:-1]]
    assert [e.pop('section') for e in entries] == list(SECTIONS)
    assert entries == [report[name] for name in SECTIONS]
    assert schema_errors(report, SCHEMA) == []
    status = {k: report[k]['status'] for k in SECTIONS}
    assert status == dict(stack='ok', encoder='ok', attention='ok',
                          train='ok', syncs='skipped', ddp='ok',
                          projection='ok')
    assert report['syncs']['note'] == 'not on CUDA'
    assert report['attention']['result']['training_step'] == 'not on CUDA'
    assert report['stack']['result']['torch'] == torch.__version__
    assert report['train']['result']['batch'] == 2


def test_cpu_check_ddp_ranks_equal_the_reference(cpu_check):
    """Two gloo ranks, each on its own data, two steps: the same weights
    on both ranks and as the one-process reference (0.0 measured)."""
    ddp = cpu_check[2]['ddp']['result']
    assert ddp['backend'] == 'gloo' and ddp['equal']
    assert ddp['max_diff_between_ranks'] == 0.0
    assert ddp['max_diff_to_reference'] <= ddp['tolerance'] == 5e-6
    assert ddp['losses'] == ddp['reference_losses']
    assert ddp['losses'][0] != ddp['losses'][1]  # each rank its own data
    assert ddp['sync_bn'].startswith('SyncBatchNorm needs CUDA')


def test_cpu_check_projection(cpu_check):
    """The tiny config's own schedule (3000 iterations of 16 on 1 device)
    at the measured batch of 2, and the plain-words last line."""
    _, lines, report = cpu_check
    proj = report['projection']['result']
    train = report['train']['result']
    assert proj['steps'] == math.ceil(3000 * 16 / 2)
    assert proj['card'] is None and proj['validation_hours'] is None
    for mode in ('per_sentence', 'image_grouped', 'cached'):
        assert proj[mode]['gpus'] == 1
        assert proj[mode]['peak_memory_fraction'] is None
        assert proj[mode]['hours_full_schedule'] == pytest.approx(
            24000 * train[mode]['seconds_per_iter'] / 3600, abs=0.01)
    assert lines[-1] == proj['summary']
    assert lines[-1].startswith('On the CPU (no card, so memory is not '
                                'projected); its schedule (3000 iterations')


def test_a_failed_section_leaves_the_next_ones_reporting(cpu_check,
                                                         monkeypatch):
    """A ddp rank that dies: ddp records it in one line, and projection
    after it still reports (train's figures are the whole check's, to
    save measuring them again)."""
    from projects.risam.profiling import gpu_check
    train = cpu_check[2]['train']['result']
    monkeypatch.setattr(gpu_check, 'measure_training', lambda *a, **k: train)
    lines = []
    report = gpu_check.run_gpu_check(
        str(TINY), CPU, batch=2, only=('train', 'ddp', 'projection'),
        emit=lines.append,
        ddp_worker=[sys.executable, '-c', 'import sys; sys.exit(3)'])
    assert [json.loads(s)['section'] for s in lines] == [
        'train', 'ddp', 'projection']
    assert report['ddp']['status'] == 'failed'
    assert re.match(r'GpuCheckError: rank [01] exited with 3',
                    report['ddp']['error'])
    assert report['projection']['status'] == 'ok'
    assert report['projection']['result'] == cpu_check[2]['projection'][
        'result']


def test_without_cuda_one_line_and_exit_2(tool, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert tool.main([]) == 2
    out, err = capsys.readouterr()
    assert out == ''
    assert err.count('\n') == 1 and 'no CUDA device' in err
    assert '--device cpu runs the check on the CPU' in err


def test_a_torchvision_for_another_cuda_stops_in_one_line(tool, capsys,
                                                          monkeypatch):
    import torchvision
    monkeypatch.setattr(torchvision.version, 'cuda', 11080, raising=False)
    assert tool.main(['--device', 'cpu']) == 1
    out, err = capsys.readouterr()
    assert out == ''
    assert err.count('\n') == 1 and err.startswith(
        f'gpu_check.py: error: torchvision {torchvision.__version__} is built '
        f'for CUDA 11.8, torch {torch.__version__} for CUDA '
        f'{torch.version.cuda}: install')


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
    """``--ddp-worker SPEC`` (how the NCCL ranks start) runs one rank: on
    one gloo process its two DDP steps are the reference's."""
    from projects.risam.profiling.ddp_compare import free_port, reference_steps
    spec = tmp_path / 'spec0.json'
    spec.write_text(json.dumps(dict(
        rank=0, world=1, port=free_port(), backend='gloo', config=str(TINY),
        batch=1, size=128, out_dir=str(tmp_path))))
    assert tool.main(['--ddp-worker', str(spec)]) == 0
    got = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    want = reference_steps(config_without_checkpoints(str(TINY)), CPU,
                           world=1, batch=1, size=128)
    assert got['losses'] == want['losses'][0]
    assert torch.equal(got['weights'], want['weights'])


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


def test_one_gpu_skips_ddp_with_the_reason(monkeypatch):
    """With CUDA but one GPU the ddp section says why it did not run (the
    device calls are faked: this machine has no GPU)."""
    from projects.risam.profiling import gpu_check
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    monkeypatch.setattr(torch.cuda, 'empty_cache', lambda: None)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda d: 'one GPU')
    report = gpu_check.run_gpu_check(str(TINY), torch.device('cuda', 0),
                                     only=('ddp', ), emit=lambda line: None)
    assert report['device'] == 'one GPU'
    assert (report['ddp']['status'], report['ddp']['note']) == (
        'skipped', 'one GPU: the 2-process NCCL run needs two')
