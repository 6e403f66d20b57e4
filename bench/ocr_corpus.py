"""A corpus of pictures villagers forward, rendered from text at bench/test time.

Nothing binary is committed: each sample is drawn with a Chinese font (WenQuanYi Micro
Hei, Debian's fonts-wqy-microhei) in one of four layouts (a plain note, an SMS
screenshot bubble, a 红头 letter with a stamp, a work-ID badge), then scaled, rotated,
blurred and JPEG-compressed the way phone photos and forwarded screenshots are. Each
sample carries its true text and the verdict a person would give it.

    .venv/bin/python bench/ocr_corpus.py out/   # writes the pictures, to look at them
"""

from __future__ import annotations

import io
import random
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


@dataclass(frozen=True)
class Text:
    text: str
    verdict: str  # what a person would conclude: scam / unsure / official
    layout: str  # sms / note / letter / badge
    recipient_tail: str | None = None


@dataclass(frozen=True)
class Sample:
    name: str
    image: Image.Image
    truth: Text
    distortion: str

    @property
    def drawn(self) -> str:
        """Every text drawn in the picture (OCR is scored against this)."""
        if self.truth.layout == "sms":
            return f"{CLOCK}\n{SENDER}\n{self.truth.text}"
        if self.truth.layout == "letter":
            return f"{self.truth.text}\n{STAMP}"
        return self.truth.text


CLOCK, SENDER, STAMP = "10:42", "1069 0123 4567", "公章"

TEXTS = [
    Text(
        "【医保局】您的医保电子凭证即将过期，请点击 http://nhsa-gov.top/a 重新认证，逾期作废。",
        "scam",
        "sms",
    ),
    Text("【国家医保】您的医保卡已冻结，请于24小时内登录 t.cn/A6xYz 解冻。", "scam", "sms"),
    Text("【医疗保障局】您的医保账户异常，请登录 http://47.96.12.8:8080/yb 处理。", "scam", "sms"),
    Text("【社保局】社保补贴已到账，请添加微信 sb8899 领取。", "scam", "sms"),
    Text("【公安局】您涉嫌洗钱，请将资金转入安全账户配合调查。", "scam", "sms"),
    Text("【工商银行】您尾号1234的信用卡将被冻结，请致电 400-888-1234 处理。", "scam", "sms"),
    Text("【医保局】医保卡升级，请下载医保通APP完成认证 yb-app.xyz/d", "scam", "sms"),
    Text(
        "【医保中心】尊敬的参保人，您的医保待遇将于今日内暂停，回复验证码办理延续。", "scam", "sms"
    ),
    Text("【醫保局】您的醫保電子憑證即將過期，請點擊鏈接 www.yibao-cn.com 認證。", "scam", "sms"),
    Text(
        "【村村反诈】您的医保码需重新激活，请点 cc-fz.top 办理。（尾号678）回T退订",
        "scam",
        "sms",
        "678",
    ),
    Text(
        "【村村反诈】验证码就是钥匙，谁要都不给，说是医保局的也不给。（尾号321）回T退订",
        "scam",
        "sms",
        "678",
    ),
    Text(
        "【工商银行】您尾号1234的账户于12月1日支出人民币5000.00元，余额321.00元。", "unsure", "sms"
    ),
    Text("【中国移动】尊敬的客户，您的话费余额不足10元，为避免停机请及时充值。", "unsure", "sms"),
    Text("【淘宝】您的验证码是384920，5分钟内有效，请勿泄露给他人。", "unsure", "sms"),
    Text(
        "【12381】国家反诈中心提醒：凡是自称医保局工作人员上门要验证码、让刷脸的都是诈骗！",
        "unsure",
        "sms",
    ),
    Text(
        "【村村反诈】验证码就是钥匙，谁要都不给，说是医保局的也不给。（尾号678）回T退订",
        "official",
        "sms",
        "678",
    ),
    Text(
        "【村村反诈】手机不借给陌生人，借走几分钟就可能被拿去注册账号。（尾号678）回T退订",
        "official",
        "sms",
        "678",
    ),
    Text("医保电子凭证请在国家医保服务平台自己开通，详见 www.nhsa.gov.cn", "official", "note"),
    Text("扫码送鸡蛋！医保局派我们来村里帮大家开通医保码，带上身份证和手机。", "scam", "note"),
    Text("请把手机收到的验证码报给工作人员，现场免费领取大米一袋。", "scam", "note"),
    Text(
        "桂平市医疗保障局\n关于开展医保电子凭证推广的通知\n各村委会：我局授权推广团队到村服务，"
        "请村民携带身份证、手机配合工作人员刷脸激活，现场领取礼品。",
        "scam",
        "letter",
    ),
    Text(
        "桂平市医疗保障局\n关于医保电子凭证宣传活动的函\n授权码：YB-450881-2025-0001\n"
        "宣传时间为五月二十日，请村委会协助通知村民到场。",
        "unsure",
        "letter",
    ),
    Text("工作证\n姓名：张伟\n单位：医保电子凭证推广中心\n工号：GP0012", "unsure", "badge"),
    Text("工作证\n姓名：李强\n单位：国家医保局推广办\n工号：YB2025\n扫码领取礼品", "scam", "badge"),
]


