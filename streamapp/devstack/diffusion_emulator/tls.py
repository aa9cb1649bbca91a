"""The emulator's wss:// listener: a server SSL context from a PEM certificate chain and key.

Kept apart from the protocol modules: TLS changes nothing in the Diffusion protocol, it only wraps
the WebSocket's TCP connection.
"""

from __future__ import annotations

import ssl

__all__ = ["server_context"]


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """TLS 1.2+ server context; ``ValueError`` naming the files when they cannot be used."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except FileNotFoundError as exc:
        raise ValueError(
            f"TLS certificate '{cert_file}' or key '{key_file}': {exc.strerror}: '{exc.filename}'"
        ) from None
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"TLS certificate '{cert_file}' and key '{key_file}' cannot be used: {getattr(exc, 'reason', None) or exc} "
            "(PEM certificate chain, server certificate first, and its unencrypted PEM private key)"
        ) from None
    return context
