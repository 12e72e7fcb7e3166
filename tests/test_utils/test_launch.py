"""Launch rules: no silent CPU, --amp only with CUDA, metrics collected over
the process group on NCCL, and rank 0's resume choice on every rank."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from mmengine.config import Config

from projects.risam.utils import launch
from projects.risam.utils.checkpoint import CheckpointError
from projects.risam.utils.launch import (
    LaunchError,
    configure_launcher,
    precheck,
    set_collect_device,
)

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'


@pytest.fixture
def no_cuda(monkeypatch):
    """A CUDA build of torch on a machine whose driver it cannot use."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.version, 'cuda', '12.4')


@pytest.fixture
def torchrun_env(monkeypatch):
    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
                           MASTER_ADDR='127.0.0.1', MASTER_PORT='1').items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize('launcher', ['pytorch', 'slurm'])
def test_launcher_without_cuda_is_refused_in_one_line(launcher, no_cuda,
                                                      torchrun_env):
    cfg = Config(dict(model=dict()))
    with pytest.raises(LaunchError) as e:
        configure_launcher(cfg, launcher)
    msg = str(e.value)
    assert '\n' not in msg
    assert msg.startswith(f'--launcher {launcher} needs a CUDA device')
    assert f'torch {torch.__version__} (CUDA 12.4)' in msg
    assert 'torch.cuda.is_available() = False' in msg
    assert msg.endswith('pass --device cpu')
    assert 'backend' not in cfg.get('env_cfg', {}).get('dist_cfg', {})


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_tools_refuse_cuda_less_launcher_in_one_line(tool_exit, tool, no_cuda,
                                                     torchrun_env, tmp_path):
    args = []
    if tool == 'test.py':
        args = [tmp_path / 'ckpt.pth']
        args[0].write_bytes(b'not read before the launcher is checked')
    code = tool_exit(tool, DEMO_CONFIG, *args, '--launcher', 'pytorch',
                     '--work-dir', tmp_path / 'work')
    assert code.startswith(f'{tool}: error: --launcher pytorch needs a CUDA '
                           'device per process: no usable CUDA device: torch')
    assert '\n' not in code


def test_device_cpu_only_with_the_pytorch_launcher(torchrun_env):
    with pytest.raises(LaunchError, match=r'^--device cpu runs over gloo '
                       r'with --launcher pytorch .*not --launcher slurm$'):
        configure_launcher(Config(dict()), 'slurm', 'cpu')


def test_amp_on_cpu_is_one_line(tool_exit, no_cuda, tmp_path):
    code = tool_exit('train.py', DEMO_CONFIG, '--amp', '--work-dir', tmp_path)
    assert code.startswith('train.py: error: --amp (AmpOptimWrapper) needs a '
                           'CUDA device and this run is on the CPU (torch ')
    assert code.endswith('train without --amp; the frozen encoders keep the '
                         'dtype their config sets (encoder_dtype)')
    assert not any(tmp_path.iterdir())  # stopped before the runner


def test_precheck_of_the_dist_scripts(no_cuda, capsys):
    assert precheck(['--prog', 'dist_train.sh', '--nproc', '2',
                     '--work-dir', 'w']) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith(
        'dist_train.sh: error: --launcher pytorch needs a CUDA device')
    assert precheck(['--nproc', '2', '--device', 'cpu']) == 0
    assert precheck(['--nproc', '2', '--device=cpu', '--amp']) == 0


