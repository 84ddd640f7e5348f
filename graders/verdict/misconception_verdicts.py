"""Which misconceptions an answer asserts, doing no harm first.

A misconception is asserted only on evidence that can tell it from its opposite
(graders.language.opposites, via the embedding grader's abstentions), a small LLM cannot
assert one alone, and the nearest graded examples can overrule or corroborate it; where
the graders cannot tell, the answer goes to review instead of a guess.
"""

from __future__ import annotations

from graders.core.config import GradingConfig
from graders.core.result import MisconceptionResult
from graders.scoring.embedding_findings import Abstention, Matching
from graders.scoring.exemplar_vote import Vote
from graders.scoring.llm_grader import LLMGrade
from graders.verdict.ensemble import evidence_of, margin_confidence
from rubrics import Question

# The exemplars' vote must be at least this strong to overrule a misconception; to assert
# one alone, at least EXEMPLAR_ASSERT strong, with HELD_BY of its weight holding it.
EXEMPLAR_SAY, EXEMPLAR_ASSERT, HELD_BY = 0.4, 0.5, 0.75


def llm_may_assert(config: GradingConfig) -> bool:
    total = config.embedding_weight + config.llm_weight or 1.0
    return config.llm_weight / total >= config.llm_misconception_share


def asserted(
    question: Question,
    matching: Matching,
    llm: LLMGrade | None,
    vote: Vote | None,
    config: GradingConfig,
) -> tuple[list[MisconceptionResult], list[str]]:
    """Misconceptions asserted, and review reasons for those that could not be."""
    found: list[MisconceptionResult] = []
    reasons: list[str] = []
    abstained: dict[str, Abstention] = {}
    for a in matching.abstentions:
        abstained.setdefault(a.misconception, a)
        if a.review:
            reasons.append(f"misconception {a.misconception} {a.reason}: “{a.segment.text}”")
    say = vote is not None and vote.strength >= EXEMPLAR_SAY
    for m in question.misconceptions:
        match = matching[m.id]
        graders: list[str] = []
        held = vote.misconceptions.get(m.id, 0.0) if vote is not None else 0.0
        threshold = config.misconception_threshold
        if match.similarity >= threshold:
            graders.append("embedding")
        elif (
            match.similarity >= threshold - config.corroborated_margin
            and say
            and held >= 0.5
            and m.id not in abstained
        ):
            graders += ["embedding", "exemplars"]
        llm_seen = llm.misconceptions.get(m.id) if llm else None
        if llm_seen is not None and llm_may_assert(config) and m.id not in abstained:
            graders.append("llm")
        decisive = vote is not None and vote.strength >= EXEMPLAR_ASSERT and held >= HELD_BY
        if decisive and m.id not in abstained and "exemplars" not in graders:
            graders.append("exemplars")
        if graders and say and held < 0.25 and "exemplars" not in graders:
            reasons.append(
                f"misconception {m.id} not asserted: the nearest graded examples do not hold it"
            )
            continue
        if not graders:
            continue
        thresholds = (config.misconception_threshold,)
        confidence = (
            margin_confidence(match.similarity, thresholds) if "embedding" in graders else 0.5
        )
        if "exemplars" in graders and vote is not None:
            confidence = max(confidence, round(vote.strength / config.exemplar_max_weight, 3))
        evidence = match.evidence if "embedding" in graders else llm_seen
        found.append(
            MisconceptionResult(
                id=m.id,
                text=m.text,
                confidence=confidence if len(graders) == 1 else 1.0,
                evidence=evidence_of(evidence),
                feedback=m.feedback,
                lesson_key_point=m.lesson_key_point,
                graders=graders,
            )
        )
    return found, reasons
