"""tools/analysis_tools/gpu_check.py: its GPU paths, checked on the CPU."""
import copy
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

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


@pytest.fixture
def tiny(tool):
    cfg = tool.paper_model_cfg(str(TINY))
    return cfg.model, tool.build_model(cfg.model, CPU)


def test_without_cuda_one_line_and_exit_2(tool, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert tool.main([]) == 2
    out, err = capsys.readouterr()
    assert out == ''
    assert err.count('\n') == 1 and 'no CUDA device' in err


def test_missing_package_is_named(tool):
    with pytest.raises(tool.GpuCheckError, match='no_such_pkg cannot be'):
        tool.check_stack(['torch', 'no_such_pkg'])


def test_fused_kernels_only(tool, tiny):
    """Under the restriction the profiler sees only the allowed kernel, and
    the outputs are those of the unrestricted run; a restriction to a back
    end with no kernel for the call is an error, not a fall back to math."""
    _, model = tiny
    with torch.no_grad():
        x = torch.randn(1, 3, 128, 128)
        free = model.backbone.encode(x)
        counts = tool.sdpa_kernels(lambda: model.backbone.encode(x),
                                   ['FLASH_ATTENTION'])
        assert set(counts) == {'flash'} and counts['flash'] > 0
        with tool.restricted_sdpa(['FLASH_ATTENTION']):
            fused = model.backbone.encode(x)
        for a, b in zip(free, fused):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        report = tool.measure_attention(model, CPU, ['FLASH_ATTENTION'],
                                        size=128)
        assert report['encoder'] == counts
        assert set(report['decoder']) == {'flash'}
        # CPU has no memory-efficient kernel: math would be the fall back
        with pytest.raises(tool.GpuCheckError, match='fall back to the math'):
            tool.sdpa_kernels(lambda: model.backbone.encode(x),
                              ['EFFICIENT_ATTENTION'])
        # the math kernel itself is refused even when it is allowed
        with pytest.raises(tool.GpuCheckError, match='math SDPA kernel ran'):
            tool.sdpa_kernels(lambda: model.backbone.encode(x), ['MATH'])


def test_report_schema(tool, tiny):
    """A report assembled from CPU runs of every measurement conforms to
    the schema; a renamed or mistyped key does not."""
    _, model = tiny
    arch = dict(embed_dim=32, depth=4, num_heads=2,
                global_attn_indexes=(0, 1, 2, 3), img_size=64)
    report = dict(schema=tool.SCHEMA_VERSION, device='cpu',
                  torch=torch.__version__, cuda='None', ddp=None)
    report['encoder'] = tool.measure_encoder(CPU, arch=arch, size=64,
                                             batch=2, iters=1)
    report['attention'] = tool.measure_attention(model, CPU,
                                                 ['FLASH_ATTENTION'],
                                                 size=128)
    report['train'] = tool.measure_training(model, CPU, size=128, batch=2,
                                            iters=1, words=5)
    assert tool.schema_errors(report) == []
    for stat in ('per_sentence', 'image_grouped', 'cached'):
        assert report['train'][stat]['seconds_per_iter'] > 0
    assert report['encoder']['fp32']['images_per_s'] > 0
    bad = copy.deepcopy(report)
    bad['train']['grouped'] = bad['train'].pop('image_grouped')
    bad['encoder']['fp32']['images_per_s'] = '3'
    assert sorted(tool.schema_errors(bad)) == [
        'encoder.fp32.images_per_s: str', 'train.grouped: not in the schema',
        'train.image_grouped: missing']


@pytest.mark.slow
def test_two_processes_on_gloo_equal_one(tool):
    """The 2-process step (gloo here, NCCL on GPUs): the same losses and
    updated weights as the 1-process step."""
    result = tool.compare_ddp(str(TINY), backend='gloo', batch=2, size=128)
    assert result['equal'], result
    one, two = result['one_process'], result['two_process']
    assert one['loss_step2'] != pytest.approx(one['loss_step1'], abs=1e-7)
    assert two['loss_step1'] == pytest.approx(one['loss_step1'], rel=1e-6)


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


def _tiny_loss(model, tool) -> float:
    inputs, samples = tool.make_batch(2, 4, 128, 5, CPU, seed=3)
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


def test_core_trains_as_risam(tool):
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
import importlib.util, torch
spec = importlib.util.spec_from_file_location(
    'gpu_check', 'tools/analysis_tools/gpu_check.py')
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)
model = tool.build_model(tool.paper_model_cfg({str(TINY)!r}).model,
                         torch.device('cpu'))
inputs, samples = tool.make_batch(2, 4, 128, 5, torch.device('cpu'), seed=3)
model.train()
losses = model(inputs, samples, mode='loss')
print(type(model).__name__, repr(float(sum(
    v for k, v in losses.items() if 'loss' in k))))
''')
    assert proc.returncode == 0, proc.stderr
    name, core_loss = proc.stdout.split()
    cfg = tool.paper_model_cfg(str(TINY))
    init_default_scope('mmseg')
    torch.manual_seed(0)  # build_model's seed
    risam = MODELS.build(cfg.model)
    assert type(risam) is RISAM and name == 'RISAMCore'
    full = _tiny_loss(risam, tool)
    assert float(core_loss) == pytest.approx(full, rel=1e-6, abs=1e-7)


def test_an_installed_mmseg_that_fails_to_import_is_an_error():
    """Only a missing mmseg selects the core: with mmseg installed but mmcv
    missing, ``import projects.risam`` fails naming mmcv."""
    proc = _without_mmseg('import projects.risam', hidden=('mmcv', ))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ModuleNotFoundError: No module named 'mmcv'")


def test_input_size_is_the_preprocessors(tool):
    cfg = tool.paper_model_cfg(str(TINY))
    assert tool.input_size(cfg.model) == 128
    assert tool.input_size(dict(type='risam.RISAM')) == 1024
