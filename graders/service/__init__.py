"""The one entry point: GradingService grades one answer (with LLM admission control and the
rubrics of inline questions)."""
