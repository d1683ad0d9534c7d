"""Fast checks of the packaging files: systemd unit, agent installer, desktop entry, icons,
Dockerfile, compose file, the image's entry point and health check, and the PyInstaller parts.

The PyInstaller build itself is slow and lives in scripts/build_bundle + scripts/check_bundle.
"""

from __future__ import annotations

import http.server
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import time
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sttdesk.agent.main import build_parser as agent_parser
from sttdesk.protocol import DEFAULT_AGENT_PORT

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "packaging" / "linux"
DOCKER = REPO / "packaging" / "docker"
PYINSTALLER = REPO / "packaging" / "pyinstaller"
UNIT = LINUX / "sttdesk-agent.service"
INSTALLER = LINUX / "install-agent.sh"
DESKTOP = LINUX / "sttdesk.desktop"
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
STATE_DIR = "/var/lib/sttdesk-agent"

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("useradd") is None,
                                reason="creating users in a test root folder needs root and useradd")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


# --- systemd unit --------------------------------------------------------------------------


def unit_settings(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values...]}} of a systemd unit (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def systemd_root(tmp_path: Path, unit_text: str) -> Path:
    """A root folder holding the system's units, this unit and an executable at its ExecStart."""
    if not SYSTEM_UNITS.is_dir():
        pytest.skip(f"no systemd units in {SYSTEM_UNITS}")
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/sttdesk-agent.service").write_text(unit_text, encoding="utf-8")
    program = root / "opt/sttdesk/sttdesk-agent"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(0o755)
    return root


def verify_unit(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("systemd-analyze"), "verify", f"--root={root}", "sttdesk-agent.service"],
                          capture_output=True, text=True, timeout=60, check=False)


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    done = verify_unit(systemd_root(tmp_path, UNIT.read_text(encoding="utf-8")))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = UNIT.read_text(encoding="utf-8").replace("[Service]\n", "[Service]\nRestartt=always\n", 1)
    done = verify_unit(systemd_root(tmp_path, broken))
    assert "Restartt" in done.stderr


def test_unit_runs_hardened_as_an_unprivileged_user_with_its_state_in_var_lib() -> None:
    service = unit_settings(UNIT.read_text(encoding="utf-8"))["Service"]
    assert service["User"] == ["sttdesk"]
    assert service["Restart"] == ["on-failure"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                       "ProtectHome": "yes", "StandardError": "journal"}.items():
        assert service[key] == [value], key
    assert service["ReadWritePaths"] == [STATE_DIR]
    assert service["CapabilityBoundingSet"] == [""]
    # The engine child limits its own memory with setrlimit: @resources must stay allowed.
    assert not any("@resources" in f for f in service["SystemCallFilter"])
    exec_start = shlex.split(service["ExecStart"][0])
    assert exec_start[0] == "/opt/sttdesk/sttdesk-agent"
    assert exec_start[exec_start.index("--data-dir") + 1].startswith(STATE_DIR + "/")
    assert exec_start[exec_start.index("--models-dir") + 1].startswith(STATE_DIR + "/")


def test_unit_command_line_is_one_the_agent_accepts() -> None:
    service = unit_settings(UNIT.read_text(encoding="utf-8"))["Service"]
    args = [a for a in shlex.split(service["ExecStart"][0])[1:] if a != "$STTDESK_AGENT_ARGS"]
    parsed = agent_parser().parse_args(args)
    assert str(parsed.data_dir).startswith(STATE_DIR)
    assert parsed.port == DEFAULT_AGENT_PORT
    # The stop timeout leaves the agent its grace period to finish running chunks.
    stop_timeout = float(service["TimeoutStopSec"][0].rstrip("s"))
    assert stop_timeout > parsed.grace


# --- install-agent.sh ----------------------------------------------------------------------


