"""A progress line with the rate and the time left, quiet without a terminal.

On a terminal the line is redrawn in place (at most a few times a second);
without one (a log file, a batch job) one line is printed every ``every``
seconds, not one per item.
"""
import sys
import time
from typing import Callable, Optional, TextIO


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


class RateProgress:
    """Counts items done and reports ``done/total, items/s, time left``.

    Args:
        total: items to do.
        unit: what an item is called in the line (``'img'``).
        stream: where to print (default ``sys.stdout``).
        every: seconds between lines without a terminal.
        clock: a monotonic clock (tests pass their own).
    """

    def __init__(self, total: int, *, unit: str = 'img',
                 stream: Optional[TextIO] = None, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.unit, self.every = total, unit, every
        self.stream = stream if stream is not None else sys.stdout
        self.clock = clock
        self.tty = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.done = 0
        self.start = self._last = clock()
        #: lines printed (or redrawn) so far
        self.lines = 0

    def line(self) -> str:
        """``done/total (percent), rate, elapsed, time left``."""
        elapsed = self.clock() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        percent = 100.0 * self.done / self.total if self.total else 100.0
        return (f'{self.done}/{self.total} ({percent:.1f}%), '
                f'{rate:.1f} {self.unit}/s, elapsed {_clock(elapsed)}, '
                f'left {_clock(left)}')

    def update(self, n: int = 1) -> None:
        """``n`` more items done; print if a line is due."""
        self.done += n
        now = self.clock()
        due = (now - self._last >= (0.2 if self.tty else self.every))
        if due or self.done >= self.total:
            self._print()
            self._last = now

    def _print(self) -> None:
        if self.tty:
            self.stream.write('\r' + self.line())
        else:
            self.stream.write(self.line() + '\n')
        self.stream.flush()
        self.lines += 1

    def finish(self) -> None:
        """End the line (on a terminal) after the last update."""
        if self.tty and self.lines:
            self.stream.write('\n')
            self.stream.flush()


__all__ = ['RateProgress']
