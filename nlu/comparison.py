"""The product's intent model and the baselines side by side, in one run: held-out
accuracy, 5-fold cross-validation, per-intent recall, per-voice accuracy, the harmful
outcomes, the fallback threshold that minimises their cost, and the overlap between the
held-out set and the training data. ``make nlu-report`` prints and writes it.

The product's held-out row comes from the trained Rasa model through the product parser
(nlu/archive.py, what the hotline runs; tests/nlu/test_nlu_archive.py holds it equal to
Rasa's own graph, message by message); every cross-validation row, the product's
included, is scikit-learn on the same folds (training a Rasa model per fold and per
candidate would take an hour on two cores). The product's CV folds use its features and
the C chosen on the whole training set (one hyper-parameter; nested CV of C would cost
30 fits per fold).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from nlu import textclf
from nlu.normalise import normalise
from nlu.signals import contrary, victim_words
from nlu.types import FALLBACK_INTENT

# --- harmful outcomes -------------------------------------------------------------
REPORTING = {
    "report_qr_code",
    "report_phone_borrowing",
    "report_suspicious_visit",
    "already_victim",
}
SUBSCRIPTION = {"subscribe", "unsubscribe"}
# Cost of each outcome, relative to one fallback (a villager asked to rephrase, who still
# reads the safety line). A victim who gets neither 110 nor 96110 is the worst: money
# keeps leaving while they wait. A flipped subscription silently drops (or forces) the
# tips; a report nobody meant sends police to a village for nothing and files the
# villager's number; a confident wrong answer misleads but has no side effect.
COSTS = {
    "victim_without_first_aid": 20.0,
    "subscription_flip": 10.0,
    "unmeant_report": 5.0,
    "unmeant_subscription_change": 5.0,
    "confident_wrong": 2.0,
    "fallback": 1.0,
}
HARMS = ("victim_without_first_aid", "subscription_flip", "unmeant_report", "confident_wrong")


def outcome(expected: str, predicted: str, text: str | None = None) -> str | None:
    """What a prediction does to the villager, None when it is right.

    - victim_without_first_aid: an already_victim message answered with anything but
      first aid, a fallback included (its safety line says 110 only to someone whose
      visitors are still in the village, and nothing of 96110 or the bank);
    - subscription_flip: subscribe read as unsubscribe or the other way round;
    - unmeant_report / unmeant_subscription_change: a side effect nobody asked for;
    - confident_wrong: any other wrong intent given without falling back;
    - fallback: no answer, the safety line and "please say it again".

    With the ``text``, the rules that outrank the model (nlu/signals.py) count as the
    conversation applies them: victim words get first aid whatever the intent, and a
    subscription parse whose words say the opposite is asked about (a fallback's cost)."""
    if predicted == expected:
        return None
    if expected == "already_victim":
        return None if text is not None and victim_words(text) else "victim_without_first_aid"
    if {expected, predicted} == SUBSCRIPTION:
        if text is not None and contrary(predicted, text):
            return "fallback"
        return "subscription_flip"
    if predicted == FALLBACK_INTENT:
        return "fallback"
    if predicted in REPORTING and expected not in REPORTING:
        return "unmeant_report"
    if predicted in SUBSCRIPTION:
        return "unmeant_subscription_change"
    return "confident_wrong"


def outcomes(pairs: Sequence[tuple[str, str]], texts: Sequence[str] | None = None) -> Iterator[str]:
    """The outcome of every wrong (expected, predicted) pair, with its text when known."""
    said: Sequence[str | None] = texts if texts is not None else [None] * len(pairs)
    for (e, p), t in zip(pairs, said, strict=True):
        if (o := outcome(e, p, t)) is not None:
            yield o


def cost(pairs: Sequence[tuple[str, str]], texts: Sequence[str] | None = None) -> float:
    return sum(COSTS[o] for o in outcomes(pairs, texts))


def with_fallback(
    ranked: Sequence[tuple[str, float, float]], threshold: float, ambiguity: float = 0.0
) -> list[str]:
    """Rasa's FallbackClassifier rule on (top intent, top p, second p) triples."""
    return [
        FALLBACK_INTENT if p1 < threshold or (ambiguity and p1 - p2 < ambiguity) else top
        for top, p1, p2 in ranked
    ]


def choose_threshold(
    expected: Sequence[str],
    ranked: Sequence[tuple[str, float, float]],
    texts: Sequence[str] | None = None,
) -> tuple[float, float, list[tuple[float, float]]]:
    """The threshold (0 to 0.9 in steps of 0.02) with the lowest total cost on
    out-of-fold predictions (counting nlu/signals.py's rules when ``texts`` are given);
    ties go to the lower threshold (fewer fallbacks)."""
    sweep = []
    for step in range(46):
        t = round(step * 0.02, 2)
        pairs = list(zip(expected, with_fallback(ranked, t), strict=True))
        sweep.append((t, cost(pairs, texts)))
    best_t, best_cost = min(sweep, key=lambda tc: (tc[1], tc[0]))
    return best_t, best_cost, sweep


# --- candidates ---------------------------------------------------------------------
@dataclass
class Candidate:
    name: str
    build: Callable[[], Any]
    normalised: bool  # trained and run on nlu.normalise'd text
    threshold: float | None = None  # fallback threshold, None: never falls back
    probabilistic: bool = True
    gated: bool = False  # texts that say nothing get no intent (nlu.content), as in the product


def _rasa_lr_features() -> FeatureUnion:
    """What config.yml had before: word 1–3 counts over jieba tokens and char_wb 1–3
    counts over the tokens joined by spaces (how Rasa's CountVectorsFeaturizer sees
    them), LR with Rasa's hard-coded C=1, class_weight balanced."""
    return FeatureUnion(
        [
            (
                "words",
                CountVectorizer(
                    tokenizer=textclf.words, token_pattern=None, lowercase=False, ngram_range=(1, 3)
                ),
            ),
            (
                "chars",
                CountVectorizer(
                    analyzer="char_wb",
                    ngram_range=(1, 3),
                    preprocessor=lambda t: " ".join(textclf.words(t)),
                ),
            ),
        ]
    )


def candidates(product_c: float, product_threshold: float) -> list[Candidate]:
    return [
        Candidate(
            "product: TF-IDF chars 1-4 + words 1-2 + pinyin 3-5, LR C by CV, "
            "averaged with TF-IDF chars 1-3, LR C=100",
            lambda: textclf.ensemble(
                LogisticRegression(C=product_c, max_iter=3000, random_state=42)
            ),
            normalised=True,
            threshold=product_threshold,
            gated=True,
        ),
        Candidate(
            "issue baseline: TF-IDF char 1-3 + LR C=100 (raw text)",
            lambda: Pipeline(
                [
                    (
                        "features",
                        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
                    ),
                    ("model", LogisticRegression(C=100, max_iter=3000, random_state=42)),
                ]
            ),
            normalised=False,
        ),
        Candidate(
            "Rasa LR as configured before: word 1-3 + char_wb 1-3 counts, C=1, fallback 0.4",
            lambda: Pipeline(
                [
                    ("features", _rasa_lr_features()),
                    (
                        "model",
                        LogisticRegression(
                            C=1, max_iter=1000, class_weight="balanced", random_state=42
                        ),
                    ),
                ]
            ),
            normalised=False,
            threshold=0.4,
        ),
        Candidate(
            "linear SVM on the product's features, C by 5-fold CV",
            lambda: Pipeline(
                [
                    ("features", textclf.features()),
                    (
                        "model",
                        GridSearchCV(
                            LinearSVC(),
                            {"C": [0.1, 0.3, 1, 3, 10]},
                            cv=StratifiedKFold(5, shuffle=True, random_state=42),
                        ),
                    ),
                ]
            ),
            normalised=True,
            probabilistic=False,
        ),
    ]


def _predict(
    model: Any, texts: list[str], probabilistic: bool, gated: bool = False
) -> list[tuple[str, float, float]]:
    if not probabilistic:
        return [(str(p), 1.0, 0.0) for p in model.predict(texts)]
    probs = textclf.predict_proba(model, texts) if gated else model.predict_proba(texts)
    out = []
    for row in probs:
        first, second = np.argsort(-row)[:2]
        out.append((str(model.classes_[first]), float(row[first]), float(row[second])))
    return out


def _prepare(texts: Sequence[str], c: Candidate) -> list[str]:
    return [normalise(t) for t in texts] if c.normalised else list(texts)


def out_of_fold(
    c: Candidate, texts: Sequence[str], intents: Sequence[str], folds: int = 5, seed: int = 42
) -> list[tuple[str, float, float]]:
    """Predictions for every training example from a model that never saw it."""
    x = _prepare(texts, c)
    y = np.array(intents)
    ranked: list[Any] = [None] * len(x)
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        model = c.build().fit([x[i] for i in train_idx], y[train_idx])
        for i, r in zip(
            test_idx,
            _predict(model, [x[i] for i in test_idx], c.probabilistic, c.gated),
            strict=True,
        ):
            ranked[i] = r
    return ranked


# --- scoring --------------------------------------------------------------------------
@dataclass
class Scores:
    pairs: list[tuple[str, str]]
    voices: list[str] = field(default_factory=list)
    # The messages, when known: harmful outcomes then count nlu/signals.py's rules.
    texts: list[str] | None = None

    @property
    def accuracy(self) -> float:
        return sum(e == p for e, p in self.pairs) / len(self.pairs) if self.pairs else 0.0

    def recall(self) -> dict[str, float]:
        total: Counter[str] = Counter()
        right: Counter[str] = Counter()
        for e, p in self.pairs:
            total[e] += 1
            right[e] += e == p
        return {i: right[i] / total[i] for i in sorted(total)}

    def by_voice(self) -> dict[str, tuple[int, int]]:
        total: Counter[str] = Counter()
        right: Counter[str] = Counter()
        for (e, p), v in zip(self.pairs, self.voices, strict=True):
            total[v] += 1
            right[v] += e == p
        return {v: (right[v], total[v]) for v in sorted(total)}

    def outcomes(self) -> Counter:
        return Counter(outcomes(self.pairs, self.texts))

    def cost(self) -> float:
        return cost(self.pairs, self.texts)

    def fallbacks(self) -> int:
        return sum(p == FALLBACK_INTENT for _, p in self.pairs)


def calibration_error(expected: Sequence[str], ranked: Sequence[tuple[str, float, float]]) -> float:
    """Expected calibration error of the top-1 confidence (10 equal-width bins): how far,
    on average, "p = 0.8" is from being right 80 % of the time."""
    bins: dict[int, list[tuple[float, bool]]] = {}
    for e, (top, p1, _p2) in zip(expected, ranked, strict=True):
        bins.setdefault(min(int(p1 * 10), 9), []).append((p1, e == top))
    n = len(expected)
    return sum(
        len(b) / n * abs(sum(p for p, _ in b) / len(b) - sum(ok for _, ok in b) / len(b))
        for b in bins.values()
    )


def overlap(training: Sequence[str], heldout: Sequence[str], near: float = 0.9) -> dict[str, Any]:
    """Held-out texts found in the training data: exactly (after normalise) and nearly
    (cosine ≥ ``near`` between character 1–3-gram TF-IDF vectors)."""
    train_n = [normalise(t) for t in training]
    held_n = [normalise(t) for t in heldout]
    seen = set(train_n)
    exact = [h for h in held_n if h in seen]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit(train_n + held_n)
    sims = (vec.transform(held_n) @ vec.transform(train_n).T).toarray()
    best = sims.argmax(axis=1)
    near_pairs = [
        (held_n[i], train_n[j], float(sims[i, j]))
        for i, j in enumerate(best)
        if sims[i, j] >= near and held_n[i] not in seen
    ]
    return {"exact": exact, "near": near_pairs, "threshold": near, "heldout": len(held_n)}


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def report(
    training: Sequence[tuple[str, str]],
    heldout: Sequence[tuple[str, str, str]],
    product_heldout: Scores | None,
    product_c: float,
    configured_threshold: float,
    folds: int = 5,
    progress: Callable[[str], None] = lambda _m: None,
) -> str:
    """The whole comparison as Markdown."""
    texts = [t for t, _ in training]
    intents = [i for _, i in training]
    h_texts = [t for t, _, _ in heldout]
    h_intents = [i for _, i, _ in heldout]
    h_voices = [v for _, _, v in heldout]
    product, *baselines = candidates(product_c, configured_threshold)

    progress("product: out-of-fold predictions for the threshold")
    product_oof = out_of_fold(product, texts, intents, folds)
    chosen, chosen_cost, sweep = choose_threshold(intents, product_oof, texts)

    held: dict[str, Scores] = {}
    cv: dict[str, Scores] = {}
    ece: dict[str, str] = {}
    for c in [product, *baselines]:
        progress(f"{c.name}: cross-validation and held-out")
        oof = product_oof if c is product else out_of_fold(c, texts, intents, folds)
        ece[c.name] = f"{calibration_error(intents, oof):.3f}" if c.probabilistic else "n/a"
        fb = c.threshold if c.threshold is not None else 0.0
        cv[c.name] = Scores(list(zip(intents, with_fallback(oof, fb), strict=True)), texts=texts)
        if c is product and product_heldout is not None:
            held[c.name] = product_heldout
            continue
        model = c.build().fit(_prepare(texts, c), np.array(intents))
        ranked = _predict(model, _prepare(h_texts, c), c.probabilistic, c.gated)
        held[c.name] = Scores(
            list(zip(h_intents, with_fallback(ranked, fb), strict=True)), h_voices, h_texts
        )

    names = [c.name for c in [product, *baselines]]
    short = {n: f"({chr(ord('A') + k)})" for k, n in enumerate(names)}
    lines = [
        "## Side by side",
        "",
        *[f"- {short[n]} {n}" for n in names],
        "",
        f"{len(training)} training examples, {len(heldout)} held-out; cross-validation: "
        f"{folds} stratified folds (seed 42), the same folds for every candidate. "
        f"Product held-out row: "
        + (
            "the trained Rasa model through the product parser (nlu/archive.py)."
            if product_heldout
            else "scikit-learn."
        ),
        "",
    ]
    rows = []
    for n in names:
        h, v = held[n], cv[n]
        oc = h.outcomes()
        rows.append(
            [
                short[n],
                f"{h.accuracy:.3f}",
                f"{v.accuracy:.3f}",
                f"{min(h.recall().values()):.2f}",
                f"{min(v.recall().values()):.2f}",
                str(h.fallbacks()),
                *(str(oc[k]) for k in HARMS),
                f"{h.cost():.0f}",
                ece[n],
            ]
        )
    lines += _table(
        rows,
        [
            "",
            "held-out acc",
            f"{folds}-fold CV acc",
            "min recall (held-out)",
            "min recall (CV)",
            "fell back",
            "victims w/o first aid",
            "subscription flips",
            "unmeant reports",
            "confident wrong",
            "cost",
            "CV calibration error",
        ],
    )
    intents_all = sorted(set(intents) | set(h_intents))
    lines += ["", "### Recall per intent (held-out / CV)", ""]
    lines += _table(
        [
            [
                i,
                *(
                    f"{held[n].recall().get(i, 0):.2f} / {cv[n].recall().get(i, 0):.2f}"
                    for n in names
                ),
            ]
            for i in intents_all
        ],
        ["intent", *(short[n] for n in names)],
    )
    voices = sorted(set(h_voices))
    lines += ["", "### Held-out accuracy per voice", ""]
    vrows = []
    for voice in voices:  # not v: that holds a Scores above
        cells = []
        for n in names:
            right, total = held[n].by_voice().get(voice, (0, 0))
            cells.append(f"{right / total:.2f} ({right}/{total})" if total else "")
        vrows.append([voice, *cells])
    lines += _table(vrows, ["voice", *(short[n] for n in names)])

    lines += [
        "",
        "## Fallback threshold chosen by cross-validation",
        "",
        "Costs per outcome (a fallback = 1): "
        + ", ".join(f"{k} {v:g}" for k, v in COSTS.items())
        + ". On the product's out-of-fold probabilities the lowest total cost is at "
        f"**threshold {chosen:.2f}** (cost {chosen_cost:.0f}); config.yml has "
        f"{configured_threshold:.2f}"
        + (" (the same)." if abs(chosen - configured_threshold) < 1e-9 else " — update config.yml.")
        + f" Product C chosen by CV on log-loss: {product_c:g}.",
        "",
        "| threshold | " + " | ".join(f"{t:.2f}" for t, _ in sweep[::5]) + " |",
        "|---|" + "---|" * len(sweep[::5]),
        "| CV cost | " + " | ".join(f"{c:.0f}" for _, c in sweep[::5]) + " |",
    ]
    ov = overlap(texts, h_texts)
    lines += [
        "",
        "## Held-out vs training overlap",
        "",
        f"Exact (after normalisation): {len(ov['exact'])} of {ov['heldout']}. "
        f"Near-duplicates (char 1-3-gram TF-IDF cosine ≥ {ov['threshold']}): {len(ov['near'])}.",
    ]
    lines += [f"- exact: {h}" for h in ov["exact"][:20]]
    for h, t, s in sorted(ov["near"], key=lambda x: -x[2])[:20]:
        lines.append(f"- {s:.2f}: {h} ≈ {t}")
    if product_heldout is not None:
        misses = [
            (t, e, p) for t, (e, p) in zip(h_texts, product_heldout.pairs, strict=True) if e != p
        ]
        lines += [
            "",
            "## Product held-out misses",
            "",
            "| text | expected | predicted |",
            "|---|---|---|",
        ]
        lines += [f"| {t} | {e} | {p} |" for t, e, p in misses]
    return "\n".join(lines) + "\n"
