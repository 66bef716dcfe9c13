"""Settings, read once at start-up. Precedence is pydantic-settings' own: the command line
(``--config``, ``--port``) over the environment (``TOCSIN_*`` and the platforms' token
variables) over the config file over defaults.

The rules, the chat platforms' places (``slack``, ``discord``) and ``destinations`` come
from the config file only; tokens and secrets from the environment only. Nothing else in
the code reads the environment: everything that does passes through here."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import replace
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
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

from monitors.charts import DEFAULT_CHART_WINDOW
from monitors.destinations.admin import DestinationOptions
from monitors.destinations.network import AddressPolicy, IPNetwork, config_refusal
from monitors.destinations.secrets import check_key
from monitors.destinations.specs import email_address
from monitors.incidents.deploys import DEFAULT_WINDOW as DEFAULT_DEPLOY_WINDOW
from monitors.insight.report import NoiseReportConfig
from monitors.retention import DEFAULT_RETENTION
from monitors.routing import CONSOLE_TARGET, Destination, Platform, Routing, target
from monitors.rules.rulefile import (
    FILE,
    RuleFileError,
    RuleFileInvalid,
    load_yaml,
    parse_rules,
    validation_errors,
)
from monitors.rules.schema import Duration, OffDuration, Rule
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


class EmailConfig(BaseModel):
    """``email:`` in the config file: the SMTP server that sends email destinations'
    mail. The login comes from ``TOCSIN_SMTP_USERNAME`` / ``TOCSIN_SMTP_PASSWORD``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=587, ge=1, le=65535)
    from_: str = Field(alias="from")
    """The sender: ``tocsin@example.com`` or ``Tocsin <tocsin@example.com>``."""
    starttls: bool = True
    """Upgrade the connection with STARTTLS (port 587); ``false`` sends in clear."""
    tls: bool = False
    """Connect with TLS from the start (port 465) instead."""
    timeout: float = Field(default=10.0, gt=0, le=300)

    @field_validator("from_")
    @classmethod
    def _sender(cls, value: str) -> str:
        name, address = parseaddr(value)
        checked = email_address(address or value)
        return formataddr((name, checked)) if name else checked

    @model_validator(mode="after")
    def _one_tls(self) -> EmailConfig:
        if self.tls and self.starttls:
            raise ValueError("starttls: choose starttls (port 587) or tls (port 465), not both")
        return self

    @property
    def sender_address(self) -> str:
        return parseaddr(self.from_)[1]


def allow_networks(value: object) -> object:
    """``[127.0.0.0/8, "10.1.0.0/16"]`` as networks; a host address with a prefix that
    does not start a network (``10.0.0.1/8``) is refused rather than widened."""
    if not isinstance(value, list | tuple):
        return value
    networks = []
    for item in value:
        try:
            networks.append(
                ipaddress.ip_network(item if not isinstance(item, str) else item.strip())
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{item!r} is not a network: {exc}; write one such as 10.0.0.0/8 or fd00::/8"
            ) from None
    return networks


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
    deploy_window: OffDuration = DEFAULT_DEPLOY_WINDOW
    """An incident opening this soon after a deploy of its service says so; 0: never."""
    retention: Duration = DEFAULT_RETENTION
    """Resolved incidents, their timelines and messages, and events are deleted this
    long after (monitors/retention.py)."""
    charts: bool = True
    """Attach a chart of the metric to incident messages in Slack and Discord."""
    chart_window: Duration = Field(default=DEFAULT_CHART_WINDOW, le=7 * 86400)
    """How far back the chart looks (the sample history keeps 7 days)."""
    noise_report: NoiseReportConfig = Field(default_factory=NoiseReportConfig)
    event_types: dict[str, Any] | None = None
    """Event types for POST /v1/events over the shipped ones (monitors/sources/events.py)."""
    email: EmailConfig | None = None
    webhook_allow_networks: list[IPNetwork] = Field(default_factory=list)
    rules: list[Any] = Field(default_factory=list)

    _networks = field_validator("webhook_allow_networks", mode="before")(allow_networks)


