"""Word rules: segments and clauses, negation and opposites, named options, reference answers
parsed into key points."""
