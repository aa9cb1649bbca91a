"""The one place that uses a private aiocoap API: adding our transport to a client context.

``aiocoap.Context.create_client_context(transports=[...])`` only knows aiocoap's own transport
names (``protocol.py``: ``if transportname == "udp6": ...``) and takes no transport object. Each
of them is added with ``Context._append_tokenmanaged_messagemanaged_transport(constructor)``,
which stacks a ``TokenManager`` and a ``MessageManager`` over the ``MessageInterface`` that
``constructor(message_manager)`` returns. We call it the same way. If aiocoap renames or
changes it, ``tests/coap/test_dtls_x509_aiocoap_hook.py`` fails and says so.
"""

from __future__ import annotations

import asyncio

from aiocoap import Context

from .client import X509Client
from .transport import DtlsX509Interface

__all__ = ["HOOK", "create_client_context"]

HOOK = "_append_tokenmanaged_messagemanaged_transport"


async def create_client_context(client: X509Client, *, loggername: str = "coap") -> Context:
    """An aiocoap client context whose only transport is coaps:// with ``client``'s certificates."""
    loop = asyncio.get_running_loop()
    context = Context(loop=loop, serversite=None, loggername=loggername)
    append = getattr(context, HOOK)
    await append(lambda mman: DtlsX509Interface.create_client_transport_endpoint(mman, context.log, loop, client))
    return context
