from .launch import configure_launcher
from .safe_load import checkpoint_safe_globals, register_checkpoint_safe_globals

__all__ = [
    'checkpoint_safe_globals', 'configure_launcher',
    'register_checkpoint_safe_globals'
]
