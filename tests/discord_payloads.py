"""INTERACTION_CREATE payloads as Discord builds them, from what the bot itself synced
and posted: a slash command's options are typed from the synced command (an option the
bot never registered fails the test), a click carries the message it was on, a modal
submission echoes the modal the bot opened."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from fake_discord import ADMIN_ROLE_ID, BOT_ID, CHANNEL_ID, GUILD_ID, FakeDiscord, iso

MANAGE_GUILD = 1 << 5
EVERYDAY = (1 << 10) | (1 << 11) | (1 << 31)  # view channel, send messages, use commands
_tokens = itertools.count(1)


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    roles: tuple[str, ...] = ()
    permissions: int = EVERYDAY

    def payload(self) -> dict[str, Any]:
        return {
            "user": {
                "id": self.id,
                "username": self.name,
                "global_name": self.name.title(),
                "discriminator": "0",
                "avatar": None,
            },
            "nick": None,
            "avatar": None,
            "roles": list(self.roles),
            "joined_at": iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "permissions": str(self.permissions),
            "communication_disabled_until": None,
        }


ALICE = Member("111111111111111111", "alice", roles=(ADMIN_ROLE_ID,))
"""An admin by the configured role."""
BOB = Member("222222222222222222", "bob")
"""A member with no admin role."""
CAROL = Member("333333333333333333", "carol", permissions=EVERYDAY | MANAGE_GUILD)
"""An admin by the Manage Server permission."""

OPTION_TYPES = {3: str, 4: int, 5: bool, 10: float}
SUBCOMMAND = 1


class Interactions:
    """Builds interactions for ``fake`` and sends them through its gateway."""

    def __init__(self, fake: FakeDiscord, guild_id: str = GUILD_ID) -> None:
        self.fake = fake
        self.guild_id = guild_id

    def base(self, kind: int, user: Member, data: dict[str, Any]) -> dict[str, Any]:
        interaction_id = self.fake.snowflake()
        return {
            "id": interaction_id,
            "application_id": BOT_ID,
            "type": kind,
            "token": f"interaction-token-{next(_tokens)}",
            "version": 1,
            "guild_id": self.guild_id,
            "guild": {"id": self.guild_id, "locale": "en-US", "features": []},
            "channel_id": CHANNEL_ID,
            "channel": {
                "id": CHANNEL_ID,
                "type": 0,
                "guild_id": self.guild_id,
                "name": "alerts",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "rate_limit_per_user": 0,
                "flags": 0,
            },
            "member": user.payload(),
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": str((1 << 53) - 1),
            "entitlements": [],
            "authorizing_integration_owners": {"0": self.guild_id},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
            "data": data,
        }

    # ------------------------------------------------------------ slash commands

    def _synced(self, name: str) -> dict[str, Any]:
        for scope in (self.guild_id, "global"):
            for command in self.fake.commands.get(scope, []):
                if command["name"] == name:
                    return command
        raise AssertionError(f"the bot never synced a /{name} command")

    @staticmethod
    def _typed(schema: list[dict[str, Any]], values: dict[str, Any], focused: str | None):
        options = []
        by_name = {option["name"]: option for option in schema}
        for name, value in values.items():
            if name not in by_name:
                raise AssertionError(f"no option {name!r}; the bot synced {sorted(by_name)}")
            kind = by_name[name]["type"]
            option = {"name": name, "type": kind, "value": OPTION_TYPES[kind](value)}
            if name == focused:
                option["value"], option["focused"] = str(value), True
            options.append(option)
        return options

    def _command_data(
        self, group: str, action: str, values: dict[str, Any], focused: str | None = None
    ) -> dict[str, Any]:
        command = self._synced(group)
        data: dict[str, Any] = {"id": command["id"], "name": group, "type": 1}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        if not action:
            data["options"] = self._typed(command.get("options", []), values, focused)
            return data
        sub = next((o for o in command["options"] if o["name"] == action), None)
        if sub is None or sub["type"] != SUBCOMMAND:
            raise AssertionError(f"the bot synced no /{group} {action}")
        options = self._typed(sub.get("options", []), values, focused)
        data["options"] = [{"name": action, "type": SUBCOMMAND, "options": options}]
        return data

    def slash(self, user: Member, group: str, action: str = "", **values: Any) -> dict[str, Any]:
        return self.base(2, user, self._command_data(group, action, values))

    def autocomplete(
        self, user: Member, group: str, action: str, focused: str, **values: Any
    ) -> dict[str, Any]:
        return self.base(4, user, self._command_data(group, action, values, focused))

    # ------------------------------------------------------------ components and modals

    def click(self, user: Member, message: dict[str, Any], custom_id: str) -> dict[str, Any]:
        payload = self.base(3, user, {"custom_id": custom_id, "component_type": 2})
        payload["message"] = message
        return payload

    def choose(
        self, user: Member, message: dict[str, Any], custom_id: str, values: list[str]
    ) -> dict[str, Any]:
        data = {"custom_id": custom_id, "component_type": 3, "values": values}
        payload = self.base(3, user, data)
        payload["message"] = message
        return payload

    def submit(self, user: Member, modal: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        """Submit the modal the bot opened (its callback's data), with ``values`` typed
        over the defaults it showed."""
        components = []
        for label in modal["components"]:
            field = label["component"]
            text = values.get(field["custom_id"], field.get("value", ""))
            components.append(
                {
                    "type": label["type"],
                    "id": label.get("id", 0),
                    "component": {"type": 4, "custom_id": field["custom_id"], "value": text},
                }
            )
        data = {"custom_id": modal["custom_id"], "components": components}
        return self.base(5, user, data)


def carrying(message: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """``message`` with one button, ``custom_id``: a card from another database or
    an older version, as far as this bot is concerned."""
    button = {"type": 2, "style": 1, "label": "Acknowledge", "custom_id": custom_id}
    return {**message, "components": [{"type": 1, "components": [button]}]}


def buttons_of(message: dict[str, Any]) -> dict[str, str]:
    """Label -> custom id of the buttons on a message (URL buttons by label -> url)."""
    found = {}
    for row in message.get("components", []):
        for component in row.get("components", []):
            if component["type"] == 2:
                found[component["label"]] = component.get("custom_id") or component["url"]
    return found


def menu_of(message: dict[str, Any]) -> dict[str, Any] | None:
    for row in message.get("components", []):
        for component in row.get("components", []):
            if component["type"] == 3:
                return component
    return None
