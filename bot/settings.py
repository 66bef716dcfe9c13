"""Settings, read once at start-up: the environment (``TOCSIN_*`` and the platforms'
token variables) over the config file (``--config`` or ``TOCSIN_CONFIG``) over defaults.

Nothing else in the code reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from monitors.rulefile import FILE, RuleFileError, load_yaml, parse_rules, validation_errors
from monitors.rules import Rule
from storage.db import DEFAULT_URL

DEFAULT_CONFIG = Path("config/tocsin.yaml")
SETTINGS_DOCS = "the Settings section of README.md"


class FileSettings(BaseModel):
    """The config file's keys besides ``rules``."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = None
    http_host: str | None = None
    http_port: int | None = Field(default=None, ge=0, le=65535)
    default_channels: list[str] = Field(default_factory=lambda: ["alerts"])
    timer_interval: float = Field(default=5.0, gt=0)
    console_admin: bool = True
    rules: list[Any] = Field(default_factory=list)


class EnvSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOCSIN_", extra="ignore")

    config: Path | None = None
    database_url: str | None = None
    http_host: str | None = None
    http_port: int | None = Field(default=None, ge=0, le=65535)
    api_token: str | None = None
    log_level: str = "INFO"
    discord_token: str | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "TOCSIN_DISCORD_TOKEN")
    )
    slack_bot_token: str | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "TOCSIN_SLACK_BOT_TOKEN")
    )
    slack_signing_secret: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "TOCSIN_SLACK_SIGNING_SECRET"),
    )


class Settings(BaseModel):
    """Everything the service needs, resolved."""

    config_path: Path | None
    database_url: str
    http_host: str
    http_port: int
    api_token: str | None
    log_level: str
    default_channels: list[str]
    timer_interval: float
    console_admin: bool
    rules: list[Rule]
    discord_token: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None

    @property
    def has_chat_tokens(self) -> bool:
        return bool(self.discord_token or self.slack_bot_token)


def read_config(path: Path) -> tuple[FileSettings, list[Rule]]:
    """Parse and validate a config file; every problem is reported at once, in file
    order, with its line. A missing, unreadable or empty file is an error."""
    document = load_yaml(path)
    data = document.data
    if not isinstance(data, dict):
        expected = "expected a mapping of settings and 'rules:'"
        raise document.invalid([RuleFileError(FILE, "-", expected)])
    errors: list[RuleFileError] = []
    file_settings = FileSettings()
    try:
        file_settings = FileSettings.model_validate(data)
    except ValidationError as exc:
        known = FileSettings.model_fields
        errors.extend(validation_errors("(settings)", exc, known, SETTINGS_DOCS))
    listed = data.get("rules")  # not a list: FileSettings said so above
    rules, rule_errors = parse_rules(listed if isinstance(listed, list) else [])
    errors.extend(rule_errors)
    if errors:
        raise document.invalid(errors)
    return file_settings, rules


def load_settings(config: Path | None = None, http_port: int | None = None) -> Settings:
    """Resolve settings; ``config``/``http_port`` come from the command line and win."""
    env = EnvSettings()
    path = config or env.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    file_settings, rules = read_config(path) if path else (FileSettings(), [])
    port = http_port if http_port is not None else env.http_port
    return Settings(
        config_path=path,
        database_url=env.database_url or file_settings.database_url or DEFAULT_URL,
        http_host=env.http_host or file_settings.http_host or "127.0.0.1",
        http_port=port if port is not None else (file_settings.http_port or 8080),
        api_token=env.api_token or None,
        log_level=env.log_level,
        default_channels=file_settings.default_channels,
        timer_interval=file_settings.timer_interval,
        console_admin=file_settings.console_admin,
        rules=rules,
        discord_token=env.discord_token,
        slack_bot_token=env.slack_bot_token,
        slack_signing_secret=env.slack_signing_secret,
    )
