"""Evaluation as rows: one row per test utterance and SNR, kept in a file, and every grouped metric computed from them.

``test_step`` turns a batch into :class:`EvaluationRows` (label, calibrated and plain probabilities, and who said it
in which language); the rows of a test are written beside ``results.json`` (:data:`ROWS_FILE`), and
:func:`group_metrics` computes UA, WA, macro-F1 and ECE per structured :class:`Group` from any table of rows: for
``results.json``, the sweep tables and plots, the model card and the statistics of the study runner alike. No torch here.
"""

from .metrics import Group, group_metrics, groups_by_name, logged_metrics, scores
from .rows import ROWS_FILE, EvaluationRows, read_rows, write_rows

__all__ = ["ROWS_FILE", "EvaluationRows", "Group", "group_metrics", "groups_by_name", "logged_metrics", "read_rows", "scores", "write_rows"]
