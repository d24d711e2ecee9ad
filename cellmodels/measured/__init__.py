"""Readers of measured cell data into one :class:`Dataset` type."""

from .dataset import Dataset

__all__ = ["Dataset"]
