"""Ports: free ones are distinct; a taken one is a clear exit-3 error naming the service."""
from __future__ import annotations

import socket

import pytest

from stack.ports import PortInUse, free_ports, is_free, is_listening, require_free


def test_free_ports_are_distinct_and_free() -> None:
    found = free_ports(5)
    assert len(set(found)) == 5
    assert all(is_free(port) for port in found)


def test_a_taken_port_names_the_service() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not is_free(port)
        assert is_listening(port)
        with pytest.raises(PortInUse) as caught:
            require_free("proxy", port, wait=0.3)
    assert f"proxy: port 127.0.0.1:{port} is already in use" in str(caught.value)
    assert caught.value.exit_status == 3
