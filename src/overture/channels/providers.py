"""Providers: the plug-ins that deliver messages, registered by type, configured in overture.toml.

Spec §8. `[channels]` names the provider each channel uses (`outbox` unless the file
says otherwise); `[providers.NAME]` configures one with a `type` and its settings.
Secrets never appear in the file: a setting `password_env = "SMTP_PASSWORD"` names
the environment variable that holds the password.

A provider type registers itself with `@register("type")` on a class that has a
`from_config(name, settings)` class method; `provider_from_config` builds one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from overture.errors import OvertureError

Channel = Literal["email", "sms", "push"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "push")
DEFAULT_PROVIDER = "outbox"

# Settings that hold a secret: refused when written in the file.
SECRET_KEYS = frozenset({
    "password", "token", "secret", "api_key", "apikey", "auth_header", "auth_token",
    "access_token", "private_key", "client_secret", "credentials",
})
SECRET_SUFFIXES = ("_password", "_token", "_secret")


class ProviderConfigError(OvertureError):
    """A provider that cannot be built from overture.toml and the environment."""


@dataclass(frozen=True)
class RawEmail:
    """A built email: its bytes, ready for the wire (CRLF line ends), and the headers a
    provider reads (From, To, Message-ID, ...), unencoded.

    What the delivery engine hands providers: flattening an `EmailMessage` costs more
    than rendering, building and sending together, so messages are built as bytes
    once (`overture.channels.mime.build_email`). `parsed()` gives the EmailMessage.
    """

    data: bytes
    headers: Mapping[str, str]

    def as_bytes(self) -> bytes:
        return self.data

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default

    def __getitem__(self, name: str) -> str | None:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def parsed(self) -> EmailMessage:
        from email import message_from_bytes, policy

        message = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message for one recipient, ready for a provider."""

    message_id: uuid.UUID
    channel: Channel
    to: str
    payload: RawEmail | EmailMessage | dict[str, Any]   # email: RawEmail or EmailMessage
    category: str = "marketing"
    campaign: str | None = None
    run_id: str | None = None
    activity_id: str | None = None

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}; channels: {', '.join(CHANNELS)}")
        if self.channel == "email" and not isinstance(self.payload, RawEmail | EmailMessage):
            raise TypeError("an email's payload is a RawEmail or an email.message.EmailMessage")
        if self.channel != "email" and not isinstance(self.payload, dict):
            raise TypeError(f"an {self.channel} payload is a dict")


@dataclass(frozen=True)
class SendResult:
    """What a provider answered: `transient` failures may be retried, others may not."""

    ok: bool
    provider_id: str | None = None
    transient: bool = False
    error: str | None = None
    retry_after: float | None = None   # seconds the provider asked to wait (HTTP Retry-After)

    @classmethod
    def sent(cls, provider_id: str | None = None) -> SendResult:
        return cls(ok=True, provider_id=provider_id)

    @classmethod
    def failed(cls, error: str, *, transient: bool = False,
               retry_after: float | None = None) -> SendResult:
        return cls(ok=False, transient=transient, error=error, retry_after=retry_after)


@runtime_checkable
class Provider(Protocol):
    """A configured provider: `name` is its name in overture.toml.

    `send` is called from up to `concurrency` threads at once and never raises for a
    delivery problem: it answers a SendResult (transient failures are retried by the
    caller, with backoff). `rate` is the provider's messages-per-second limit, or None.
    """

    name: str
    channels: frozenset[str]
    concurrency: int
    rate: float | None

    def send(self, message: OutgoingMessage) -> SendResult: ...

    def close(self) -> None: ...


@dataclass
class ProviderSettings:
    """A `[providers.NAME]` section with its secrets resolved from the environment."""

    name: str
    section: dict[str, Any]
    env: Mapping[str, str]
    state_dir: Path | None = None
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"[providers.{self.name}]"

    def get(self, key: str, default: Any = None) -> Any:
        return self.section.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.section:
            raise ProviderConfigError(f"{self.where}: `{key}` is required")
        return self.section[key]

    def secret(self, key: str, *, required: bool = True) -> str | None:
        """The secret `key`, read from the variable `KEY_env` names."""
        if key in self.secrets:
            return self.secrets[key]
        if required:
            raise ProviderConfigError(
                f"{self.where}: `{key}_env` is required: the name of the environment "
                f"variable that holds the {key.replace('_', ' ')}")
        return None


_REGISTRY: dict[str, Callable[[str, ProviderSettings], Provider]] = {}

T = TypeVar("T")


def register(type_name: str) -> Callable[[T], T]:
    """Class decorator: make `type = "type_name"` build this class via its `from_config`."""

    def decorate(cls: T) -> T:
        factory = getattr(cls, "from_config", None)
        if not callable(factory):
            raise TypeError(f"provider type {type_name!r}: {cls!r} has no from_config()")
        _REGISTRY[type_name] = factory
        return cls

    return decorate


def known_types() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    """Import the modules whose providers register themselves."""
    import overture.channels.outbox  # noqa: F401
    from overture.channels import http  # noqa: F401
    from overture.channels import smtp as _smtp  # noqa: F401


