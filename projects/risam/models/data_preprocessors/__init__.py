from .risam_data_preprocessor import RISAMDataPreProcessor

__all__ = ['RISAMDataPreProcessor']
