"""Who clicked or typed: a Discord member as the core's Actor.

Admins are members holding one of ``discord.admin_role_ids`` or the Manage Server
permission, read from the interaction's member (its role ids, and the permissions
Discord computed for it), never from a name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from monitors.actors import ADMIN, Actor, person_name
from monitors.routing import Platform


def is_admin(interaction: discord.Interaction[Any], admin_role_ids: Sequence[str]) -> bool:
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return True
    member = interaction.user
    if not isinstance(member, discord.Member):  # a direct message: no roles there
        return False
    return any(member.get_role(int(role_id)) is not None for role_id in admin_role_ids)


def admin_hint(admin_role_ids: Sequence[str]) -> str:
    if admin_role_ids:
        roles = ", ".join(f"<@&{role_id}>" for role_id in admin_role_ids)
        return (
            f"To be a Tocsin admin on Discord, ask a server admin for one of these roles: "
            f"{roles}, or for the Manage Server permission."
        )
    return (
        "To be a Tocsin admin on Discord, ask a server admin for the Manage Server "
        "permission, or to add one of your roles to discord.admin_role_ids in Tocsin's "
        "config."
    )


def actor_of(interaction: discord.Interaction[Any], admin_role_ids: Sequence[str]) -> Actor:
    user = interaction.user
    return Actor(
        id=str(user.id),
        name=person_name(user.display_name, Platform.DISCORD.value),
        surface=Platform.DISCORD.value,
        roles=frozenset({ADMIN}) if is_admin(interaction, admin_role_ids) else frozenset(),
        admin_hint=admin_hint(admin_role_ids),
    )
