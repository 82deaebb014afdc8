"""Workspace delivery rules from overture.toml's `[delivery]`: caps, quiet hours, retries.

These hold across campaigns (a marketer cannot opt a campaign out of a frequency cap),
so they live in the workspace, not in the campaign document. Every setting has a
default that a first-time user never needs to change.

```toml
[delivery]
from = "Shop <news@shop.example>"   # default sender of email activities without `from`
batch_size = 500        # rows read, and send results recorded, per batch
max_attempts = 5        # tries per message on transient errors
retry_base = 0.5        # seconds before the first retry; doubled each time, with jitter
retry_max = 30          # longest wait between tries
max_errors = 100        # failed messages after which a channel activity pauses
max_window = "4h"       # with a rate: messages beyond rate x window are excluded

[delivery.quiet_hours]  # marketing messages, in each profile's time zone
start = "21:00"
end = "08:00"
action = "defer"        # or "exclude"
channels = ["sms", "push"]

[[delivery.frequency_caps]]
channel = "email"
max = 3                 # at most 3 marketing emails per profile ...
days = 7                # ... in any 7 days, counted across campaigns
```
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from overture.errors import OvertureError
from overture.rules.values import ValueProblem, parse_duration

ChannelName = Literal["email", "sms", "push"]
_ALL_CHANNELS: tuple[ChannelName, ...] = ("email", "sms", "push")


class DeliverySettingsError(OvertureError):
    """`[delivery]` in overture.toml that cannot be read."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class QuietHours(_Model):
    start: time
    end: time
    action: Literal["defer", "exclude"] = "defer"
    channels: list[ChannelName] = Field(default_factory=lambda: list(_ALL_CHANNELS))

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                hours, minutes = value.split(":")
                return time(int(hours), int(minutes))
            except ValueError:
                raise ValueError(f"{value!r} is not a time of day like \"21:00\"") from None
        return value

    def quiet_at(self, local: time) -> bool:
        """Whether a local time of day falls in the quiet period (which may span midnight)."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class FrequencyCap(_Model):
    channel: ChannelName
    category: Literal["marketing"] = "marketing"  # transactional messages are never capped
    max: int = Field(ge=1)
    days: float = Field(gt=0)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.days)


class DeliverySettings(_Model):
    from_: str | None = Field(default=None, alias="from")
    batch_size: int = Field(default=500, ge=1, le=100_000)
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_base: float = Field(default=0.5, ge=0)
    retry_max: float = Field(default=30.0, ge=0)
    max_errors: int = Field(default=100, ge=1)
    max_window: str | None = None
    quiet_hours: QuietHours | None = None
    frequency_caps: list[FrequencyCap] = Field(default_factory=list)

    @field_validator("max_window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except ValueProblem as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def window(self) -> timedelta | None:
        return None if self.max_window is None else parse_duration(self.max_window)

    def caps_for(self, channel: str, category: str) -> list[FrequencyCap]:
        if category != "marketing":
            return []
        return [cap for cap in self.frequency_caps if cap.channel == channel]


def delivery_settings(config: dict[str, Any]) -> DeliverySettings:
    """The `[delivery]` section of overture.toml, with defaults; errors name the key."""
    section = config.get("delivery") or {}
    if not isinstance(section, dict):
        raise DeliverySettingsError("[delivery] must be a table of settings")
    try:
        return DeliverySettings.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise DeliverySettingsError(f"[delivery] {where}: {message}") from None


def tracking_base_url(config: dict[str, Any]) -> str:
    section = config.get("tracking") or {}
    return str(section.get("base_url", "http://127.0.0.1:8000")).rstrip("/")
