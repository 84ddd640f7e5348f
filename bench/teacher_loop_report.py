"""The figures of bench/teacher_loop.py: class curves and accuracies from the simulated
teacher's curves, the Markdown report and the plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.teacher_loop_sim import CHECKPOINTS, Curve, Results

TARGET = 0.95


def class_curve(curves: Sequence[Curve]) -> list[tuple[float, float]]:
    """(share of the class's answers reviewed, share of its labels right) with the teacher
    reviewing the same number of answers of every question, from none to all."""
    total = sum(c.total for c in curves)
    out = []
    for n in range(max(c.total for c in curves) + 1):
        points = [c.at(n) for c in curves]
        out.append((sum(p.reviewed for p in points) / total, sum(p.right for p in points) / total))
    return out


def reviewed_to_reach(curve: Sequence[tuple[float, float]], target: float = TARGET) -> float:
    """The share reviewed when the share of labels right first reaches ``target``."""
    return next(x for x, y in curve if y >= target - 1e-12)


def open_accuracy(curves: Sequence[Curve], n: int) -> float:
    """Accuracy of the grades not yet reviewed once ``n`` answers a question are reviewed."""
    points = [c.at(n) for c in curves]
    waiting = sum(p.unreviewed for p in points)
    return sum(p.unreviewed_right for p in points) / waiting if waiting else 1.0


def mean_curve(runs: Sequence[Sequence[Curve]]) -> list[tuple[float, float]]:
    """The class curves of several runs (seeds), averaged point by point."""
    each = [class_curve(run) for run in runs]
    return [
        (sum(c[i][0] for c in each) / len(each), sum(c[i][1] for c in each) / len(each))
        for i in range(len(each[0]))
    ]


def report(results: Results, checkpoints: Sequence[int] = CHECKPOINTS) -> list[str]:
    queue = results.runs["queue"][0]
    randoms = results.runs["random"]
    plain = results.runs["random, no learning"]
    total = sum(c.total for c in queue)
    questions = len(queue)

    def mean(values: Sequence[float]) -> float:
        return sum(values) / len(values)

    lines = [
        f"SAF unseen_questions: {questions} questions, {total} answers; "
        f"random order over {len(randoms)} seeds",
        "",
        "| reviewed per question | share of the class | unreviewed right: queue + learning "
        "| random + learning | random, no learning |",
        "|---|---|---|---|---|",
    ]
    for n in (0, *checkpoints):
        lines.append(
            f"| {n} | {n * questions / total:.0%} | {open_accuracy(queue, n):.1%} "
            f"| {mean([open_accuracy(r, n) for r in randoms]):.1%} "
            f"| {mean([open_accuracy(r, n) for r in plain]):.1%} |"
        )
    lines += [
        "",
        f"| order | share reviewed before {TARGET:.0%} of the labels are right |",
        "|---|---|",
    ]
    for name, runs in (
        ("review queue + learning", [queue]),
        ("random + learning", randoms),
        ("random, no learning", plain),
    ):
        shares = [reviewed_to_reach(class_curve(run)) for run in runs]
        spread = f" (seeds: {', '.join(f'{s:.1%}' for s in shares)})" if len(shares) > 1 else ""
        lines.append(f"| {name} | {mean(shares):.1%}{spread} |")
    # What the target asks of the grades not reviewed at 30% reviewed.
    n = round(0.30 * total / questions)
    need = (TARGET - n * questions / total) / (1 - n * questions / total)
    lines += [
        "",
        f"At {n} reviewed per question ({n * questions / total:.0%}), 95% of the labels right "
        f"needs {need:.1%} of the unreviewed right; the queue + learning has "
        f"{open_accuracy(queue, n):.1%}.",
        "Per question, review queue + learning (share reviewed before 95% of its labels are "
        "right; unreviewed right at 0 / 20 reviewed):",
    ]
    for curve, qid in zip(queue, results.questions, strict=True):
        lines.append(
            f"  {qid}: {reviewed_to_reach(class_curve([curve])):.0%}; "
            f"{open_accuracy([curve], 0):.0%} / {open_accuracy([curve], 20):.0%}"
        )
    return lines


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    styles = {
        "queue": ("review queue + learning", "tab:blue", "-"),
        "random": ("random order + learning", "tab:orange", "-"),
        "random, no learning": ("random order, no learning", "tab:gray", "--"),
    }
    for policy, (name, color, line) in styles.items():
        curve = mean_curve(results.runs[policy])
        ax.plot([x for x, _ in curve], [y for _, y in curve], line, color=color, label=name)
    ax.axhline(TARGET, color="black", linewidth=0.8, linestyle=":")
    ax.axvline(0.30, color="tab:red", linewidth=0.8, linestyle=":", label="target: 30% reviewed")
    ax.set_xlabel("share of the class's answers reviewed (the same number per question)")
    ax.set_ylabel("share of labels right (reviewed ones count)")
    ax.set_title("Teacher in the loop on SAF unseen_questions (embeddings only)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0.5, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
