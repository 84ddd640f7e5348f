"""Combining graders into one verdict per key point, with a confidence that says how sure.

Embeddings give a similarity; the LLM gives met / partial / missing. Each becomes a value
in [0, 1] and the two are mixed with the configured weights. Where they disagree by more
than ``disagreement`` (met against missing, by default) confidence drops and the result is
sent for review rather than trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

from graders.core.config import GradingConfig
from graders.core.result import CREDIT, Evidence, GraderVerdict, Status, tier
from graders.language.segments import Segment


def evidence_of(segment: Segment | None) -> Evidence | None:
    return Evidence(text=segment.text, start=segment.start, end=segment.end) if segment else None


@dataclass(frozen=True)
class Combined:
    status: Status
    credit: float
    confidence: float
    disagreement: bool


def embedding_status(similarity: float, config: GradingConfig) -> Status:
    statuses = (Status.MET, Status.PARTIAL, Status.MISSING)
    return tier(similarity, config.met_threshold, config.partial_threshold, statuses)


def margin_confidence(value: float, thresholds: tuple[float, ...], spread: float = 0.15) -> float:
    """0.5 on a threshold, rising to 1.0 at ``spread`` away from the nearest one."""
    distance = min(abs(value - t) for t in thresholds)
    return round(min(1.0, 0.5 + 0.5 * distance / spread), 3)


def status_of(value: float) -> Status:
    """A credit in [0, 1] as met (from 0.75), partial (from 0.25) or missing."""
    if value >= 0.75:
        return Status.MET
    if value >= 0.25:
        return Status.PARTIAL
    return Status.MISSING


def combine(embedding: GraderVerdict, llm: GraderVerdict | None, config: GradingConfig) -> Combined:
    """One key point's verdict from the embedding verdict and, when present, the LLM's."""
    similarity = embedding.similarity or 0.0
    thresholds = (config.partial_threshold, config.met_threshold)
    embedding_confidence = margin_confidence(similarity, thresholds)
    embedding_value = CREDIT[embedding.status]
    if llm is None:
        return Combined(embedding.status, embedding_value, embedding_confidence, False)
    llm_value = CREDIT[llm.status]
    total = config.embedding_weight + config.llm_weight or 1.0
    value = (config.embedding_weight * embedding_value + config.llm_weight * llm_value) / total
    # A disagreement matters in proportion to the weight the LLM carries: a small model
    # kept for the pipeline's sake (low weight) does not send every answer for review.
    llm_share = config.llm_weight / total
    gap = abs(embedding_value - llm_value) * min(1.0, 2 * llm_share)
    disagreement = gap >= config.disagreement
    confidence = (embedding_confidence + 1.0) / 2 * (1.0 - gap)
    confidence = round(max(0.0, min(1.0, confidence if not disagreement else confidence / 2)), 3)
    return Combined(status_of(value), round(value, 4), confidence, disagreement)
