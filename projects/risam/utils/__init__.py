from .checkpoint import (
    CheckpointError,
    load_state_dict_file,
    load_strict,
    read_checkpoint,
    register_weights_only_loader,
    unwrap_state_dict,
)
from .launch import configure_launcher
from .safe_load import checkpoint_safe_globals, register_checkpoint_safe_globals

__all__ = [
    'CheckpointError', 'checkpoint_safe_globals', 'configure_launcher',
    'load_state_dict_file', 'load_strict', 'read_checkpoint',
    'register_checkpoint_safe_globals', 'register_weights_only_loader',
    'unwrap_state_dict'
]
