"""Model backends behind small Protocols: the sentence embedder and the LLM client.

Nothing here knows about rubrics or grading; graders hand in texts and get numbers back.
"""
