"""Evaluate the relevance filter on a labelled set, side by side with a keyword baseline.

Run ``python -m pipelines.evaluate_relevance [LABELLED.jsonl] [--threshold X]``
(default file ``tests/fixtures/relevance/labelled.jsonl``, relative to the cwd).
Each line is one real news article: {"url", "title", "text" (its first
sentence or two), "label": true when it is about industrial zones, "note"}.

Prints precision, recall, F1 and the confusion counts of our scorer and of the
baseline "any zone keyword present" (accent-insensitive substring), then every
sample our scorer gets wrong with its reasons. The functions are importable so
tests assert the same numbers the table shows.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipelines.relevance import DEFAULT_THRESHOLD, fold, nfc, score_relevance

DEFAULT_LABELLED = Path("tests/fixtures/relevance/labelled.jsonl")
BASELINE_KEYWORDS = ("khu công nghiệp", "cụm công nghiệp", "khu kinh tế", "khu chế xuất",
                     "khu công nghệ cao", "KCN", "CCN", "KKT")


@dataclass(frozen=True)
class Sample:
    url: str
    title: str
    text: str
    label: bool
    note: str = ""


@dataclass(frozen=True)
class Metrics:
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def row(self, name: str) -> str:
        return (f"{name:<10} P={self.precision:.3f}  R={self.recall:.3f}  F1={self.f1:.3f}  "
                f"TP={self.tp} FP={self.fp} TN={self.tn} FN={self.fn}")


def load_samples(path: Path) -> list[Sample]:
    """Read the JSONL set; a clear error when it is missing or malformed."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"labelled set not found: {path} (run from the project root "
                                f"or pass the file's path)")
    samples = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                d = json.loads(line)
                samples.append(Sample(d["url"], d.get("title") or "", d["text"],
                                      bool(d["label"]), d.get("note", "")))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{n}: bad sample ({exc})") from exc
    return samples


def baseline_relevant(title: str, text: str) -> bool:
    """Any zone keyword as an accent/case-insensitive substring of title or text."""
    haystack = fold(nfc(f"{title}\n{text}"))
    return any(fold(k) in haystack for k in BASELINE_KEYWORDS)


def ours_relevant(threshold: float) -> Callable[[str, str], bool]:
    return lambda title, text: score_relevance(title, text, threshold=threshold).relevant


def evaluate(samples: list[Sample], predict: Callable[[str, str], bool]) -> Metrics:
    """Confusion counts of ``predict`` against the labels."""
    tp = fp = tn = fn = 0
    for s in samples:
        got = predict(s.title, s.text)
        tp += got and s.label
        fp += got and not s.label
        tn += not got and not s.label
        fn += not got and s.label
    return Metrics(tp, fp, tn, fn)


def misclassified(samples: list[Sample], threshold: float) -> list[tuple[Sample, object]]:
    """Samples our scorer gets wrong, each with its Relevance (score, reasons)."""
    out = []
    for s in samples:
        rel = score_relevance(s.title, s.text, threshold=threshold)
        if rel.relevant != s.label:
            out.append((s, rel))
    return out


def report(samples: list[Sample], threshold: float) -> str:
    """The table the CLI prints."""
    pos = sum(s.label for s in samples)
    lines = [f"{len(samples)} samples: {pos} about zones, {len(samples) - pos} not; "
             f"threshold {threshold}", "",
             evaluate(samples, ours_relevant(threshold)).row("ours"),
             evaluate(samples, baseline_relevant).row("baseline"), ""]
    wrong = misclassified(samples, threshold)
    lines.append(f"misclassified by ours: {len(wrong)}")
    for s, rel in wrong:
        kind = "FN" if s.label else "FP"
        lines.append(f"- {kind} score={rel.score:.2f} {s.title!r}\n  {s.url}")
        lines.extend(f"    {r}" for r in rel.reasons)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.evaluate_relevance",
        description="Precision/recall of the industrial-zone relevance filter on a labelled "
                    "JSONL set (url, title, text, label), against an 'any zone keyword' baseline; "
                    "lists the samples the filter gets wrong with its reasons.")
    parser.add_argument("labelled", nargs="?", type=Path, default=DEFAULT_LABELLED,
                        help=f"labelled JSONL file (default: {DEFAULT_LABELLED}, relative to the cwd)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"score needed to count as relevant (default: {DEFAULT_THRESHOLD})")
    args = parser.parse_args(argv)
    try:
        samples = load_samples(args.labelled)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(samples, args.threshold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
