"""The progress line of batch inference: rate and time left, and one line
every few seconds (not one per image) without a terminal."""
import io

from projects.risam.utils.progress import RateProgress


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_a_terminal_one_line_every_few_seconds():
    clock, stream = _Clock(), io.StringIO()
    progress = RateProgress(1000, stream=stream, every=5.0, clock=clock)
    for _ in range(1000):
        clock.now += 0.0625  # 16 images per second (exact in binary)
        progress.update()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 13  # every 5 s (80 images), and at 1000/1000
    assert lines[0] == ('80/1000 (8.0%), 16.0 img/s, elapsed 0:00:05, '
                        'left 0:00:58')
    assert lines[-1] == ('1000/1000 (100.0%), 16.0 img/s, '
                         'elapsed 0:01:02, left 0:00:00')


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_redrawn_in_place():
    clock, stream = _Clock(), _Terminal()
    progress = RateProgress(4, stream=stream, unit='img', clock=clock)
    for _ in range(4):
        clock.now += 1.0
        progress.update()
    progress.finish()
    text = stream.getvalue()
    assert text.count('\r') == 4 and text.endswith('left 0:00:00\n')
    assert '\r2/4 (50.0%), 1.0 img/s, elapsed 0:00:02, left 0:00:02' in text
