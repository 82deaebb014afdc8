"""The provider registry and its configuration from overture.toml (spec §8)."""

from __future__ import annotations

import tomllib
from email.message import EmailMessage
from pathlib import Path

import pytest

from overture.channels import providers
from overture.channels.identity import message_id
from overture.channels.outbox import OutboxProvider
from overture.channels.providers import (
    OutgoingMessage,
    Provider,
    ProviderConfigError,
    ProviderSettings,
    SendResult,
    known_types,
    provider_from_config,
    providers_for_workspace,
    register,
)


class Recorder:
    """A test provider: remembers what it was given."""

    channels = frozenset({"sms", "push"})
    concurrency = 1
    rate = None

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        self.name = name
        self.settings = settings
        self.sent: list[OutgoingMessage] = []
        self.closed = False

    @classmethod
    def from_config(cls, name: str, settings: ProviderSettings) -> Recorder:
        return cls(name, settings)

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult.sent(f"r-{len(self.sent)}")

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def recorder_type() -> object:
    register("recorder")(Recorder)
    yield
    providers._REGISTRY.pop("recorder", None)


def test_register_and_build_with_secrets_from_env() -> None:
    built = provider_from_config(
        "gateway", {"type": "recorder", "url": "https://x", "auth_header_env": "GW_TOKEN",
                    "username_env": "GW_USER"},
        {"GW_TOKEN": "Bearer s3cret", "GW_USER": "ana"})
    assert isinstance(built, Recorder)
    assert isinstance(built, Provider)
    assert built.name == "gateway"
    assert built.settings.secret("auth_header") == "Bearer s3cret"
    assert built.settings.secret("username") == "ana"
    assert built.settings.get("url") == "https://x"
    with pytest.raises(ProviderConfigError, match="password_env"):
        built.settings.secret("password")
    assert built.settings.secret("password", required=False) is None


def test_missing_environment_variable_is_named() -> None:
    with pytest.raises(ProviderConfigError, match=r"SMS_TOKEN.*auth_header_env") as info:
        provider_from_config("sms_gateway", {"type": "recorder", "auth_header_env": "SMS_TOKEN"},
                             {"OTHER": "x"})
    assert "[providers.sms_gateway]" in str(info.value)
    with pytest.raises(ProviderConfigError, match="SMS_TOKEN is empty"):
        provider_from_config("sms_gateway", {"type": "recorder", "auth_header_env": "SMS_TOKEN"},
                             {"SMS_TOKEN": ""})


@pytest.mark.parametrize("key", ["password", "token", "auth_header", "api_key", "smtp_password"])
def test_literal_secret_refused(key: str) -> None:
    with pytest.raises(ProviderConfigError, match=f"use|`{key}_env`") as info:
        provider_from_config("mail", {"type": "recorder", key: "hunter2"}, {})
    assert f"{key}_env" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_unknown_type_lists_known_types() -> None:
    with pytest.raises(ProviderConfigError, match="unknown provider type 'carrier_pigeon'") as info:
        provider_from_config("p", {"type": "carrier_pigeon"}, {})
    assert "outbox" in str(info.value) and "recorder" in str(info.value)
    assert "outbox" in known_types()


def test_type_required() -> None:
    with pytest.raises(ProviderConfigError, match="`type` is required"):
        provider_from_config("p", {"host": "x"}, {})


def test_default_is_outbox_for_every_channel(tmp_path: Path) -> None:
    chosen = providers_for_workspace({}, {}, state_dir=tmp_path)
    assert set(chosen) == {"email", "sms", "push"}
    assert all(isinstance(p, OutboxProvider) for p in chosen.values())
    assert chosen["email"] is chosen["sms"] is chosen["push"]    # one instance per name
    assert chosen["email"].directory == tmp_path / "outbox"      # type: ignore[attr-defined]


def test_channels_section_picks_providers(tmp_path: Path) -> None:
    config = tomllib.loads("""
[channels]
sms = "sms_gateway"
push = "sms_gateway"

[providers.sms_gateway]
type = "recorder"
url = "https://sms.example.com/send"
auth_header_env = "SMS_TOKEN"
""")
    chosen = providers_for_workspace(config, {"SMS_TOKEN": "t"}, state_dir=tmp_path)
    assert isinstance(chosen["email"], OutboxProvider)
    assert isinstance(chosen["sms"], Recorder) and chosen["sms"] is chosen["push"]
    message = OutgoingMessage(message_id("r", "a", "p"), "sms", "+33600000000", {"body": "hi"})
    assert chosen["sms"].send(message) == SendResult(ok=True, provider_id="r-1")


def test_unconfigured_provider_name(tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError, match=r"no \[providers.mail\]"):
        providers_for_workspace({"channels": {"email": "mail"}}, {}, state_dir=tmp_path)


def test_provider_that_cannot_serve_the_channel(tmp_path: Path) -> None:
    config = {"channels": {"email": "rec"}, "providers": {"rec": {"type": "recorder"}}}
    with pytest.raises(ProviderConfigError, match="cannot send email"):
        providers_for_workspace(config, {}, state_dir=tmp_path)


def test_unknown_channel(tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError, match="unknown channel 'fax'"):
        providers_for_workspace({"channels": {"fax": "outbox"}}, {}, state_dir=tmp_path)


def test_outgoing_message_checks_payload_type() -> None:
    mid = message_id("r", "a", "p")
    with pytest.raises(TypeError):
        OutgoingMessage(mid, "email", "a@example.com", {"body": "x"})
    with pytest.raises(TypeError):
        OutgoingMessage(mid, "sms", "+1", EmailMessage())
    with pytest.raises(ValueError):
        OutgoingMessage(mid, "fax", "+1", {})  # type: ignore[arg-type]
