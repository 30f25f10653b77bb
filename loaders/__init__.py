"""Readers, column mapping, validation, quarantine and the synthetic generator."""

__fapiao__ = True  # marks our package: graph.core.install.check tells it from a same-named one

from loaders.load import LoadReport, infer_taxpayers, load_files
from loaders.mapping import load_mapping, resolve_columns
from loaders.read import RawBatch, read_batches
from loaders.rules import RULES, InvoiceValidator, Rule, check_invoice

__all__ = [
    "RULES", "InvoiceValidator", "LoadReport", "RawBatch", "Rule", "check_invoice", "infer_taxpayers",
    "load_files", "load_mapping", "read_batches", "resolve_columns",
]
