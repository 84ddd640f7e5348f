"""Batch grading of a class's answers: parse an upload, hand it to an engine (in this process
or procrastinate workers), grade its chunks through the grade book, report on it."""
