"""Magpie's Python SDK: product analytics for apps that act for one user at a time.

from magpie_sdk import Client

magpie = Client("phc_...", "http://127.0.0.1:8000", persistence="file")
magpie.capture("app_started")          # anonymous until identified
magpie.identify("user-42", set={"plan": "pro"})
"""

from magpie_sdk.client import Client
from magpie_sdk.state import PersonProfiles
from magpie_sdk.transport import Response, Transport, TransportError, UrllibTransport
from magpie_sdk.version import LIB_NAME, __version__

__all__ = [
    "LIB_NAME",
    "Client",
    "PersonProfiles",
    "Response",
    "Transport",
    "TransportError",
    "UrllibTransport",
    "__version__",
]
