"""Run a submission's code confined by bubblewrap: only what it needs visible, its own home, no network.

nbgrader runs each submission's code with the rights of whoever grades, so every grading kernel
and the hidden tests' checker (grading/confined/) starts through :func:`confined`. It builds a
`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, the sandbox Flatpak uses)
command line, chosen over hand-made namespace code because it is small, audited and packaged
everywhere (``apt-get install bubblewrap``):

- an **allow-list** of files: a fresh, empty root into which only what a Python kernel needs is
  bound read-only (the system's programs, libraries and configuration: :data:`SYSTEM_PATHS`;
  the Python installation and its virtual environment; the course's ``helpers`` package), so no
  other file of the machine is visible, wherever copies of the course or the grader's files lie;
- one writable folder, the submission's own fresh home (plus, for a kernel, the folder of its
  connection sockets), and a private ``/tmp``;
- its own PID namespace (nothing it starts outlives it: when the kernel ends, every process it
  left is killed), no network at all (the kernel talks to nbgrader over Unix sockets), its own
  IPC and host name; it dies with the process that started it (``setpriv --pdeathsig`` on the
  outside, ``--die-with-parent`` inside), and inherits none of its file descriptors;
- run as root, an unprivileged user (``nobody`` unless ``COURSE_SANDBOX_USER`` says otherwise),
  with no new privileges; run as anyone else, a user namespace (the same allow-list, and the code
  runs with your own uid);
- a clean environment, and a limit on the size of the files it writes.

    python -m grading.sandbox kernel -f CONNECTION_FILE    # argv of the grading kernelspec
    python -m grading.sandbox probe [PATH ...]             # JSON: what can confined code read?

The grader configures a kernel through its environment (the variables of :mod:`grading.protocol`):
the private home, the paths to cover, the file that receives the kernel's own output, and where
``helpers.hand_in`` saves, inside the home.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from grading.protocol import HAND_IN_VARIABLE, HIDE_VARIABLE, HOME_VARIABLE, OUTPUT_VARIABLE, ROOT, USER_VARIABLE

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
#: The system folders every confined process sees, read-only: programs, shared libraries, their
#: configuration (``/etc``: the dynamic linker's cache, users, fonts, time zones) and shared data
#: (fonts, zoneinfo). ``/usr/local`` and ``/usr/src`` are not among them: only the Python
#: installation's own folders are bound from there (:func:`python_paths`).
SYSTEM_PATHS = (
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libx32",
    "/usr/libexec",
    "/usr/share",
    "/etc",
    "/sys",  # the CPU's description (OpenBLAS, TensorFlow), read-only
)
#: Top-level names that are links into /usr on merged-/usr systems (folders of their own elsewhere).
TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
MAX_FILE_BYTES = 1 << 30
PR_SET_PDEATHSIG = 1  # prctl(2)
#: This process's parent when it started (a kernel's: nbgrader), to tell later whether it has died.
PARENT_AT_IMPORT = os.getppid()
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


def python_paths() -> list[Path]:
    """The folders of this Python that confined code must read: its library, packages, programs, ``helpers``.

    Taken from ``sysconfig`` (the standard library, site-packages, the scripts folder), the real
    interpreter's folder (a virtual environment's ``python`` is a link to it), the shared
    ``libpython`` where there is one, a virtual environment's ``pyvenv.cfg``, and the course's
    ``helpers`` package (installed in editable mode, it lives in the checkout, the rest of which
    stays out of sight).
    """
    import helpers

    paths = {Path(sysconfig.get_paths()[name]) for name in ("stdlib", "platstdlib", "purelib", "platlib", "scripts")}
    paths.add(Path(sys.executable).resolve().parent)
    if sysconfig.get_config_var("Py_ENABLE_SHARED") and sysconfig.get_config_var("LIBDIR"):
        paths.add(Path(sysconfig.get_config_var("LIBDIR")))
    if sys.prefix != sys.base_prefix:
        paths.add(Path(sys.prefix) / "pyvenv.cfg")
    paths.add(Path(helpers.__file__).parent)
    return _outermost(p.resolve() for p in paths if p.exists())


def _outermost(paths) -> list[Path]:
    """``paths`` without those inside another of them, shortest first (bwrap binds parents first)."""
    unique = sorted(set(paths), key=lambda p: (len(p.parts), str(p)))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return kept


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
        More folders to bind, writable or read-only (everything else of the machine stays unseen
        but for :data:`SYSTEM_PATHS` and :func:`python_paths`).
    hide : tuple of Path
        Paths to cover where an allowed path holds them.
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
    # An empty root (bwrap's default: a tmpfs) with only the allowed paths bound into it; a private
    # /tmp, and a private /dev/shm (Python's multiprocessing keeps its semaphores there).
    args = [*_dies_with_parent(), bwrap, "--dev", "/dev", "--proc", "/proc"]
    for name in ("/tmp", "/dev/shm"):
        args += ["--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", name]
    for name in TOP_LEVEL:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
    allowed = _outermost(
        [Path(p) for p in SYSTEM_PATHS if Path(p).is_dir()]
        + [Path(p).resolve() for p in TOP_LEVEL if Path(p).is_dir() and not Path(p).is_symlink()]
        + python_paths()
        + [p.resolve() for p in readable]
    )
    made: set[Path] = set()
    for path in allowed:
        args += [*_parents(path, allowed, made), "--ro-bind", str(path), str(path)]
    for path in sorted({p.resolve() for p in hide}):
        if any(path.is_relative_to(a) for a in allowed):  # covered even where an allowed path holds it
            args += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    for path in (home, *writable):
        args += [*_parents(path.resolve(), allowed, made), "--bind", str(path), str(path)]
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
        isolation = f"bubblewrap, user {user.pw_name}, own PID and network namespaces, only allowed paths visible"
    else:
        args += ["--unshare-user", "--"]
        isolation = "bubblewrap, your own uid in a user namespace, own PID and network namespaces, allowed paths only"
    return [*args, *command], isolation


def _dies_with_parent() -> list[str]:
    """A prefix that kills bwrap when whatever started it dies, even by SIGKILL.

    bwrap's ``--die-with-parent`` ties the sandbox to bwrap only; this ties bwrap to its starter
    (``PR_SET_PDEATHSIG`` survives ``exec``), so a grader killed mid-run leaves no kernel behind.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv and sys.platform.startswith("linux") else []


