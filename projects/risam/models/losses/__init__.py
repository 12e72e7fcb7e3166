from .focal_dice_loss import RISAMFocalDiceLoss

__all__ = ['RISAMFocalDiceLoss']
