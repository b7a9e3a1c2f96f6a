"""Readers for IR data formats and the registry of named datasets."""
