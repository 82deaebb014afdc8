"""Signed link tokens: genuine ones verify, altered or forged ones never do."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from overture.channels.tokens import Signer, TokenError, unsubscribe_url

MID = uuid.UUID("03f13d89-87db-378b-8902-b678943cfb81")


def test_a_token_names_its_message_kind_and_link() -> None:
    signer = Signer(b"k1")
    assert signer.verify(signer.sign("u", MID)) == ("u", MID, None)
    assert signer.verify(signer.sign("c", MID, 3)) == ("c", MID, 3)


@pytest.mark.parametrize("change", [
    lambda t: t.replace(".c.", ".u."),                       # another kind
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),       # the signature
    lambda t: t.rsplit(".", 2)[0] + ".4." + t.rsplit(".", 1)[1],  # another link
    lambda t: t.replace(MID.hex, uuid.uuid4().hex),          # another message
    lambda t: "garbage",
    lambda t: t + ".x",
])
def test_an_altered_token_is_refused(change: object) -> None:
    signer = Signer(b"k1")
    token = signer.sign("c", MID, 3)
    with pytest.raises(TokenError):
        signer.verify(change(token))  # type: ignore[operator]


def test_another_key_is_refused_and_an_old_key_still_verifies_after_rotation() -> None:
    old = Signer(b"old").sign("u", MID)
    with pytest.raises(TokenError, match="unknown key"):
        Signer(b"new").verify(old)
    assert Signer(b"new", older=(b"old",)).verify(old) == ("u", MID, None)


def test_the_key_comes_from_the_environment_else_a_private_file(tmp_path: Path) -> None:
    from_env = Signer.for_workspace(tmp_path, {"OVERTURE_SECRET_KEY": "s3cret"})
    assert from_env.key == b"s3cret" and not (tmp_path / "secret.key").exists()
    made = Signer.for_workspace(tmp_path, {})
    path = tmp_path / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(made.key) >= 32
    assert Signer.for_workspace(tmp_path, {}).key == made.key  # the same next time


def test_unsubscribe_url() -> None:
    signer = Signer(b"k1")
    url = unsubscribe_url("https://t.example.com/", signer, MID)
    assert url.startswith("https://t.example.com/u/")
    assert signer.verify(url.rsplit("/", 1)[1]) == ("u", MID, None)