def _is_secret_key(key: str) -> bool:
    return key in SECRET_KEYS or key.endswith(SECRET_SUFFIXES)


#: settings read by the server receiving the provider's webhooks, never by senders
RECEIVING_ONLY = frozenset({"webhook_secret_env"})


def provider_from_config(name: str, section: Mapping[str, Any], env: Mapping[str, str], *,
                         state_dir: Path | None = None) -> Provider:
    """Build the provider `[providers.name]` describes; secrets come from `env`."""
    where = f"[providers.{name}]"
    if not isinstance(section, Mapping):
        raise ProviderConfigError(f"{where}: must be a table of settings")
    for key in section:
        if _is_secret_key(key):
            raise ProviderConfigError(
                f"{where}: `{key}` must not be written in overture.toml; put it in an "
                f"environment variable and give that variable's name with `{key}_env`")
    type_name = section.get("type")
    if not type_name:
        raise ProviderConfigError(f"{where}: `type` is required; known types: "
                                  f"{', '.join(known_types())}")
    types = known_types()
    if type_name not in _REGISTRY:
        raise ProviderConfigError(
            f"{where}: unknown provider type {type_name!r}; known types: {', '.join(types)}")
    secrets: dict[str, str] = {}
    for key, variable in section.items():
        if not key.endswith("_env") or key in RECEIVING_ONLY:
            continue  # the webhook secret is the server's, not the sender's
        if not isinstance(variable, str) or not variable:
            raise ProviderConfigError(f"{where}: `{key}` must name an environment variable")
        if variable not in env:
            raise ProviderConfigError(
                f"{where}: environment variable {variable} is not set (named by `{key}`)")
        if not env[variable]:
            raise ProviderConfigError(
                f"{where}: environment variable {variable} is empty (named by `{key}`)")
        secrets[key.removesuffix("_env")] = env[variable]
    settings = ProviderSettings(name=name, section=dict(section), env=env,
                                state_dir=state_dir, secrets=secrets)
    return _REGISTRY[type_name](name, settings)


def channel_provider_names(config: Mapping[str, Any]) -> dict[str, str]:
    """Which provider each channel uses: `[channels]`, `outbox` by default."""
    channels = config.get("channels") or {}
    if not isinstance(channels, Mapping):
        raise ProviderConfigError("[channels] must be a table: channel = \"provider\"")
    unknown = sorted(set(channels) - set(CHANNELS))
    if unknown:
        raise ProviderConfigError(f"[channels]: unknown channel {unknown[0]!r}; "
                                  f"channels: {', '.join(CHANNELS)}")
    names: dict[str, str] = {}
    for channel in CHANNELS:
        value = channels.get(channel, DEFAULT_PROVIDER)
        if not isinstance(value, str) or not value:
            raise ProviderConfigError(f"[channels]: `{channel}` must name a provider")
        names[channel] = value
    return names


def providers_for_workspace(config: Mapping[str, Any], env: Mapping[str, str], *,
                            state_dir: Path | None = None) -> dict[str, Provider]:
    """The provider of every channel (spec §8); one instance per provider name.

    `outbox` needs no `[providers.outbox]` section: it is the embedded default.
    `state_dir` is the workspace's `.overture/` folder (where the outbox lives).
    """
    pool = ProviderPool(config, env, state_dir=state_dir)
    try:
        return {channel: pool(channel) for channel in channel_provider_names(config)}
    except BaseException:
        pool.close()
        raise


class ProviderPool:
    """The providers one run uses, built on first use and closed together.

    `pool(channel)` is the channel's provider from `[channels]`; `pool(channel, name)`
    the one an activity names with `provider: NAME`.
    """

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str], *,
                 state_dir: Path | None = None) -> None:
        self.config = config
        self.env = env
        self.state_dir = state_dir
        self._built: dict[str, Provider] = {}

    def __call__(self, channel: str, name: str | None = None) -> Provider:
        # named by [channels], or by an activity's `provider:`: the errors say which
        where = f"[channels]: {channel} uses provider" if name is None \
            else "provider"
        if name is None:
            name = channel_provider_names(self.config)[channel]
        provider = self._built.get(name)
        if provider is None:
            sections = self.config.get("providers") or {}
            if not isinstance(sections, Mapping):
                raise ProviderConfigError("[providers] must hold one table per provider")
            if name in sections:
                section = sections[name]
            elif name == DEFAULT_PROVIDER:
                section = {"type": DEFAULT_PROVIDER}
            else:
                configured = ", ".join(sorted(sections)) or "none"
                raise ProviderConfigError(
                    f"{where} {name!r}, but overture.toml has no [providers.{name}] "
                    f"(configured: {configured})")
            provider = provider_from_config(name, section, self.env, state_dir=self.state_dir)
            self._built[name] = provider
        if channel not in provider.channels:
            prefix = "[channels]: provider" if where != "provider" else "provider"
            raise ProviderConfigError(
                f"{prefix} {name!r} cannot send {channel} "
                f"(it sends {', '.join(sorted(provider.channels))})")
        return provider

    def close(self) -> None:
        for provider in self._built.values():
            provider.close()
        self._built.clear()
