"""Apache Kafka as a child process: one KRaft node (broker and controller), loopback, free ports.

The official broker (``kafka.Kafka`` from ``org.apache.kafka:kafka_2.13``, resolved by
:mod:`streamapp.devstack.kafka_jars`), with settings for a single node that make tests fast:
``group.initial.rebalance.delay.ms=0`` (a new group is assigned at once; Kafka's default waits
3 s), internal topics with one partition and one replica, short minimum session timeouts::

    async with ApacheKafkaBroker(port=9092) as broker:   # 4.4.0 unless version= says otherwise
        print(broker.bootstrap)

Data lives in a temporary directory removed on :meth:`stop` (pass ``data_dir`` to keep it).
:class:`KafkaSecurity` adds SSL (client certificates required), SASL_SSL and SASL_PLAINTEXT
listeners with PLAIN and SCRAM-SHA-512 users, for the security tests; the PLAINTEXT listener
stays for administration. Keys and certificates are PEM files (Kafka reads PEM stores itself
since 2.7), so no keytool is needed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .broker import BrokerProcess, BrokerProcessError
from .kafka_jars import DEFAULT_KAFKA_VERSION, KafkaJars, kafka_jars

__all__ = ["ApacheKafkaBroker", "JavaMissing", "KafkaSecurity", "java_binary"]

_HEAP = ["-Xms128m", "-Xmx512m"]
# One node on a small machine: the serial collector needs no GC threads, startup stays ~2 s.
_JVM = ["-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]
_FORMAT_TIMEOUT = 120.0


class JavaMissing(BrokerProcessError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Apache Kafka needs Java 17 or newer: {detail}. Run scripts/setup.sh (it installs a JDK), "
            "set JAVA_HOME, or use the Tansu engine (--engine tansu)",
            returncode=None,
            output_tail=[],
        )


def java_binary() -> str:
    """``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise JavaMissing("no java on PATH and JAVA_HOME is not set")
    return found


@dataclass(frozen=True)
class KafkaSecurity:
    """Secured listeners next to PLAINTEXT; ports must be free (they are advertised as given)."""

    keystore_pem: str  # the broker's private key (PKCS#8) and certificate chain, one PEM file
    truststore_pem: str  # CA certificates that sign client certificates (the SSL listener requires one)
    ssl_port: int
    sasl_ssl_port: int
    sasl_plaintext_port: int
    plain_users: dict[str, str] = field(default_factory=dict)
    scram_users: dict[str, str] = field(default_factory=dict)  # SCRAM-SHA-512
    keystore_password: str | None = None  # when the PEM key is encrypted

    @property
    def mechanisms(self) -> str:
        return "PLAIN,SCRAM-SHA-512"


def _cluster_id() -> str:
    # KRaft wants 16 random bytes in url-safe base64 without padding (22 characters). One in 64
    # starts with "-", which kafka-storage's argument parser takes for an option (Kafka's own
    # Uuid.randomUuid draws again in that case, as here).
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return cluster_id


def _jaas_plain(users: dict[str, str]) -> str:
    entries = " ".join(f'user_{name}="{password}"' for name, password in users.items())
    return f"org.apache.kafka.common.security.plain.PlainLoginModule required {entries};"


