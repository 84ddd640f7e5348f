"""The reader's network: a BERT encoder that reads two texts together, and its heads.

Shared by serving (models/reader.py) and training (models/reader_training.py); it knows
nothing of rubrics or datasets. One forward pass reads a batch of (first, second) pairs,
mean-pools the encoder's last layer and gives:

- ``relation``: three logits, in ``RELATIONS`` order: the second text covers (states) the
  first, contradicts it, or neither. Trained on SemEval-2013's correct / contradictory /
  incorrect, on synthetic contradictions and on the lessons' key points and exemplars.
- ``grade``: three logits, in ``GRADES`` order, and ``score`` (0..1): the answer graded
  against a question and its reference answer, as a teacher did in SAF.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

RELATIONS = ("covers", "contradicts", "neither")
GRADES = ("correct", "partially_correct", "incorrect")
CONFIG_FILE = "reader.json"
WEIGHTS_FILE = "reader.safetensors"


class ReaderNetwork(nn.Module):
    """Encoder + mean pooling + a relation head, a grade head and a score head."""

    def __init__(self, encoder: nn.Module, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.relation = nn.Linear(hidden, len(RELATIONS))
        self.grade = nn.Linear(hidden, len(GRADES))
        self.score = nn.Linear(hidden, 1)

    def pooled(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> torch.Tensor:
        out = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        hidden: torch.Tensor = out.last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled: torch.Tensor = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return pooled

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        pooled = self.dropout(self.pooled(input_ids, attention_mask, token_type_ids))
        return {
            "relation": self.relation(pooled),
            "grade": self.grade(pooled),
            "score": torch.sigmoid(self.score(pooled)).squeeze(-1),
        }


def build(base_dir: str | Path) -> tuple[ReaderNetwork, Any]:
    """A fresh network from a BERT folder (its weights as the starting point) and its
    tokenizer. The heads start random; seed torch first for a repeatable start."""
    from transformers import AutoModel, AutoTokenizer

    encoder = AutoModel.from_pretrained(str(base_dir), add_pooling_layer=False)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    return ReaderNetwork(encoder, int(encoder.config.hidden_size)), tokenizer


def save(network: ReaderNetwork, tokenizer: Any, folder: Path, card: dict[str, Any]) -> None:
    """Weights in fp16 safetensors, the encoder's config and tokenizer, and ``reader.json``."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in network.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE))
    encoder: Any = network.encoder
    encoder.config.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    (folder / CONFIG_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")


def load(folder: Path) -> tuple[ReaderNetwork, Any, dict[str, Any]]:
    """A saved reader, in fp32 for the CPU, in eval mode."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(str(folder))
    encoder = AutoModel.from_config(config, add_pooling_layer=False)  # type: ignore[no-untyped-call]
    network = ReaderNetwork(encoder, int(config.hidden_size))
    state = {k: v.float() for k, v in load_file(str(folder / WEIGHTS_FILE)).items()}
    network.load_state_dict(state)
    network.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    card = json.loads((folder / CONFIG_FILE).read_text())
    return network, tokenizer, card
