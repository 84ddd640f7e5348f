"""The graders: the embedding grader (evidence spans), the reader, the exemplar vote, the LLM
grader. Each reads an answer against a rubric and says what it finds."""