class ApacheKafkaBroker(BrokerProcess):
    """One Apache Kafka KRaft node; ``port`` is its PLAINTEXT listener."""

    engine = "Apache Kafka"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9092,
        *,
        version: str = DEFAULT_KAFKA_VERSION,
        controller_port: int | None = None,
        data_dir: str | None = None,
        security: KafkaSecurity | None = None,
        extra_config: dict[str, str] | None = None,
        echo=None,
        **kwargs,
    ) -> None:
        super().__init__(host, port, **kwargs)
        self._version = version
        self.controller_port = controller_port
        self.security = security
        self.extra_config = dict(extra_config or {})
        self._keep_data = data_dir is not None
        self._data_dir = Path(data_dir) if data_dir else None
        self._work: Path | None = None
        self._echo = echo

    @property
    def version(self) -> str:
        return self._version

    def _new_cluster_id(self) -> str:
        return _cluster_id()

    def server_properties(self, data_dir: Path) -> dict[str, str]:
        host, security = self.host, self.security
        listeners = {"PLAINTEXT": self.port}
        if security is not None:
            listeners.update(
                SSL=security.ssl_port, SASL_SSL=security.sasl_ssl_port, SASL_PLAINTEXT=security.sasl_plaintext_port
            )
        client = ",".join(f"{name}://{host}:{port}" for name, port in listeners.items())
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{self.controller_port}",
            "listeners": f"{client},CONTROLLER://{host}:{self.controller_port}",
            "advertised.listeners": client,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(f"{n}:{n}" for n in listeners) + ",CONTROLLER:PLAINTEXT",
            "log.dirs": str(data_dir),
            # Tests and the dev stack: a new group is assigned at once (Kafka waits 3 s by default).
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "1000",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "num.partitions": "1",
            "default.replication.factor": "1",
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        if int(self._version.split(".")[0]) >= 4:
            props["share.coordinator.state.topic.replication.factor"] = "1"
            props["share.coordinator.state.topic.min.isr"] = "1"
        if security is not None:
            props.update(
                {
                    "sasl.enabled.mechanisms": security.mechanisms,
                    "ssl.keystore.type": "PEM",
                    "ssl.keystore.location": security.keystore_pem,
                    "ssl.truststore.type": "PEM",
                    "ssl.truststore.location": security.truststore_pem,
                    "listener.name.ssl.ssl.client.auth": "required",
                }
            )
            if security.keystore_password:
                props["ssl.key.password"] = security.keystore_password
            for listener in ("sasl_ssl", "sasl_plaintext"):
                props[f"listener.name.{listener}.plain.sasl.jaas.config"] = _jaas_plain(security.plain_users)
                props[f"listener.name.{listener}.scram-sha-512.sasl.jaas.config"] = (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                )
        props.update(self.extra_config)
        return props

    def _logging(self, jars: KafkaJars, work: Path) -> list[str]:
        # Warnings and errors only, on stdout (the broker's output tail explains a failed start).
        if jars.log4j2:
            path = work / "log4j2.properties"
            path.write_text(
                "status = warn\n"
                "appender.out.type = Console\nappender.out.name = OUT\n"
                "appender.out.layout.type = PatternLayout\n"
                "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
                "rootLogger.level = WARN\nrootLogger.appenderRef.out.ref = OUT\n"
                "logger.server.name = kafka.server.KafkaRaftServer\nlogger.server.level = INFO\n",
                encoding="utf-8",
            )
            return [f"-Dlog4j2.configurationFile={path}"]
        path = work / "log4j.properties"
        path.write_text(
            "log4j.rootLogger=WARN, out\n"
            "log4j.appender.out=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka.server.KafkaRaftServer=INFO\n",
            encoding="utf-8",
        )
        return [f"-Dlog4j.configuration=file:{path}"]

    async def _prepare(self) -> tuple[list[str], dict[str, str]]:
        java = java_binary()
        jars = await asyncio.to_thread(kafka_jars, self._version, echo=self._echo)
        if self.controller_port is None:
            self.controller_port = _free_port(self.host)
        self._work = work = Path(tempfile.mkdtemp(prefix=f"kafka-{self._version}-"))
        data_dir = self._data_dir or work / "data"
        config = work / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self.server_properties(data_dir).items()), encoding="utf-8")
        base = [java, *_HEAP, *_JVM, *self._logging(jars, work), "-cp", jars.classpath]
        meta = data_dir / "meta.properties"
        if meta.is_file():  # a kept data directory: same cluster, no format
            self.cluster_id = _read_cluster_id(meta) or self.cluster_id
        else:
            await self._format(base, config)
        return [*base, "kafka.Kafka", str(config)], {}

    async def _format(self, base: list[str], config: Path) -> None:
        argv = [*base, "kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(config)]
        if self.security is not None:
            for name, password in self.security.scram_users.items():
                argv += ["--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]"]
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tempfile.gettempdir()
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), _FORMAT_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise BrokerProcessError("Kafka storage format timed out", returncode=None, output_tail=[]) from None
        if process.returncode != 0:
            lines = output.decode("utf-8", "replace").splitlines()[-30:]
            if self.security is not None:  # the SCRAM passwords are on the command line, never in errors
                for password in self.security.scram_users.values():
                    lines = [line.replace(password, "[hidden]") for line in lines]
            raise BrokerProcessError(
                f"Kafka storage format failed (exit {process.returncode})",
                returncode=process.returncode,
                output_tail=lines,
            )

    def _cleanup(self) -> None:
        work, self._work = self._work, None
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _read_cluster_id(meta: Path) -> str | None:
    for line in meta.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
