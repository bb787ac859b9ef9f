"""Evaluation: records in force as of an instant, scores, grades, lists and measures."""
