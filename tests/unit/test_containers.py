"""The container files, checked without Docker (none is needed to run these tests).

- web.Dockerfile and worker.Dockerfile pass hadolint with no finding at all;
- compose.yaml is valid against the vendored Compose JSON schema, and that validator is shown to reject
  a broken file (so a pass means something);
- the vendored schema is the project's shared copy;
- the commands the images and compose.yaml run are the Procfile's, so ./dev and the containers run the same
  processes.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from gunicorn.config import Config as GunicornConfig

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = ("web.Dockerfile", "worker.Dockerfile")
COMPOSE = ROOT / "compose.yaml"
SCHEMA = ROOT / "tests" / "schemas" / "compose-spec.json"
# The project's shared copy, beside the checkout (…/main and …/shared) on machines that have it.
SHARED_SCHEMA = ROOT.parent / "shared" / "schemas" / "compose-spec.json"


def _tool(name: str) -> str:
    """An executable of the test extra: beside this interpreter (a virtualenv not on PATH) or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; it comes with the test extra: pip install -c constraints.txt -e '.[test]'")
    return found


def _instructions(path: Path) -> list[tuple[str, str]]:
    """A Dockerfile's (INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, f"{path.name} ends inside a continuation line"
    return instructions


def _cmd(path: Path) -> list[str]:
    """The image's default command; it must be exec (JSON) form so that the process is PID 1 and gets the signals."""
    cmds = [arguments for keyword, arguments in _instructions(path) if keyword == "CMD"]
    assert cmds, f"{path.name} has no CMD"
    argv = json.loads(cmds[-1])
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), f"{path.name}: CMD is not in exec form"
    return argv


def _procfile() -> dict[str, list[str]]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        processes[name.strip()] = shlex.split(command)
    return processes


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _gunicorn_app(argv: list[str]) -> str:
    """The application gunicorn serves, parsed by gunicorn's own argument parser."""
    assert argv[0] == "gunicorn", argv
    positional = GunicornConfig().parser().parse_args(argv[1:]).args
    assert len(positional) == 1, argv
    return positional[0]


def _celery_app(argv: list[str]) -> str:
    """The value of celery's --app (-A) option."""
    assert argv[0] == "celery", argv
    for i, arg in enumerate(argv):
        if arg in ("--app", "-A"):
            return argv[i + 1]
        if arg.startswith("--app="):
            return arg.partition("=")[2]
    raise AssertionError(f"no --app in {argv}")


def _validate(compose_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(compose_file)],
        capture_output=True, text=True, timeout=120,
    )


# (a) hadolint


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_has_no_hadolint_finding(name, tmp_path):
    # An explicit configuration, so neither a developer's ~/.config/hadolint.yaml nor HADOLINT_* variables
    # can relax the check: every finding fails; only an inline `# hadolint ignore=` comment can waive one.
    config = tmp_path / "hadolint.yaml"
    config.write_text("failure-threshold: style\nno-color: true\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    result = subprocess.run(
        [_tool("hadolint"), "--config", str(config), name],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_dockerfiles_share_base_and_install():
    """The two images are built the same way (but for the extras they install); only what follows the install differs."""
    def build_steps(name):
        steps = [(k, a) for k, a in _instructions(ROOT / name) if k != "ARG"]
        last_install = max(i for i, (k, a) in enumerate(steps) if k == "RUN" and "pip install" in a)
        return steps[: last_install + 1]

    web, worker = (build_steps(name) for name in DOCKERFILES)
    assert web == worker


# (b) and (e) the Compose schema


def test_compose_file_is_valid():
    result = _validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("break_it", "complaint"),
    [
        (lambda c: c["services"]["web"].__setitem__("ports", "nope"), "ports"),
        (lambda c: c.__setitem__("servics", {}), "servics"),
    ],
    ids=["ports-not-a-list", "unknown-top-level-key"],
)
def test_validator_rejects_a_broken_compose_file(break_it, complaint, tmp_path):
    """Proves the validation above can fail: the same command rejects a broken copy of compose.yaml."""
    compose = _compose()
    break_it(compose)
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(compose, sort_keys=False))
    result = _validate(broken)
    assert result.returncode != 0, result.stdout + result.stderr
    assert complaint in result.stdout + result.stderr


# (c) the vendored schema


def test_vendored_schema_is_the_shared_one():
    """The vendored copy is a Compose schema; and it is byte-identical to ../shared/schemas/compose-spec.json.

    That shared copy exists only beside the project's own checkout, so the comparison is made only when it is
    there (on other machines this test still checks the vendored file, and never skips).
    """
    schema = json.loads(SCHEMA.read_text())
    assert schema["title"] == "Compose Specification"
    assert "services" in schema["properties"]
    if SHARED_SCHEMA.is_file():
        assert SCHEMA.read_bytes() == SHARED_SCHEMA.read_bytes(), (
            f"{SCHEMA.relative_to(ROOT)} differs from {SHARED_SCHEMA}: copy it again (see tests/schemas/README.md)"
        )


