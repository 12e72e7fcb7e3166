"""Filled in by the components below; importing registers them."""
