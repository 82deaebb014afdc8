"""`[delivery]` in overture.toml: defaults, and errors that name the key."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from overture.channels.settings import DeliverySettingsError, delivery_settings


def test_defaults() -> None:
    settings = delivery_settings({})
    assert (settings.batch_size, settings.max_attempts, settings.max_errors) == (500, 5, 100)
    assert settings.quiet_hours is None and settings.frequency_caps == []
    assert settings.window is None


def test_a_full_section() -> None:
    settings = delivery_settings({"delivery": {
        "from": "Shop <news@shop.example>", "max_window": "4h",
        "quiet_hours": {"start": "21:00", "end": "08:00", "action": "exclude"},
        "frequency_caps": [{"channel": "email", "max": 3, "days": 7}]}})
    assert settings.from_ == "Shop <news@shop.example>"
    assert settings.window == timedelta(hours=4)
    quiet = settings.quiet_hours
    assert quiet is not None and quiet.start == time(21) and quiet.action == "exclude"
    assert quiet.quiet_at(time(23)) and quiet.quiet_at(time(7, 59))
    assert not quiet.quiet_at(time(8)) and not quiet.quiet_at(time(20, 59))
    assert [c.max for c in settings.caps_for("email", "marketing")] == [3]
    assert settings.caps_for("email", "transactional") == []
    assert settings.caps_for("sms", "marketing") == []


@pytest.mark.parametrize(("section", "message"), [
    ({"max_errors": 0}, "[delivery] max_errors: Input should be greater than or equal to 1"),
    ({"max_window": "soon"}, "[delivery] max_window: 'soon' is not a duration"),
    ({"quiet_hours": {"start": "9pm", "end": "08:00"}},
     "[delivery] quiet_hours.start: '9pm' is not a time of day"),
    ({"frequency_caps": [{"channel": "fax", "max": 1, "days": 1}]},
     "[delivery] frequency_caps.0.channel"),
    ({"max_erors": 3}, "[delivery] max_erors: Extra inputs are not permitted"),
])
def test_errors_name_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(DeliverySettingsError) as caught:
        delivery_settings({"delivery": section})
    assert str(caught.value).startswith(message)
