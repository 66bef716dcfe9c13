"""Which addresses a webhook may reach: public ones, and those in the networks listed
under ``webhook_allow_networks``. Private, loopback, link-local, multicast, reserved and
unspecified addresses are refused, IPv4 and IPv6 alike, including IPv4 addresses carried
inside IPv6 ones (``::ffff:127.0.0.1``, 6to4, Teredo, NAT64), so a webhook URL cannot be
turned against the network Tocsin runs in (SSRF).

A URL is checked when the destination is defined and again for every delivery: the
sender resolves the host, checks every address, and connects only to the addresses it
checked, so a name that resolves elsewhere the second time (DNS rebinding) gets nowhere."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Lookup = Callable[[str, int], Awaitable[list[str]]]
"""Resolves a host name (and port) to address strings; the system's resolver by default."""

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class AddressRefused(ValueError):
    """A URL whose host is, or resolves to, an address a webhook may not reach."""


class Unresolvable(OSError):
    """The host name does not resolve (now): worth trying again later."""


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo client, NAT64)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def kind_of(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one (``loopback``, ``private`` ...), or None."""
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus those in ``allow`` (``webhook_allow_networks``)."""

    allow: tuple[IPNetwork, ...] = ()

    def allowed(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.allow)

    def refusal(self, address: IPAddress) -> tuple[str, IPAddress] | None:
        """Why ``address`` may not be reached (``a loopback address``) and the address
        that decided it, or None. An IPv6 address that carries an IPv4 one is that
        IPv4 address for this purpose (its own range is never public)."""
        inner = embedded_ipv4(address)
        candidate: IPAddress = inner or address
        allowed = self.allowed(address) or self.allowed(candidate)
        kind = None if allowed else kind_of(candidate)
        if kind is None:
            return None
        carried = f"which carries {candidate}, " if inner is not None else ""
        return f"{carried}{'an' if kind[0] in 'aeiou' else 'a'} {kind} address", candidate

    def check(self, host: str, addresses: Sequence[str]) -> list[IPAddress]:
        """Every address of ``host``, or AddressRefused naming the first refused one
        (a name with one private address among public ones is refused as a whole)."""
        checked = []
        for text in addresses:
            address = ipaddress.ip_address(text.split("%")[0])  # no IPv6 zone
            refused = self.refusal(address)
            if refused is not None:
                reason, decided = refused
                subject = str(address) if literal(host) else f"{host} resolves to {address}"
                network = f"{decided}/{decided.max_prefixlen}"
                raise AddressRefused(
                    f"{subject}, {reason}; webhooks reach only public addresses unless the "
                    f"network is listed under webhook_allow_networks (e.g. [{network}])"
                )
            checked.append(address)
        return checked


def url_host(url: str) -> tuple[str, int]:
    """The host and port a URL connects to."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


def literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def system_lookup(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unresolvable(f"{host} does not resolve: {exc.strerror or exc}") from None
    return list(dict.fromkeys(str(item[4][0]) for item in found))


def blocking_lookup(host: str, port: int) -> list[str] | None:
    """The same for the config check, which runs before any event loop; None when the
    name does not resolve here (it is checked again at every delivery)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    return list(dict.fromkeys(str(item[4][0]) for item in found))


async def checked_addresses(
    url: str, policy: AddressPolicy, lookup: Lookup = system_lookup
) -> list[IPAddress]:
    """Resolve the URL's host and check every address: AddressRefused, Unresolvable."""
    host, port = url_host(url)
    address = literal(host)
    if address is not None:
        return policy.check(host, [str(address)])
    addresses = await lookup(host, port)
    if not addresses:
        raise Unresolvable(f"{host} has no addresses")
    return policy.check(host, addresses)


def config_refusal(url: str, policy: AddressPolicy) -> str | None:
    """Why a configured URL is refused now, or None (also for a name that does not
    resolve from here: deliveries check again)."""
    host, port = url_host(url)
    address = literal(host)
    found = [str(address)] if address is not None else blocking_lookup(host, port)
    try:
        policy.check(host, found or [])
    except AddressRefused as exc:
        return str(exc)
    return None
