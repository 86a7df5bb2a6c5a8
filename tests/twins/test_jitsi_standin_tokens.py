"""The Jitsi stand-in's token rules (AUTH_TYPE=jwt), run as plain Python: they decide whether one
association's signed link opens another's meetings, so they are checked here, where it is cheap,
against what jitsi-meet's token/util.lib.lua does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

STANDIN = Path(__file__).parent / "jitsi/overlay/usr/local/bin/jitsi-standin"
SECRET = "s3cret-of-the-shared-jitsi"
JITSI_TOKEN_ENV = {
    "ENABLE_AUTH": "1",
    "AUTH_TYPE": "jwt",
    "JWT_APP_ID": "provisioner",
    "JWT_ENABLE_DOMAIN_VERIFICATION": "true",
}


def load_standin() -> ModuleType:
    """The stand-in's program as a module; it reads its settings from the environment when used."""
    loader = SourceFileLoader("jitsi_standin", str(STANDIN))
    spec = spec_from_loader("jitsi_standin", loader)
    assert spec is not None
    module = module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for name, value in {**JITSI_TOKEN_ENV, "JWT_APP_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    return load_standin()


def _part(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def token(secret: str = SECRET, alg: str = "HS256", **claims: Any) -> str:
    body = {"iss": "provisioner", "aud": "jitsi", "room": "*", "exp": time.time() + 600, **claims}
    signed = f"{_part({'alg': alg, 'typ': 'JWT'})}.{_part(body)}"
    signature = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_a_token_is_taken_only_signed_with_the_secret_unexpired_from_an_accepted_issuer(
    standin: ModuleType,
) -> None:
    rules = standin.TokenRules()
    assert rules.claims(token(sub="verein-a"))["sub"] == "verein-a"
    assert rules.claims(token(secret="another", sub="verein-a")) is None
    assert rules.claims(token(sub="verein-a", exp=time.time() - 1)) is None
    assert rules.claims(token(sub="verein-a", iss="someone-else")) is None
    assert rules.claims(token(sub="verein-a", room=None)) is None
    assert rules.claims(token(sub="verein-a", alg="none")) is None
    assert rules.claims("not.a-token") is None


def test_with_domain_verification_a_tenants_token_opens_only_that_tenants_rooms(standin: ModuleType) -> None:
    rules = standin.TokenRules()
    own = rules.claims(token(sub="verein-a"))
    assert rules.room_allowed(own, rules.mapped("vorstand@muc.verein-a.meet.jitsi/alice"))
    assert rules.mapped("vorstand@muc.verein-a.meet.jitsi/alice") == "[verein-a]vorstand@muc.meet.jitsi"
    assert not rules.room_allowed(own, rules.mapped("vorstand@muc.verein-b.meet.jitsi/alice"))
    assert not rules.room_allowed(own, rules.mapped("vorstand@muc.meet.jitsi/alice"))  # no tenant
    one_room = rules.claims(token(sub="verein-a", room="vorstand"))
    assert rules.room_allowed(one_room, "[verein-a]vorstand@muc.meet.jitsi")
    assert not rules.room_allowed(one_room, "[verein-a]kasse@muc.meet.jitsi")
    assert not rules.room_allowed(None, "[verein-a]vorstand@muc.meet.jitsi")  # no empty tokens


def test_a_bosh_session_signs_in_with_its_token_and_joins_only_rooms_it_names(standin: ModuleType) -> None:
    sessions = standin.BoshSessions("/nonexistent", {"meet.jitsi": "token"}, standin.TokenRules())
    ns = standin.BOSH_NS

    def signed_in(with_token: str | None) -> str:
        opened = sessions.answer(f"<body xmlns='{ns}' rid='1' to='meet.jitsi'/>".encode(), with_token)
        sid = opened.split("sid='")[1].split("'")[0]
        anonymous = f"<auth xmlns='{standin.SASL_NS}' mechanism='ANONYMOUS'/>"
        auth = f"<body xmlns='{ns}' sid='{sid}'>{anonymous}</body>"
        assert ("<success" in sessions.answer(auth.encode())) == (with_token is not None)
        return sid

    def join(sid: str, to: str) -> str:
        body = f"<body xmlns='{ns}' sid='{sid}'><presence xmlns='jabber:client' to='{to}'/></body>"
        return str(sessions.answer(body.encode()))

    sid = signed_in(token(sub="verein-a"))
    assert "type='error'" not in join(sid, "kasse@muc.verein-a.meet.jitsi/alice")
    assert "not-allowed" in join(sid, "kasse@muc.verein-b.meet.jitsi/alice")
    assert "not-allowed" in join(signed_in(None), "kasse@muc.verein-a.meet.jitsi/eve")
