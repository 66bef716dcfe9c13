"""The parts of a destination that email and webhooks add, checked as the config file
and the API give them: every refusal names the value and says what would do."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

REDACTED = "<redacted>"
"""What the API shows in place of a secret; sent back, it is refused, not stored."""
MAX_RECIPIENTS = 50
MAX_HEADERS = 20
MAX_URL = 2000
MAX_SECRET = 1000
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
"""An HTTP header name (RFC 9110 token)."""
RESERVED_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "content-type",
        "host",
        "transfer-encoding",
        "user-agent",
        "x-tocsin-delivery",
        "x-tocsin-signature",
    }
)
"""Headers Tocsin sets itself; a destination cannot replace them."""


def email_address(value: object) -> str:
    """A checked address (syntax only: no DNS lookup at start-up), normalised."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an email address; give one such as oncall@example.com")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not an email address: {exc}") from None


def recipients(value: object) -> tuple[str, ...]:
    """``oncall@example.com`` or a list of addresses, each checked, each once."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("give one or more addresses, e.g. email: [oncall@example.com]")
    if len(items) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} addresses; use a mailing list for more")
    checked = [email_address(item) for item in items]
    return tuple(dict.fromkeys(checked))


def web_url(value: str) -> str:
    """An absolute http(s) URL with a host."""
    if len(value) > MAX_URL:
        raise ValueError(f"the URL is longer than {MAX_URL} characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"{value!r} is not an http(s) URL; give one such as https://hooks.example.com/tocsin"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} has a port that is not a number from 1 to 65535") from None
    if not parts.hostname or port == 0:
        raise ValueError(
            f"{value!r} names no host; give one such as https://hooks.example.com/tocsin"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "put credentials in headers (e.g. Authorization), which are kept encrypted "
            "and never shown, rather than in the URL"
        )
    if any(ch.isspace() for ch in value):
        raise ValueError(f"{value!r} contains spaces; percent-encode them (%20)")
    return value


class WebhookSpec(BaseModel):
    """``webhook: {url, secret, headers}``: where to POST, the key the body is signed
    with (``X-Tocsin-Signature``), and headers to add (an ``Authorization``, say)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    secret: SecretStr
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return web_url(value)

    @field_validator("secret", mode="before")
    @classmethod
    def _secret(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(text, str) or not text:
            raise ValueError("give the key the body is signed with, e.g. secret: s3cret")
        if text == REDACTED:
            raise ValueError(
                f"{REDACTED} is what the API shows instead of the secret; send the secret"
            )
        if len(text) > MAX_SECRET:
            raise ValueError(f"the secret is longer than {MAX_SECRET} characters")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers")
        for name, text in value.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"{name} is set by Tocsin itself; leave it out")
            if text == REDACTED:
                raise ValueError(f"{name}: {REDACTED} is what the API shows; send the value")
            if any(ch in text for ch in "\r\n\0") or len(text) > MAX_URL:
                raise ValueError(f"{name}: a header value is one line of text, up to {MAX_URL}")
        return value

    def sealed_parts(self) -> dict[str, object]:
        """What is kept encrypted at rest: the secret and the header values."""
        return {"secret": self.secret.get_secret_value(), "headers": dict(self.headers)}

    def redacted(self) -> dict[str, object]:
        """As the API shows it: the URL, and neither the secret nor header values."""
        return {
            "url": self.url,
            "secret": REDACTED,
            "headers": {name: REDACTED for name in self.headers},
        }
