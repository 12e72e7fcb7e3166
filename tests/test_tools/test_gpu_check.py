"""tools/analysis_tools/gpu_check.py: its GPU paths, checked on the CPU."""
import copy
import importlib.util
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
        report = tool.measure_attention(model, CPU, ['FLASH_ATTENTION'])
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
                                                 ['FLASH_ATTENTION'])
    report['train'] = tool.measure_training(model, CPU, batch=2, iters=1,
                                            words=5)
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
