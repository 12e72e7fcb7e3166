"""Metrics; importing registers them."""
from .refer_metric import ReferMetric

__all__ = ['ReferMetric']
