"""The error a profiling check raises when what it proves does not hold."""

__all__ = ['GpuCheckError']


class GpuCheckError(RuntimeError):
    """A check that failed (a kernel fell back, two runs differ), in one
    line."""