def font_path() -> str:
    for path in FONT_PATHS:
        if Path(path).exists():
            return path
    raise FileNotFoundError(
        "no Chinese font: install fonts-wqy-microhei (apt-get install fonts-wqy-microhei)"
    )


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(), size)


def _wrap(text: str, chars: int) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        lines.extend(textwrap.wrap(para, chars, break_long_words=True) or [""])
    return lines


def _note(text: str, size: int) -> Image.Image:
    lines = _wrap(text, 18)
    font = _font(size)
    img = Image.new("RGB", (size * 20, size * 2 * len(lines) + size * 2), (250, 248, 240))
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((size, size + i * size * 2), line, font=font, fill=(30, 30, 30))
    return img


def _sms(text: str, size: int) -> Image.Image:
    width = size * 22
    lines = _wrap(text, 16)
    font, small = _font(size), _font(int(size * 0.7))
    bubble_h = int(len(lines) * size * 1.5 + size)
    img = Image.new("RGB", (width, bubble_h + size * 7), (243, 243, 243))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, size * 2), fill=(250, 250, 250))
    draw.text((size, size // 2), CLOCK, font=small, fill=(0, 0, 0))
    draw.text((width // 2 - size * 3, int(size * 2.6)), SENDER, font=small, fill=(90, 90, 90))
    top = size * 4
    draw.rounded_rectangle(
        (size // 2, top, width - size * 2, top + bubble_h), radius=size // 2, fill=(255, 255, 255)
    )
    for i, line in enumerate(lines):
        draw.text((size, top + size // 2 + int(i * size * 1.5)), line, font=font, fill=(20, 20, 20))
    return img


def _letter(text: str, size: int) -> Image.Image:
    head, *body = text.split("\n")
    lines = _wrap("\n".join(body), 20)
    font, title = _font(size), _font(int(size * 1.5))
    width = size * 24
    img = Image.new("RGB", (width, size * 8 + len(lines) * size * 2), (255, 253, 250))
    draw = ImageDraw.Draw(img)
    draw.text((size * 2, size), head, font=title, fill=(200, 20, 20))
    draw.line((size, size * 3.5, width - size, size * 3.5), fill=(200, 20, 20), width=3)
    for i, line in enumerate(lines):
        draw.text((size * 2, size * 5 + i * size * 2), line, font=font, fill=(20, 20, 20))
    # The red stamp overlaps the last lines, as on real letters.
    cx, cy, r = width - size * 5, img.height - size * 3, int(size * 2.5)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(220, 40, 40), width=4)
    draw.text((cx - size, cy - size // 2), STAMP, font=font, fill=(220, 40, 40))
    return img


def _badge(text: str, size: int) -> Image.Image:
    head, *fields = text.split("\n")
    font, title = _font(size), _font(int(size * 1.4))
    width = size * (8 + max(len(f) for f in fields))
    height = size * (5 + 2 * len(fields))
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, size * 3), fill=(20, 90, 180))
    draw.text((width // 2 - size * 2, size // 2), head, font=title, fill=(255, 255, 255))
    draw.rectangle((size, size * 4, size * 5, size * 9), outline=(120, 120, 120), width=2)
    for i, line in enumerate(fields):
        draw.text((size * 6, size * 4 + i * size * 2), line, font=font, fill=(10, 10, 10))
    return img


LAYOUTS = {"note": _note, "sms": _sms, "letter": _letter, "badge": _badge}


def _distort(img: Image.Image, rng: random.Random, kind: str) -> Image.Image:
    if kind == "rotate":
        img = img.rotate(rng.choice([-7, -4, -2, 3, 5]), expand=True, fillcolor=(235, 235, 235))
    elif kind == "blur":
        img = img.filter(ImageFilter.GaussianBlur(rng.choice([0.8, 1.2, 1.5])))
    elif kind == "small":
        img = img.resize((int(img.width * 0.6), int(img.height * 0.6)), Image.Resampling.BILINEAR)
    elif kind == "photo":  # a photo of a screen or paper: tilted, soft, a darker frame
        img = img.rotate(rng.choice([-3, 2]), expand=True, fillcolor=(90, 80, 70))
        img = img.filter(ImageFilter.GaussianBlur(0.7))
    if kind in ("jpeg", "photo", "blur"):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.choice([35, 50, 70]))
        img = Image.open(io.BytesIO(buf.getvalue()))
        img.load()
    return img


DISTORTIONS = ("clean", "rotate", "blur", "jpeg", "small", "photo")


def samples(seed: int = 16, per_text: int = 3) -> list[Sample]:
    """``per_text`` renderings of every text (sizes and distortions vary by seed):
    24 texts x 3 = 72 pictures by default."""
    rng = random.Random(seed)
    out: list[Sample] = []
    for t_index, truth in enumerate(TEXTS):
        kinds = rng.sample(DISTORTIONS, per_text)
        for kind in kinds:
            size = rng.choice([22, 26, 30, 36])
            img = _distort(LAYOUTS[truth.layout](truth.text, size), rng, kind)
            out.append(Sample(f"{t_index:02d}-{truth.layout}-{kind}-{size}", img, truth, kind))
    return out


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "ocr-corpus")
    folder.mkdir(parents=True, exist_ok=True)
    for sample in samples():
        sample.image.convert("RGB").save(folder / f"{sample.name}.png")
    print(f"{len(samples())} pictures in {folder}")


if __name__ == "__main__":
    main()
