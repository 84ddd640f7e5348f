"""The reader's network: an encoder that reads two texts together, and its heads.

Shared by serving (models/reader.py) and training (models/reader_training.py); it knows
nothing of rubrics or datasets. One forward pass reads a batch of (first, second) pairs,
mean-pools the encoder's last layer and gives:

- ``relation``: three logits, in ``RELATIONS`` order: the second text covers (states) the
  first, contradicts it, or neither. Trained on SemEval-2013's correct / contradictory /
  incorrect, on synthetic contradictions and on the lessons' key points and exemplars.
- ``grade``: three logits, in ``GRADES`` order, and ``score`` (0..1): the answer graded
  against a question and its reference answer, as a teacher did in SAF.

The encoder is a BERT (all-MiniLM-L6-v2, shipped: ``[CLS] first [SEP] second [SEP]`` with
token types), an MPNet (all-mpnet-base-v2: ``<s> first </s></s> second </s>``, no token
types) or a decoder (SmolLM2: ``first <eos> second <eos>``, mean-pooled like the others, no
token types); ``pair_ids`` builds the pair the same way for training and serving.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

RELATIONS = ("covers", "contradicts", "neither")
GRADES = ("correct", "partially_correct", "incorrect")
CONFIG_FILE = "reader.json"
WEIGHTS_FILE = "reader.safetensors"
POOLING_LAYER = ("bert", "mpnet", "roberta")  # encoders built with add_pooling_layer=False


def uses_token_types(config: Any) -> bool:
    """Whether the encoder reads token types (BERT does; MPNet and decoders do not)."""
    return int(getattr(config, "type_vocab_size", 0) or 0) > 1


def pair_ids(
    tokenizer: Any, first: Sequence[int], second: Sequence[int], max_length: int
) -> tuple[list[int], int]:
    """A pair of token id lists as the encoder reads it, cut longest-first to ``max_length``;
    returns the ids and where the second text's part begins (its token type starts there)."""
    a, b = list(first), list(second)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls is None or sep is None:  # a decoder: first <eos> second <eos>
        head, middle, tail = [], [tokenizer.eos_token_id], [tokenizer.eos_token_id]
    elif tokenizer.num_special_tokens_to_add(pair=True) == 4:  # MPNet / RoBERTa
        head, middle, tail = [cls], [sep, sep], [sep]
    else:  # BERT
        head, middle, tail = [cls], [sep], [sep]
    room = max_length - len(head) - len(middle) - len(tail)
    while len(a) + len(b) > room:
        if len(a) >= len(b):
            a.pop()
        else:
            b.pop()
    return [*head, *a, *middle, *b, *tail], len(head) + len(a) + len(middle)


class ReaderNetwork(nn.Module):
    """Encoder + mean pooling + a relation head, a grade head and a score head."""

    def __init__(self, encoder: nn.Module, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.relation = nn.Linear(hidden, len(RELATIONS))
        self.grade = nn.Linear(hidden, len(GRADES))
        self.score = nn.Linear(hidden, 1)
        self.token_types = uses_token_types(getattr(encoder, "config", None))

    def pooled(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.token_types:
            out = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
        else:
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        hidden: torch.Tensor = out.last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled: torch.Tensor = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return pooled

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        pooled = self.dropout(self.pooled(input_ids, attention_mask, token_type_ids))
        return {
            "relation": self.relation(pooled),
            "grade": self.grade(pooled),
            "score": torch.sigmoid(self.score(pooled)).squeeze(-1),
        }


def _encoder_options(config: Any) -> dict[str, Any]:
    return {"add_pooling_layer": False} if config.model_type in POOLING_LAYER else {}


def build(base_dir: str | Path) -> tuple[ReaderNetwork, Any]:
    """A fresh network from an encoder's folder (BERT, MPNet or a decoder such as SmolLM2;
    its weights as the starting point) and its tokenizer. The heads start random; seed torch
    first for a repeatable start."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(str(base_dir))
    encoder = AutoModel.from_pretrained(str(base_dir), **_encoder_options(config))
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
    encoder = AutoModel.from_config(config, **_encoder_options(config))  # type: ignore[no-untyped-call]
    network = ReaderNetwork(encoder, int(config.hidden_size))
    state = {k: v.float() for k, v in load_file(str(folder / WEIGHTS_FILE)).items()}
    network.load_state_dict(state)
    network.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    card = json.loads((folder / CONFIG_FILE).read_text())
    return network, tokenizer, card
