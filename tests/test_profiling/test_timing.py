"""projects.risam.profiling.timing: timed loops and their synchronisation."""
import pytest
import torch

from projects.risam.profiling import timing


def _count_syncs(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(timing, 'synchronize',
                        lambda device: calls.append(device))
    return calls


@pytest.mark.parametrize('iters', [1, 5])
def test_timed_calls_and_synchronises_a_fixed_number_of_times(
        monkeypatch, iters):
    """``warmup + iters`` calls and two synchronisations, whatever
    ``iters``: the timed calls queue up as in training."""
    syncs = _count_syncs(monkeypatch)
    calls = []
    stat = timing.timed(lambda: calls.append(1), torch.device('cpu'),
                        iters=iters, warmup=2)
    assert len(calls) == iters + 2
    assert len(syncs) == 2
    assert set(stat) == {'seconds_per_iter', 'peak_memory_bytes'}
    assert stat['peak_memory_bytes'] == 0 and stat['seconds_per_iter'] >= 0


def test_interleaved_takes_turns_and_keeps_the_best(monkeypatch):
    syncs = _count_syncs(monkeypatch)
    clock = iter([0., 5., 10., 11., 20., 22., 30., 33.])
    monkeypatch.setattr(timing.time, 'perf_counter', lambda: next(clock))
    order = []
    best = timing.interleaved(lambda: order.append('a'),
                              lambda: order.append('b'), reps=2)
    assert order == ['a', 'b', 'a', 'b']
    assert best == (2., 1.)  # a: 5, 2; b: 1, 3
    assert len(syncs) == 8  # both ends of each of the 4 calls


def test_synchronize_is_a_no_op_off_cuda():
    timing.synchronize(None)
    timing.synchronize(torch.device('cpu'))
