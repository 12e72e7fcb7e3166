"""Evaluation of referring segmentation; importing registers the metrics."""
from .metrics import ReferMetric

__all__ = ['ReferMetric']
