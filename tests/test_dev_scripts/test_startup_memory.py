"""Start-up memory of a SAM encoder built from its file (issue: eight ranks
of a node must not each hold the file on top of their model)."""
import json
import subprocess
import sys

import pytest
import torch

from projects.risam.models.backbones import SAMBackbone
from projects.risam.models.backbones import encoder_dtype as encoder_dtype_mod
from projects.risam.utils.mapped_pages import file_mappings, release_file_pages
from projects.risam.utils.peak_memory import reset_peak_rss, status_mb

from .conftest import REPO

ARCH = dict(img_size=64, patch_size=4, embed_dim=32, depth=4, num_heads=2,
            window_size=4, global_attn_indexes=(1, 3))
TOOL = REPO / '.dev_scripts/startup_memory.py'


def _mapped(tmp_path, tensors):
    path = tmp_path / 'w.pth'
    torch.save(tensors, path)
    return str(path), torch.load(path, mmap=True, weights_only=True)


def test_release_gives_back_whole_pages_of_the_file_only(tmp_path):
    """Pages inside the tensor go; the other tensors of the file still read
    the file's values (a private, unwritten mapping re-reads the file); a
    tensor in ordinary memory is never touched (DONTNEED would zero it)."""
    torch.manual_seed(0)
    ref = dict(a=torch.randn(300_000), b=torch.randn(50_000),
               c=torch.randn(3))
    path, state = _mapped(tmp_path, {k: v.clone() for k, v in ref.items()})
    maps = file_mappings(path)
    assert maps, 'loading with mmap=True maps the file'
    a = state['a'].data_ptr()
    assert any(lo <= a < hi for lo, hi in maps)
    page = 4096
    expected = ((a + 300_000 * 4) // page - -(-a // page)) * page
    assert release_file_pages(state['a'], maps) == expected > 0
    assert torch.equal(state['b'], ref['b'])
    assert torch.equal(state['c'], ref['c'])
    assert torch.equal(state['a'], ref['a'])  # read back from the file
    assert release_file_pages(state['c'], maps) == 0  # no whole page
    private = ref['a'].clone()
    assert release_file_pages(private, maps) == 0
    assert torch.equal(private, ref['a'])
    assert file_mappings(str(tmp_path / 'other.pth')) == []


def test_bf16_build_from_a_file_is_the_file_cast(tmp_path):
    """Every weight of a bf16 encoder built from a file is the file's value,
    in bf16 for the matmul weights and exact otherwise, and none of them
    lies in the file's mapping any more."""
    if not encoder_dtype_mod.cpu_has_native_bf16():
        pytest.skip('no native bf16 on this CPU (falls back to fp32)')
    torch.manual_seed(0)
    src = SAMBackbone(arch=ARCH, out_global_blocks=(1, ), sam_neck=True,
                      feature_enhancement=None)  # the whole encoder
    with torch.no_grad():
        for p in src.encoder.parameters():
            p.normal_()
    path = tmp_path / 'sam.pth'
    torch.save({f'image_encoder.{k}': v
                for k, v in src.encoder.state_dict().items()}, path)
    got = SAMBackbone(arch=ARCH, out_global_blocks=(0, 1),
                      feature_enhancement=None, checkpoint=str(path),
                      encoder_dtype='bf16')
    want = src.encoder.state_dict()
    maps = file_mappings(str(path))
    casts = 0
    for name, value in got.encoder.state_dict().items():
        matmul = name.endswith(('qkv.weight', 'qkv.bias', 'proj.weight',
                                'proj.bias', 'lin1.weight', 'lin1.bias',
                                'lin2.weight', 'lin2.bias'))
        assert value.dtype == (torch.bfloat16 if matmul else torch.float32)
        assert torch.equal(value, want[name].to(value.dtype)), name
        ptr = value.data_ptr()
        assert not any(lo <= ptr < hi for lo, hi in maps), name
        casts += matmul
    assert casts == 2 * 4 * 4 + 2  # 4 blocks x (qkv, proj, lin1, lin2) + patch


def test_bf16_build_peak_excludes_the_file(tmp_path):
    """Peak RSS growth of a bf16 build from a 48 MiB file stays near the
    bf16 copies (24 MiB), not file + copies (72 MiB): the file's pages are
    given back tensor by tensor."""
    if not encoder_dtype_mod.cpu_has_native_bf16():
        pytest.skip('no native bf16 on this CPU (falls back to fp32)')
    arch = dict(ARCH, embed_dim=512, depth=4, num_heads=4)
    torch.manual_seed(0)
    src = SAMBackbone(arch=arch, out_global_blocks=(1, ), sam_neck=True,
                      feature_enhancement=None)
    path = tmp_path / 'sam.pth'
    torch.save({f'image_encoder.{k}': v
                for k, v in src.encoder.state_dict().items()}, path)
    size_mib = path.stat().st_size / 2**20
    code = (
        'import sys; from projects.risam.models import SAMBackbone\n'
        'from projects.risam.utils.peak_memory import reset_peak_rss, '
        'status_mb\n'
        f'arch = {arch!r}\n'
        'reset_peak_rss(); before = status_mb("VmRSS")\n'
        'm = SAMBackbone(arch=arch, out_global_blocks=(0, 1), '
        f'feature_enhancement=None, checkpoint={str(path)!r}, '
        'encoder_dtype="bf16")\n'
        'print(status_mb("VmHWM") - before)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    peak = float(out.stdout.strip().splitlines()[-1])
    assert size_mib > 20
    assert peak < 0.8 * size_mib, (peak, size_mib)


def test_status_reads_the_peak():
    reset_peak_rss()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    assert status_mb('VmHWM') >= status_mb('VmRSS') > 60
    del block


@pytest.mark.slow
def test_tool_vit_b_within_the_target(tmp_path):
    """`startup_memory.py` on SAM ViT-B (random weights, official format):
    both RISAM paths grow by at most 1.3x the file, the plain
    segment_anything-style build by more than 1.3x (it holds the file and a
    random init)."""
    out_json = tmp_path / 'startup.json'
    proc = subprocess.run([sys.executable, str(TOOL), '--json',
                           str(out_json)], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert 'random weights in the official format' in proc.stdout
    report = json.loads(out_json.read_text())
    assert report['random_weights'] and report['checkpoint_mib'] > 300
    paths = report['paths']
    assert paths['plain']['peak_ratio'] > 1.3
    assert paths['fp32']['peak_ratio'] <= 1.3
    assert paths['bf16']['peak_ratio'] <= 1.3
    if encoder_dtype_mod.cpu_has_native_bf16():
        assert 'torch.bfloat16' in paths['bf16']['dtypes']
