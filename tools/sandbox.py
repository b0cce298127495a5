"""Run a submission's code confined by bubblewrap: its own home, namespaces and user, no network.

nbgrader runs each submission's code with the rights of whoever grades, so every grading kernel
and every outside check (tools/hidden_tests.py) starts through :func:`confined`. It builds a
`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, the sandbox Flatpak uses)
command line, chosen over hand-made namespace code because it is small, audited and packaged
everywhere (``apt-get install bubblewrap``):

- the whole file system read-only, with ``/tmp``, the grader's and everyone's homes, the course
  repository (but its ``helpers`` package), the submissions, ``graded/`` and every path the grader
  names covered by empty folders; the Python installation stays visible;
- one writable folder, the submission's own fresh home (plus, for a kernel, the folder of its
  connection sockets);
- its own PID namespace (nothing it starts outlives it: when the kernel ends, every process it
  left is killed), no network at all (the kernel talks to nbgrader over Unix sockets), its own
  IPC and host name, ``--die-with-parent``;
- run as root, an unprivileged user (``nobody`` unless ``COURSE_SANDBOX_USER`` says otherwise),
  with no new privileges; run as anyone else, a user namespace (the files are covered the same
  way, and the code runs with your own uid);
- a clean environment, and a limit on the size of the files it writes.

    python tools/sandbox.py kernel -f CONNECTION_FILE    # argv of the grading kernelspec
    python tools/sandbox.py probe [PATH ...]             # JSON: what can confined code read?

The grader configures a kernel through its environment: ``COURSE_SANDBOX_HOME`` (the private
home, made by the grader), ``COURSE_SANDBOX_HIDE`` (more paths to cover, ``os.pathsep``
separated) and ``COURSE_HAND_IN_DIR`` (where ``helpers.hand_in`` saves, inside the home).
"""

from __future__ import annotations

import json
import os
import pwd
import resource
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME_VARIABLE = "COURSE_SANDBOX_HOME"
HIDE_VARIABLE = "COURSE_SANDBOX_HIDE"
USER_VARIABLE = "COURSE_SANDBOX_USER"
HAND_IN_VARIABLE = "COURSE_HAND_IN_DIR"
KEPT_VARIABLES = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "OMP_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "MALLOC_ARENA_MAX",
    HAND_IN_VARIABLE,
)
MAX_FILE_BYTES = 1 << 30
TMP_BYTES = 512 << 20


class SandboxUnavailable(RuntimeError):
    """No way to confine a submission here; the message says what to install or do."""


def sandbox_user() -> pwd.struct_passwd:
    """The unprivileged user submissions run as when the grader is root."""
    name = os.environ.get(USER_VARIABLE, "nobody")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise SandboxUnavailable(
            f"{USER_VARIABLE}={name!r} is not a user on this machine; name an "
            "unprivileged user (the default is 'nobody')"
        ) from None


def needed_paths() -> list[Path]:
    """What confined code must still reach: the Python installation and the ``helpers`` package."""
    import helpers

    return sorted(
        {Path(p).resolve() for p in (sys.base_prefix, sys.prefix)} | {Path(helpers.__file__).resolve().parent}
    )


def covered_paths(extra: list[Path]) -> list[Path]:
    """What confined code must not see: the places secrets or other people's files live."""
    homes = {Path(pwd.getpwuid(uid).pw_dir) for uid in {0, os.geteuid()}}
    usual = [Path(p) for p in ("/tmp", "/var/tmp", "/home", "/root", "/srv", "/mnt", "/media", "/run/user")]
    return sorted(
        {p.resolve() for p in [*usual, *homes, ROOT, *extra] if p.exists()}, key=lambda p: (len(p.parts), str(p))
    )


def sandbox_environment(home: Path) -> dict[str, str]:
    """The confined code's environment: the grader's locale and PATH, everything else private."""
    env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    env.update(
        HOME=str(home),
        TMPDIR=str(home),
        KERAS_HOME=str(home / ".keras"),
        MPLCONFIGDIR=str(home / ".matplotlib"),
        IPYTHONDIR=str(home / ".ipython"),
        MPLBACKEND="Agg",
        TF_CPP_MIN_LOG_LEVEL="2",
        TF_DETERMINISTIC_OPS="1",
        PYTHONHASHSEED="0",
        PYTHONNOUSERSITE="1",
    )
    return env


