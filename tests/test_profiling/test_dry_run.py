"""projects.risam.profiling.dry_run: what the dry run says and counts (the
run itself: tests/test_tools/test_dry_run.py)."""
import torch

from projects.risam.profiling.dry_run import (
    STAGES,
    param_counts,
    summary,
    weights_line,
)

GIB = 2**30


def test_weights_line_names_every_missing_file():
    missing = [dict(key='model.backbone.checkpoint', kind='segment_anything',
                    arch='vit_h', path='ckpt/sam_vit_h.pth'),
               dict(key='model.text_encoder.pretrained', kind='open_clip',
                    arch='ViT-B-16', path='ckpt/clip.bin')]
    assert weights_line(missing) == (
        'dry_run: random weights for model.backbone.checkpoint '
        '(segment_anything vit_h: ckpt/sam_vit_h.pth is missing); '
        'model.text_encoder.pretrained (open_clip ViT-B-16: ckpt/clip.bin is '
        'missing)')
    assert weights_line([]) == (
        'dry_run: no frozen-encoder weight file is missing (real or no '
        'weights, as the config says)')


def test_param_counts():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    model[0].requires_grad_(False)
    assert param_counts(model) == dict(trainable=3, frozen=8)


def _report(peak_gpu=None) -> dict:
    stages = dict.fromkeys(STAGES, 0.5)
    stages['optimizer'] = None
    return dict(
        config='c.py', device='cpu', iters=2, batch_size=4,
        input_size=[1024, 1024], encoder_dtype='bf16',
        train=dict(iter_seconds=[4.0, 5.0], stage_seconds_per_iter=stages),
        val=dict(seconds_per_sample=0.25),
        checkpoint=dict(file='iter_2.pth', bytes=GIB // 2),
        resume=dict(from_iter=2, to_iter=3),
        memory=dict(peak_host_bytes=3 * GIB, peak_host_train_bytes=2 * GIB,
                    peak_gpu_bytes=peak_gpu),
        params=dict(trainable=1234567, frozen=89))


def test_summary_lines():
    assert summary(_report()).splitlines() == [
        'dry_run: c.py on cpu, 2 x batch 4 at [1024, 1024], encoder bf16',
        '  s/iter: encode 0.50, enhance 0.50, text 0.50, fusion 0.50, '
        'decode 0.50, loss_backward 0.50 (iteration 4.50)',
        '  val: 0.25 s/sample; checkpoint iter_2.pth 0.50 GiB; resume 2 -> 3',
        '  peak host memory 3.00 GiB (training 2.00 GiB); parameters '
        'trainable 1,234,567, frozen 89']
    assert summary(_report(GIB)).splitlines()[-1] == (
        '  peak GPU memory 1.00 GiB')
