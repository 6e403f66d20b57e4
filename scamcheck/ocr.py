"""Read the text in a photo: an SMS screenshot, a team's letter, a work ID.

RapidOCR (PP-OCRv4 Chinese detection + recognition, ONNX Runtime on the CPU) ships its
models inside the wheel, so nothing is downloaded at run time. The photo path decodes
the upload once (refusing bombs and huge files before that) and hands the PIL image on:
the QR decoder and this reader work on the same image.

A webhook has a time budget (WeChat waits 5 s). ``read`` waits at most ``budget_s``;
past it the answer is ``late`` with a ``pending`` future that resolves to the reading,
so the caller can answer later (WeChat customer-service API, the outbox) instead of
letting the webhook time out. One OCR runs at a time on one core: two cores are shared
with the web server, and one photo at a time bounds memory.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageOps

Status = Literal["ok", "no_text", "too_large", "late", "failed"]

# The longest side OCR sees. A phone screenshot is ~1080x2400: read at 1600 its text is
# still ~25 px high, and time grows with the area.
MAX_SIDE = 1600
# Images beyond this are refused outright (the photo path refuses earlier; this is the
# reader's own guard so a caller that forgot cannot make it allocate gigabytes).
MAX_PIXELS = 40_000_000
MAX_LINES = 80
DEFAULT_BUDGET_S = 3.0
MIN_SCORE = 0.5

_engine: Any = None
_engine_lock = threading.Lock()
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr")


@dataclass(frozen=True)
class Reading:
    status: Status
    lines: tuple[str, ...] = ()
    seconds: float = 0.0
    pending: Future[Reading] | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def engine() -> Any:
    """The OCR engine, loaded once (about 1 s and ~150 MB the first time)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            threads = {
                f"{stage}_{name}": 1
                for stage in ("det", "cls", "rec")
                for name in ("intra_op_num_threads", "inter_op_num_threads")
            }
            _engine = RapidOCR(text_score=MIN_SCORE, max_side_len=MAX_SIDE, **threads)
        return _engine


def warm_up() -> Future[Any]:
    """Load the engine on the OCR thread now, so the first photo's budget is spent
    reading rather than loading."""
    return _pool.submit(engine)


def prepare(image: Image.Image) -> np.ndarray | None:
    """The image as the engine wants it: first frame, upright (EXIF), on white, RGB,
    at most MAX_SIDE; None when it is too large to read."""
    width, height = image.size
    if width * height > MAX_PIXELS or width < 8 or height < 8:
        return None
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # a multi-frame GIF: the first frame is what a phone shows
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    else:
        image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # RapidOCR follows OpenCV's channel order.
    return np.asarray(image)[:, :, ::-1].copy()


def read_now(image: Image.Image) -> Reading:
    """Read ``image`` synchronously, however long it takes (benches, background work)."""
    start = time.perf_counter()
    array = prepare(image)
    if array is None:
        return Reading("too_large")
    try:
        result, _ = engine()(array)
    except Exception:  # a corrupt frame must not take the webhook down
        return Reading("failed", seconds=time.perf_counter() - start)
    lines = tuple(
        str(item[1]).strip() for item in (result or [])[:MAX_LINES] if str(item[1]).strip()
    )
    return Reading("ok" if lines else "no_text", lines, time.perf_counter() - start)


def read(image: Image.Image, *, budget_s: float = DEFAULT_BUDGET_S) -> Reading:
    """Read ``image`` within ``budget_s`` seconds; else a ``late`` reading whose
    ``pending`` future gives the result when it is done."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    # The caller may close or reuse its image once we return: OCR gets its own copy.
    future = _pool.submit(read_now, image.copy())
    try:
        return future.result(timeout=budget_s)
    except FutureTimeout:
        return Reading("late", seconds=budget_s, pending=future)
