"""WeChat photos: PicUrl first, then the MediaId through the temporary-media API
(media/get) when PicUrl fails or is missing."""

from __future__ import annotations

import io

import pytest
import requests
import segno

from bot.qr import check, wechat_media
from tests.helpers.wechat import FakeWeChatAPI, WeChatPush, wechat_app

OPENID = "oMediaTestUser_0123456789abcd"
PIC_URL = "http://mmbiz.qpic.cn/mmbiz_jpg/expired/0"


def qr_png(content: str = "http://t.cn/A6abcdEf") -> bytes:
    out = io.BytesIO()
    segno.make(content).save(out, kind="png", scale=6)
    return out.getvalue()


@pytest.fixture
def api():
    fake = FakeWeChatAPI()
    fake.media["MEDIA_OK"] = qr_png()
    yield fake
    fake.close()


class PicHost(requests.adapters.BaseAdapter):
    """WeChat's media host (no network): an expired PicUrl (404), or an image."""

    def __init__(self, data: bytes | None) -> None:
        super().__init__()
        self.data = data
        self.urls: list[str] = []

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        response = requests.Response()
        response.status_code = 200 if self.data else 404
        response.headers["Content-Type"] = "image/png" if self.data else "text/html"
        response.raw = io.BytesIO(self.data or b"gone")
        response.url, response.request = request.url, request
        return response

    def close(self):
        pass


@pytest.fixture
def pic_host(monkeypatch):
    def install(data: bytes | None) -> PicHost:
        adapter = PicHost(data)

        def session():
            s = requests.Session()
            s.mount("http://mmbiz.qpic.cn/", adapter)
            return s

        monkeypatch.setattr("bot.qr.download._session", session)
        return adapter

    return install


def push_image(wapp, **fields) -> list[str]:
    follower = WeChatPush(wapp.test_client(), OPENID)
    message = {**follower.base("image"), **fields, "MsgId": follower.next_id()}
    return follower.replies(follower.post(message))


def test_expired_picurl_falls_back_to_media_id(wapp, api, pic_host):
    host = pic_host(None)
    replies = push_image(wapp, PicUrl=PIC_URL, MediaId="MEDIA_OK")
    assert "短链接" in replies[0]
    assert host.urls == [PIC_URL] and api.media_requests == ["MEDIA_OK"]


def test_media_id_alone_is_enough(wapp, api):
    assert "短链接" in push_image(wapp, MediaId="MEDIA_OK")[0]
    assert api.media_requests == ["MEDIA_OK"]


def test_working_picurl_needs_no_api_call(wapp, api, pic_host):
    host = pic_host(qr_png("https://www.nhsa.gov.cn/"))
    assert check(wechat_media(PIC_URL, "MEDIA_OK"), wapp.config).kind == "official"
    assert host.urls == [PIC_URL] and api.media_requests == []


def test_errcode_answer_is_unavailable(wapp, api, pic_host):
    pic_host(None)
    # media/get answers {"errcode": 40007, ...}: JSON, not an image.
    assert check(wechat_media(PIC_URL, "MEDIA_EXPIRED"), wapp.config).kind == "unavailable"
    assert check(wechat_media("", "MEDIA_EXPIRED"), wapp.config).kind == "unavailable"
    assert api.media_requests == ["MEDIA_EXPIRED", "MEDIA_EXPIRED"]
    assert "没收到" in push_image(wapp, MediaId="MEDIA_EXPIRED")[0]


def test_media_size_cap_applies(tmp_path, keyword_parser, api, app_factory):
    app = wechat_app(app_factory, tmp_path, keyword_parser, api, QR_MAX_BYTES="200")
    assert check(wechat_media("", "MEDIA_OK"), app.config).kind == "too_large"


def test_media_ref_is_one_plain_string():
    media = wechat_media(PIC_URL, "MEDIA_OK")
    assert media.url.startswith("wechat-media:MEDIA_OK?picurl=http%3A%2F%2Fmmbiz")
    assert wechat_media(PIC_URL, "").url == PIC_URL  # no MediaId: as before
    assert wechat_media(PIC_URL, "bad id?x").url == PIC_URL
