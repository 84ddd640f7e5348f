"""What happens to a kept grade: the grade book, the background LLM refinement, teacher
review and teaching, the review queue, release and agreement."""
