"""projects.risam.profiling.sections: sections that report as they go and
survive each other's failures."""
import json
import time

from projects.risam.profiling.sections import (
    Section,
    SectionFailed,
    SectionSkipped,
    run_sections,
)


def test_each_section_reports_and_a_failure_does_not_stop_the_next():
    def boom(report):
        raise RuntimeError('rank 1 died\nwith a long traceback')

    def skip(report):
        raise SectionSkipped('one GPU')

    def kept(report):
        raise SectionFailed('3 syncs, over the allowance', dict(count=3))

    def after(report):  # sees what ran before it
        return dict(seen=[k for k in report if k != 'schema'])

    sections = [Section('a', 5, lambda r: dict(x=1), dict(x=int)),
                Section('b', 5, boom), Section('c', 5, skip),
                Section('d', 5, kept), Section('e', 5, lambda r: dict(x='1'),
                                               dict(x=int)),
                Section('f', 0.3, lambda r: time.sleep(5)),
                Section('g', 5, after)]
    lines, files = [], []
    report = run_sections(sections, dict(schema=2), emit=lines.append,
                          write=files.append)
    assert [json.loads(s)['section'] for s in lines] == list('abcdefg')
    assert len(files) == 7 and json.loads(files[-1]) == report
    assert json.loads(files[0]) == dict(schema=2, a=report['a'])
    status = {k: (v['status'], v['error'] or v['note'])
              for k, v in report.items() if k != 'schema'}
    assert status == dict(
        a=('ok', None), b=('failed', 'RuntimeError: rank 1 died'),
        c=('skipped', 'one GPU'),
        d=('failed', 'SectionFailed: 3 syncs, over the allowance'),
        e=('failed', "ValueError: result departs from its layout: "
           "['x: str']"),
        f=('failed', 'OverBudget: over its budget of 0.3 s'),
        g=('ok', None))
    assert report['d']['result'] == dict(count=3)
    assert report['f']['seconds'] < 2
    assert report['g']['result'] == dict(seen=list('abcdef'))
