"""python -m hmcsim: run the simulated HMC until SIGTERM/SIGINT.

Writes <state-dir>/hmcsim.json (ports, CA file, userid, password) once every server
listens. Exit codes: 0 after a clean stop, 2 for bad arguments or configuration,
1 when a server cannot start.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

from hmcsim import estate
from hmcsim.config import ConfigError, load_config
from hmcsim.scenario import ScenarioError, load_steps
from hmcsim.sim import HmcSim


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a port number 0-65535, got %r" % text) from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port number 0-65535, got %d" % value)
    return value


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError("must be HOST:PORT, got %r" % text)
    return host, _port(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hmcsim", description="A simulated IBM Z HMC "
                                     "(WS API subset over HTTPS, notifications over STOMP/TLS).")
    parser.add_argument("--state-dir", required=True,
                        help="directory for hmcsim.json and ca.pem (created if missing)")
    parser.add_argument("--config", help="YAML configuration (CPCs, partitions, LPARs, users); "
                        "default: the built-in one")
    parser.add_argument("--estate", metavar="CPCSxPARTITIONS",
                        help="a generated estate instead of the configured CPCs, e.g. 10x100 "
                        "(odd CPCs DPM with partitions, even ones classic with LPARs)")
    parser.add_argument("--estate-seed", type=int, default=0, help="seed of the generated estate (default 0)")
    parser.add_argument("--shared-config", metavar="FILE",
                        help="share users, passwords, inventory and CA with other instances through FILE "
                        "(created by the first instance)")
    parser.add_argument("--hmc-name", help="this instance's HMC name (default: the configuration's)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--ws-port", type=_port, default=0, help="WS API port (default: a free one)")
    parser.add_argument("--stomp-port", type=_port, default=0, help="STOMP/TLS port (default: a free one)")
    parser.add_argument("--admin-port", type=_port, default=0,
                        help="admin HTTP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--heartbeat-ms", type=int, default=5000,
                        help="0 turns STOMP heart-beats off; any other value: heart-beats as the HMC's "
                        "broker does them (it grants what the client asks)")
    parser.add_argument("--job-delay", type=float, default=0.5,
                        help="seconds until an async job completes (default 0.5)")
    parser.add_argument("--scenario", help="YAML scenario to run once the servers are ready")
    parser.add_argument("--external-broker", type=_host_port, metavar="HOST:PORT",
                        help="publish into this STOMP broker instead of the built-in endpoint")
    parser.add_argument("--broker-user", help="login for the external broker")
    parser.add_argument("--broker-password-env", metavar="VAR",
                        help="name of the environment variable holding the broker password")
    parser.add_argument("--broker-ca", help="CA file to verify the broker's TLS certificate")
    parser.add_argument("--broker-no-tls", action="store_true",
                        help="connect to the external broker without TLS (plain STOMP port)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _external_broker(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any] | None:
    if not args.external_broker:
        for name in ("broker_user", "broker_password_env", "broker_ca"):
            if getattr(args, name):
                parser.error("--%s needs --external-broker" % name.replace("_", "-"))
        return None
    if not args.broker_user or not args.broker_password_env:
        parser.error("--external-broker needs --broker-user and --broker-password-env")
    password = os.environ.get(args.broker_password_env)
    if not password:
        parser.error("--broker-password-env: the environment variable %s is not set or empty"
                     % args.broker_password_env)
    if args.broker_ca and not os.path.isfile(args.broker_ca):
        parser.error("--broker-ca: the file %r does not exist" % args.broker_ca)
    host, port = args.external_broker
    return {"host": host, "port": port, "userid": args.broker_user, "password": password,
            "ca_file": args.broker_ca, "use_tls": not args.broker_no_tls}


def _config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | dict[str, Any] | None:
    """The --config file, or with --estate that file's settings plus a generated estate."""
    if not args.estate:
        return args.config
    try:
        size = estate.parse_size(args.estate)
    except ValueError as exc:
        parser.error("--estate %s" % exc)
    base: dict[str, Any] = {}
    if args.config:
        base = {k: v for k, v in load_config(args.config).items() if k != "cpcs"}
    return {**base, "estate": {**size, "seed": args.estate_seed}}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.heartbeat_ms < 0:
        parser.error("--heartbeat-ms must be 0 or more, got %d" % args.heartbeat_ms)
    if args.job_delay < 0:
        parser.error("--job-delay must be 0 or more, got %s" % args.job_delay)
    broker = _external_broker(parser, args)
    try:
        if args.scenario:
            load_steps(args.scenario)       # fail early, before any server starts
        config = _config(parser, args)
        sim = HmcSim(args.state_dir, config=config, host=args.host, ws_port=args.ws_port,
                     stomp_port=args.stomp_port, admin_port=args.admin_port, external_broker=broker,
                     heartbeat_ms=args.heartbeat_ms, job_delay=args.job_delay,
                     shared_config=args.shared_config, hmc_name=args.hmc_name)
    except (ConfigError, ScenarioError) as exc:
        sys.stderr.write("hmcsim: error: %s\n" % exc)
        return 2

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        sim.start()
    except Exception as exc:    # e.g. a port in use or the broker unreachable
        sys.stderr.write("hmcsim: error: could not start: %s: %s\n" % (type(exc).__name__, exc))
        return 1
    try:
        if args.scenario:
            sim.run_scenario(args.scenario, background=True)
        while not stop.wait(1.0):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
