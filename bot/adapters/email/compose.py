"""One incident mail: subject, threading headers, and the same content as plain text and
HTML.

Mail clients group a thread by Message-ID: the first mail about an incident to a
destination gets an id made from the incident and the destination (stable, so a resend
after a lost answer is recognised as the same mail), and every later one refers to it
with In-Reply-To and References. Each later mail's own id is stable per outbox row."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from bot.adapters.base import Delivery
from monitors.formatting import short_time
from monitors.incidents.cards import IncidentCard
from monitors.mentions import plain
from storage.vocabulary import IncidentStatus

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9.-]")


def subject(card: IncidentCard, facts: Mapping[str, Any]) -> str:
    """``[CRITICAL] slow-api route=/api/b``; ``[RESOLVED] ...`` once resolved."""
    if not facts:  # a test message: no incident behind it
        return card.title
    state = "RESOLVED" if card.status == IncidentStatus.RESOLVED else card.severity.upper()
    labels = " ".join(f"{k}={v}" for k, v in sorted((facts.get("labels") or {}).items()))
    prefix = "[TEST] " if card.test else ""
    return " ".join(part for part in (f"{prefix}[{state}]", card.rule, labels) if part)


def thread_id(delivery: Delivery, destination: str, domain: str) -> str:
    """The Message-ID of the first mail about the incident to ``destination``."""
    opened = int(delivery.incident.get("opened_at") or 0)
    key = f"tocsin.{delivery.card.incident_id}.{opened}.{destination}"
    return f"<{_UNSAFE_ID.sub('_', key)}@{domain}>"


def later_id(delivery: Delivery, destination: str, domain: str) -> str:
    """The Message-ID of a later mail: one per outbox row, the same on every retry."""
    first = thread_id(delivery, destination, domain)[1:].split("@")[0]
    key = f"{first}.{delivery.event}.{int(delivery.queued_at * 1000)}"
    return f"<{_UNSAFE_ID.sub('_', key)}@{domain}>"


def _details(card: IncidentCard) -> list[tuple[str, str]]:
    rows = [(name, plain(value)) for name, value in card.fields]
    if card.since is not None and card.status != IncidentStatus.RESOLVED:
        rows.append(("Firing since", short_time(card.since)))
    return rows


def _commands(card: IncidentCard) -> str:
    if card.incident_id <= 0 or card.status == IncidentStatus.RESOLVED:
        return ""
    return f"Work it in chat: /alerts ack {card.incident_id}, /alerts show {card.incident_id}"


def _places(card: IncidentCard, links: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The runbook and the incident's chat messages, as (name, address) rows."""
    found = [("Runbook", card.runbook)] if card.runbook else []
    return found + [(f"In {platform}", address) for platform, address in links]


def plain_body(
    card: IncidentCard, line: str, destination: str, links: Sequence[tuple[str, str]] = ()
) -> str:
    lines = [card.title]
    if line:
        lines.append(plain(line))
    lines.append("")
    rows = _details(card) + _places(card, links)
    width = max((len(name) for name, _ in rows), default=0)
    lines.extend(f"{name + ':':<{width + 1}} {value}" for name, value in rows)
    lines.append("")
    lines.extend(text for text in (card.footer, _commands(card)) if text)
    lines.extend(["", "-- ", f"Sent by Tocsin to the destination {destination}."])
    return "\n".join(lines) + "\n"


def _link(url: str) -> str:
    escaped = html.escape(url)
    if url.startswith(("https://", "http://")):
        return f'<a href="{escaped}">{escaped}</a>'
    return escaped


def html_body(
    card: IncidentCard, line: str, destination: str, links: Sequence[tuple[str, str]] = ()
) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{e(name)}</th>'
        f"<td>{e(value)}</td></tr>"
        for name, value in _details(card)
    )
    rows += "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{e(name)}</th>'
        f"<td>{_link(address)}</td></tr>"
        for name, address in _places(card, links)
    )
    notes = "".join(
        f'<p style="color:#555">{e(text)}</p>' for text in (card.footer, _commands(card)) if text
    )
    what = f"<p>{e(plain(line))}</p>" if line else ""
    return (
        '<!DOCTYPE html><html><body style="font-family:sans-serif">'
        f'<div style="border-left:6px solid {e(card.color)};padding:4px 12px">'
        f'<h2 style="margin:4px 0">{e(card.title)}</h2>{what}'
        f"<table>{rows}</table>{notes}</div>"
        f'<p style="color:#888;font-size:small">Sent by Tocsin to the destination '
        f"{e(destination)}.</p></body></html>"
    )


def incident_mail(
    delivery: Delivery,
    destination: str,
    sender: str,
    recipients: Sequence[str],
    now: float,
) -> EmailMessage:
    """The mail for one outbox row (or a test message) to ``destination``."""
    domain = sender.rsplit("@", 1)[-1].rstrip(">")
    card = delivery.card
    message = EmailMessage()
    message["Subject"] = subject(card, delivery.incident)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    if card.incident_id > 0:
        message["X-Tocsin-Incident"] = str(card.incident_id)
    if card.incident_id <= 0:  # a test message
        message["Message-ID"] = make_msgid("tocsin.test", domain)
    elif delivery.message_ref is None:
        message["Message-ID"] = thread_id(delivery, destination, domain)
    else:
        message["Message-ID"] = later_id(delivery, destination, domain)
        message["In-Reply-To"] = delivery.message_ref
        message["References"] = delivery.message_ref
    message.set_content(plain_body(card, delivery.line, destination, delivery.links))
    message.add_alternative(
        html_body(card, delivery.line, destination, delivery.links), subtype="html"
    )
    return message
