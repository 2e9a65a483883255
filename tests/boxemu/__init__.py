"""A Box API emulator for tests: the endpoints the Box connector uses, per Box's OpenAPI description."""

from tests.boxemu.server import BoxEmulator
from tests.boxemu.state import RecordedRequest

__all__ = ["BoxEmulator", "RecordedRequest"]
