"""From the graders' findings to one verdict: the ensemble, reader verdicts, feedback keyed to
the lesson, and the assembled GradeResult."""
