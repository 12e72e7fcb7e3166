from .clip_token_encoder import CLIPTokenEncoder, load_open_clip_text_state

__all__ = ['CLIPTokenEncoder', 'load_open_clip_text_state']
