"""Which addresses a webhook may reach, row by row: public ones, and private ones only
when their network is listed in webhook_allow_networks; IPv4 carried in IPv6 counts as
the IPv4 address it carries."""

from __future__ import annotations

import ipaddress
import re

import pytest

from monitors.destinations.network import AddressPolicy, AddressRefused, config_refusal

ALLOW_LOOPBACK = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a link-local address"),  # cloud metadata
        ("100.64.0.1", "a non-public address"),  # carrier-grade NAT
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("::1", "a loopback address"),
        ("fe80::1", "a link-local address"),
        ("fd12:3456::1", "a private address"),
        ("::", "an unspecified address"),
        ("::ffff:127.0.0.1", "which carries 127.0.0.1, a loopback address"),
        ("::ffff:169.254.169.254", "which carries 169.254.169.254, a link-local address"),
        ("2002:a00:1::1", "which carries 10.0.0.1, a private address"),  # 6to4
        ("64:ff9b::a9fe:a9fe", "which carries 169.254.169.254, a link-local address"),  # NAT64
    ],
)
def test_non_public_addresses_are_refused_with_the_reason(address, kind):
    with pytest.raises(AddressRefused) as refused:
        AddressPolicy().check(address, [address])
    assert kind in str(refused.value)
    assert "webhook_allow_networks" in str(refused.value)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_pass(address):
    assert AddressPolicy().check(address, [address]) == [ipaddress.ip_address(address)]


@pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1"])
def test_a_listed_network_is_allowed_however_its_address_is_written(address):
    assert ALLOW_LOOPBACK.check(address, [address])


def test_a_listed_network_allows_nothing_else():
    with pytest.raises(AddressRefused, match=re.escape("10.0.0.1, a private address")):
        ALLOW_LOOPBACK.check("10.0.0.1", ["10.0.0.1"])


def test_one_private_address_among_public_ones_refuses_the_name():
    with pytest.raises(AddressRefused, match=re.escape("hooks.example.com resolves to 10.0.0.7")):
        AddressPolicy().check("hooks.example.com", ["93.184.216.34", "10.0.0.7"])


def test_the_config_check_resolves_names_and_reads_literals():
    assert "loopback" in (config_refusal("http://localhost:9000/hook", AddressPolicy()) or "")
    assert "loopback" in (config_refusal("http://[::1]:9000/hook", AddressPolicy()) or "")
    assert config_refusal("http://127.0.0.1:9000/hook", ALLOW_LOOPBACK) is None
    # a name that does not resolve from here is checked at each delivery instead
    assert config_refusal("https://hooks.invalid/tocsin", AddressPolicy()) is None
