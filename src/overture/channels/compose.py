"""One profile's message, ready for a provider: rendered content plus its envelope.

Email becomes a multipart/alternative MIME message with its `Message-ID` and, for
marketing email, a signed `List-Unsubscribe` link (RFC 2369) and, when that link is
https, the one-click `List-Unsubscribe-Post` header (RFC 8058). Links are rewritten to
signed click redirects, and marketing email gets an open pixel (`tracking.py`). SMS and push become
the payload dicts the providers document.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from overture.channels.mime import build_email
from overture.channels.providers import Channel, OutgoingMessage
from overture.channels.render import CompiledContent, RenderedMessage, render_message
from overture.channels.tokens import Signer, unsubscribe_url
from overture.channels.tracking import track_html


@dataclass(frozen=True)
class Composer:
    """What every message of one channel activity shares."""

    content: CompiledContent
    variables: Mapping[str, Any]
    campaign: str
    run_id: str
    from_: str | None = None
    reply_to: str | None = None
    base_url: str | None = None
    signer: Signer | None = None
    language_column: str | None = None
    push_data: Mapping[str, str] | None = None
    #: rewrite email links to click redirects, and add the open pixel to marketing email
    tracking: bool = True

    @property
    def channel(self) -> str:
        return self.content.channel

    def render(self, profile: Mapping[str, Any], key: object) -> RenderedMessage:
        language = profile.get(self.language_column) if self.language_column else None
        return render_message(self.content, profile, self.variables, profile_key=key,
                              language=language if isinstance(language, str) else None)

    def compose(self, profile: Mapping[str, Any], key: object, address: str,
                message_id: uuid.UUID | str) -> tuple[OutgoingMessage, RenderedMessage]:
        rendered = self.render(profile, key)
        mid = uuid.UUID(str(message_id))
        payload: Any
        if self.channel == "email":
            if not self.from_:
                raise ValueError("email needs a sender: `from` on the activity or "
                                 "[delivery] from in overture.toml")
            unsubscribe = None
            marketing = self.content.category == "marketing"
            if marketing and self.base_url and self.signer:
                unsubscribe = unsubscribe_url(self.base_url, self.signer, mid)
            if self.tracking and self.base_url and self.signer and rendered.html:
                tracked = track_html(rendered.html, base_url=self.base_url,
                                     signer=self.signer, message_id=mid, pixel=marketing)
                rendered = replace(rendered, html=tracked.html, links=tracked.links)
            payload = build_email(
                rendered, from_=self.from_, to=address, reply_to=self.reply_to,
                message_id=str(mid), list_unsubscribe=unsubscribe,
                one_click=bool(unsubscribe and unsubscribe.startswith("https://")))
        elif self.channel == "sms":
            payload = {"body": rendered.body or ""}
        else:
            payload = {"title": rendered.title, "body": rendered.body or "",
                       "data": dict(self.push_data or {})}
        channel: Channel = self.channel  # type: ignore[assignment]
        message = OutgoingMessage(mid, channel, address, payload,
                                  category=self.content.category, campaign=self.campaign,
                                  run_id=self.run_id, activity_id=self.content.activity_id)
        return message, rendered