@pytest.mark.slow  # a subprocess that imports torch and mmengine
def test_dist_train_without_cuda_ends_in_one_line(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
    run = subprocess.run(['bash', 'tools/dist_train.sh', str(DEMO_CONFIG),
                          '2', '--work-dir', str(tmp_path)], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert run.stdout == ''
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr[-2000:]
    assert lines[0].startswith('dist_train.sh: error: --launcher pytorch '
                               'needs a CUDA device per process')
    assert 'torch.cuda.is_available() = False' in lines[0]


def test_collect_device_follows_the_backend():
    cfg = Config(dict(
        val_evaluator=dict(type='risam.ReferMetric'),
        test_evaluator=[dict(type='risam.ReferMetric'),
                        dict(type='risam.ReferMetric', collect_device='cpu')]))
    set_collect_device(cfg, 'nccl')
    assert cfg.val_evaluator.collect_device == 'gpu'
    # an explicit choice of the config is kept
    assert [m.collect_device for m in cfg.test_evaluator] == ['gpu', 'cpu']
    cfg = Config(dict(val_evaluator=dict(type='Evaluator', metrics=[
        dict(type='risam.ReferMetric')]), test_evaluator=None))
    set_collect_device(cfg, 'gloo')
    assert cfg.val_evaluator.metrics[0].collect_device == 'cpu'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _resume_worker(rank: int, world: int, port: int, root: str) -> None:
    """Each rank sees its own work dir (another node's disk): rank 0 has an
    intact iter_2 and a truncated iter_4, rank 1 only a newer iter_6."""
    import torch.distributed as dist

    from projects.risam.utils.resume import choose_resume_checkpoint
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world)
    try:
        for case in ('ok', 'none_intact'):
            work = Path(root) / case / f'rank{rank}'
            try:
                got = choose_resume_checkpoint(str(work))
                out = dict(path=got[0], skipped=got[1])
            except CheckpointError as e:
                out = dict(error=str(e))
            torch.save(out, Path(root) / f'{case}_{rank}.pt')
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two gloo processes
def test_rank0_chooses_the_resume_checkpoint_for_every_rank(tmp_path):
    ok0, ok1 = tmp_path / 'ok/rank0', tmp_path / 'ok/rank1'
    bad0, bad1 = tmp_path / 'none_intact/rank0', tmp_path / 'none_intact/rank1'
    for folder in (ok0, ok1, bad0, bad1):
        folder.mkdir(parents=True)
    torch.save(dict(state_dict={'w': torch.ones(2)}), ok0 / 'iter_2.pth')
    torch.save(dict(state_dict={'w': torch.ones(2)}), ok0 / 'iter_4.pth')
    data = (ok0 / 'iter_4.pth').read_bytes()
    (ok0 / 'iter_4.pth').write_bytes(data[:len(data) // 2])
    torch.save(dict(state_dict={'w': torch.ones(2)}), ok1 / 'iter_6.pth')
    (bad0 / 'iter_2.pth').write_bytes(b'')
    torch.save(dict(state_dict={'w': torch.ones(2)}), bad1 / 'iter_2.pth')

    mp.spawn(_resume_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    for rank in range(2):
        got = torch.load(tmp_path / f'ok_{rank}.pt', weights_only=True)
        assert got == dict(path=str(ok0 / 'iter_2.pth'),
                           skipped=[str(ok0 / 'iter_4.pth')]), rank
        got = torch.load(tmp_path / f'none_intact_{rank}.pt',
                         weights_only=True)
        assert got == dict(error=f'cannot resume from {bad0}: no intact '
                           f'checkpoint ({bad0 / "iter_2.pth"} missing, '
                           'truncated or damaged)'), rank


def test_cuda_problem_names_a_local_rank_without_a_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert launch.cuda_problem(1) is None
    assert launch.cuda_problem(2).startswith(
        'local rank 2 has no CUDA device: 2 visible (torch ')


def _fake(path: Path, record: Path) -> Path:
    """An executable that records its PYTHONPATH and arguments."""
    path.write_text('#!/usr/bin/env bash\n'
                    f'echo "$PYTHONPATH|$*" >> {record}\n')
    path.chmod(0o755)
    return path


@pytest.mark.parametrize('script,nodes,port,expected', [
    ('dist_train.sh', '1', None, ['--standalone']),
    ('dist_train.sh', '1', '1234', ['--nnodes=1', '--master_port=1234']),
    ('dist_train.sh', '2', None, ['--nnodes=2', '--master_port=29500',
                                  '--node_rank=1', '--master_addr=10.0.0.1']),
    ('dist_test.sh', '1', None, ['--standalone']),
])
def test_dist_scripts_put_the_repo_on_the_path_and_choose_the_port(
        script, nodes, port, expected, tmp_path):
    record = tmp_path / 'calls.txt'
    env = dict(os.environ, PYTHON=str(_fake(tmp_path / 'py', record)),
               NNODES=nodes, PYTHONPATH='/elsewhere')
    for key in ('PORT', 'MASTER_ADDR', 'NODE_RANK'):
        env.pop(key, None)
    if nodes != '1':
        env.update(MASTER_ADDR='10.0.0.1', NODE_RANK='1')
    if port:
        env['PORT'] = port
    args = ['c.py', 'x.pth', '2'] if script == 'dist_test.sh' else ['c.py',
                                                                    '2']
    subprocess.run(['bash', str(REPO / 'tools' / script), *args, '--device',
                    'cpu'], cwd=tmp_path, env=env, check=True)
    check, run = record.read_text().splitlines()
    assert check.startswith(f'{REPO}:/elsewhere|{REPO}/projects/risam/utils/'
                            'launch.py --prog')
    path, argv = run.split('|')
    assert path == f'{REPO}:/elsewhere'
    argv = argv.split()
    assert argv[:2] == ['-m', 'torch.distributed.run']
    assert all(a in argv for a in expected), argv
    assert ('--standalone' in argv) == (expected == ['--standalone'])
    assert argv[-4:] == ['--device', 'cpu', '--launcher', 'pytorch']
    tool = 'test.py' if script == 'dist_test.sh' else 'train.py'
    assert argv[argv.index(f'{REPO}/tools/{tool}') + 1] == 'c.py'


@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh'])
@pytest.mark.parametrize('given,missing', [
    (dict(), 'MASTER_ADDR NODE_RANK'), (dict(NODE_RANK='0'), 'MASTER_ADDR'),
    (dict(MASTER_ADDR='10.0.0.1'), 'NODE_RANK')])
def test_several_nodes_refuse_a_default_address_or_rank(script, given,
                                                        missing, tmp_path):
    """NNODES=2 without MASTER_ADDR or NODE_RANK stops in one line, before
    torchrun starts (the fake interpreter records every call)."""
    record = tmp_path / 'calls.txt'
    env = dict(os.environ, PYTHON=str(_fake(tmp_path / 'py', record)),
               NNODES='2', **given)
    for key in {'PORT', 'MASTER_ADDR', 'NODE_RANK'} - set(given):
        env.pop(key, None)
    args = ['c.py', 'x.pth', '2'] if script == 'dist_test.sh' else ['c.py',
                                                                    '2']
    done = subprocess.run(['bash', str(REPO / 'tools' / script), *args,
                           '--device', 'cpu'], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f'{script}: error: NNODES=2 needs {missing} set on every node '
        '(MASTER_ADDR: the address of node 0, NODE_RANK: 0..1)']
    assert not record.exists()


def _fake_srun(bin_dir: Path) -> None:
    """An ``srun`` that drops its options and runs the task as one job's
    task would: with ``SLURM_JOB_ID`` set (from ``FAKE_JOB_ID``)."""
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text('#!/usr/bin/env bash\n'
                    'while [[ "$1" == -* ]]; do shift; done\n'
                    'SLURM_JOB_ID=$FAKE_JOB_ID exec "$@"\n')
    srun.chmod(0o755)


def _slurm_task(tmp_path: Path, **env_vars: str) -> tuple:
    """Run slurm_train.sh through the fake srun; the task's interpreter
    records its PYTHONPATH, MASTER_PORT and arguments."""
    record = tmp_path / 'calls.txt'
    python = tmp_path / 'py'
    python.write_text('#!/usr/bin/env bash\n'
                      f'echo "$PYTHONPATH|$MASTER_PORT|$*" >> {record}\n')
    python.chmod(0o755)
    if not (tmp_path / 'bin').exists():
        _fake_srun(tmp_path / 'bin')
    env = dict(os.environ, PATH=f'{tmp_path / "bin"}:{os.environ["PATH"]}',
               PYTHONPATH='', PYTHON=str(python), **env_vars)
    if 'MASTER_PORT' not in env_vars:
        env.pop('MASTER_PORT', None)
    subprocess.run(['bash', str(REPO / 'tools/slurm_train.sh'), 'part',
                    'job', 'c.py'], cwd=tmp_path, env=env, check=True)
    line = record.read_text().splitlines()[-1]
    return tuple(line.split('|'))


def test_slurm_script_puts_the_repo_on_the_path(tmp_path):
    path, _, argv = _slurm_task(tmp_path, FAKE_JOB_ID='7')
    assert path == str(REPO)
    assert argv == f'-u {REPO}/tools/train.py c.py --launcher slurm'


def test_slurm_script_port_from_the_environment_or_the_job_id(tmp_path):
    """MASTER_PORT is kept when set; otherwise 15000 + job id % 15000, so
    two jobs on one node get two ports (not mmengine's default 29500)."""
    assert _slurm_task(tmp_path, FAKE_JOB_ID='7',
                       MASTER_PORT='23456')[1] == '23456'
    first = _slurm_task(tmp_path, FAKE_JOB_ID='123456')[1]
    second = _slurm_task(tmp_path, FAKE_JOB_ID='123457')[1]
    assert (first, second) == ('18456', '18457')


def test_device_cpu_creates_a_gloo_group_and_drops_sync_bn(monkeypatch):
    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(_free_port())).items():
        monkeypatch.setenv(key, value)
    cfg = Config(dict(sync_bn='torch', env_cfg=dict(dist_cfg=dict(
        backend='nccl')), val_evaluator=dict(type='risam.ReferMetric'),
        test_evaluator=dict(type='risam.ReferMetric')))
    try:
        configure_launcher(cfg, 'pytorch', 'cpu')
        assert torch.distributed.get_backend() == 'gloo'
    finally:
        torch.distributed.destroy_process_group()
    assert cfg.launcher == 'pytorch'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert 'sync_bn' not in cfg  # SyncBatchNorm needs CUDA
    assert cfg.val_evaluator.collect_device == 'cpu'
    assert cfg.test_evaluator.collect_device == 'cpu'
