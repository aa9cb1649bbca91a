"""Apache Kafka's broker jars from Maven Central, resolved once with Maven and cached.

The broker is the official ``org.apache.kafka:kafka_2.13`` artifact and its runtime
dependencies, plus the logging backend the distribution adds itself (it is not in the pom):
Log4j 2 behind the SLF4J 1.7 binding for 4.x, reload4j for 3.x. Maven does the resolution (a
well-kept resolver of Maven Central's dependency graph; nothing here guesses versions), into
``~/.cache/streamapp/kafka-<version>/`` (or ``$STREAMAPP_CACHE_DIR``). A cached version is used
without calling Maven at all, so a second run downloads nothing and works offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from streamapp.errors import StreamAppError

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "COMPAT_KAFKA_VERSION",
    "KafkaJars",
    "KafkaJarsMissing",
    "cache_root",
    "kafka_jars",
]

#: The newest Apache Kafka served on Maven Central when this was written; the suite's default broker.
DEFAULT_KAFKA_VERSION = "4.4.0"
#: The last 3.x line, for the compatibility set.
COMPAT_KAFKA_VERSION = "3.9.2"

_MARKER = "complete"  # written last: a cache directory without it is an interrupted download
_LOG4J2_VERSION = "2.25.3"
_RELOAD4J_BINDING = ("org.slf4j", "slf4j-reload4j", "1.7.36")


class KafkaJarsMissing(StreamAppError):
    """The jars are not cached and could not be resolved (no Maven, no network, unknown version)."""


@dataclass(frozen=True)
class KafkaJars:
    version: str
    directory: Path

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def classpath(self) -> str:
        return os.pathsep.join(str(p) for p in sorted(self.directory.glob("*.jar")))

    @property
    def log4j2(self) -> bool:
        """True when the broker logs through Log4j 2 (4.x), False for reload4j (3.x)."""
        return self.major >= 4


def cache_root() -> Path:
    explicit = os.environ.get("STREAMAPP_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "streamapp"


def _cached(version: str) -> KafkaJars | None:
    directory = cache_root() / f"kafka-{version}"
    marker = directory / _MARKER
    if not marker.is_file():
        return None
    names = marker.read_text(encoding="utf-8").split()
    if not names or not all((directory / name).is_file() for name in names):
        return None
    return KafkaJars(version, directory)


def _pom(version: str) -> str:
    deps = [("org.apache.kafka", "kafka_2.13", version)]
    if int(version.split(".")[0]) >= 4:
        deps += [
            ("org.apache.logging.log4j", "log4j-core", _LOG4J2_VERSION),
            ("org.apache.logging.log4j", "log4j-slf4j-impl", _LOG4J2_VERSION),  # Kafka uses SLF4J 1.7
        ]
    else:
        deps.append(_RELOAD4J_BINDING)
    items = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streamapp.devstack</groupId>
  <artifactId>kafka-broker-{version}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{items}
  </dependencies>
</project>
"""


def kafka_jars(version: str = DEFAULT_KAFKA_VERSION, *, echo=None) -> KafkaJars:
    """The broker jars of ``version``: from the cache, else resolved with Maven into the cache.

    ``echo`` (a callable taking one line) is told when a download starts, since it takes a while.
    """
    cached = _cached(version)
    if cached is not None:
        return cached
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaJarsMissing(
            f"Apache Kafka {version} is not cached in {cache_root()} and Maven is not installed: "
            "run scripts/setup.sh (it installs a JDK and Maven), or apt-get install maven"
        )
    target = cache_root() / f"kafka-{version}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if echo is not None:
        echo(f"resolving Apache Kafka {version} from Maven Central into {target} (once; about 45 MB)")
    with tempfile.TemporaryDirectory(prefix=f"kafka-{version}-", dir=target.parent) as work:
        pom = Path(work) / "pom.xml"
        pom.write_text(_pom(version), encoding="utf-8")
        staging = Path(work) / "lib"
        result = subprocess.run(
            [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise KafkaJarsMissing(
                f"Maven could not resolve org.apache.kafka:kafka_2.13:{version} (exit {result.returncode}); "
                f"is the version served on Maven Central, and is it reachable?\n{tail}"
            )
        names = sorted(p.name for p in staging.glob("*.jar"))
        if not any(n.startswith(f"kafka_2.13-{version}") for n in names):
            raise KafkaJarsMissing(f"Maven resolved no kafka_2.13-{version} jar into {staging}")
        (staging / _MARKER).write_text("\n".join(names) + "\n", encoding="utf-8")
        if target.exists():  # an interrupted earlier download
            shutil.rmtree(target)
        staging.rename(target)
    return KafkaJars(version, target)
