"""Evaluation of referring segmentation; importing registers the metrics."""
from .metrics import GeneralizedReferMetric, ReferMetric

__all__ = ['GeneralizedReferMetric', 'ReferMetric']