@pytest.fixture
def target_root(tmp_path: Path) -> Path:
    """A root folder with the account files useradd edits (only root's own entries)."""
    root = tmp_path / "target"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        system = Path("/etc") / name
        lines = system.read_text(encoding="utf-8").splitlines() if system.exists() else []
        (root / "etc" / name).write_text("".join(f"{line}\n" for line in lines if line.startswith("root:")),
                                         encoding="utf-8")
    return root


@pytest.fixture
def fake_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    (bundle / "_internal").mkdir(parents=True)
    agent = bundle / "sttdesk-agent"
    agent.write_text('#!/bin/sh\necho "sttdesk-agent 9.8.7"\n', encoding="utf-8")
    agent.chmod(0o755)
    return bundle


@pytest.fixture
def models_folder(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text('{"default": "tiny", "models": {}}\n', encoding="utf-8")
    (models / "ggml-tiny.bin").write_bytes(os.urandom(4096))
    return models


def install(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALLER), *map(str, args)], capture_output=True, text=True,
                          timeout=60, check=False)


@needs_root
def test_installer_sets_up_user_program_state_and_unit_and_is_idempotent(
        target_root: Path, fake_bundle: Path, models_folder: Path) -> None:
    first = install("--root", target_root, "--bundle", fake_bundle, "--models", models_folder,
                    "--args", "--slots 2 --name lab-pc")
    assert first.returncode == 0, first.stderr
    assert "created the system user sttdesk" in first.stdout
    assert "installed sttdesk-agent 9.8.7 in /opt/sttdesk" in first.stdout

    account = [line for line in (target_root / "etc/passwd").read_text().splitlines() if line.startswith("sttdesk:")]
    assert len(account) == 1
    _, _, uid, gid, _, home, shell = account[0].split(":")
    assert int(uid) != 0 and home == STATE_DIR and shell.endswith("nologin")
    state = target_root / STATE_DIR.lstrip("/")
    for folder in (state, state / "data", state / "models"):
        info = folder.stat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (int(uid), int(gid), 0o750), folder
    model = state / "models" / "ggml-tiny.bin"
    assert model.read_bytes() == (models_folder / "ggml-tiny.bin").read_bytes()
    assert model.stat().st_uid == int(uid) and model.stat().st_mode & 0o777 == 0o640
    assert (target_root / "opt/sttdesk/sttdesk-agent").stat().st_uid == 0
    unit = target_root / "etc/systemd/system/sttdesk-agent.service"
    assert unit.read_text() == UNIT.read_text()
    defaults = (target_root / "etc/default/sttdesk-agent").read_text()
    assert 'STTDESK_AGENT_ARGS="--slots 2 --name lab-pc"' in defaults

    # Again, with a new program and no --args: one user, settings and models kept, nothing recopied.
    (fake_bundle / "sttdesk-agent").write_text('#!/bin/sh\necho "sttdesk-agent 9.8.8"\n')
    second = install("--root", target_root, "--bundle", fake_bundle, "--models", models_folder)
    assert second.returncode == 0, second.stderr
    assert "created the system user" not in second.stdout
    assert "copied model file" not in second.stdout
    assert "9.8.8" in second.stdout
    accounts = (target_root / "etc/passwd").read_text().splitlines()
    assert sum(line.startswith("sttdesk:") for line in accounts) == 1
    assert 'STTDESK_AGENT_ARGS="--slots 2 --name lab-pc"' in (target_root / "etc/default/sttdesk-agent").read_text()
    assert "9.8.8" in (target_root / "opt/sttdesk/sttdesk-agent").read_text()
    assert not (target_root / "opt/sttdesk.new").exists() and not (target_root / "opt/sttdesk.old").exists()

    removed = install("--root", target_root, "--uninstall", "--purge")
    assert removed.returncode == 0, removed.stderr
    assert not unit.exists() and not (target_root / "opt/sttdesk").exists() and not state.exists()
    assert "sttdesk:" not in (target_root / "etc/passwd").read_text()


