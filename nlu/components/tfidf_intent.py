"""Rasa 3.6 intent classifier: nlu.textclf's model (sublinear TF-IDF over whole-text
character n-grams and jieba word n-grams, logistic regression with C chosen by
cross-validation on log-loss) inside Rasa's graph, so `rasa train nlu` and
`hotline train` train it like any other component.

It reads the message text itself (not Rasa's featurizers: their char_wb n-grams stop at
jieba's word boundaries) and normalises it with nlu.normalise, the same function the
parser applies before Rasa, so training and parsing see the same form.
"""

from __future__ import annotations

import logging
from typing import Any

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu import textclf
from nlu.normalise import normalise

log = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfIntentClassifier(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"c_grid": list(textclf.C_GRID), "folds": 5, "random_seed": 42, "ranking_length": 10}

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "jieba", "zhconv", "pypinyin"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Any = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TfidfIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            log.warning("no intent examples: the intent classifier is left untrained")
            return self._resource
        fitted = textclf.fit(
            [e.get(TEXT) for e in examples],
            [e.get(INTENT) for e in examples],
            c_grid=tuple(self.config["c_grid"]),
            folds=self.config["folds"],
            seed=self.config["random_seed"],
        )
        log.info("intent classifier: C=%s chosen by cross-validation", textclf.chosen_c(fitted))
        with self._storage.write_to(self._resource) as directory:
            joblib.dump(fitted, directory / textclf.MODEL_FILE)  # scikit-learn's, not compiled
        self.model = textclf.for_prediction(fitted)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfIntentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                # Our own file, written by train() above into the model archive.
                model = textclf.for_prediction(joblib.load(directory / textclf.MODEL_FILE))
        except (ValueError, FileNotFoundError):
            log.warning("no trained intent classifier in the model: it will predict nothing")
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        texts = [normalise(m.get(TEXT) or "") for m in messages]
        probabilities = textclf.predict_proba(self.model, texts)
        classes = [str(c) for c in self.model.classes_]
        for message, probs in zip(messages, probabilities, strict=True):
            ranked = sorted(zip(classes, probs, strict=True), key=lambda p: -p[1])
            ranking = [{"name": n, "confidence": float(p)} for n, p in ranked]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(
                "intent_ranking", ranking[: self.config["ranking_length"]], add_to_output=True
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
