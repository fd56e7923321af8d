"""Which addresses a process tree's sockets use, read from /proc per process.

Test traffic must stay on 127.0.0.0/8 (docs/clusters.md, "The project's own cluster
tests"). ``psutil.net_connections`` reads the caller's network namespace only, so a
server inside a namespace the test created would look socket-free; this reads
``/proc/PID/net/tcp*`` of the process itself, which is the table of its namespace.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

LISTEN = "0A"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Socket:
    pid: int
    name: str
    local: str
    remote: str | None  # None for a listener
    namespace_only_loopback: bool

    def __str__(self) -> str:
        where = (
            f"listens on {self.local}" if self.remote is None else f"{self.local} -> {self.remote}"
        )
        return f"{self.name} (pid {self.pid}) {where}"


def _address(hex_address: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1]), int(port, 16)
    # IPv6 in /proc is four 32-bit words, each in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return ipaddress.IPv6Address(words), int(port, 16)


def is_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_wildcard(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_unspecified


def only_loopback_interfaces(pid: int) -> bool:
    """The network namespace of ``pid`` has no interface but ``lo``."""
    lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    return {line.split(":")[0].strip() for line in lines} <= {"lo"}


def sockets(pids: set[int]) -> list[Socket]:
    """Every TCP socket the processes ``pids`` hold (listeners and connections)."""
    found: list[Socket] = []
    for pid in pids:
        try:
            inodes = set()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except FileNotFoundError:
                    continue  # closed meanwhile (the listing's own descriptor, at least)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
            name = psutil.Process(pid).name()
            isolated = only_loopback_interfaces(pid)
            tables = [Path(f"/proc/{pid}/net/{table}") for table in ("tcp", "tcp6")]
            rows = [line.split() for table in tables for line in table.read_text().splitlines()[1:]]
        except (FileNotFoundError, ProcessLookupError, PermissionError, psutil.Error):
            continue  # the process ended meanwhile
        for row in rows:
            if row[9] not in inodes:
                continue
            local, local_port = _address(row[1])
            remote, remote_port = _address(row[2])
            found.append(
                Socket(
                    pid,
                    name,
                    f"{local}:{local_port}",
                    None if row[3] == LISTEN else f"{remote}:{remote_port}",
                    isolated,
                )
            )
    return found


def off_loopback(found: list[Socket]) -> list[Socket]:
    """Sockets that bind or connect beyond 127.0.0.0/8 (and ::1).

    A wildcard listener counts, unless its namespace has only ``lo``: there "every
    address" is loopback.
    """
    bad = []
    for socket in found:
        local = ipaddress.ip_address(socket.local.rpartition(":")[0])
        addresses = [local]
        if socket.remote is not None:
            addresses.append(ipaddress.ip_address(socket.remote.rpartition(":")[0]))
        for address in addresses:
            if is_loopback(address):
                continue
            if is_wildcard(address) and socket.namespace_only_loopback:
                continue
            bad.append(socket)
            break
    return bad


def tree(pid: int) -> set[int]:
    """``pid`` and every process below it."""
    try:
        root = psutil.Process(pid)
        return {pid, *(child.pid for child in root.children(recursive=True))}
    except psutil.NoSuchProcess:
        return set()