@needs_root
def test_installed_unit_verifies_inside_the_installed_root(
        tmp_path: Path, target_root: Path, fake_bundle: Path) -> None:
    done = install("--root", target_root, "--bundle", fake_bundle)
    assert done.returncode == 0, done.stderr
    if not SYSTEM_UNITS.is_dir():
        pytest.skip(f"no systemd units in {SYSTEM_UNITS}")
    shutil.copytree(SYSTEM_UNITS, target_root / "usr/lib/systemd/system", symlinks=True)
    verified = verify_unit(target_root)
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr


@needs_root
@pytest.mark.parametrize(("case", "message"), [
    ("no-bundle", "no bundle at"),
    ("not-a-bundle", "has no sttdesk-agent program"),
    ("bad-models", "has no manifest.json"),
    ("bad-args", "--args cannot hold quotes"),
    ("unknown-option", "unknown option --colour"),
])
def test_installer_refuses_bad_input_clearly(tmp_path: Path, target_root: Path, fake_bundle: Path,
                                              case: str, message: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    args: list[str | Path] = {
        "no-bundle": ["--bundle", tmp_path / "missing"],
        "not-a-bundle": ["--bundle", empty],
        "bad-models": ["--bundle", fake_bundle, "--models", empty],
        "bad-args": ["--bundle", fake_bundle, "--args", '--name "x"'],
        "unknown-option": ["--colour"],
    }[case]
    done = install("--root", target_root, *args)
    assert done.returncode != 0
    assert message in done.stderr
    assert not (target_root / "opt/sttdesk").exists()


# --- desktop entry and icons ---------------------------------------------------------------


def desktop_entry() -> dict[str, str]:
    lines = DESKTOP.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line and not line.startswith("#"))


