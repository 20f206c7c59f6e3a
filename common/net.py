"""Outbound requests to addresses a caller or a provider chose: only public ones.

A host is resolved once, every answer must be public (not loopback, private, link-local,
shared, reserved or multicast) unless its network is explicitly allowed, and the connection
goes to the address that was checked, keeping the host name for the Host header and TLS. So a
DNS answer that changes between the check and the connect cannot point the request inward.

An IPv6 address that carries an IPv4 one (mapped, translated, compatible, NAT64, 6to4, Teredo)
reaches that IPv4 host on a network that translates it, so the IPv4 address is what is judged.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes whose last 32 bits are an IPv4 address: SIIT's IPv4-translated addresses
# (RFC 2765), NAT64's well-known prefix (RFC 6052) and the deprecated IPv4-compatible form.
_EMBEDS_IPV4_IN_LOW_BITS = [
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::/96"),
]
# Local-use NAT64 (RFC 8215) may put the IPv4 address at any of several offsets: refused whole.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


class AddressRefused(Exception):
    pass


class PublicAddressPolicy:
    def __init__(
        self, *, resolve: dict[str, str] | None = None, allow_networks: Iterable[str] = ()
    ) -> None:
        self._resolve = {k.lower(): v for k, v in (resolve or {}).items()}
        self._allow_networks = [ipaddress.ip_network(n) for n in allow_networks]

    def checked_address(self, host: str) -> IPAddress:
        """The address to connect to for `host`, or AddressRefused."""
        answers = self._lookup(host)
        if not answers:
            raise AddressRefused(f"host {host!r} does not resolve")
        for address in answers:
            if not self.address_allowed(address):
                raise AddressRefused(f"host {host!r} resolves to a non-public address")
        return answers[0]

    def address_allowed(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address):
            if address in _LOCAL_NAT64:
                return False
            if embedded := _embedded_ipv4(address):
                return all(self.address_allowed(inner) for inner in embedded)
        if any(address in network for network in self._allow_networks):
            return True
        return address.is_global and not address.is_multicast

    def _lookup(self, host: str) -> list[IPAddress]:
        if host.lower() in self._resolve:
            return [ipaddress.ip_address(self._resolve[host.lower()])]
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
        except socket.gaierror:
            return []
        return [ipaddress.ip_address(info[4][0]) for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to where it is translated (none for plain IPv6)."""
    if address.ipv4_mapped:
        return [address.ipv4_mapped]
    if address.sixtofour:
        return [address.sixtofour]
    if address.teredo:
        return list(address.teredo)
    if address.packed[:12] != bytes(12) or int(address) > 1:  # :: and ::1 are IPv6's own
        for network in _EMBEDS_IPV4_IN_LOW_BITS:
            if address in network:
                return [ipaddress.IPv4Address(address.packed[-4:])]
    return []


def pinned(url: httpx.URL, address: IPAddress) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """(URL to the checked address, headers, extensions) that keep the host's name for the
    Host header and for TLS (SNI and certificate checks)."""
    return (
        url.copy_with(host=str(address)),
        {"Host": url.netloc.decode("ascii")},
        {"sni_hostname": url.host} if url.scheme == "https" else {},
    )
