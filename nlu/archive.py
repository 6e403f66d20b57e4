"""Serving a trained Rasa model archive without starting Rasa.

`hotline train` (``rasa train nlu``) writes models/*.tar.gz: Rasa's metadata.json with
the predict graph, and each component's files. Our pipeline's predict graph is four
nodes: Rasa's message converter, our classifier (nlu/components/tfidf_intent.py, whose
file is the scikit-learn pipeline of nlu.textclf), Rasa's FallbackClassifier (a
threshold) and Rasa's RegexMessageHandler (the "/intent{...}" shortcut). Loading that
through ``rasa.core.agent`` imports all of Rasa's default recipe, TensorFlow and Sanic
included: about 860 MB resident and 5 s before the first answer, for a model that needs
scikit-learn and jieba only (docs/benchmarks.md).

``ArchiveParser`` reads the archive's metadata, checks that its predict graph holds
nothing but those nodes, takes the classifier's file and the fallback's configuration,
and runs the same code Rasa's graph runs (nlu.textclf.predict_proba, then the fallback
rule below). ``tests/nlu/test_nlu_archive.py`` checks it against ``RasaParser`` message by
message. A graph with any other component (DIET, a CRF, a featurizer) is refused with
``UnsupportedGraph`` and the caller loads it through Rasa instead.

The "/intent" shortcut is not carried over on purpose: it lets a sender choose the
intent and inject entities ("/unsubscribe" parsed at confidence 1.0), and nlu.normalise
strips a leading slash for Rasa's own path too.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from nlu.entities import Gazetteer, extract
from nlu.normalise import normalise
from nlu.textclf import MODEL_FILE, for_prediction, ranking
from nlu.types import FALLBACK_INTENT, Parse

CLASSIFIER = "nlu.components.tfidf_intent.TfidfIntentClassifier"
FALLBACK = "rasa.nlu.classifiers.fallback_classifier.FallbackClassifier"
# Nodes that change nothing in a parse we serve: the converter wraps the text in a
# Message; the regex handler only acts on "/intent" texts, which normalise() disarms.
PASS_THROUGH = {
    "rasa.graph_components.converters.nlu_message_converter.NLUMessageConverter",
    "rasa.nlu.classifiers.regex_message_handler.RegexMessageHandler",
}


class UnsupportedGraph(ValueError):
    """The archive's predict graph needs Rasa itself to run."""


@dataclass(frozen=True)
class IntentModel:
    model: Any  # nlu.textclf's fitted Pipeline
    threshold: float
    ambiguity_threshold: float
    model_id: str


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    # Rasa writes members with a leading "/"; read by name, never extract to disk.
    for candidate in (name, "/" + name):
        try:
            handle = tar.extractfile(candidate)
        except KeyError:
            continue
        if handle is not None:
            return handle.read()
    raise FileNotFoundError(f"{name} is not in the model archive")


def read(path: str | Path) -> IntentModel:
    """The classifier and fallback settings of a Rasa archive; ``UnsupportedGraph`` when
    its predict graph has a node this module does not reproduce."""
    with tarfile.open(path, "r:gz") as tar:
        metadata = json.loads(_member(tar, "metadata.json"))
        nodes = metadata["predict_schema"]["nodes"]
        unknown = sorted(
            {n["uses"] for n in nodes.values()} - PASS_THROUGH - {CLASSIFIER, FALLBACK}
        )
        if unknown:
            raise UnsupportedGraph(f"predict graph needs Rasa for {', '.join(unknown)}")
        classifiers = [n for n in nodes.values() if n["uses"] == CLASSIFIER]
        fallbacks = [n for n in nodes.values() if n["uses"] == FALLBACK]
        if len(classifiers) != 1 or len(fallbacks) > 1:
            raise UnsupportedGraph("expected one intent classifier and at most one fallback")
        resource = classifiers[0]["resource"]["name"]
        blob = _member(tar, f"components/{resource}/{MODEL_FILE}")
    # Our own file, written by TfidfIntentClassifier.train into this archive.
    model = for_prediction(joblib.load(io.BytesIO(blob)))
    fallback = fallbacks[0]["config"] if fallbacks else {}
    return IntentModel(
        model=model,
        # Rasa's FallbackClassifier defaults, when config.yml leaves them out.
        threshold=float(fallback.get("threshold", 0.3)) if fallbacks else 0.0,
        ambiguity_threshold=float(fallback.get("ambiguity_threshold", 0.1)) if fallbacks else 0.0,
        model_id=str(metadata.get("model_id", "")),
    )


def classify(model: IntentModel, text: str) -> tuple[str, float]:
    """(intent, confidence) for a normalised text, as Rasa's graph would give them:
    the classifier's best intent, or the fallback intent at the threshold's confidence
    when the best is below the threshold or too close to the second (FallbackClassifier)."""
    ranked = ranking(model.model, text)
    best, confidence = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else None
    if confidence < model.threshold or (
        second is not None and confidence - second < model.ambiguity_threshold
    ):
        return FALLBACK_INTENT, model.threshold
    return best, confidence


class ArchiveParser:
    """The product's parser: the trained archive, read by ``read``."""

    name = "rasa"

    def __init__(self, model_path: str | Path) -> None:
        self.model_path = Path(model_path)
        self._model = read(self.model_path)
        self.gazetteer = Gazetteer()
        # scikit-learn's transform is read-only on a fitted pipeline, but jieba's lazy
        # dictionary load is not: one parse at a time, as on Rasa's path.
        self._lock = threading.Lock()

    def set_places(self, villages: Any, townships: Any = ()) -> None:
        """Village and township names to find (the jurisdiction table's)."""
        self.gazetteer.set_places(villages, townships)

    def component(self, class_name: str) -> Any:
        """The loaded intent model (for evaluation: its chosen C), as RasaParser's."""
        return _Component(self._model.model) if class_name in CLASSIFIER else None

    def parse(self, text: str) -> Parse:
        text = normalise(text)
        with self._lock:
            intent, confidence = classify(self._model, text)
        return Parse(
            text=text,
            intent=intent,
            confidence=round(float(confidence), 4),
            entities=extract(text, self.gazetteer),
        )


@dataclass
class _Component:
    model: Any
