"""Start a grading kernel out of reach of the grader's files: ``argv`` of the grading kernelspec.

nbgrader runs each submission's code with the rights of whoever grades. Run as root on Linux (a
container, CI), this launcher puts the kernel in its own mount namespace where the grading course
(gradebook, source notebooks, other submissions), the exercise's solutions, the git history, the
secret seed and the grader's home are covered by empty folders, then hands the kernel to an
unprivileged user (``nobody`` unless ``COURSE_SANDBOX_USER`` says otherwise), who cannot undo that.
Run as anyone else, it can only scrub the environment; README explains how to grade in a
container or as a separate user then.

Every kernel also gets a fresh private home (``HOME``, ``TMPDIR`` and Keras' cache in it), a clean
environment (nothing of the grader's but ``PATH`` and the locale), deterministic TensorFlow ops, a
limit on the size of the files it writes, and dies with the grader.

    python tools/sandbox_kernel.py -f CONNECTION_FILE [kernel arguments]
    python tools/sandbox_kernel.py --probe [PATH ...]   # which PATHs (default: the hidden ones) can a
                                                         # submission read? (prints a JSON report)

Configured by the grader through the environment: ``COURSE_SANDBOX_DIR`` (where kernel homes
go), ``COURSE_SANDBOX_HIDE`` (paths to cover, separated by ``os.pathsep``).
"""

from __future__ import annotations

import ctypes
import os
import pwd
import resource
import signal
import sys
import tempfile
from pathlib import Path

SCRATCH_VARIABLE = "COURSE_SANDBOX_DIR"
HIDE_VARIABLE = "COURSE_SANDBOX_HIDE"
USER_VARIABLE = "COURSE_SANDBOX_USER"
KEPT_VARIABLES = ("PATH", "LANG", "LC_ALL", "TZ", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
MAX_FILE_BYTES = 1 << 30
CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 0x20000, 4096, 16384, 1 << 18, 2, 4

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _call(name: str, *args) -> None:
    if getattr(_libc, name)(*args) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{name}{args}: {os.strerror(error)}")


def _mount(source: str | None, target: str | Path, fstype: str | None = None, flags: int = 0,
           data: str | None = None) -> None:
    encode = (lambda s: None if s is None else str(s).encode())  # noqa: E731
    _call("mount", encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data))


def _cover(path: Path, keep: list[Path]) -> None:
    """Cover ``path`` with an empty folder (or ``/dev/null``), keeping the ``keep`` paths inside it."""
    if path.is_file():
        _mount("/dev/null", path, None, MS_BIND)
        return
    inside = [k for k in keep if k != path and k.is_relative_to(path) and k.exists()]
    held = []
    for kept in inside:  # hold on to what must stay visible before covering its parent
        spot = Path(tempfile.mkdtemp(prefix="keep-", dir=os.environ.get(SCRATCH_VARIABLE)))
        _mount(str(kept), spot, None, MS_BIND | MS_REC)
        held.append((kept, spot))
    _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for kept, spot in held:
        kept.mkdir(parents=True, exist_ok=True)
        _mount(str(spot), kept, None, MS_BIND | MS_REC)


def needed_paths() -> list[Path]:
    """What a kernel must still reach: the Python installation, the environment and the course code."""
    course_code = Path(__file__).resolve().parent.parent
    return [Path(p).resolve() for p in {sys.base_prefix, sys.prefix}] + [course_code]


def hide(paths: list[Path]) -> None:
    """In a new mount namespace, cover ``paths`` (the widest first), keeping :func:`needed_paths`."""
    os.umask(0o022)  # the folders made inside the covers must be passable for the sandbox user
    _call("unshare", CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the grader
    keep = needed_paths()
    for path in sorted({p.resolve() for p in paths if p.exists()}, key=lambda p: len(p.parts)):
        _cover(path, keep)


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the grader dies (cleared by setuid, so call after it)."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def sandbox_environment(home: str) -> dict[str, str]:
    """The kernel's environment: the locale and PATH of the grader, everything else private."""
    env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    env.update(
        HOME=home, TMPDIR=home, KERAS_HOME=os.path.join(home, ".keras"),
        MPLCONFIGDIR=os.path.join(home, ".matplotlib"), IPYTHONDIR=os.path.join(home, ".ipython"),
        MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2", TF_DETERMINISTIC_OPS="1", PYTHONHASHSEED="0",
    )
    return env


def enter_sandbox() -> tuple[str, dict[str, str], str]:
    """Make a private home, hide the grader's files and drop root rights where possible.

    Returns the home, the kernel's environment, and how isolated the kernel is, in words.
    """
    home = tempfile.mkdtemp(prefix="kernel-", dir=os.environ.get(SCRATCH_VARIABLE))
    isolation = "none: the kernel runs with the grader's rights"
    if os.geteuid() == 0:
        user = pwd.getpwnam(os.environ.get(USER_VARIABLE, "nobody"))
        os.chown(home, user.pw_uid, user.pw_gid)
        hidden = [Path(p) for p in os.environ.get(HIDE_VARIABLE, "").split(os.pathsep) if p]
        hidden.append(Path(pwd.getpwuid(0).pw_dir))
        isolation = f"user {user.pw_name}"
        try:
            hide(hidden)
            isolation += ", grader's files covered"
        except (OSError, AttributeError) as error:  # no mount namespaces here: permissions alone
            print(f"sandbox: cannot cover the grader's files ({error}); relying on file permissions",
                  file=sys.stderr)
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
        if 0 in (os.getuid(), os.geteuid()):
            raise SystemExit("could not drop root rights; refusing to run a submission as root")
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    try:
        os.chdir(home)
    except PermissionError:
        raise SystemExit(f"the sandbox user cannot reach {home}: every folder above it must be passable by "
                         f"others (chmod o+x), as tools.autograde's are") from None
    return home, sandbox_environment(home), isolation


PROBE = """
import json, os, sys
paths = [p for p in os.environ.get("PROBE_PATHS", "").split(os.pathsep) if p]
def readable(path):
    try:
        if os.path.isdir(path):
            return bool(os.listdir(path))
        with open(path, "rb") as f:
            return bool(f.read(1))
    except OSError:
        return False
import helpers.data, keras, ipykernel
print(json.dumps({"uid": os.getuid(), "isolation": sys.argv[1], "readable": [p for p in paths if readable(p)]}))
"""


def main(argv: list[str]) -> None:
    python = sys.executable
    if argv[:1] == ["--probe"]:
        probe_paths = os.pathsep.join(argv[1:]) or os.environ.get(HIDE_VARIABLE, "")
        home, env, isolation = enter_sandbox()
        os.execve(python, [python, "-c", PROBE, isolation], dict(env, PROBE_PATHS=probe_paths))
    if "-f" not in argv:
        raise SystemExit(__doc__)
    # The connection file belongs to the grader; the kernel reads its own copy.
    connection_file = argv[argv.index("-f") + 1]
    with open(connection_file) as source:
        connection = source.read()
    home, env, _ = enter_sandbox()
    own_copy = os.path.join(home, "connection.json")
    with open(own_copy, "w") as target:
        target.write(connection)
    os.chmod(own_copy, 0o600)
    args = list(argv)
    args[args.index("-f") + 1] = own_copy
    os.execve(python, [python, "-m", "ipykernel_launcher", *args], env)


if __name__ == "__main__":
    main(sys.argv[1:])
