"""`make demo`: hmcsim + ansible-rulebook running the zhmc.eda.demo rulebook, end to end.

1. starts hmcsim (a simulated HMC) in a temporary directory;
2. starts `ansible-rulebook -r zhmc.eda.demo` from the installed collection, the HMC
   password passed through an environment variable (-E), never on a command line;
3. once the source is connected, drives a scenario through hmcsim: OS messages (one held),
   a partition start (its job completion, with the job's status), a partition stopping;
4. ends the rulebook with a sentinel OS message (a rule with the `shutdown` action),
   stops hmcsim, and prints how to point the same rulebook at a real HMC.

Run it with `make demo` (which builds and installs the collection first), or directly:
`ZHMC_EDA_COLLECTIONS_PATH=<collections dir> .venv/bin/python demo/run_demo.py`.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
CONNECTED = re.compile(r"zhmc\.eda\.notifications connected to")
SENTINEL = "ZHMC-EDA-DEMO-END"
# What the demo shows of the rulebook's output: our source, rule actions, playbook runs.
SHOWN = re.compile(
    r"zhmc\.eda|\[debug\]|source status|OS message from|DEMO PLAYBOOK|PLAY \[|TASK \[|"
    r"^ok: |^changed: |^fatal: |Rule .* fired|shutdown|Terminating|ERROR|Traceback|"
    r"Error|error:")
NOISE = re.compile(r"zhmc\.eda\.receiver\.frames|DEBUG|ansible_rulebook\.|org\.drools|"
                   r"'ruleSetName'")
TOTAL_TIMEOUT = 120


def say(text):
    print("\033[1m==> %s\033[0m" % text, flush=True)


def collections_path():
    path = os.environ.get("ZHMC_EDA_COLLECTIONS_PATH")
    if not path or not os.path.isdir(os.path.join(path, "ansible_collections", "zhmc", "eda")):
        sys.exit("ZHMC_EDA_COLLECTIONS_PATH must name a directory with ansible_collections/"
                 "zhmc/eda in it (run 'make demo', which installs the collection there)")
    return path


def start_hmcsim(state_dir):
    """python -m hmcsim in its own process group; returns (process, hmcsim.json dict)."""
    info_file = os.path.join(state_dir, "hmcsim.json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hmcsim", "--state-dir", state_dir, "--heartbeat-ms", "2000",
         "--job-delay", "1.0", "--log-level", "WARNING"],
        cwd=REPO, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("hmcsim exited with code %s before it was ready" % proc.returncode)
        if os.path.exists(info_file):
            with open(info_file, encoding="utf-8") as handle:
                return proc, json.load(handle)
        time.sleep(0.1)
    raise RuntimeError("hmcsim did not write %s within 30 s" % info_file)


def admin(info, method, **kwargs):
    """Call hmcsim's admin endpoint (loopback only)."""
    request = urllib.request.Request(
        "http://127.0.0.1:%d/%s" % (info["admin_port"], method),
        data=json.dumps(kwargs).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["result"]


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


class RulebookOutput(threading.Thread):
    """Streams the interesting lines of ansible-rulebook's output; remembers all of them."""

    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc = proc
        self.lines = []
        self.connected = threading.Event()

    def run(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if CONNECTED.search(line):
                self.connected.set()
            if SHOWN.search(line) and not NOISE.search(line):
                print("    | " + line[:220], flush=True)


def stop_group(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def run_scenario(info, control_socket, coll_path):
    """Drive hmcsim; each step is something the rulebook reacts to."""
    sys.path.insert(0, coll_path)
    from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlClient
    from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClient

    say("OS messages from partition PART1 (the second one is held: it needs an operator)")
    admin(info, "emit_os_messages", cpc="CPC1", name="PART1", messages=[
        "IEE001I demo: system up and running",
        {"message-text": "*01 IEE094D REPLY 'U' TO CONTINUE", "is-held": True,
         "prompt-text": "R 01"},
    ])
    time.sleep(3)

    say("A playbook's session starts partition PART3; the job topic of that session is "
        "added to the running source through its control socket")
    operator = HMCClient(info["host"], userid=info["userid"], password=os.environ["HMC_PASSWORD"],
                         port=info["ws_port"], verify_cert=info["ca_file"])
    operator.logon()
    try:
        ControlClient(control_socket).request("subscribe", topic=operator.job_topic)
        part3 = [p for c in info["cpcs"] if c["name"] == "CPC1"
                 for p in c["partitions"] if p["name"] == "PART3"][0]
        job = operator.post(part3["object-uri"] + "/operations/start")["job-uri"]
        print("    started job %s" % job, flush=True)
        time.sleep(6)
    finally:
        operator.logoff()

    say("Partition PART2 stops")
    admin(info, "set_status", cpc="CPC1", name="PART2", status="stopped")
    time.sleep(6)

    say("The sentinel OS message ends the rulebook (rule 'End of the demo': shutdown)")
    admin(info, "emit_os_messages", cpc="CPC1", name="PART1", messages=[SENTINEL])


REAL_HMC_HELP = """
To run the same rulebook against a real HMC:

  1. Install the collection:  ansible-galaxy collection install zhmc-eda-<version>.tar.gz
  2. Write demo-vars.yml (mode 0600):
        hmc_host: hmc1.example.com          # or a list of redundant HMCs
        hmc_userid: myuser
        hmc_ca_certs: /path/to/hmc-ca.pem   # leave out to use the system CA bundle
        demo_cpc: MYCPC                     # full-match regular expressions
        demo_partition: "LINUX.*"
        # hmc_ws_port: 6794, hmc_stomp_port: 61612 (the defaults)
        # demo_control_socket: /run/user/1000/zhmc-eda.sock (for the modules)
  3. Run, with the password from the environment (never on the command line):
        read -rs HMC_PASSWORD; export HMC_PASSWORD
        ansible-rulebook -r zhmc.eda.demo -i inventory.yml --vars demo-vars.yml \\
            -E HMC_PASSWORD -v
     (inventory.yml: all: {hosts: {localhost: {ansible_connection: local}}})
  The HMC user needs the "Operating System Messages" task and object access to the
  partitions. See docs/source.md for every option of zhmc.eda.notifications.
"""


def main():
    coll_path = collections_path()
    workdir = tempfile.mkdtemp(prefix="zeda-demo-", dir="/tmp")
    sim_proc = rulebook = None
    started = time.monotonic()
    code = 1
    try:
        say("Starting hmcsim, the simulated HMC")
        sim_proc, info = start_hmcsim(os.path.join(workdir, "hmcsim"))
        print("    WS API %s:%d, STOMP %s:%d, admin 127.0.0.1:%d" % (
            info["host"], info["ws_port"], info["host"], info["stomp_port"],
            info["admin_port"]), flush=True)
        control_socket = os.path.join(workdir, "ctl.sock")
        inventory = write_private(os.path.join(workdir, "inventory.yml"),
                                  "all:\n  hosts:\n    localhost:\n"
                                  "      ansible_connection: local\n"
                                  "      ansible_python_interpreter: %s\n" % sys.executable)
        variables = write_private(os.path.join(workdir, "demo-vars.yml"), "\n".join([
            "hmc_host: %s" % info["host"],
            "hmc_userid: %s" % info["userid"],
            "hmc_ca_certs: %s" % info["ca_file"],
            "hmc_ws_port: %d" % info["ws_port"],
            "hmc_stomp_port: %d" % info["stomp_port"],
            "demo_cpc: CPC1",
            "demo_partition: PART1",
            "demo_control_socket: %s" % control_socket,
            ""]))
        env = dict(os.environ)
        env["HMC_PASSWORD"] = info["password"]
        os.environ["HMC_PASSWORD"] = info["password"]
        env["ANSIBLE_COLLECTIONS_PATH"] = coll_path
        env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("ANSIBLE_FORCE_COLOR", "0")
        command = [os.path.join(BIN, "ansible-rulebook"), "-r", "zhmc.eda.demo",
                   "-i", inventory, "--vars", variables, "-E", "HMC_PASSWORD", "-v"]
        say("Starting: %s" % " ".join(os.path.basename(c) if c.startswith(BIN) else c
                                      for c in command))
        rulebook = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, bufsize=1, start_new_session=True)
        output = RulebookOutput(rulebook)
        output.start()
        while not output.connected.wait(0.5):
            if rulebook.poll() is not None:
                raise RuntimeError("ansible-rulebook ended (code %s) before the source "
                                   "connected" % rulebook.returncode)
            if time.monotonic() - started > 60:
                raise RuntimeError("the source did not connect within 60 s")
        say("The source is connected; driving the scenario")
        run_scenario(info, control_socket, coll_path)
        remaining = max(5, TOTAL_TIMEOUT - (time.monotonic() - started))
        code = rulebook.wait(timeout=remaining)
        output.join(5)
        playbook_runs = sum(1 for line in output.lines if "DEMO PLAYBOOK" in line)
        say("ansible-rulebook ended with code %s after %.0f s; the playbook ran %d time(s)"
            % (code, time.monotonic() - started, playbook_runs))
        if code == 0 and playbook_runs < 3:
            print("    (expected 3 playbook runs: job completion, held message, partition "
                  "stopped)", flush=True)
            code = 1
    except KeyboardInterrupt:
        say("interrupted")
    except Exception as exc:  # show the cause, then clean up
        say("demo failed: %s" % exc)
    finally:
        stop_group(rulebook)
        stop_group(sim_proc)
        shutil.rmtree(workdir, ignore_errors=True)
    print(REAL_HMC_HELP, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
