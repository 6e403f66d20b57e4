"""Training the Rasa NLU model, only when its inputs changed.

A model is current when it was trained from exactly the config.yml, nlu/data,
nlu/dictionary, the intent-model code (MODEL_CODE) and ``$HOTLINE_VAR/nlu-reviewed``
(examples supervisors labelled, written by ``hotline nlu export-reviewed``; never committed)
on disk now: a fingerprint of those
files is saved beside the model. That is stricter than comparing times (an edit made
while a training runs would look older than the model it did not go into). ``train`` is
then a no-op, so ``make run`` and ``make test`` can call it every time.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from nlu.parser import MODEL_NAME, quiet_rasa

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.yml"
DATA = ROOT / "nlu" / "data"
DICTIONARY = ROOT / "nlu" / "dictionary"
MODELS = ROOT / "models"
REVIEWED = "nlu-reviewed"


def reviewed_files() -> list[Path]:
    """The reviewed examples under $HOTLINE_VAR/nlu-reviewed (review/export.py), if any.
    Read from the environment: nlu imports nothing of the app's settings."""
    var = Path(os.environ.get("HOTLINE_VAR") or "var")
    return sorted(((var if var.is_absolute() else ROOT / var) / REVIEWED).glob("*.yml"))


# The code that shapes what the intent model learns: a change to it retrains too.
MODEL_CODE = ("normalise.py", "sounds.py", "textclf.py", "components/tfidf_intent.py")


def inputs(config: Path = CONFIG, data: Path = DATA) -> list[Path]:
    code = [ROOT / "nlu" / name for name in MODEL_CODE]
    files = [config, *data.rglob("*.yml"), *DICTIONARY.rglob("*"), *code, *reviewed_files()]
    return [f for f in files if f.is_file()]


def model_path(models: Path = MODELS) -> Path:
    return models / f"{MODEL_NAME}.tar.gz"


def fingerprint(config: Path = CONFIG, data: Path = DATA) -> str:
    digest = hashlib.sha256()
    for path in sorted(inputs(config, data)):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _fingerprint_file(models: Path) -> Path:
    return models / f"{MODEL_NAME}.inputs.sha256"


def is_stale(models: Path = MODELS, config: Path = CONFIG, data: Path = DATA) -> bool:
    target, recorded = model_path(models), _fingerprint_file(models)
    if not target.exists() or not recorded.exists():
        return True
    return recorded.read_text().strip() != fingerprint(config, data)


def train(
    *,
    models: Path = MODELS,
    config: Path = CONFIG,
    data: Path = DATA,
    force: bool = False,
) -> tuple[Path, bool]:
    """Train into ``models/hotline-nlu.tar.gz`` if stale; return (path, trained?)."""
    target = model_path(models)
    if not force and not is_stale(models, config, data):
        return target, False
    models.mkdir(parents=True, exist_ok=True)
    # Two processes (make test and a pytest fixture, say) must not train at once:
    # the second waits, then finds the model fresh.
    with open(models / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and not is_stale(models, config, data):
            return target, False
        # Taken before training: an edit made meanwhile leaves the model stale.
        before = fingerprint(config, data)
        path = _train(models, config, data)
        _fingerprint_file(models).write_text(before + "\n")
        return path, True


def _train(models: Path, config: Path, data: Path) -> Path:
    quiet_rasa()
    from rasa.model_training import train_nlu

    # Rasa's training cache (.rasa/cache) keys a component by its class, config and data,
    # not by our code: an edit to nlu/textclf.py, which the fingerprint above sees, would
    # be "retrained" into the cached old model. The fingerprint already skips a training
    # whose inputs did not change, so the cache has nothing left to save: size 0 turns
    # it off (rasa.engine.caching).
    cache_size = os.environ.get("RASA_MAX_CACHE_SIZE")
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    # Rasa resolves the jieba dictionary_path relative to the working directory.
    cwd = os.getcwd()
    os.chdir(ROOT)
    # Rasa reads one data path: with reviewed examples, a folder holding both.
    with tempfile.TemporaryDirectory() as combined:
        reviewed = reviewed_files()
        if reviewed:
            shutil.copytree(data, Path(combined) / "project")
            for path in reviewed:
                shutil.copy(path, Path(combined) / f"reviewed-{path.name}")
        try:
            result = train_nlu(
                config=str(config),
                nlu_data=combined if reviewed else str(data),
                output=str(models),
                fixed_model_name=MODEL_NAME,
            )
        finally:
            os.chdir(cwd)
            if cache_size is None:
                os.environ.pop("RASA_MAX_CACHE_SIZE", None)
            else:
                os.environ["RASA_MAX_CACHE_SIZE"] = cache_size
    if not result:
        raise RuntimeError("Rasa did not produce a model; see the log above")
    return Path(result)
