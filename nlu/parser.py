"""The parser the bot asks: "what does this message mean?".

Every message is normalised first (nlu.normalise); the model, the rule entities and
the caller all see that text (``Parse.text``), so entity offsets index it. Villages and
townships of the jurisdiction table are handed in at run time with ``set_places``.

``RasaParser`` wraps a trained Rasa NLU model, loaded once per process. Rasa's parse is
a coroutine; it runs on one private event loop in its own thread, and callers wait for the
result. Any thread may call ``parse``, including one that already runs an event loop of
its own (a plain ``run_until_complete`` there fails), and the model is only ever touched
from that one thread (a parse takes milliseconds, so it is not a bottleneck).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlu.entities import Gazetteer, extract, merge
from nlu.normalise import normalise
from nlu.types import FALLBACK_INTENT, INTENTS, Entity, Parse, Parser

if TYPE_CHECKING:
    from nlu.archive import ArchiveParser

# Entity, Parse, Parser and the intents live in nlu.types; re-exported for callers.
__all__ = [
    "FALLBACK_INTENT",
    "INTENTS",
    "BackgroundParser",
    "Entity",
    "ModelMissing",
    "Parse",
    "Parser",
    "RasaParser",
    "load_parser",
]
log = logging.getLogger(__name__)

MODEL_NAME = "hotline-nlu"


class ModelMissing(RuntimeError):
    """No trained model where one was expected."""


def find_model(model_dir: str | Path) -> Path:
    """The newest trained model in ``model_dir``."""
    models = sorted(Path(model_dir).glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise ModelMissing(f"no trained NLU model in {model_dir}/: run `hotline train`")
    return models[-1]


def quiet_rasa() -> None:
    """No telemetry (no network here) and no TensorFlow chatter on stdout."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # Rasa's structlog prints every parse at debug level to stdout, message text
    # included: villagers' words must not end up in server logs.
    import logging

    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)


class RasaParser:
    name = "rasa"

    def __init__(self, model_path: str | Path) -> None:
        quiet_rasa()
        from rasa.core.agent import Agent

        self.model_path = Path(model_path)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rasa-nlu", daemon=True)
        self._thread.start()
        self._agent = self._call(self._load(Agent, str(self.model_path)))
        if not self._agent.is_ready():
            raise ModelMissing(f"Rasa could not load {self.model_path}")
        if self._agent.processor.http_interpreter is not None:
            raise ModelMissing("a remote NLU endpoint is not supported: load a local model")
        from rasa.core.channels.channel import UserMessage
        from rasa.shared.core.trackers import DialogueStateTracker

        self._user_message = UserMessage
        self._tracker_class = DialogueStateTracker
        self._parse_lock = threading.Lock()
        self.gazetteer = Gazetteer()

    def set_places(self, villages: Any, townships: Any = ()) -> None:
        """Village and township names to find (the jurisdiction table's)."""
        self.gazetteer.set_places(villages, townships)

    def component(self, class_name: str) -> Any:
        """The loaded graph component of that class (for evaluation: the intent
        model's chosen C), or None. Reads Rasa's graph runner, which has no public way."""
        nodes = getattr(self._agent.processor.graph_runner, "_instantiated_nodes", {})
        for node in nodes.values():
            component = getattr(node, "_component", None)
            if type(component).__name__ == class_name:
                return component
        return None

    @staticmethod
    async def _load(agent_class: Any, path: str) -> Any:
        # Loaded on the parser's own loop: Rasa binds what it creates to the running loop.
        return agent_class.load(path)

    def _call(self, coro: Any) -> Any:
        # No time limit: loading happens once, at start, and takes what the machine needs.
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def parse(self, text: str) -> Parse:
        # Rasa's NLU graph is synchronous under its async API (MessageProcessor
        # .parse_message awaits nothing for a local model). Run it on the calling thread:
        # a hop to the loop thread and back cost about 2 ms of a 9 ms parse
        # (docs/benchmarks.md). One parse at a time, as on the loop: Rasa does not
        # promise its components are thread-safe.
        text = normalise(text)
        message = self._user_message(text)
        tracker = self._tracker_class.from_events(message.sender_id, [])
        with self._parse_lock:
            result = self._agent.processor._parse_message_with_graph(message, tracker, True)
        intent = result.get("intent") or {}
        return Parse(
            text=text,
            intent=intent.get("name") or FALLBACK_INTENT,
            confidence=round(float(intent.get("confidence") or 0.0), 4),
            entities=_entities(text, result.get("entities") or [], self.gazetteer),
        )


def _entities(text: str, raw: list[dict[str, Any]], gazetteer: Gazetteer) -> list[Entity]:
    """Rule entities (nlu.entities: canonical values, exact spans) first, then what the
    model's entity learner found where no rule matched; no overlaps."""
    learned = [
        Entity(e["entity"], str(e["value"]), e["start"], e["end"])
        for e in sorted(raw, key=lambda e: e.get("extractor") != "RegexEntityExtractor")
        if e.get("extractor") != "RegexEntityExtractor"
    ]
    return merge(extract(text, gazetteer), learned)


class BackgroundParser:
    """Answers through the keyword fallback while the Rasa model loads in a thread, then
    through the model. Loading takes about 20 s on two cores (a minute with DIET, whose
    training graph Rasa traced at load time); a restarted hotline must not be deaf
    meanwhile."""

    def __init__(self, model_dir: str | Path) -> None:
        from nlu.keywords import KeywordParser

        self._current: Parser = KeywordParser()
        self._places: tuple[Any, Any] | None = None
        self.loading = True
        self._thread = threading.Thread(
            target=self._load, args=(model_dir,), name="rasa-load", daemon=True
        )
        self._thread.start()

    @property
    def name(self) -> str:
        return self._current.name

    def _load(self, model_dir: str | Path) -> None:
        try:
            parser = product_parser(find_model(model_dir))
            if self._places is not None:
                parser.set_places(*self._places)
            self._current = parser
            log.info("NLU model loaded: answering with Rasa")
        except Exception as exc:  # keep answering with keywords, and say so
            log.error("NLU model not loaded (%s): running DEGRADED on the keyword fallback", exc)
        finally:
            self.loading = False

    def set_places(self, villages: Any, townships: Any = ()) -> None:
        self._places = (list(villages), list(townships))
        setter = getattr(self._current, "set_places", None)
        if setter is not None:
            setter(*self._places)

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def parse(self, text: str) -> Parse:
        return self._current.parse(text)


def product_parser(model_path: Path) -> ArchiveParser | RasaParser:
    """The archive read directly (nlu/archive.py: a fraction of Rasa's memory and start-up)
    when its predict graph allows, else through Rasa."""
    from nlu.archive import ArchiveParser, UnsupportedGraph

    try:
        return ArchiveParser(model_path)
    except UnsupportedGraph as exc:
        log.info("loading the model through Rasa: %s", exc)
        return RasaParser(model_path)


def load_parser(model_dir: str | Path, *, allow_fallback: bool = True) -> Parser:
    """The Rasa model if one loads; otherwise, when allowed, the keyword fallback.

    A hotline that goes silent is the worst failure, so the server falls back and says
    so loudly; tools that measure the model (``nlu-parse``, evaluation) pass
    ``allow_fallback=False`` and fail instead.
    """
    try:
        return product_parser(find_model(model_dir))
    except Exception as exc:  # any failure to load means: run degraded, not dead
        if not allow_fallback:
            raise
        from nlu.keywords import KeywordParser

        log.error("NLU model not loaded (%s): running DEGRADED on the keyword fallback", exc)
        return KeywordParser()
