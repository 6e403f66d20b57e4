"""The Twilio inbound webhook: signatures, dedupe, TwiML, bad requests."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.twilio_sms import twiml
from tests.helpers.app import PUBLIC_URL, TWILIO_TOKEN

# The hot path's own TwiML writer (bot/channels/twilio_sms.py) must answer exactly as
# twilio's library does, on any text.
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=4))
def test_twiml_is_what_messaging_response_writes(replies):
    expected = MessagingResponse()
    for reply in replies:
        expected.message(reply)
    assert twiml(replies) == str(expected)


def test_protocol_vector_signature():
    # shared/design/PROTOCOLS.md: the validator we rely on computes the documented value.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
        "Caller": "+14158675309",
    }
    validator = RequestValidator("12345")
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert validator.compute_signature(url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert validator.validate(url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_signed_sms_gets_twiml_answer(phone):
    replies = phone.send("村里来了一伙人说是医保局的，是真的吗")
    assert len(replies) == 1
    assert "验证码" in replies[0] and "12393" in replies[0]


def test_missing_signature_is_403(client):
    response = client.post(
        "/sms/twilio", data={"From": "+8613800000000", "Body": "你好", "MessageSid": "SM1"}
    )
    assert response.status_code == 403


def test_wrong_signature_is_403(client):
    response = client.post(
        "/sms/twilio",
        data={"From": "+8613800000000", "Body": "你好", "MessageSid": "SM1"},
        headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    )
    assert response.status_code == 403


def test_signature_covers_every_field(client):
    params = {"From": "+8613800000000", "Body": "你好", "MessageSid": "SM2"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + "/sms/twilio", params)
    # A field added in transit (or a new Twilio field the signer saw) changes the check.
    tampered = {**params, "Body": "退订"}
    response = client.post("/sms/twilio", data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_signature_checked_against_public_url_not_request_url(client):
    params = {"From": "+8613800000000", "Body": "你好", "MessageSid": "SM3"}
    # Signed for the internal URL the test client uses: must be refused.
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        "http://localhost/sms/twilio", params
    )
    response = client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_no_token_configured_refuses(tmp_path, rasa_parser, app_factory):
    app = app_factory(tmp_path, rasa_parser, TWILIO_AUTH_TOKEN=None)
    params = {"From": "+8613800000000", "Body": "你好", "MessageSid": "SM4"}
    signature = RequestValidator("anything").compute_signature(PUBLIC_URL + "/sms/twilio", params)
    response = app.test_client().post(
        "/sms/twilio", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403


def test_retried_message_sid_answered_once(phone, db):
    first = phone.post("我已经把验证码告诉他们了 怎么办", sid="SMretry0001")
    second = phone.post("我已经把验证码告诉他们了 怎么办", sid="SMretry0001")
    assert first.status_code == second.status_code == 200
    assert first.data == second.data  # the retry gets the same TwiML back
    inbound = db.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0]
    assert inbound == 1


def test_missing_fields_are_400(phone):
    response = phone.post("你好", From="")
    assert response.status_code == 400


def test_bad_num_media_does_not_crash(phone):
    response = phone.post("你好", NumMedia="lots")
    assert response.status_code == 200


def test_unsubscribe_word_over_sms(phone, db, vault):
    phone.send("订阅")
    replies = phone.send("  td ")
    assert "退订" in replies[0]
    row = db.execute(
        "SELECT status FROM subscribers WHERE contact_hash = ?", [vault.hash(phone.number)]
    ).fetchone()
    assert row[0] == "opted_out"


def test_message_claimed_by_a_crashed_process_is_handled_on_retry(phone, db):
    from bot import conversations

    # A claim whose process died before answering (no replies, a minute old).
    assert conversations.claim_message(db, "twilio", "SMcrash0001") is None
    with db.atomic():
        db.execute(
            "UPDATE inbound_seen SET received_at = '2000-01-01T00:00:00+00:00'"
            " WHERE message_id = 'SMcrash0001'"
        )
    retry = phone.post("我已经把验证码告诉他们了 怎么办", sid="SMcrash0001")
    assert "96110" in retry.data.decode()
    # A claim still fresh is left alone (its process is still answering).
    assert conversations.claim_message(db, "twilio", "SMbusy0001") is None
    assert conversations.claim_message(db, "twilio", "SMbusy0001") == []
