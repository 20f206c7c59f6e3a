"""The public-address policy, shared by webhook deliveries and provider audio URLs."""

from __future__ import annotations

import ipaddress

import pytest

from common.net import AddressRefused, PublicAddressPolicy

POLICY = PublicAddressPolicy()


@pytest.mark.parametrize(
    "address",
    [
        # IPv4-mapped (::ffff:0:0/96) and SIIT's IPv4-translated (::ffff:0:0:0/96)
        "::ffff:127.0.0.1",
        "::ffff:a9fe:a9fe",
        "::ffff:0:a9fe:a9fe",
        "::ffff:0:10.0.0.1",
        # IPv4-compatible (::/96, deprecated)
        "::169.254.169.254",
        "::10.0.0.1",
        "::127.0.0.1",
        # NAT64, the well-known prefix (64:ff9b::/96) and the local-use one (64:ff9b:1::/48)
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::7f00:1",
        "64:ff9b::10.1.2.3",
        "64:ff9b:1::a9fe:a9fe",
        "64:ff9b:1:abcd::8.8.8.8",
        # 6to4 (2002::/16): the IPv4 address sits in bits 16-48
        "2002:a9fe:a9fe::1",
        "2002:7f00:1::",
        "2002:c0a8:101::1",
        # Teredo (2001::/32): a public server, an inward client
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # client 10.0.0.1, obfuscated
    ],
)
def test_ipv6_forms_that_carry_an_inward_ipv4_address_are_refused(address: str) -> None:
    assert not POLICY.address_allowed(ipaddress.ip_address(address))
    with pytest.raises(AddressRefused):
        PublicAddressPolicy(resolve={"hook.example": address}).checked_address("hook.example")


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::8.8.8.8",
        "2002:808:808::1",
    ],
)
def test_public_addresses_and_forms_that_carry_a_public_ipv4_are_allowed(address: str) -> None:
    assert POLICY.address_allowed(ipaddress.ip_address(address))


def test_an_allowed_network_still_lets_its_own_addresses_through() -> None:
    policy = PublicAddressPolicy(allow_networks=["127.0.0.0/8"])
    assert policy.address_allowed(ipaddress.ip_address("127.0.0.1"))
    assert policy.address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not policy.address_allowed(ipaddress.ip_address("10.0.0.1"))
