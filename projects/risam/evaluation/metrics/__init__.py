"""Metrics; importing registers them."""
from .generalized_refer_metric import GeneralizedReferMetric
from .refer_metric import ReferMetric

__all__ = ['GeneralizedReferMetric', 'ReferMetric']
