"""Scoring logic: the embedding grader, the LLM grader, their ensemble and feedback.

Imports rubrics and models, never the HTTP layer: batch grading, evaluation and the LMS
integration all call :class:`graders.service.grading_service.GradingService`.
"""
