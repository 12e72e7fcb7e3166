"""projects.risam.profiling.ddp_compare: two processes against one."""
import pytest


@pytest.mark.slow
def test_two_processes_on_gloo_equal_one(tiny_config):
    """The 2-process step (gloo here, NCCL on GPUs): the same losses and
    updated weights as the 1-process step. The ranks run this package's
    module in fresh processes."""
    from projects.risam.profiling.ddp_compare import compare_ddp
    result = compare_ddp(tiny_config, backend='gloo', batch=2, size=128)
    assert result['equal'], result
    one, two = result['one_process'], result['two_process']
    assert one['loss_step2'] != pytest.approx(one['loss_step1'], abs=1e-7)
    assert two['loss_step1'] == pytest.approx(one['loss_step1'], rel=1e-6)
