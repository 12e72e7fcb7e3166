"""Mutation testing of RISAM's core modules with mutmut (``make mutation``).

    python .dev_scripts/mutation.py [--module NAME ...] [--rev REV]
        [--work-dir work_dirs/mutation] [--max-children 2]
        [--rerun-survivors] [--report] [--json OUT]

mutmut's settings live in ``pyproject.toml`` (``[tool.mutmut]``: the fast
tests, ``-m "not slow"``, process isolation, time limits). This script runs
mutmut once per core module, each in its own scratch copy of the repository
(``<work-dir>/<module>``: the checkout gains no ``mutants/`` folder), with
``only_mutate`` narrowed to the module and the test selection narrowed to the
module's test files (``MODULES`` below). A stats run records which of those
tests call each function; every mutant then runs only those, under
``nice -n 10`` with one torch thread per worker. It prints the kill rate per
module:

* killed = a test failed (or the mutant ran past mutmut's time limit:
  "timeout", an endless loop the tests caught);
* survived = every test passed; no tests = no selected test calls the
  function (counted as not killed);
* rate = killed / all mutants of the module (unchecked ones, of an
  interrupted run, count as not killed).

The survivors' diffs go to ``<work-dir>/<module>/survivors.md``.
``--rerun-survivors`` reuses the scratch copies (their sources as they were):
it refreshes their tests and runs again only the mutants that were not
killed; mutmut clears its verdicts when the test list changes, so the earlier
kills are put back. A test file outside a module's list can only kill more
mutants, so the rates are lower bounds for the whole fast suite. Not in CI:
a full run takes hours on 2 cores (docs/mutation.md).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

import tomllib

REPO = Path(__file__).resolve().parents[1]
MARKER = '.risam-mutation'
MODELS_T = 'tests/test_models/'
IMAGE_T = 'tests/test_image_encoding/'
# core module -> the test files (or a folder: all its files) that exercise
# it; the tests mirror the package, so each module's own folder comes first
MODULES = {
    'losses': [MODELS_T + 'test_losses/'],
    'evaluation': ['tests/test_evaluation/'],
    'image_encoding': [IMAGE_T + 'test_image_encoding_parts.py',
                       IMAGE_T + 'test_feature_cache.py',
                       IMAGE_T + 'test_shared_encoding.py',
                       IMAGE_T + 'test_cache_writer_resume.py'],
    'segmentors': [MODELS_T + 'test_segmentors/',
                   MODELS_T + 'test_mix_in_and_params.py',
                   # encoder passes with shared encoding / feature cache
                   IMAGE_T + 'test_shared_encoding.py',
                   IMAGE_T + 'test_feature_cache.py'],
    'necks': [MODELS_T + 'test_necks/',
              MODELS_T + 'test_ablations_modules.py'],
    'decode_heads': [MODELS_T + 'test_decode_heads/',
                     MODELS_T + 'test_necks/test_ablations_pos_embed.py',
                     MODELS_T + 'test_ablations_modules.py'],
}

# tests left out of every mutation run: a command-line smoke test that
# spawns a whole second process (a minute or more on a loaded machine) for
# each mutant it covers, to check a tool outside the core modules; leaving
# a test out can only lower the rates
DESELECT = [IMAGE_T + 'test_feature_cache.py::test_cache_features_cli']


def prefix(module: str) -> str:
    """Dotted name prefix of the module's mutants."""
    return 'projects.risam.' + ('' if module in (
        'evaluation', 'image_encoding') else 'models.') + module + '.'


def test_selection(work: Path, module: str) -> List[str]:
    """The module's test files in ``work`` (a folder: its ``test_*.py``).
    Listing files (not folders) keeps a broken test elsewhere from stopping
    the run."""
    files = []
    for entry in MODULES[module]:
        path = work / entry
        if entry.endswith('/'):
            files += sorted(path.glob('test_*.py'))
        elif not path.exists():
            sys.exit(f'mutation: {module}: no test file {entry}')
        else:
            files.append(path)
    return [str(f.relative_to(work)) for f in dict.fromkeys(files)]


# mutmut exit codes (mutmut.stats.status_by_exit_code)
KILLED = {1: 'killed', 3: 'killed', 36: 'timeout', -24: 'timeout',
          24: 'timeout', 152: 'timeout', 255: 'timeout'}
