"""The compiled prediction path (nlu/linear.py) gives scikit-learn's probabilities on
the product's trained model, for every training, held-out and hostile message, and
leaves a model it does not reproduce as it is."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import VotingClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from nlu import archive, evaluate, linear, textclf
from nlu.normalise import normalise
from nlu.training import DATA, train
from tests.nlu.test_nlu_archive import HOSTILE


@pytest.fixture(scope="module")
def compiled() -> linear.CompiledModel:
    path, _trained = train()
    model = archive.read(path).model
    assert isinstance(model, linear.CompiledModel)  # the product parses compiled
    return model


def test_the_same_probabilities_as_scikit_learn_on_every_message(compiled):
    texts = [t for t, _ in evaluate.load_examples(DATA)]
    texts += [t for t, _ in evaluate.load_examples(evaluate.HELDOUT)] + HOSTILE
    texts = [normalise(t) for t in texts]
    ours = compiled.predict_proba(texts)
    theirs = compiled.fitted.predict_proba(texts)
    assert ours.shape == theirs.shape == (len(texts), len(compiled.classes_))
    assert np.abs(ours - theirs).max() < 1e-12
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()
    assert list(compiled.classes_) == list(compiled.fitted.classes_)


def test_ranking_and_chosen_c_read_through_the_compiled_model(compiled):
    ranked = textclf.ranking(compiled, normalise("有人上门说办医保电子凭证 要验证码"))
    assert abs(sum(p for _, p in ranked) - 1.0) < 1e-9
    assert textclf.chosen_c(compiled) == textclf.chosen_c(compiled.fitted)


TEXTS = ["退订", "不想收了", "订阅提醒", "我要订", "有人扫码送鸡蛋", "扫了码", "你好", "谢谢"]
LABELS = ["u", "u", "s", "s", "q", "q", "g", "g"]


@pytest.mark.parametrize(
    "model",
    [
        # A vectorizer it does not reproduce: counts, not TF-IDF.
        Pipeline([("f", CountVectorizer(analyzer="char")), ("m", LogisticRegression())]),
        # Hard voting has no probabilities to average.
        VotingClassifier(
            [
                (
                    "a",
                    Pipeline(
                        [("f", TfidfVectorizer(analyzer="char")), ("m", LogisticRegression())]
                    ),
                )
            ],
            voting="hard",
        ),
    ],
    ids=["counts", "hard-voting"],
)
def test_a_model_it_does_not_reproduce_is_left_as_it_is(model):
    model.fit(TEXTS, LABELS)
    assert linear.compile_model(model) is model


def test_a_small_pipeline_compiles_to_the_same_probabilities():
    model = Pipeline(
        [
            ("f", TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)),
            ("m", LogisticRegression(C=10)),
        ]
    ).fit(TEXTS, LABELS)
    compiled = linear.compile_model(model)
    assert isinstance(compiled, linear.CompiledModel)
    probe = [*TEXTS, "", "完全没见过的字", "退订 退订 退订"]
    assert np.allclose(compiled.predict_proba(probe), model.predict_proba(probe), atol=1e-12)