def _parents(target: Path, allowed: list[Path], made: set[Path]) -> list[str]:
    """bwrap arguments that make the folders above ``target`` in the empty root, passable by anyone."""
    args = []
    for parent in reversed(target.parents):
        if parent == Path("/") or parent in made or any(parent.is_relative_to(a) for a in allowed):
            continue
        made.add(parent)
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


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
    """Replace this process by a confined IPython kernel; ``argv`` holds ``-f CONNECTION_FILE``.

    The kernel keeps none of the grader's open files: its standard input is ``/dev/null``, its
    standard output and error go to ``$COURSE_KERNEL_OUTPUT`` (a file of its own, which the grader
    appends to the instructor's log, marked as the submission's), and every other descriptor is
    closed, so it can neither read nor rewrite the grader's log, gradebook or sockets.
    """
    if "-f" not in argv:
        raise SystemExit(__doc__)
    _die_with_parent()
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
    _only_own_descriptors(os.environ.get(OUTPUT_VARIABLE, os.devnull))
    os.execv(command[0], command)


def _die_with_parent() -> None:
    """Be killed when nbgrader, which started this kernel, dies; exit now if it already has.

    ``setpriv --pdeathsig`` arms the same signal, but only once this process execs it: a grader
    killed while a kernel was starting (its imports take a fraction of a second) would leave that kernel running,
    adopted by init. So it is armed here first, and the parent checked after.
    """
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1 or os.getppid() != PARENT_AT_IMPORT:
        os._exit(1)  # adopted already: nbgrader died while this kernel was starting


def _only_own_descriptors(output: str) -> None:
    """Standard input from ``/dev/null``, output and error to ``output``, every other descriptor closed."""
    stdin = os.open(os.devnull, os.O_RDONLY)
    out = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(stdin, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


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
    """Run a confined Python that reports which of ``paths`` it can read, its uid and pid, and its isolation.

    It also tries markers planted for the occasion outside the allowed paths, readable by anyone
    (beside the course's checkout, as a stray copy of the course would be, and in ``/opt``,
    ``/srv``, ``/var/tmp`` and the temporary folder): ``readable`` names any it could read.
    """
    home = make_home(scratch / "probe-home")
    markers = _plant_markers()
    try:
        command, isolation = confined([sys.executable, "-c", PROBE, *paths, *map(str, markers)], home=home, hide=hide)
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        for marker in markers:
            shutil.rmtree(marker.parent, ignore_errors=True)
    if done.returncode != 0:
        raise SandboxUnavailable(f"confined Python failed to start (exit {done.returncode}):\n{done.stderr[-1500:]}")
    if not markers:
        raise SandboxUnavailable("could not plant a marker file outside the sandbox's allowed paths to test it")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "isolation": isolation, "markers": len(markers)}


MARKER_PLACES = (ROOT.parent, Path("/opt"), Path("/srv"), Path("/var/tmp"), Path("/tmp"))


def _plant_markers() -> list[Path]:
    """World-readable files in places outside the allowed paths (where this process may write)."""
    markers = []
    for place in MARKER_PLACES:
        try:
            folder = Path(tempfile.mkdtemp(prefix=".course-sandbox-marker-", dir=place))
        except OSError:
            continue
        folder.chmod(0o755)
        marker = folder / "marker"
        marker.write_text("a confined process must not read this\n")
        marker.chmod(0o644)
        markers.append(marker)
    return markers


def main(argv: list[str]) -> None:
    if argv[:1] == ["kernel"]:
        start_kernel(argv[1:])
    elif argv[:1] == ["probe"]:
        scratch = Path(tempfile.mkdtemp(prefix="probe-"))
        try:
            print(json.dumps(probe(argv[1:], scratch=scratch, hide=_hidden_from_environment())))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
