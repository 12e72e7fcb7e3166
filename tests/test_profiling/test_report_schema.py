"""projects.risam.profiling.report_schema: keys and types of a report."""
from projects.risam.profiling.report_schema import schema_errors

LAYOUT = dict(n=int, x=float, name=str, opt=(dict, type(None)),
              inner=dict(a=int, b=list))


def test_conforming_report_has_no_errors():
    report = dict(n=1, x=2, name='a', opt=None, inner=dict(a=3, b=[]))
    assert schema_errors(report, LAYOUT) == []  # an int passes for a float
    assert schema_errors(dict(report, opt={}), LAYOUT) == []


def test_every_departure_is_named_with_its_dotted_key():
    report = dict(n=True, x='1', opt=3, inner=[], extra=0)
    assert schema_errors(report, LAYOUT) == [
        'name: missing', 'extra: not in the schema', 'n: bool', 'x: str',
        'opt: int', 'inner: not an object']
    nested = dict(n=1, x=1., name='', opt=None, inner=dict(a=1.5, c=1))
    assert schema_errors(nested, LAYOUT) == [
        'inner.b: missing', 'inner.c: not in the schema', 'inner.a: float']
