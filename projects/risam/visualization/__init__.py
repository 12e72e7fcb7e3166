from .overlay import grid, overlay, text_band

__all__ = ['grid', 'overlay', 'text_band']