NOT_KILLED = {0: 'survived', 5: 'no tests', 33: 'no tests', 34: 'skipped',
              None: 'not checked'}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--module', action='append', choices=sorted(MODULES),
                   help='mutate only this core module (repeatable; default '
                   'all six)')
    p.add_argument('--rev', help='mutate this git revision (default: the '
                   'working tree, tracked and untracked files)')
    p.add_argument('--work-dir', default='work_dirs/mutation',
                   help='scratch copy and mutmut output (default: '
                   'work_dirs/mutation)')
    p.add_argument('--max-children', type=int, default=2,
                   help='mutants tested in parallel (default 2)')
    p.add_argument('--rerun-survivors', action='store_true',
                   help='reuse --work-dir and rerun only its survivors')
    p.add_argument('--report', action='store_true',
                   help='only summarise the runs already in --work-dir '
                   '(an interrupted run: its unchecked mutants count as '
                   'not killed)')
    p.add_argument('--json', help='write the per-module counts there')
    return p.parse_args()


def source_files(rev: Optional[str] = None) -> List[str]:
    """Paths to copy: the revision's tree, or the working tree's files that
    git tracks or would track (untracked, not ignored)."""
    cmd = (['git', 'ls-tree', '-r', '--name-only', rev] if rev else
           ['git', 'ls-files', '-co', '--exclude-standard'])
    out = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True,
                         text=True).stdout
    return [f for f in out.splitlines() if f]


def copy_tree(dest: Path, rev: Optional[str] = None,
              only: Optional[str] = None) -> None:
    """Copy the repository (or the files under ``only``) into ``dest``."""
    for name in source_files(rev):
        if only and not name.startswith(only):
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if rev:
            data = subprocess.run(['git', 'show', f'{rev}:{name}'], cwd=REPO,
                                  check=True, capture_output=True).stdout
            target.write_bytes(data)
        elif (REPO / name).is_file():  # a deleted file is still listed
            shutil.copy2(REPO / name, target)


def toml_list(values: List[str]) -> str:
    return '[' + ', '.join(json.dumps(v) for v in values) + ']'


def configure(work: Path, module: str) -> None:
    """Narrow the copy's ``[tool.mutmut]`` to ``module`` and its tests."""
    path = work / 'pyproject.toml'
    text = path.read_text()
    cfg = tomllib.loads(text)['tool']['mutmut']
    only = [p for p in cfg['only_mutate']
            if p.replace('/', '.').startswith(prefix(module))]
    if not only:
        sys.exit(f'mutation: pyproject.toml [tool.mutmut] only_mutate '
                 f'{cfg["only_mutate"]} has no pattern for {module}')
    text = re.sub(r'only_mutate = \[[^\]]*\]', 'only_mutate = ' +
                  toml_list(only), text)
    args = list(cfg['pytest_add_cli_args'])  # a rerun's has them already
    for test in DESELECT:
        if test not in args:
            args += ['--deselect', test]
    text = re.sub(r'pytest_add_cli_args = \[[^\]]*\]',
                  'pytest_add_cli_args = ' + toml_list(args), text)
    text = re.sub(r'pytest_add_cli_args_test_selection = \[[^\]]*\]',
                  'pytest_add_cli_args_test_selection = ' +
                  toml_list(test_selection(work, module)),
                  text)
    path.write_text(text)


def results(work: Path, module: str) -> Dict[str, int]:
    """mutant name -> mutmut exit code, from the module's ``.meta`` files."""
    out = {}
    for meta in (work / 'mutants').rglob('*.py.meta'):
        codes = json.loads(meta.read_text())['exit_code_by_key']
        out.update((k, v) for k, v in codes.items()
                   if k.startswith(prefix(module)))
    return out


def keep_kills(work: Path, old: Dict[str, int]) -> None:
    """Put back the earlier verdict of each mutant that was killed before
    and is unchecked now (mutmut clears every verdict when its settings
    change); a rerun tests only the others."""
    for meta in (work / 'mutants').rglob('*.py.meta'):
        data = json.loads(meta.read_text())
        codes = data['exit_code_by_key']
        back = {k: old[k] for k, v in codes.items()
                if v is None and old.get(k) in KILLED}
        if back:
            codes.update(back)
            meta.write_text(json.dumps(data, indent=4))


