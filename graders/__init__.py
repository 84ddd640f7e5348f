"""The engine: everything between a student's answer and its kept, reviewed grade.

Its rooms import one way, top to bottom (checked by import-linter in ``make lint``):
``evaluation`` (offline) > ``batch`` > ``workflow`` > ``service`` > ``store`` >
``verdict`` > ``calibration`` > ``scoring`` > ``language`` > ``core``. It imports rubrics and
models, never the HTTP layer: the API, batches, evaluation and the LMS integration all grade
through :class:`graders.service.grading_service.GradingService`.
"""
