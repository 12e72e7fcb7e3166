from .risam import RISAM

__all__ = ['RISAM']
