"""Settings, read once at start-up. Precedence is pydantic-settings' own: the command line
(``--config``, ``--port``) over the environment (``TOCSIN_*`` and the platforms' token
variables) over the config file over defaults.

The rules, the chat platforms' places (``slack``, ``discord``) and ``destinations`` come
from the config file only; tokens and secrets from the environment only. Nothing else in
the code reads the environment: everything that does passes through here."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitors.routing import CONSOLE_TARGET, Destination, Platform, Routing, target
from monitors.rulefile import (
    FILE,
    RuleFileError,
    RuleFileInvalid,
    load_yaml,
    parse_rules,
    validation_errors,
)
from monitors.rules import Duration, Rule
from monitors.sources.events import EventType, parse_event_types
from storage.db import DEFAULT_URL

DEFAULT_CONFIG = Path("config/tocsin.yaml")
SLACK_API_URL = "https://slack.com/api/"
DISCORD_API_URL = "https://discord.com/api/v10"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SETTINGS_DOCS = "the Settings section of README.md"


def _snowflake(value: object) -> object:
    """Discord ids are numbers; YAML reads them as ints, the environment as text."""
    if isinstance(value, bool):
        raise ValueError("a Discord id is a number, e.g. 123456789012345678")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.isdigit():
        return value
    raise ValueError(f"{value!r} is not a Discord id; use its number")


class SlackConfig(BaseModel):
    """``slack:`` in the config file."""

    model_config = ConfigDict(extra="forbid")

    channel: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_#.-]{1,80}$")
    """The default alert channel id: rules that name no channels post here."""
    admins: list[str] = Field(default_factory=list)
    """Slack user ids (``U0ADMIN``) who may change rules and silences."""
    admin_groups: list[str] = Field(default_factory=list)
    """Slack user group ids (``S0ONCALL``) whose members are admins too."""


class DiscordConfig(BaseModel):
    """``discord:`` in the config file."""

    model_config = ConfigDict(extra="forbid")

    channel_id: str | None = None
    """The default alert channel: rules that name no channels post here."""
    guild_ids: list[str] = Field(default_factory=list)
    """Guilds the slash commands are synced to at start-up (globally when empty)."""
    admin_role_ids: list[str] = Field(default_factory=list)
    """Members holding one of these roles (or Manage Server) are admins."""

    @field_validator("channel_id", mode="before")
    @classmethod
    def _channel(cls, value: object) -> object:
        return None if value is None else _snowflake(value)

    @field_validator("guild_ids", "admin_role_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return [_snowflake(item) for item in value] if isinstance(value, list) else value


class FileSettings(BaseModel):
    """The config file's keys besides ``rules``."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = None
    http_host: str | None = None
    http_port: int | None = Field(default=None, ge=0, le=65535)
    timer_interval: float = Field(default=5.0, gt=0)
    console_admin: bool = True
    evaluate_on_push: bool = True
    slack: SlackConfig = Field(default_factory=SlackConfig)
    discord: DiscordConfig = Field(default_factory=DiscordConfig)
    destinations: dict[str, Destination] = Field(default_factory=dict)
    behind_after: Duration = 60.0
    """Ticks starting this late open the "Tocsin is behind" incident."""
    event_types: dict[str, Any] | None = None
    """Event types for POST /v1/events over the shipped ones (monitors/sources/events.py)."""
    rules: list[Any] = Field(default_factory=list)


FILE_ONLY = frozenset(
    {
        "timer_interval",
        "console_admin",
        "evaluate_on_push",
        "behind_after",
        "event_types",
        "environment",
        "slack",
        "discord",
        "destinations",
        "rules",
    }
)
"""Settings that only the config file sets (the environment holds no rule files)."""


def _env(*names: str) -> AliasChoices:
    """The environment variables that set a field (the first is the documented one)."""
    return AliasChoices(*names)


_FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("config_file_values", default=None)


class Settings(BaseSettings):
    """Everything the service needs, resolved."""

    model_config = SettingsConfigDict(env_prefix="TOCSIN_", extra="ignore", populate_by_name=True)

    config_path: Path | None = Field(default=None, validation_alias=_env("TOCSIN_CONFIG"))
    database_url: str = DEFAULT_URL
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    api_token: str | None = None
    log_level: str = "INFO"
    timer_interval: float = 5.0
    console_admin: bool = True
    evaluate_on_push: bool = True
    behind_after: float = 60.0
    event_types: dict[str, EventType] = Field(default_factory=lambda: parse_event_types(None))
    environment: dict[str, str] = Field(default_factory=dict, repr=False)
    """The variables rule URLs may name as ``${NAME}``: read here, once."""
    slack: SlackConfig = Field(default_factory=SlackConfig)
    discord: DiscordConfig = Field(default_factory=DiscordConfig)
    destinations: dict[str, Destination] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    slack_bot_token: str | None = Field(
        default=None,
        validation_alias=_env("SLACK_BOT_TOKEN", "TOCSIN_SLACK_BOT_TOKEN"),
    )
    slack_signing_secret: str | None = Field(
        default=None,
        validation_alias=_env("SLACK_SIGNING_SECRET", "TOCSIN_SLACK_SIGNING_SECRET"),
    )
    slack_app_token: str | None = Field(
        default=None,
        validation_alias=_env("SLACK_APP_TOKEN", "TOCSIN_SLACK_APP_TOKEN"),
    )
    slack_api_url: str = SLACK_API_URL
    discord_token: str | None = Field(
        default=None,
        validation_alias=_env("DISCORD_TOKEN", "TOCSIN_DISCORD_TOKEN"),
    )
    discord_api_url: str = DISCORD_API_URL
    discord_gateway_url: str | None = None

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level; use {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        try:
            driver = make_url(value).drivername
        except ArgumentError:
            driver = ""
        if driver.split("+")[0] not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                f"{value!r} is not a SQLite or PostgreSQL URL; use sqlite+aiosqlite:///PATH "
                "or postgresql+asyncpg://USER@HOST/DB"
            )
        return value

    @field_validator("slack_api_url", "discord_api_url", "discord_gateway_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"{value!r} is not a URL; give one such as http://127.0.0.1:9999/api/")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Environment(settings_cls), _ConfigFile(settings_cls)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def discord_enabled(self) -> bool:
        return bool(self.discord_token)

    def routing(self, console: bool) -> Routing:
        """Destinations, and where a rule that names none posts: the Slack and Discord
        alert channels, and the console when ``console`` (it runs interactively) or
        when no chat platform is set up at all."""
        defaults = []
        if self.slack_enabled and self.slack.channel:
            defaults.append(target(Platform.SLACK, self.slack.channel))
        if self.discord_enabled and self.discord.channel_id:
            defaults.append(target(Platform.DISCORD, self.discord.channel_id))
        if console or not defaults:
            defaults.append(CONSOLE_TARGET)
        return Routing(self.destinations, tuple(defaults))


class _Environment(EnvSettingsSource):
    """The environment, for the settings it may hold: not rules or routing."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in FILE_ONLY:
            return None, field_name, False
        return super().get_field_value(field, field_name)


class _ConfigFile(PydanticBaseSettingsSource):
    """The config file's values, validated by ``read_config`` and handed over by
    ``load_settings`` (the file to read is itself a setting)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE_VALUES.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_VALUES.get() or {})