FILE_ONLY = frozenset(
    {
        "timer_interval",
        "console_admin",
        "evaluate_on_push",
        "behind_after",
        "deploy_window",
        "retention",
        "chart_window",
        "noise_report",
        "event_types",
        "environment",
        "slack",
        "discord",
        "destinations",
        "email",
        "webhook_allow_networks",
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
    deploy_window: float = DEFAULT_DEPLOY_WINDOW
    retention: float = DEFAULT_RETENTION
    charts: bool = True
    """TOCSIN_CHARTS=false (or ``charts: false`` in the file) turns charts off."""
    chart_window: float = DEFAULT_CHART_WINDOW
    noise_report: NoiseReportConfig = Field(default_factory=NoiseReportConfig)
    event_types: dict[str, EventType] = Field(default_factory=lambda: parse_event_types(None))
    environment: dict[str, str] = Field(default_factory=dict, repr=False)
    """The variables rule URLs may name as ``${NAME}``: read here, once."""
    slack: SlackConfig = Field(default_factory=SlackConfig)
    discord: DiscordConfig = Field(default_factory=DiscordConfig)
    destinations: dict[str, Destination] = Field(default_factory=dict)
    email: EmailConfig | None = None
    webhook_allow_networks: list[IPNetwork] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    secret_key: SecretStr | None = None
    """A Fernet key: secrets saved through the API are encrypted with it."""

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

    _networks = field_validator("webhook_allow_networks", mode="before")(allow_networks)

    @field_validator("secret_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_key(value.get_secret_value())
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

    def admin_targets(self) -> tuple[str, ...]:
        """Where start-up notices for admins go (monitors.admin_notices): a Slack direct
        message to each of ``slack.admins``, and the Discord alert channel, where they
        mention ``discord.admin_role_ids``. The console shows them itself."""
        targets = []
        if self.slack_enabled:
            targets += [target(Platform.SLACK, user) for user in self.slack.admins]
        if self.discord_enabled and self.discord.channel_id:
            targets.append(target(Platform.DISCORD, self.discord.channel_id))
        return tuple(targets)

    def address_policy(self) -> AddressPolicy:
        """The addresses webhooks may reach (see monitors.destinations.network)."""
        return AddressPolicy(tuple(self.webhook_allow_networks))

    def destination_options(self) -> DestinationOptions:
        key = self.secret_key.get_secret_value() if self.secret_key else None
        return DestinationOptions(key, self.address_policy(), email_enabled=self.email is not None)


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


def _report_destinations(file: FileSettings) -> list[RuleFileError]:
    """``noise_report.channels`` naming destinations the config does not define."""
    routing = Routing(file.destinations)
    return [
        RuleFileError(
            "(settings)",
            "noise_report.channels",
            f"'{name}' is not a destination; define it under destinations: "
            f"(defined: {', '.join(routing.names())})",
            path=("noise_report", "channels"),
        )
        for name in routing.unknown(file.noise_report.channels)
    ]


def _destination_problems(document: dict[str, Any]) -> list[RuleFileError]:
    """What destinations need beyond their own fields: an SMTP server for email, and
    webhook URLs whose addresses may be reached (checked again at every delivery).
    Each destination is checked on its own, so one bad entry hides no other problem."""
    try:
        networks = allow_networks(document.get("webhook_allow_networks") or [])
    except ValueError:
        networks = []  # reported with the other settings
    policy = AddressPolicy(tuple(networks))  # type: ignore[arg-type]
    entries = document.get("destinations")
    errors = []
    for name, spec in (entries if isinstance(entries, dict) else {}).items():
        try:
            destination = Destination.model_validate(spec)
        except ValidationError:
            continue  # reported with the other settings
        field = f"destinations.{name}"
        if destination.email and not document.get("email"):
            reason = "sends email, but there is no email: section (host, port, from)"
            errors.append(
                RuleFileError("(settings)", f"{field}.email", reason, path=("destinations", name))
            )
        if destination.webhook is not None:
            refusal = config_refusal(destination.webhook.url, policy)
            if refusal is not None:
                errors.append(
                    RuleFileError(
                        "(settings)", f"{field}.webhook.url", refusal, path=("destinations", name)
                    )
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
    errors.extend(_report_destinations(file_settings))
    try:
        parse_event_types(data.get("event_types"), str(path))
    except RuleFileInvalid as exc:
        errors.extend(replace(e, path=("event_types", *e.path)) for e in exc.errors)
    errors.extend(_destination_problems(data))
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
