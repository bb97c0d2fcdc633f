"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test creates an empty venv per sanity test and runs the cached
~/.ansible/test/cache/get_pip_<version>.py in it with pip's command-line options and the
pinned packages (e.g. `--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel`).
The real script is downloaded from ci-files.testing.ansible.com, which this project's
machines cannot reach; this one installs the interpreter's bundled pip with ensurepip and
then lets that pip install the requested packages from the configured package index.
"""
import ensurepip
import os
import subprocess
import sys


def main():
    # ensurepip points PIP_CONFIG_FILE at /dev/null for its own run; the follow-up install
    # needs the machine's pip configuration (index, CA bundle) back.
    environment = dict(os.environ)
    ensurepip.bootstrap(upgrade=True, default_pip=True)
    options = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    command = [sys.executable, "-m", "pip", "install", "--quiet"] + options
    if subprocess.call(command, env=environment) != 0:
        # The bundled pip works too; only the exact version ansible-test pins is missing.
        sys.stderr.write("get_pip stand-in: could not install %s; keeping the pip from ensurepip\n" % " ".join(options))
    subprocess.check_call([sys.executable, "-m", "pip", "--version"], env=environment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