def confined(
    command: list[str],
    *,
    home: Path,
    writable: tuple[Path, ...] = (),
    readable: tuple[Path, ...] = (),
    hide: tuple[Path, ...] = (),
    env: dict[str, str] | None = None,
) -> tuple[list[str], str]:
    """The argv that runs ``command`` confined, and the isolation it gets, in words.

    Parameters
    ----------
    command : list of str
        What to run (its first item an absolute path).
    home : Path
        The one folder the code may write (besides ``writable``); its working folder.
    writable, readable : tuples of Path
        More folders to bind, writable or read-only, visible even inside covered ones.
    hide : tuple of Path
        More paths to cover.
    env : dict, optional
        The environment; :func:`sandbox_environment` of ``home`` by default.

    Raises
    ------
    SandboxUnavailable
        When ``bwrap`` is not installed: grading would run submissions with the grader's rights.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap is not installed, so submissions cannot be confined. Install it "
            "(Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) "
            "or grade in a throwaway container (README: 'Grading safely')."
        )
    # a private /dev/shm: Python's multiprocessing keeps its semaphores there
    args = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--perms",
        "1777",
        "--size",
        str(TMP_BYTES),
        "--tmpfs",
        "/dev/shm",
    ]
    covered = covered_paths(list(hide))
    for path in covered:
        if path == Path("/tmp"):
            args += ["--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
        elif path.is_dir():
            args += ["--tmpfs", str(path)]
        else:
            args += ["--ro-bind", "/dev/null", str(path)]
    for path in sorted({p.resolve() for p in [*needed_paths(), *readable]}, key=lambda p: len(p.parts)):
        args += [*_mount_points(path, covered), "--ro-bind", str(path), str(path)]
    for path in (home, *writable):
        args += [*_mount_points(path, covered), "--bind", str(path), str(path)]
    args += [
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--chdir",
        str(home),
        "--clearenv",
    ]
    for name, value in (env if env is not None else sandbox_environment(home)).items():
        args += ["--setenv", name, value]
    if os.geteuid() == 0:
        user = sandbox_user()
        args += [
            "--",
            shutil.which("setpriv") or "/usr/bin/setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "--no-new-privs",
            "--",
        ]
        isolation = f"bubblewrap, user {user.pw_name}, own PID and network namespaces, grader's files covered"
    else:
        args += ["--unshare-user", "--"]
        isolation = "bubblewrap, your own uid in a user namespace, own PID and network namespaces, files covered"
    return [*args, *command], isolation


def _mount_points(target: Path, covered: list[Path]) -> list[str]:
    """bwrap arguments that make the folders above ``target`` inside a cover passable (bwrap makes them 0700)."""
    cover = max(
        (c for c in covered if target.is_relative_to(c) and c != target), key=lambda c: len(c.parts), default=None
    )
    if cover is None:
        return []
    between = [p for p in reversed(target.parents) if p.is_relative_to(cover) and p != cover]
    return [arg for p in between for arg in ("--perms", "0755", "--dir", str(p))]


def _give_to_sandbox_user(path: Path) -> None:
    """Make ``path`` the sandbox user's (as root; otherwise confined code runs as you and owns it already)."""
    if os.geteuid() == 0:
        user = sandbox_user()
        os.chown(path, user.pw_uid, user.pw_gid)


def make_home(path: Path) -> Path:
    """A fresh private folder for one run of confined code, owned by the user it runs as."""
    path.mkdir(mode=0o700)
    _give_to_sandbox_user(path)
    return path


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))


def _hidden_from_environment() -> tuple[Path, ...]:
    return tuple(Path(p) for p in os.environ.get(HIDE_VARIABLE, "").split(os.pathsep) if p)


def start_kernel(argv: list[str]) -> None:
    """Replace this process by a confined IPython kernel; ``argv`` holds ``-f CONNECTION_FILE``."""
    if "-f" not in argv:
        raise SystemExit(__doc__)
    home = Path(os.environ[HOME_VARIABLE])
    # The connection file is the grader's; the kernel gets its own copy, and binds its Unix
    # sockets (transport "ipc") in the folder the connection file names, bound writable for it.
    connection_file = Path(argv[argv.index("-f") + 1])
    connection = json.loads(connection_file.read_text())
    sockets = Path(connection["ip"]).parent
    own_copy = home / "connection.json"
    own_copy.write_text(json.dumps(connection))
    _give_to_sandbox_user(own_copy)
    own_copy.chmod(0o600)
    args = list(argv)
    args[args.index("-f") + 1] = str(own_copy)
    command, _ = confined(
        [sys.executable, "-m", "ipykernel_launcher", *args],
        home=home,
        writable=(sockets,),
        hide=_hidden_from_environment(),
    )
    _limit_file_size()
    os.execv(command[0], command)


PROBE = """
import json, os, sys
def readable(path):
    try:
        if os.path.isdir(path):
            return bool(os.listdir(path))
        with open(path, "rb") as f:
            return bool(f.read(1))
    except OSError:
        return False
import helpers.tasks, keras, ipykernel
print(json.dumps({"uid": os.getuid(), "pid": os.getpid(), "readable": [p for p in sys.argv[1:] if readable(p)]}))
"""


def probe(paths: list[str], *, scratch: Path, hide: tuple[Path, ...] = ()) -> dict:
    """Run a confined Python that reports which of ``paths`` it can read, its uid and pid, and its isolation."""
    home = make_home(scratch / "probe-home")
    try:
        command, isolation = confined([sys.executable, "-c", PROBE, *paths], home=home, hide=hide)
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if done.returncode != 0:
        raise SandboxUnavailable(f"confined Python failed to start (exit {done.returncode}):\n{done.stderr[-1500:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "isolation": isolation}


def main(argv: list[str]) -> None:
    if argv[:1] == ["kernel"]:
        start_kernel(argv[1:])
    elif argv[:1] == ["probe"]:
        import tempfile

        scratch = Path(tempfile.mkdtemp(prefix="probe-"))
        try:
            print(json.dumps(probe(argv[1:], scratch=scratch, hide=_hidden_from_environment())))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
