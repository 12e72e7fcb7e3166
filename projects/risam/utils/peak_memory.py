"""Peak resident memory of this process, as the measuring tools read it.

``VmHWM`` (``/proc/self/status``), reset to the current ``VmRSS`` first
through ``/proc/self/clear_refs`` (not ``ru_maxrss``: Linux carries a forking
parent's high-water mark into the child), so that a peak is the peak of the
step measured, not of everything before it. Linux only.
"""
import resource

__all__ = ['CLEAR_REFS', 'MeasurementError', 'peak_rss_bytes', 'reset_peak_rss',
           'status_mb']

CLEAR_REFS = '/proc/self/clear_refs'


class MeasurementError(RuntimeError):
    """A measurement step failed: the figure it feeds would be wrong."""


def status_mb(field: str) -> float:
    """A ``/proc/self/status`` field (``'VmRSS'``, ``'VmHWM'``) in MiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024  # kB
    raise MeasurementError(f'no {field} in /proc/self/status')


def peak_rss_bytes() -> int:
    """Peak resident memory of this process: ``VmHWM`` since the last
    :func:`reset_peak_rss`, else getrusage's lifetime peak. A caller that
    resets must read this first to keep the peak before the reset:
    ``ru_maxrss`` does not (it holds the reset high-water mark only where a
    thread exited after the peak)."""
    try:
        return int(status_mb('VmHWM') * 2**20)
    except (OSError, MeasurementError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> None:
    """Reset ``VmHWM`` to the current RSS. Without it the peak would
    include everything before (model building), so a failure is an error,
    never skipped."""
    try:
        with open(CLEAR_REFS, 'w') as f:
            f.write('5')
    except OSError as e:
        raise MeasurementError(f'cannot reset the peak RSS ({CLEAR_REFS}: '
                               f'{e.strerror or e})') from e
