"""The backends' protocol table is the one list of wire protocols a manifest may name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.backends.registry import BACKENDS
from tests.backends.helpers import make_provider


@pytest.mark.parametrize("protocol", sorted(BACKENDS))
def test_every_backend_protocol_is_accepted_in_a_manifest(protocol: str) -> None:
    assert make_provider("p", protocol).protocol == protocol


def test_an_unknown_protocol_is_refused_naming_the_accepted_ones() -> None:
    with pytest.raises(ValidationError, match="unknown protocol 'grpc'; accepted: anthropic, ollama, openai"):
        make_provider("p", "grpc")