class CannotStart(ValueError):
    """A setting that keeps the service from starting; the message names it."""


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"TOCSIN_{field.upper()}"


def _unknown_destinations(listed: Sequence[Any], file: FileSettings) -> list[RuleFileError]:
    """Rules naming destinations the config does not define, with where they do."""
    routing = Routing(file.destinations)
    defined = ", ".join(routing.names())
    errors = []
    for index, item in enumerate(listed):
        if not isinstance(item, dict):
            continue
        label = f"rule '{item.get('name')}'" if item.get("name") else f"rules[{index}]"
        for field_name in ("channels", "escalate_to"):
            names = item.get(field_name)
            if not isinstance(names, list):
                continue
            errors.extend(
                RuleFileError(
                    label,
                    field_name,
                    f"'{name}' is not a destination; define it under destinations: "
                    f"(defined: {defined}; see docs/rules.md)",
                    path=("rules", index, field_name),
                )
                for name in routing.unknown(map(str, names))
            )
    return errors


NO_DEFAULT_CHANNELS = (
    "no longer used: a rule that names no channels posts to slack.channel, "
    "discord.channel_id and the console; name other places under destinations: "
    "(see docs/rules.md)"
)


def read_config(path: Path) -> tuple[FileSettings, list[Rule]]:
    """Parse and validate a config file; every problem is reported at once, in file
    order, with its line. A missing, unreadable or empty file is an error."""
    document = load_yaml(path)
    data = document.data
    if not isinstance(data, dict):
        expected = "expected a mapping of settings and 'rules:'"
        raise document.invalid([RuleFileError(FILE, "-", expected)])
    errors: list[RuleFileError] = []
    if "default_channels" in data:
        at = ("default_channels",)
        errors.append(RuleFileError("(settings)", at[0], NO_DEFAULT_CHANNELS, path=at))
        data = {k: v for k, v in data.items() if k != "default_channels"}
    file_settings = FileSettings()
    try:
        file_settings = FileSettings.model_validate(data)
    except ValidationError as exc:
        known = FileSettings.model_fields
        errors.extend(validation_errors("(settings)", exc, known, SETTINGS_DOCS))
    listed = data.get("rules")  # not a list: FileSettings said so above
    listed = listed if isinstance(listed, list) else []
    rules, rule_errors = parse_rules(listed)
    errors.extend(rule_errors)
    errors.extend(_unknown_destinations(listed, file_settings))
    try:
        parse_event_types(data.get("event_types"), str(path))
    except RuleFileInvalid as exc:
        errors.extend(replace(e, path=("event_types", *e.path)) for e in exc.errors)
    if errors:
        raise document.invalid(errors)
    return file_settings, rules


def _reason(error: Any) -> str:
    if error["type"] in ("int_parsing", "float_parsing", "int_type", "float_type"):
        return f"{error['input']!r} is not a number"
    return str(error["msg"]).removeprefix("Value error, ")


def load_settings(config: Path | None = None, http_port: int | None = None) -> Settings:
    """Resolve settings; ``config``/``http_port`` come from the command line and win.
    Raises RuleFileInvalid for a bad config file, CannotStart for a bad setting."""
    path = config or _settings().config_path
    path = path or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    file_settings, rules = read_config(path) if path else (FileSettings(), [])
    values = file_settings.model_dump(exclude={"rules", "event_types"}, exclude_none=True)
    values["rules"] = rules
    values["event_types"] = parse_event_types(file_settings.event_types, str(path))
    values["environment"] = dict(os.environ)
    command_line: dict[str, Any] = {"config_path": path}
    if http_port is not None:
        command_line["http_port"] = http_port
    token = _FILE_VALUES.set(values)
    try:
        return _settings(**command_line)
    finally:
        _FILE_VALUES.reset(token)


def _settings(**command_line: Any) -> Settings:
    try:
        return Settings(**command_line)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        name = env_name(field) if field in Settings.model_fields else field or "settings"
        raise CannotStart(f"{name}: {_reason(error)}") from None