# (d) the containers run the Procfile's processes


def test_web_image_runs_the_procfile_web_process():
    procfile, cmd = _procfile()["web"], _cmd(ROOT / "web.Dockerfile")
    assert _gunicorn_app(cmd) == _gunicorn_app(procfile)
    assert cmd == procfile


def test_worker_image_runs_the_procfile_worker_process():
    procfile, cmd = _procfile()["worker"], _cmd(ROOT / "worker.Dockerfile")
    assert _celery_app(cmd) == _celery_app(procfile)
    assert cmd == procfile


def test_compose_beat_runs_the_procfile_beat_process():
    procfile, services = _procfile()["beat"], _compose()["services"]
    command = services["beat"]["command"]
    command = shlex.split(command) if isinstance(command, str) else command
    assert _celery_app(command) == _celery_app(procfile)
    assert command == procfile
    # Beat runs the workers' image, so it has the same code and celery app.
    assert services["beat"]["build"] == services["worker-ingest"]["build"]
    assert services["beat"]["image"] == services["worker-ingest"]["image"]


WORKER_KINDS = ("worker-ingest", "worker-agents", "worker-interactive")


def test_compose_runs_a_worker_per_queue_as_the_procfile_does():
    """One service per queue (queues by kind), each the Procfile's line of the same name, on the worker
    image; the web uses its image's command (checked above against the Procfile)."""
    procfile, services = _procfile(), _compose()["services"]
    assert services["web"]["build"]["dockerfile"] == "web.Dockerfile"
    assert "command" not in services["web"] and "entrypoint" not in services["web"]
    assert "worker" not in services  # the all-queues worker is the image's own command, for a lone container
    for name in WORKER_KINDS:
        service = services[name]
        assert service["build"]["dockerfile"] == "worker.Dockerfile", name
        assert service["command"] == procfile[name], name
        # Several of a kind may run (--scale worker-ingest=3), which a fixed container name would forbid.
        assert "container_name" not in service, name


# (f) what operators rely on


def test_every_long_running_service_has_a_healthcheck_and_a_restart_policy():
    services = _compose()["services"]
    for name, service in services.items():
        if service.get("restart") == "no" and name == "migrate":
            continue  # a one-shot: compose waits for it to complete, not to be healthy
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
        assert service.get("restart") in ("unless-stopped", "always", "no"), name
    assert {"postgres", "redis", "web", *WORKER_KINDS, "beat", "flower", "agents", "demo"} <= set(services)
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in WORKER_KINDS:
        kind = name.removeprefix("worker-")
        assert "inspect ping" in services[name]["healthcheck"]["test"][1]
        assert f"{kind}@$$HOSTNAME" in services[name]["healthcheck"]["test"][1]  # its own node, not any
        assert f"{kind}@%h" in services[name]["command"]


def test_the_worker_shuts_down_warm_and_redis_keeps_what_it_is_given():
    services = _compose()["services"]
    for name in WORKER_KINDS:
        assert services[name]["stop_signal"] == "SIGTERM"  # Celery's warm shutdown
        assert int(services[name]["stop_grace_period"].rstrip("s")) >= 30
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    assert any("/var/lib/postgresql/data" in v for v in services["postgres"]["volumes"])


def test_flower_and_the_demo_run_from_the_worker_image():
    import tomllib

    services = _compose()["services"]
    for name in ("flower", "agents", "demo"):
        assert services[name]["image"] == services["worker-ingest"]["image"], name
    assert services["agents"]["profiles"] == ["demo"] and services["demo"]["profiles"] == ["demo"]
    assert "flower" in services["flower"]["command"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["flower"] == ["flower==" + _pinned("flower")]
    args = [a for k, a in _instructions(ROOT / "worker.Dockerfile") if k == "ARG" and a.startswith("EXTRAS=")]
    assert args and "flower" in args[0].split("=", 1)[1].strip('"').split()


def _pinned(name: str) -> str:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(name.lower() + "=="):
            return line.split("==", 1)[1]
    raise AssertionError(f"{name} is not pinned in constraints.txt")


def test_compose_holds_no_secret_and_publishes_only_the_front_on_loopback():
    """Issue 20: secrets come from the environment (compose refuses to start without them), gunicorn is
    reachable only through the nginx front (deploy/nginx.conf), and nothing listens beyond 127.0.0.1."""
    services, text = _compose()["services"], COMPOSE.read_text()
    env = services["migrate"]["environment"]
    for name in ("MEDIABUY_SECRETS_KEY", "MEDIABUY_PUBLIC_BASE_URL"):
        assert env[name].startswith("${" + name + ":?"), name
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert env["MEDIABUY_ADMIN_TOKEN"] == "${MEDIABUY_ADMIN_TOKEN:-}"
    assert "ports" not in services["web"]
    assert services["front"]["volumes"] == ["./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"]
    published = [port for service in services.values() for port in service.get("ports", [])]
    assert published and all(port.startswith("127.0.0.1:") for port in published), published
    assert "mediabuy-dev" not in text
