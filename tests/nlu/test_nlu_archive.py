"""nlu/archive.py serves the trained Rasa archive without Rasa: it must answer exactly
as Rasa's graph does (same intent, same confidence, same entities) and refuse a graph it
cannot reproduce."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from nlu import archive, evaluate
from nlu.archive import ArchiveParser, UnsupportedGraph
from nlu.parser import find_model, load_parser
from nlu.training import train
from nlu.types import FALLBACK_INTENT

HOSTILE = [
    "",
    "   ",
    "嗯",
    "/unsubscribe",
    '/report_suspicious_visit{"village":"石桥村"}',
    "//subscribe",
    "订阅 /unsubscribe",
    "😀😀😀",
    "ＴＤ",
    "幺三八一二三四五六七八九 是不是骗子",
    "a" * 2000,
    "<script>alert(1)</script>",
    "医保" * 300,
]


@pytest.fixture(scope="module")
def model_path() -> Path:
    path, _trained = train()
    return path


@pytest.fixture(scope="module")
def product(model_path: Path) -> ArchiveParser:
    parser = ArchiveParser(model_path)
    parser.set_places(["石桥村", "刘家寨村"], ["东坝镇"])
    return parser


def test_the_product_parser_is_the_archive_reader(model_path: Path):
    assert isinstance(load_parser(model_path.parent, allow_fallback=False), ArchiveParser)


def test_it_answers_exactly_as_rasa_on_every_held_out_and_hostile_message(product, rasa_parser):
    rasa_parser.set_places(["石桥村", "刘家寨村"], ["东坝镇"])
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)] + HOSTILE
    differ = [
        (text, mine, theirs)
        for text in texts
        if (mine := product.parse(text)) != (theirs := rasa_parser.parse(text))
    ]
    assert differ == [], differ[:5]
    assert len(texts) > 600


@pytest.mark.parametrize("text", ["/unsubscribe", '/subscribe{"x":"1"}', " / already_victim"])
def test_the_intent_shortcut_is_not_honoured(product, rasa_parser, text):
    # Rasa's RegexMessageHandler would give the named intent at confidence 1.0.
    for parser in (product, rasa_parser):
        parsed = parser.parse(text)
        assert parsed.confidence < 1.0 or parsed.intent == FALLBACK_INTENT
        assert all(e.entity != "x" for e in parsed.entities)


def test_the_fallback_threshold_is_read_from_the_archive(product, model_path):
    assert product._model.threshold == evaluate.configured_threshold()  # config.yml
    assert product.parse("那个那个").intent == FALLBACK_INTENT  # fillers only


def _rewritten(model_path: Path, tmp_path: Path, change) -> Path:
    """A copy of the archive with its metadata.json changed by ``change``."""
    out = tmp_path / "changed.tar.gz"
    with tarfile.open(model_path, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name.lstrip("/") == "metadata.json":
                meta = json.loads(data)
                change(meta)
                data = json.dumps(meta).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    return out


def test_a_graph_with_another_component_is_refused(model_path, tmp_path):
    def add_diet(meta):
        meta["predict_schema"]["nodes"]["run_DIET"] = {
            "uses": "rasa.nlu.classifiers.diet_classifier.DIETClassifier",
            "config": {},
        }

    with pytest.raises(UnsupportedGraph, match="DIETClassifier"):
        archive.read(_rewritten(model_path, tmp_path, add_diet))


def test_another_threshold_in_the_archive_is_obeyed(model_path, tmp_path):
    def raise_threshold(meta):
        for node in meta["predict_schema"]["nodes"].values():
            if node["uses"] == archive.FALLBACK:
                node["config"]["threshold"] = 1.0  # above any probability

    strict = ArchiveParser(_rewritten(model_path, tmp_path, raise_threshold))
    parsed = strict.parse("村口有人扫码送鸡蛋 能扫吗")
    assert (parsed.intent, parsed.confidence) == (FALLBACK_INTENT, 1.0)


def test_find_model_result_loads(model_path):
    assert ArchiveParser(find_model(model_path.parent)).parse("订阅").intent == "subscribe"