def status(code: Optional[int]) -> str:
    return KILLED.get(code) or NOT_KILLED.get(code, 'suspicious')


def summarise(codes: Dict[str, int], seconds: float) -> dict:
    c = Counter(status(code) for code in codes.values())
    total = sum(c.values())
    killed = c['killed'] + c['timeout']
    return dict(c, total=total, killed_or_timeout=killed, seconds=round(
        seconds), rate=round(100.0 * killed / total, 1) if total else None)


def print_table(rows: Dict[str, dict]) -> None:
    print(f'\n{"module":<16}{"mutants":>8}{"killed":>8}{"timeout":>8}'
          f'{"survived":>9}{"no tests":>9}{"unchecked":>10}{"rate %":>8}'
          f'{"min":>6}')
    for m, r in rows.items():
        rate = '-' if r['rate'] is None else r['rate']
        print(f'{m:<16}{r["total"]:>8}{r.get("killed", 0):>8}'
              f'{r.get("timeout", 0):>8}{r.get("survived", 0):>9}'
              f'{r.get("no tests", 0):>9}{r.get("not checked", 0):>10}'
              f'{rate:>8}{r["seconds"] / 60:>6.1f}')
    total = sum(r['total'] for r in rows.values())
    killed = sum(r['killed_or_timeout'] for r in rows.values())
    rate = f'{100.0 * killed / total:.1f}' if total else '-'
    minutes = sum(r['seconds'] for r in rows.values()) / 60
    print(f'{"all":<16}{total:>8}{"":>44}{rate:>8}{minutes:>6.1f}')


def write_survivors(work: Path, codes: Dict[str, int], env: dict) -> Path:
    names = sorted(n for n, c in codes.items() if c not in KILLED)
    lines = [f'# {len(names)} mutants not killed\n']
    for name in names:
        diff = subprocess.run([sys.executable, '-m', 'mutmut', 'show', name],
                              cwd=work, env=env, capture_output=True,
                              text=True).stdout
        lines += [f'## {name} ({status(codes[name])})', '```diff',
                  diff.strip(), '```', '']
    path = work / 'survivors.md'
    path.write_text('\n'.join(lines))
    return path


def prepare(work: Path, module: str, rev: Optional[str],
            rerun: bool) -> None:
    """A scratch copy for ``module``, or refreshed tests in the old one."""
    if rerun:
        if not (work / MARKER).exists():
            sys.exit(f'mutation: --rerun-survivors needs an earlier run in '
                     f'{work}')
        shutil.rmtree(work / 'tests')
        copy_tree(work, rev, only='tests/')
        shutil.rmtree(work / 'mutants' / 'tests', ignore_errors=True)
    else:
        if work.exists() and not (work / MARKER).exists():
            sys.exit(f'mutation: {work} exists and was not made by this '
                     f'tool; give another --work-dir')
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / MARKER).write_text('scratch copy for .dev_scripts/mutation.py\n')
        copy_tree(work, rev)
    configure(work, module)


def main() -> None:
    args = parse_args()
    root = (REPO / args.work_dir).resolve()
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONDONTWRITEBYTECODE='1')
    rows, failed = {}, []
    for module in args.module or list(MODULES):
        work = root / module
        if args.report:
            if (work / MARKER).exists():
                rows[module] = summarise(results(work, module), 0)
            continue
        prepare(work, module, args.rev, args.rerun_survivors)
        print(f'mutation: {module} in {work}', flush=True)
        cmd = ['nice', '-n', '10', sys.executable, '-m', 'mutmut', 'run',
               '--max-children', str(args.max_children)]
        old = results(work, module) if args.rerun_survivors else {}
        rerun = sorted(n for n, c in old.items() if c not in KILLED)
        start = time.monotonic()
        if (rerun or not args.rerun_survivors) and subprocess.run(
                cmd + rerun, cwd=work, env=env).returncode:
            failed.append(module)
        keep_kills(work, old)
        codes = results(work, module)
        rows[module] = summarise(codes, time.monotonic() - start)
        print(f'survivors: {write_survivors(work, codes, env)}')
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if failed:
        sys.exit(f'mutation: mutmut failed for {failed}')


if __name__ == '__main__':
    main()