def test_desktop_file_validates() -> None:
    done = subprocess.run([tool("desktop-file-validate"), str(DESKTOP)], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_desktop_file_starts_the_bundled_app_with_dropped_files() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "sttdesk-gui %F"
    assert entry["TryExec"] == "sttdesk-gui"
    assert '"sttdesk-gui"' in (REPO / "sttdesk.spec").read_text(encoding="utf-8")
    assert entry["Icon"] == "sttdesk"
    mime_types = entry["MimeType"].rstrip(";").split(";")
    assert {"audio/mpeg", "audio/x-wav", "video/mp4", "video/x-matroska"} <= set(mime_types)
    assert "Comment[vi]" in entry


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_icon_exists_as_svg_and_in_every_png_size() -> None:
    svg = (LINUX / "icons" / "sttdesk.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and 'viewBox="0 0 256 256"' in svg
    sizes = sorted(int(p.parent.name.split("x")[0]) for p in (LINUX / "icons").glob("*x*/sttdesk.png"))
    assert sizes == [16, 32, 48, 64, 128, 256, 512]
    for size in sizes:
        assert png_size(LINUX / "icons" / f"{size}x{size}" / "sttdesk.png") == (size, size)


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile_stages() -> list[tuple[str, str, list[str]]]:
    """[(base, name, instructions)] per stage; continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            words = line.split()
            name = words[3] if len(words) > 3 and words[2].upper() == "AS" else ""
            stages.append((words[1], name, []))
        elif stages:
            stages[-1][2].append(line)
    return stages


def stage(name: str) -> list[str]:
    for _, stage_name, instructions in dockerfile_stages():
        if stage_name == name:
            return instructions
    raise AssertionError(f"no stage {name!r} in the Dockerfile")


def test_dockerfile_is_multi_stage_and_the_default_target_is_the_runtime() -> None:
    stages = dockerfile_stages()
    names = [name for _, name, _ in stages]
    assert {"builder", "runtime", "model-installer"} <= set(names)
    assert stages[-1][0] == "runtime"  # `docker build .` gives the runtime image
    assert any("pip wheel" in i for i in stage("builder"))
    runtime = " ".join(stage("runtime"))
    assert "from=builder" in runtime and "--no-index" in runtime
    assert "build-essential" not in runtime and "cmake" not in runtime


def test_dockerfile_runtime_is_slim_non_root_with_ffmpeg_and_a_health_check() -> None:
    runtime = stage("runtime")
    assert any(base.startswith("python:") and "slim" in base for base, name, _ in dockerfile_stages()
               if name == "runtime")
    users = [i.split()[1] for i in runtime if i.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any("ffmpeg" in i and "--no-install-recommends" in i for i in runtime)
    health = [i for i in runtime if i.startswith("HEALTHCHECK ")]
    assert len(health) == 1 and "sttdesk-healthcheck" in health[0]
    assert f"EXPOSE {DEFAULT_AGENT_PORT}" in runtime
    entrypoint = [i for i in runtime if i.startswith("ENTRYPOINT ")]
    assert entrypoint and "tini" in entrypoint[0] and "sttdesk-entrypoint" in entrypoint[0]
    model_users = [i.split()[1] for i in stage("model-installer") if i.startswith("USER ")]
    assert model_users[-1] not in ("root", "0")


def test_dockerfile_copies_only_files_that_exist_and_the_build_context_keeps() -> None:
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*"
    kept = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    sources = []
    for _, _, instructions in dockerfile_stages():
        for instruction in instructions:
            if instruction.startswith("COPY ") and "--from=" not in instruction:
                words = [w for w in instruction.split()[1:] if not w.startswith("--")]
                sources += words[:-1]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert any(source == k or source.startswith(k + "/") for k in kept), f"{source} is not in the build context"


# --- docker-compose.yml --------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_runs_a_server_and_scalable_agents_sharing_the_models_volume() -> None:
    services = compose()["services"]
    assert {"server", "agent", "models"} <= set(services)
    agent, server, models = services["agent"], services["server"], services["models"]
    # --scale agent=N needs no fixed name and no fixed host port.
    assert "container_name" not in agent and "ports" not in agent
    assert agent["command"][0] == "agent"
    assert server["command"][0] == "serve" and "--agents" in server["command"]
    assert server["environment"]["STTDESK_AGENT_SERVICE"] == f"agent:{DEFAULT_AGENT_PORT}"
    models_dir = re.search(r"STTDESK_MODELS_DIR=(\S+)", DOCKERFILE.read_text()).group(1)
    for service in (agent, server, models):
        assert any(v.split(":")[:2] == ["models", models_dir] for v in service["volumes"])
    assert agent["depends_on"]["models"]["condition"] == "service_completed_successfully"
    assert server["depends_on"]["agent"]["condition"] == "service_healthy"
    assert models["build"]["target"] == "model-installer"
    assert {"models", "server-data"} <= set(compose()["volumes"])


def test_compose_file_passes_docker_compose_config() -> None:
    if shutil.which("docker-compose"):
        command = ["docker-compose", "-f", str(COMPOSE), "config", "--quiet"]
    elif shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True,
                                                   check=False).returncode == 0:
        command = ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"]
    else:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr


# --- the image's entry point and health check ----------------------------------------------


@pytest.fixture
def stub_programs(tmp_path: Path) -> Path:
    """sttdesk and sttdesk-agent stand-ins that print the command line they were given."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("sttdesk", "sttdesk-agent"):
        stub = folder / name
        stub.write_text(f'#!/bin/sh\necho {name} "$@"\n', encoding="utf-8")
        stub.chmod(0o755)
    return folder


def entrypoint(stubs: Path, *args: str, **env: str) -> str:
    done = subprocess.run(
        ["sh", str(DOCKER / "entrypoint.sh"), *args], capture_output=True, text=True, timeout=30, check=True,
        env={"PATH": f"{stubs}:/usr/bin:/bin", "STTDESK_HOME": "/var/lib/sttdesk",
             "STTDESK_MODELS_DIR": "/var/lib/sttdesk/models", **env},
    )
    return done.stdout.strip()


def test_entrypoint_runs_the_agent_by_default_with_its_folders(stub_programs: Path) -> None:
    assert entrypoint(stub_programs) == ("sttdesk-agent --port 7878 --data-dir /var/lib/sttdesk/agent "
                                         "--models-dir /var/lib/sttdesk/models")
    assert entrypoint(stub_programs, "agent", "--slots", "2", STTDESK_AGENT_PORT="9000").endswith(
        "--port 9000 --data-dir /var/lib/sttdesk/agent --models-dir /var/lib/sttdesk/models --slots 2")


def test_entrypoint_serve_connects_to_every_address_of_the_agent_service(stub_programs: Path) -> None:
    assert entrypoint(stub_programs, "serve", "--agents", "0", STTDESK_AGENT_SERVICE="localhost:7878") == \
        "sttdesk serve --agents 0 --agent 127.0.0.1:7878"
    assert entrypoint(stub_programs, "serve") == "sttdesk serve"


def test_entrypoint_runs_other_commands_as_given(stub_programs: Path) -> None:
    assert entrypoint(stub_programs, "sttdesk", "models", "list") == "sttdesk models list"


def healthcheck(*args: str, **env: str) -> int:
    return subprocess.run([sys.executable, str(DOCKER / "healthcheck.py"), *args], capture_output=True,
                          timeout=30, check=False, env={"PATH": os.environ["PATH"], **env}).returncode


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_healthcheck_tcp_is_healthy_only_while_the_port_answers(listening_port: int) -> None:
    assert healthcheck(STTDESK_AGENT_PORT=str(listening_port)) == 0
    assert healthcheck("--tcp", f"127.0.0.1:{listening_port}") == 0
    assert healthcheck("--tcp", f"127.0.0.1:{free_port()}") == 1
    assert healthcheck("--tcp", "no-port-here") == 1


def test_healthcheck_http_follows_the_status_code() -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert healthcheck("--http", f"{base}/health") == 0
        assert healthcheck("--http", f"{base}/down") == 1
    finally:
        server.shutdown()
        server.server_close()


# --- PyInstaller parts ---------------------------------------------------------------------


def test_spec_names_entry_scripts_and_data_files_that_exist() -> None:
    spec = (REPO / "sttdesk.spec").read_text(encoding="utf-8")
    compile(spec, "sttdesk.spec", "exec")
    scripts = re.findall(r'analyse\("([^"]+)"', spec)
    assert {"sttdesk_cli.py", "sttdesk_agent.py", "sttdesk_engine.py", "sttdesk_gui.py"} <= set(scripts)
    for script in scripts:
        assert (PYINSTALLER / script).is_file(), script
    assert (REPO / "sttdesk/engine/data/catalog.json").is_file()
    assert '"sttdesk/engine/data"' in spec
    assert (PYINSTALLER / "rthook_child_environment.py").is_file()


@pytest.mark.parametrize(("script", "module", "function"), [
    ("sttdesk_cli.py", "sttdesk.cli.main", "main"),
    ("sttdesk_agent.py", "sttdesk.agent.main", "main"),
    ("sttdesk_engine.py", "sttdesk.engine.process", "child_main"),
    ("sttdesk_gui.py", "sttdesk.gui.app", "main"),
])
def test_entry_scripts_call_functions_that_exist(script: str, module: str, function: str) -> None:
    text = (PYINSTALLER / script).read_text(encoding="utf-8")
    assert f"from {module} import {function}" in text
    if module.startswith("sttdesk.gui"):
        pytest.importorskip("PySide6")
    imported = __import__(module, fromlist=[function])
    assert callable(getattr(imported, function))


def test_engine_entry_refuses_to_run_by_hand() -> None:
    done = subprocess.run([sys.executable, str(PYINSTALLER / "sttdesk_engine.py")], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "not meant to be started by hand" in done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bootloader sets LD_LIBRARY_PATH on Linux only")
@pytest.mark.parametrize(("before", "after"), [
    ({"LD_LIBRARY_PATH": "/bundle/_internal:/opt/lib", "LD_LIBRARY_PATH_ORIG": "/opt/lib"}, "/opt/lib"),
    ({"LD_LIBRARY_PATH": "/bundle/_internal"}, None),
])
def test_runtime_hook_gives_children_the_users_library_path(before: dict[str, str], after: str | None) -> None:
    probe = (f"import runpy, os; runpy.run_path({str(PYINSTALLER / 'rthook_child_environment.py')!r}); "
             "print(os.environ.get('LD_LIBRARY_PATH', '<unset>'), os.environ.get('LD_LIBRARY_PATH_ORIG', '<unset>'))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True,
                          env={"PATH": os.environ["PATH"], **before})
    library_path, original = done.stdout.split()
    assert library_path == (after or "<unset>")
    assert original == "<unset>"


@pytest.fixture
def keyed_stubs(tmp_path: Path) -> Path:
    """sttdesk and sttdesk-agent stand-ins that print a public key for 'key' and log every call."""
    folder = tmp_path / "keyed-bin"
    folder.mkdir()
    for name, key in (("sttdesk", "SERVER-KEY"), ("sttdesk-agent", "AGENT-KEY")):
        stub = folder / name
        stub.write_text(
            "#!/bin/sh\n"
            f'echo {name} "$@" >>"$STUB_LOG"\n'
            'case "$*" in\n'
            f'    "agents key"|key*) echo "public key:  {key}"; echo "fingerprint: 0000" ;;\n'
            f'    *) echo {name} "$@" ;;\n'
            "esac\n", encoding="utf-8")
        stub.chmod(0o755)
    return folder


def test_compose_containers_trust_each_other_through_the_shared_keys_folder(keyed_stubs: Path,
                                                                            tmp_path: Path) -> None:
    shared, calls = tmp_path / "cluster-keys", tmp_path / "calls.log"
    address = subprocess.run(["hostname", "-i"], capture_output=True, text=True, check=True).stdout.split()[0]
    # An agent publishes its key under its address, and trusts the server's once it is there.
    # (stderr not captured: the agent's helper that waits for the server's key keeps it open)
    started = subprocess.run(
        ["sh", str(DOCKER / "entrypoint.sh"), "agent"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, timeout=30, check=True,
        env={"PATH": f"{keyed_stubs}:/usr/bin:/bin", "STTDESK_HOME": "/var/lib/sttdesk",
             "STTDESK_MODELS_DIR": "/var/lib/sttdesk/models", "STTDESK_CLUSTER_KEYS": str(shared),
             "STUB_LOG": str(calls), "STTDESK_CLUSTER_KEYS_WAIT": "30"},
    ).stdout.strip()
    assert started.startswith("sttdesk-agent --port 7878 --data-dir /var/lib/sttdesk/agent")
    assert (shared / "agents" / f"{address}.pub").read_text() == "AGENT-KEY\n"
    # The server publishes its key, trusts the agent's for its address, and connects to it.
    served = entrypoint(keyed_stubs, "serve", "--agents", "0", STTDESK_CLUSTER_KEYS=str(shared),
                        STUB_LOG=str(calls), STTDESK_AGENT_SERVICE=f"{address}:7878")
    assert served == f"sttdesk serve --agents 0 --agent {address}:7878"
    assert (shared / "coordinator.pub").read_text() == "SERVER-KEY\n"
    deadline = time.monotonic() + 30
    while "sttdesk-agent trust" not in calls.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    log = calls.read_text()
    assert (f"sttdesk agents trust --address {address}:7878 --name compose agent {address} "
            f"{shared}/agents/{address}.pub") in log
    assert f"sttdesk-agent trust --data-dir /var/lib/sttdesk/agent --name compose server {shared}/coordinator.pub" \
        in log
