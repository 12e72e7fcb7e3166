"""Run a command-line tool: a user's mistake is one line, not a traceback.

Errors that describe the user's input (a checkpoint that is refused or does
not fit, a launcher without the device it needs, a bad annotation or image,
a feature cache written for another encoder or left incomplete, an output
that would be overwritten or cannot be written, a missing file, a config
key that does not exist or clashes with another, a missing data folder)
end the tool with ``PROG: error: <one line>`` and exit status 1. ``--debug``
anywhere on the command line shows the full traceback instead. Exceptions
raised in a data-loader worker arrive with the worker's traceback folded
into their message; only its last line is kept.
"""
import argparse
import sys
from typing import Callable, List, Sequence, Tuple, Type

from projects.risam.datasets.refer_io import ReferFormatError
from projects.risam.image_encoding import FeatureCacheMismatch

from .checkpoint import CheckpointError
from .config_check import ConfigError, unknown_key_message
from .launch import LaunchError
from .output import OutputError

__all__ = [
    'USER_ERRORS', 'add_debug_argument', 'cfg_option_keys', 'one_line',
    'run_tool'
]

#: Exceptions that explain what is wrong with the user's input or output.
USER_ERRORS: Tuple[Type[BaseException], ...] = (
    CheckpointError, ReferFormatError, FeatureCacheMismatch, OutputError,
    LaunchError, ConfigError, FileNotFoundError, FileExistsError, IsADirectoryError,
    NotADirectoryError)


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug`` (show tracebacks) to a tool's parser."""
    parser.add_argument('--debug', action='store_true',
                        help='show the full traceback of an error')


def one_line(error: BaseException) -> str:
    """The error's message on one line (the last line of a worker's)."""
    lines = [s.strip() for s in str(error).splitlines() if s.strip()]
    if not lines:
        return type(error).__name__
    if len(lines) > 1 and 'Traceback' in str(error):
        last = lines[-1]  # "module.ErrorType: message"
        head, sep, rest = last.partition(': ')
        return rest if sep and head.split('.')[-1].endswith(
            ('Error', 'Exception')) else last
    return ' '.join(lines)


def cfg_option_keys(argv: Sequence[str]) -> List[str]:
    """The keys given to ``--cfg-options`` on a command line ``argv``."""
    keys: List[str] = []
    taking = False
    for arg in argv:
        if arg.startswith('--'):
            taking = arg == '--cfg-options'
        elif taking:
            keys.append(arg.split('=', 1)[0])
    return keys


def run_tool(main: Callable[[], None], prog: str) -> None:
    """Call ``main()``; turn a :data:`USER_ERRORS`, or a TypeError about an
    argument that a config key gave a constructor which does not take it
    (:func:`~.config_check.unknown_key_message`), into one line and exit
    1."""
    if '--debug' in sys.argv[1:]:
        main()
        return
    try:
        main()
    except USER_ERRORS as e:
        sys.exit(f'{prog}: error: {one_line(e)}')
    except TypeError as e:
        message = unknown_key_message(e, cfg_option_keys(sys.argv[1:]))
        if message is None:
            raise
        sys.exit(f'{prog}: error: {message}')
