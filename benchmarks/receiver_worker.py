"""One receiver implementation in its own process: receive N notifications, print its CPU.

    python benchmarks/receiver_worker.py --impl floor|ours-poll|ours-generator|zhmcclient \
        --port P --ca-file F --topic T --count N [--collections-path DIR]

The broker userid and password come from the environment (ZEDA_AMQ_USERID,
ZEDA_AMQ_PASSWORD), never the command line. The worker connects over STOMP+TLS, subscribes,
prints `READY` once subscribed, then receives until it has N notifications (or times out)
and prints one JSON line: CPU seconds (user+system of the whole process, all threads)
from READY to the N-th notification, wall seconds, peak RSS. Nothing is subtracted.

Implementations (all with the same STOMP heart-beats, 5 s / 5 s, and TLS verification):
- floor: a bare stomp.py listener whose on_message does json.loads(body) only;
- ours-poll: zhmc.eda's NotificationReceiver through the batch API the source uses
  (poll(timeout, max_items) + receiver.parse_body per notification);
- ours-generator: zhmc.eda's zhmcclient-compatible notifications() generator;
- zhmcclient: zhmcclient 1.26's NotificationReceiver.notifications() (run with the
  interpreter of .venv-zhmcclient).
"""
import argparse
import json
import os
import resource
import sys
import threading
import time

HEARTBEAT_MS = 5000


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def thread_cpu_seconds():
    """CPU seconds of each live thread since it started (Linux /proc, clock-tick resolution),
    by thread name: shows whether a cost lies in stomp.py's thread or in the consumer."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    ticks = float(os.sysconf("SC_CLK_TCK"))
    result = {}
    try:
        for tid in os.listdir("/proc/self/task"):
            with open("/proc/self/task/%s/stat" % tid) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            name = names.get(int(tid), "thread-%s" % tid)
            result[name] = round((int(fields[11]) + int(fields[12])) / ticks, 3)
    except OSError:
        return {}
    return result


class Meter:
    def __init__(self, count, timeout):
        self.count = count
        self.timeout = timeout
        self.received = 0
        self.cpu_start = None
        self.wall_start = None
        self.done = threading.Event()

    def ready(self):
        self.cpu_start = cpu_seconds()
        self.wall_start = time.monotonic()
        print("READY", flush=True)

    def got(self, number=1):
        self.received += number
        if self.received >= self.count:
            self.done.set()
            return True
        return False

    def deadline_passed(self):
        return self.wall_start is not None and time.monotonic() - self.wall_start > self.timeout

    def result(self, impl):
        cpu = cpu_seconds() - self.cpu_start
        wall = time.monotonic() - self.wall_start
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "impl": impl, "received": self.received, "expected": self.count,
            "cpu_s": round(cpu, 4), "wall_s": round(wall, 4),
            "cpu_us_per_notification": round(cpu / max(1, self.received) * 1e6, 2),
            "peak_rss_mb": round(rss_kb / 1024.0, 1),
            "thread_cpu_s": thread_cpu_seconds(),
        }


def run_floor(options, meter):
    import stomp

    subscribed = threading.Event()

    class Listener(stomp.ConnectionListener):
        def on_message(self, frame):
            json.loads(frame.body)
            meter.got()

        def on_receipt(self, frame):
            if frame.headers.get("receipt-id") == "subscribed":
                subscribed.set()

    conn = stomp.Connection([(options.host, options.port)], heartbeats=(HEARTBEAT_MS, HEARTBEAT_MS),
                            heart_beat_receive_scale=2.0, keepalive=True)
    conn.set_ssl(for_hosts=[(options.host, options.port)], ca_certs=options.ca_file)
    conn.set_listener("floor", Listener())
    conn.connect(options.userid, options.password, wait=True)
    conn.subscribe("/topic/" + options.topic, id="floor-1", ack="auto", headers={"receipt": "subscribed"})
    if not subscribed.wait(30):
        raise SystemExit("floor: no receipt for SUBSCRIBE")
    meter.ready()
    meter.done.wait(options.timeout)
    result = meter.result("floor")
    conn.disconnect()
    return result


def _ours(options):
    sys.path.insert(0, options.collections_path)
    from ansible_collections.zhmc.eda.plugins.module_utils import receiver as receiver_mod

    receiver = receiver_mod.NotificationReceiver(
        [options.topic], options.host, options.userid, options.password, port=options.port,
        verify_cert=options.ca_file)
    return receiver_mod, receiver


def run_ours_poll(options, meter):
    receiver_mod, receiver = _ours(options)
    receiver.connect()
    meter.ready()
    consumer_start = time.thread_time()
    polls = 0
    while not meter.done.is_set() and not meter.deadline_passed():
        polls += 1
        for _headers, body in receiver.poll(timeout=1.0, max_items=500):
            receiver_mod.parse_body(body)
            meter.got()
    result = meter.result("ours-poll")
    result["consumer_thread_cpu_us_per_notification"] = round(
        (time.thread_time() - consumer_start) / max(1, meter.received) * 1e6, 2)
    result["polls"] = polls
    receiver.close()
    return result


def run_ours_generator(options, meter):
    _receiver_mod, receiver = _ours(options)
    stop = threading.Event()
    _signal_ready_when_subscribed(receiver, options.topic, meter)
    for _headers, _message in receiver.notifications(stop_event=stop):
        if meter.got() or meter.deadline_passed():
            break
    result = meter.result("ours-generator")
    receiver.close()
    return result


def run_zhmcclient(options, meter):
    import zhmcclient

    receiver = zhmcclient.NotificationReceiver(
        options.topic, options.host, options.userid, options.password, port=options.port,
        verify_cert=options.ca_file)
    _signal_ready_when_subscribed(receiver, options.topic, meter)
    for _headers, _message in receiver.notifications():
        if meter.got() or meter.deadline_passed():
            break
    result = meter.result("zhmcclient")
    receiver.close()
    return result


def _signal_ready_when_subscribed(receiver, topic, meter):
    """The generators connect and subscribe inside notifications(): watch from a thread."""
    def watch():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                # zhmc.eda's receiver records a topic as subscribed at construction, before
                # notifications() connects: also wait for the connection, or the CPU of the
                # TLS handshake and login would be counted against the notifications
                if receiver.is_connected() and receiver.is_subscribed(topic):
                    time.sleep(0.2)   # SUBSCRIBE sent without a receipt: let the broker register it
                    meter.ready()
                    return
            except Exception:  # not connected yet
                pass
            time.sleep(0.01)
        print("NOT-SUBSCRIBED", flush=True)

    threading.Thread(target=watch, daemon=True).start()


IMPLEMENTATIONS = {
    "floor": run_floor,
    "ours-poll": run_ours_poll,
    "ours-generator": run_ours_generator,
    "zhmcclient": run_zhmcclient,
}


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--collections-path", default="")
    options = parser.parse_args(argv)
    options.userid = os.environ["ZEDA_AMQ_USERID"]
    options.password = os.environ["ZEDA_AMQ_PASSWORD"]
    meter = Meter(options.count, options.timeout)
    result = IMPLEMENTATIONS[options.impl](options, meter)
    print(json.dumps(result), flush=True)
    return 0 if result["received"] >= options.count else 1


if __name__ == "__main__":
    sys.exit(main())
