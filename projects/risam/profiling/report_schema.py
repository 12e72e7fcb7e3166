"""Checking a JSON report against a fixed layout of keys and types.

A layout maps each key to a type, a tuple of types, or a nested layout
(a dict). Two reports that both conform compare key by key.
"""
from typing import Dict, List

__all__ = ['schema_errors']


def schema_errors(report: dict, schema: Dict[str, object],
                  path: str = '') -> List[str]:
    """Where ``report`` departs from ``schema`` (missing or extra keys,
    wrong types), one ``'dotted.key: problem'`` string each; empty when it
    conforms. An int passes for a float; a bool passes only for a bool."""
    errors = [f'{path}{k}: missing' for k in schema if k not in report]
    errors += [f'{path}{k}: not in the schema' for k in report
               if k not in schema]
    for key, want in schema.items():
        if key not in report:
            continue
        value = report[key]
        if isinstance(want, dict):
            if not isinstance(value, dict):
                errors.append(f'{path}{key}: not an object')
            else:
                errors += schema_errors(value, want, f'{path}{key}.')
        else:
            wants = want if isinstance(want, tuple) else (want, )
            if isinstance(value, bool):
                ok = bool in wants
            else:
                ok = isinstance(value, wants) or (
                    float in wants and isinstance(value, int))
            if not ok:
                errors.append(f'{path}{key}: {type(value).__name__}')
    return errors
