"""Core types every room shares: the grade result, the grading configuration, domain errors."""
