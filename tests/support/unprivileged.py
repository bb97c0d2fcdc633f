"""Run the test venv's tools as an arbitrary user id, as a container on OpenShift would: a uid
with no passwd entry, its own gid, no supplementary groups, no capabilities.

The test venv's Python may live where such a uid cannot reach it (pyenv under /root, mode
0700). `shadow_venv()` therefore makes a venv from a base interpreter of the same version that
every user can run, sees the test venv's packages through a .pth file and carries copies of
its console scripts (ansible-rulebook, ansible-galaxy, ansible-playbook, ...) pointing at the
shadow interpreter. Nothing is installed twice.

`files_of(uid)` lists what the uid owns in the places every user may write to on these
machines (found with `find / -xdev -type d -perm -0002`: /tmp, /var/tmp, /run/lock, and
/dev/shm, a file system of its own), plus any other directories given; a uid owns nothing
elsewhere unless a test gives it a directory.
"""
from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
import sysconfig

WORLD_WRITABLE = ("/tmp", "/var/tmp", "/run/lock", "/dev/shm")


def is_root() -> bool:
    return os.geteuid() == 0


def unused_uid() -> int:
    """A uid (and gid) with no passwd or group entry, different for every call."""
    import grp
    import pwd

    while True:
        uid = 200000 + secrets.randbelow(800000)
        try:
            pwd.getpwuid(uid)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(uid)
            continue
        except KeyError:
            return uid


def _reachable_by_others(path: str) -> bool:
    """True when every directory on the way to `path` is searchable and `path` executable by others."""
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    for index in range(2, len(parts)):
        if not os.stat(os.sep.join(parts[:index]) or os.sep).st_mode & stat.S_IXOTH:
            return False
    return bool(os.stat(real).st_mode & stat.S_IXOTH)


def base_interpreter() -> str | None:
    """A Python of the running version that any user can execute, or None."""
    version = "python%d.%d" % sys.version_info[:2]
    candidates = [sys.executable, getattr(sys, "_base_executable", ""), shutil.which(version) or "",
                  "/usr/bin/" + version, "/usr/local/bin/" + version]
    for candidate in candidates:
        if candidate and os.path.exists(candidate) and _reachable_by_others(candidate):
            return os.path.realpath(candidate)
    return None


def shadow_venv(directory: str) -> str:
    """A venv in `directory` that runs the test venv's packages and tools as any user; return its bin."""
    base = base_interpreter()
    if base is None:
        raise RuntimeError("no Python %d.%d that other users can run" % sys.version_info[:2])
    subprocess.run([base, "-m", "venv", "--without-pip", directory], check=True, timeout=120)
    probe = subprocess.run([os.path.join(directory, "bin", "python"), "-c",
                            "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           check=True, capture_output=True, text=True, timeout=60)
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    with open(os.path.join(probe.stdout.strip(), "zz-test-venv.pth"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(sorted(ours)) + "\n")
    bindir = os.path.join(directory, "bin")
    our_bin = os.path.dirname(sys.executable)
    # the scripts name the venv's python as pip wrote it (a venv reached through a symlink
    # has its real path there)
    shebangs = {("#!%s\n" % os.path.join(d, "python")).encode()
                for d in (our_bin, os.path.realpath(our_bin))}
    shebangs.add(("#!" + sys.executable + "\n").encode())
    for name in os.listdir(our_bin):
        path = os.path.join(our_bin, name)
        if os.path.islink(path) or not os.path.isfile(path) or os.path.exists(os.path.join(bindir, name)):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        shebang = next((s for s in shebangs if data.startswith(s)), None)
        if shebang is not None:
            target = os.path.join(bindir, name)
            with open(target, "wb") as handle:
                handle.write(("#!" + os.path.join(bindir, "python") + "\n").encode() + data[len(shebang):])
            os.chmod(target, 0o755)
    subprocess.run(["chmod", "-R", "a+rX", directory], check=True, timeout=60)
    return bindir


def files_of(uid: int, *directories: str) -> list[str]:
    """Every path the uid owns under the world-writable places and `directories`."""
    roots = [root for root in WORLD_WRITABLE + directories if os.path.isdir(root)]
    found = subprocess.run(["find", *roots, "-xdev", "-uid", str(uid)], capture_output=True, text=True,
                           timeout=120, check=False)
    return sorted(line for line in found.stdout.splitlines() if line)


def give(path: str, uid: int, mode: int = 0o700) -> str:
    """Make `path` (a directory or file the test created) the uid's, with `mode`."""
    os.chown(path, uid, uid)
    os.chmod(path, mode)
    return path
