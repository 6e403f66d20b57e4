"""The fitted intent model, compiled for what the hotline does with it: one message at
a time.

scikit-learn's ``predict_proba`` on a one-row batch spends most of its time around the
arithmetic, not in it: each TF-IDF vectorizer re-validates that it is fitted (and
recomputes ``idf_`` from its diagonal matrix to do so), every step builds and checks
sparse matrices, and the feature union goes through joblib. On the product's model
that was about 70 % of a parse (``make bench``'s parse figures; docs/nlu-evaluation.md).

This module reads the same fitted objects — each vectorizer's own analyzer (its n-grams,
tokenizer and preprocessor, built by scikit-learn), vocabulary and idf weights, each
logistic regression's coefficients — and does the same arithmetic on plain arrays:
counts, sublinear tf, idf, l2 per vectorizer, the coefficients' columns of the features
present, softmax, the voting weights. tests/nlu/test_linear.py checks it against
scikit-learn's probabilities on every training and held-out message. Training, cross-
validation and the saved archive stay scikit-learn's; only prediction is compiled, and
a model this module does not know (another vectorizer, a one-vs-rest LR) is left as it
is (``compile_model`` returns it unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

_EMPTY_INDEX = np.zeros(0, dtype=np.intp)
_EMPTY_VALUES = np.zeros(0, dtype=np.float64)


class Unsupported(ValueError):
    """A fitted step this module does not reproduce exactly."""


class _Tfidf:
    """One fitted TfidfVectorizer's transform of one text, as (columns, values)."""

    def __init__(self, vectorizer: TfidfVectorizer, offset: int) -> None:
        if vectorizer.norm not in ("l2", None) or vectorizer.binary:
            raise Unsupported(f"TfidfVectorizer(norm={vectorizer.norm!r}, binary=True)")
        self.analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf: np.ndarray | None = (
            np.asarray(vectorizer.idf_, dtype=np.float64) if vectorizer.use_idf else None
        )
        self.sublinear = bool(vectorizer.sublinear_tf)
        self.l2 = vectorizer.norm == "l2"
        self.offset = offset
        self.width = len(self.vocabulary)

    def transform(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts: dict[int, int] = {}
        vocabulary = self.vocabulary
        for feature in self.analyze(text):
            column = vocabulary.get(feature)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return _EMPTY_INDEX, _EMPTY_VALUES
        columns = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear:
            values = np.log(values) + 1.0
        if self.idf is not None:
            values *= self.idf[columns]
        if self.l2:
            norm = float(np.sqrt(values @ values))
            if norm > 0.0:
                values /= norm
        return columns + self.offset, values


class _Member:
    """One fitted Pipeline(features, LogisticRegression): probabilities of one text."""

    def __init__(self, pipeline: Pipeline) -> None:
        features, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        if len(pipeline.steps) != 2 or not isinstance(model, LogisticRegression):
            raise Unsupported("a member other than (TF-IDF features, LogisticRegression)")
        if isinstance(features, FeatureUnion):
            if features.transformer_weights:
                raise Unsupported("FeatureUnion transformer_weights")
            vectorizers = [step for _name, step in features.transformer_list]
        else:
            vectorizers = [features]
        if not all(isinstance(v, TfidfVectorizer) for v in vectorizers):
            raise Unsupported("features other than TfidfVectorizer")
        self.parts: list[_Tfidf] = []
        offset = 0
        for vectorizer in vectorizers:
            part = _Tfidf(vectorizer, offset)
            self.parts.append(part)
            offset += part.width
        coef = np.asarray(model.coef_, dtype=np.float64)
        if coef.shape[1] != offset:
            raise Unsupported(f"{coef.shape[1]} coefficients for {offset} features")
        if coef.shape[0] < 3 or _one_vs_rest(model):
            raise Unsupported("binary or one-vs-rest logistic regression")
        # Column-major: the columns of the features present are read in place.
        self.coef = np.asfortranarray(coef)
        self.intercept = np.asarray(model.intercept_, dtype=np.float64)

    def probabilities(self, text: str) -> np.ndarray:
        scores = self.intercept.copy()
        for part in self.parts:
            columns, values = part.transform(text)
            if len(columns):
                scores += self.coef[:, columns] @ values
        scores -= scores.max()
        np.exp(scores, out=scores)
        scores /= scores.sum()
        return scores


def _one_vs_rest(model: LogisticRegression) -> bool:
    # scikit-learn 1.1's rule (LogisticRegression.predict_proba) for softmax vs OvR.
    multi_class = getattr(model, "multi_class", "auto")
    return multi_class in ("ovr", "warn") or (
        multi_class == "auto" and (len(model.classes_) <= 2 or model.solver == "liblinear")
    )


class CompiledModel:
    """``predict_proba`` and ``classes_`` of a fitted soft-voting ensemble (or a single
    pipeline), computed a text at a time. ``fitted`` is the scikit-learn model it was
    compiled from (its C, its members)."""

    def __init__(self, fitted: Any) -> None:
        self.fitted = fitted
        if isinstance(fitted, VotingClassifier):
            if fitted.voting != "soft":
                raise Unsupported("hard voting")
            self.members = [_Member(m) for m in fitted.estimators_]
            weights = fitted._weights_not_none  # noqa: SLF001 - what predict_proba averages with
            self.weights = (
                np.ones(len(self.members)) if weights is None else np.asarray(weights, float)
            )
        elif isinstance(fitted, Pipeline):
            self.members = [_Member(fitted)]
            self.weights = np.ones(1)
        else:
            raise Unsupported(type(fitted).__name__)
        self.weights = self.weights / self.weights.sum()
        self.classes_ = fitted.classes_

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), len(self.classes_)), dtype=np.float64)
        for row, text in enumerate(texts):
            probs = self.weights[0] * self.members[0].probabilities(text)
            for weight, member in zip(self.weights[1:], self.members[1:], strict=True):
                probs += weight * member.probabilities(text)
            out[row] = probs
        return out


def compile_model(fitted: Any) -> Any:
    """A ``CompiledModel`` of ``fitted``, or ``fitted`` itself when some step of it is
    not one this module reproduces."""
    if isinstance(fitted, CompiledModel):
        return fitted
    try:
        return CompiledModel(fitted)
    except Unsupported:
        return fitted
