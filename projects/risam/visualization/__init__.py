from .overlay import grid, overlay, text_band

__all__ = ['grid', 'overlay', 'text_band']

# Fig. 7 attention maps (appended)
from .attention_drawing import save_attention  # noqa: E402
from .attention_maps import AttentionMaps, attention_maps, record_attention  # noqa: E402

__all__ += ['AttentionMaps', 'attention_maps', 'record_attention', 'save_attention']
