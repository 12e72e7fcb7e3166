"""A check made of ordered sections that report as they go.

Each :class:`Section` runs within its time budget; when it ends it prints
one JSON line (``{"section": name, "status": ..., ...}``) and the report
file is rewritten, so a late failure loses no figure measured before it. A
section that raises records its error in one line and the next one runs;
one that does not apply raises :class:`SectionSkipped` with the reason; one whose check fails
but whose figures stand raises :class:`SectionFailed` with them.
"""
import json
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Optional, Sequence

from .report_schema import schema_errors

__all__ = ['OverBudget', 'Section', 'SectionFailed', 'SectionSkipped',
           'one_line', 'run_sections']


class SectionSkipped(Exception):
    """A section that does not apply here (e.g. one GPU for ``ddp``)."""


class SectionFailed(Exception):
    """A section whose check failed but whose figures stand: ``result``
    is kept in the report beside the one-line error."""

    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        self.result = result


class OverBudget(Exception):
    """A section ran past its time budget."""


@dataclass(frozen=True)
class Section:
    """``run(report)`` gets the report so far (earlier sections' entries)
    and returns this section's result; ``layout``: its keys and types
    (:func:`~.report_schema.schema_errors`), checked when it succeeds."""
    name: str
    budget_s: float
    run: Callable[[dict], dict]
    layout: Optional[Dict[str, object]] = None


def one_line(error: BaseException) -> str:
    """``'Type: first line of the message'``."""
    text = str(error).strip().splitlines()
    return f'{type(error).__name__}: {text[0] if text else ""}'.rstrip(': ')


@contextmanager
def _budget(seconds: float) -> Iterator[None]:
    """Raise :class:`OverBudget` in the main thread after ``seconds``
    (SIGALRM; elsewhere the budget is only reported)."""
    if (threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, 'setitimer')):
        yield
        return

    def stop(signum, frame):
        raise OverBudget(f'over its budget of {seconds:g} s')

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_sections(sections: Sequence[Section], header: dict, *,
                 emit: Callable[[str], None] = print,
                 write: Optional[Callable[[str], None]] = None) -> dict:
    """Run ``sections`` in order; the report is ``header`` plus one entry
    per section: ``{status: ok|failed|skipped, seconds, budget_s, note,
    error, result}`` (``note``: why it was skipped; ``error``: one line;
    ``result``: None unless ok). After each section ``emit`` gets its JSON
    line and ``write`` (if given) the whole report as JSON."""
    report = dict(header)
    for section in sections:
        start = time.perf_counter()
        entry = dict(status='ok', seconds=0., budget_s=section.budget_s,
                     note=None, error=None, result=None)
        try:
            with _budget(section.budget_s):
                result = section.run(report)
            errors = (schema_errors(result, section.layout)
                      if section.layout is not None else [])
            if errors:
                raise ValueError(f'result departs from its layout: {errors}')
            entry['result'] = result
        except SectionFailed as e:
            entry.update(status='failed', error=one_line(e), result=e.result)
        except SectionSkipped as e:
            entry.update(status='skipped', note=str(e))
        except Exception as e:  # the next section runs
            entry.update(status='failed', error=one_line(e))
        entry['seconds'] = round(time.perf_counter() - start, 3)
        report[section.name] = entry
        emit(json.dumps(dict(section=section.name, **entry)))
        if write is not None:
            write(json.dumps(report, indent=2) + '\n')
    return report
