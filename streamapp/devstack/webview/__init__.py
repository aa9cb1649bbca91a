"""The dev stack's web view: the Diffusion topic tree, live, with a form to set values, and the connectors.

``streamapp dev`` serves it (printed in its banner as "Web view"). The page runs the official
Diffusion JavaScript client's browser bundle, from the npm package ``scripts/setup.sh`` installs,
against the dev stack's Diffusion server, and reads the worker's Kafka Connect REST API through
this server.

* ``client_bundle``  where the npm ``diffusion`` package is installed
* ``server``         the aiohttp server: page, bundle, config, connector status
* ``static/``        the page (HTML, CSS, plain JavaScript)
"""

from __future__ import annotations

from .server import WebView

__all__ = ["WebView"]
