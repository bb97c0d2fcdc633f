"""Drive unmodified zhmcclient against hmcsim: run in the tools venv (made by the Makefile).

    python zhmc_tools_driver.py SCENARIO < settings.json > result.json

`settings`: host (hmcsim listens there on the HMC's standard ports 6794 and 61612),
userid, password, ca_file, admin_port. Each scenario uses only zhmcclient's public API,
the way users' tools do, and prints what it saw as JSON for the test to check. The
`ibm_zhmc_*` scenarios make exactly the zhmcclient calls of ibm.ibm_zhmc's modules
(zhmc-ansible-modules 852c3f7e, see docs/hmcsim.md).
"""
from __future__ import annotations

import json
import queue
import sys
import threading
import time
import urllib.request
from typing import Any, Callable

import zhmcclient

S: dict[str, Any] = {}


def admin(method: str, **kwargs: Any) -> Any:
    """Drive hmcsim through its admin endpoint (loopback HTTP)."""
    request = urllib.request.Request("http://127.0.0.1:%d/%s" % (S["admin_port"], method),
                                     data=json.dumps(kwargs).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:   # noqa: S310 - loopback admin endpoint
        return json.loads(resp.read())["result"]


def session(**kwargs: Any) -> zhmcclient.Session:
    return zhmcclient.Session(S["host"], S["userid"], S["password"], verify_cert=S["ca_file"], **kwargs)


def http_error(call: Callable[[], Any]) -> list[int] | None:
    try:
        call()
    except zhmcclient.HTTPError as exc:
        return [exc.http_status, exc.reason]
    return None


def error_class(call: Callable[[], Any]) -> str | None:
    try:
        call()
    except zhmcclient.Error as exc:
        return type(exc).__name__
    return None


def take(items: queue.Queue, timeout: float) -> Any:
    """The next item; on a timeout, every thread's stack goes to stderr first (where zhmcclient
    or stomp.py was waiting), then queue.Empty."""
    try:
        return items.get(timeout=timeout)
    except queue.Empty:
        import traceback
        for thread in threading.enumerate():
            frame = sys._current_frames().get(thread.ident or 0)
            if frame is not None:
                print("--- thread %s\n%s" % (thread.name, "".join(traceback.format_stack(frame))), file=sys.stderr)
        raise


# stomp.py 8 (which zhmcclient pins) reads and writes a TLS socket from two threads at once
# (stomp.py issue #450, fixed in 9.0): now and then a connection fails as it starts. zhmcclient's
# documented answer is to call notifications() again; its users do so, and so does this driver,
# once (docs/hmcsim.md, "Client-side pitfalls"). Each retry is counted in the scenario's output.
STOMP_RETRIES: list[str] = []


def receive_into(receiver: Any, put: Callable[[Any, Any], None], closing: threading.Event) -> None:
    """Iterate receiver.notifications() into put(headers, message); a connection error is put
    as ({"notification-type": "error"}, text) unless one reconnect, as zhmcclient documents, helps."""
    for attempt in range(2):
        try:
            for headers, message in receiver.notifications():
                put(headers, message)
            return
        except zhmcclient.NotificationConnectionError as exc:
            if closing.is_set() or attempt == 1:
                put({"notification-type": "error"}, repr(exc))
                return
            STOMP_RETRIES.append(repr(exc))
        except zhmcclient.NotificationError as exc:  # zhmcclient 1.26 raises this after close() too
            put({"notification-type": "error"}, repr(exc))
            return


def enable_auto_update(resource: Any) -> None:
    """resource.enable_auto_update(), once more after a failed STOMP connect (as above)."""
    import stomp
    try:
        resource.enable_auto_update()
    except stomp.exception.ConnectFailedException as exc:
        STOMP_RETRIES.append(repr(exc))
        resource.enable_auto_update()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# zhmcclient subscribes without a receipt (NotificationReceiver and the auto-updater alike), so
# it cannot know when the broker has read its SUBSCRIBE: a change made before that is not
# delivered to it, on an HMC's ActiveMQ as on hmcsim. Users' tools live with that gap; a test
# cannot, so it asks hmcsim's admin endpoint before it changes anything (docs/hmcsim.md,
# "Client-side pitfalls").
def wait_subscribed(*topics: str) -> None:
    assert wait_until(lambda: all(admin("subscriptions", topic_name=t) >= 1 for t in topics), 15), \
        "no subscription to %s within 15 s" % ", ".join(topics)


def scenario_inventory() -> dict[str, Any]:
    sess = session()
    client = zhmcclient.Client(sess)
    console = client.consoles.console
    cpc1 = client.cpcs.find(name="CPC1")
    part1 = cpc1.partitions.find(name="PART1")
    out = {
        "version_info": list(client.version_info()),
        "cpcs": sorted(c.name for c in client.cpcs.list()),
        "cpc1_dpm": cpc1.dpm_enabled,
        "partitions": [p.name for p in cpc1.partitions.list()],
        "active_partitions": [p.name for p in cpc1.partitions.list(filter_args={"status": "active"})],
        "lpars": [p.name for p in client.cpcs.find(name="CPC2").lpars.list()],
        "part1_os_type": part1.get_property("os-type"),
        "part1_full": sorted(part1.pull_full_properties() or part1.properties),
        "permitted_partitions": [(p.name, p.manager.cpc.name) for p in console.list_permitted_partitions(
            filter_args={"cpc-name": "CPC1", "status": "active"})],
        "permitted_lpars": [(p.name, p.properties.get("description")) for p in console.list_permitted_lpars(
            filter_args={"name": "LPAR[12]"}, additional_properties=["description"])],
        "topic_types": sorted(t["topic-type"] for t in sess.get_notification_topics()),
        "audit_ids": [e["event-id"] for e in console.get_audit_log()],
        "missing_lpar": error_class(lambda: client.cpcs.find(name="CPC2").lpars.find(name="NOPE")),
    }
    sess.logoff()
    return out


def scenario_channels_jobs_receiver() -> dict[str, Any]:
    sess = session()
    client = zhmcclient.Client(sess)
    cpc1 = client.cpcs.find(name="CPC1")
    part1 = cpc1.partitions.find(name="PART1")
    lpar1 = client.cpcs.find(name="CPC2").lpars.find(name="LPAR1")
    admin("emit_os_messages", cpc="CPC1", name="PART1", messages=["buffered before the channel\n"])
    topic = part1.open_os_message_channel(include_refresh_messages=True)
    out: dict[str, Any] = {
        "reopen": http_error(lambda: part1.open_os_message_channel()),
        "unsupported": http_error(lambda: cpc1.partitions.find(name="PART3").open_os_message_channel()),
    }
    # The receiver logs on to STOMP with the session's id and credential (works with MFA too).
    receiver = zhmcclient.NotificationReceiver([topic, sess.object_topic, sess.job_topic], S["host"],
                                               sess.session_id, sess.session_credential, verify_cert=S["ca_file"])
    seen: queue.Queue = queue.Queue()
    closing = threading.Event()
    thread = threading.Thread(target=receive_into, daemon=True,
                              args=(receiver, lambda headers, message: seen.put((headers, message)), closing))
    thread.start()
    wait_subscribed(topic, sess.object_topic, sess.job_topic)
    first = take(seen, 15)                          # the refresh replay
    assert first[0]["notification-type"] == "os-message", first
    out["refresh"] = [m["message-text"] for m in first[1]["os-messages"] if m["is-refresh"]]
    part1.send_os_command("uname -a")
    part2 = cpc1.partitions.find(name="PART2")
    job = part2.stop(wait_for_completion=False)
    out["job_result"] = job.wait_for_completion()
    out["cancel_ended"] = http_error(job.cancel)
    part2.start()
    out["lpar_deactivate_without_force"] = http_error(lambda: lpar1.deactivate())
    lpar1.deactivate(force=True)
    out["lpar_status"] = lpar1.get_property("status")
    lpar1.activate()
    out["start_twice"] = http_error(lambda: cpc1.partitions.find(name="PART1").start())
    kinds: list[str] = []
    texts: list[str] = []
    headers_ok = True
    while not ("job-completion" in kinds and "uname -a\n" in texts):
        headers, message = take(seen, 15)
        kinds.append(headers["notification-type"])
        headers_ok = headers_ok and all(isinstance(v, str) for v in headers.values())
        if headers["notification-type"] == "os-message":
            texts += [m["message-text"] for m in message["os-messages"]]
        if headers["notification-type"] == "status-change":
            texts += [r["new-status"] for r in message["change-reports"]]
    out.update({"kinds": kinds, "texts": texts, "headers_are_strings": headers_ok})
    closing.set()
    receiver.close()      # its generator ends within zhmcclient's 6 s queue wait: no join
    sess.logoff()
    return out


def scenario_auto_update() -> dict[str, Any]:
    sess = session()
    client = zhmcclient.Client(sess)
    cpc1 = client.cpcs.find(name="CPC1")
    part2 = cpc1.partitions.find(name="PART2")
    enable_auto_update(part2)                         # STOMP to <host>:61612, userid + password
    enable_auto_update(cpc1.partitions)
    wait_subscribed(sess.object_topic)
    admin("set_status", cpc="CPC1", name="PART2", status="degraded", additional_status="cpu")
    out = {"status_updated": wait_until(lambda: part2.properties.get("status") == "degraded"),
           "additional_status": part2.properties.get("additional-status")}
    admin("set_property", cpc="CPC1", name="PART2", property="description", value="auto-updated")
    out["description_updated"] = wait_until(lambda: part2.properties.get("description") == "auto-updated")
    admin("add_partition", cpc="CPC1", name="NEWPART", status="stopped")
    # With auto-update on, list() answers from the local list unless an inventory-change add
    # triggered a pull: NEWPART shows up only if the notification arrived.
    out["added_seen"] = wait_until(lambda: "NEWPART" in [p.name for p in cpc1.partitions.list()])
    admin("delete_partition", cpc="CPC1", name="NEWPART")
    out["removed_seen"] = wait_until(
        lambda: "NEWPART" not in [p.name for p in cpc1.partitions.list_resources_local()])
    admin("set_status", cpc="CPC1", name="PART2", status="active", additional_status="")
    admin("set_property", cpc="CPC1", name="PART2", property="description", value="hmcsim partition PART2")
    cpc1.partitions.disable_auto_update()
    part2.disable_auto_update()
    sess.logoff()
    return out


def _command(kind: str, cpc_name: str, name: str, command: str) -> dict[str, Any]:
    """zhmc_partition_command / zhmc_lpar_command: the calls those modules make, in order."""
    sess = session()
    client = zhmcclient.Client(sess)
    client.query_api_version()
    lister = client.consoles.console.list_permitted_partitions if kind == "partition" else \
        client.consoles.console.list_permitted_lpars
    target = lister(filter_args={"cpc-name": cpc_name, "name": name})[0]
    topic = target.open_os_message_channel(include_refresh_messages=False)
    receiver = zhmcclient.NotificationReceiver(topic, S["host"], S["userid"], S["password"])
    lines: queue.Queue = queue.Queue()
    closing = threading.Event()

    def put(headers: Any, message: Any) -> None:
        if headers.get("notification-type") == "error":
            lines.put(message)
            return
        for info in message["os-messages"]:
            lines.put(info["message-text"].rstrip("\n"))

    thread = threading.Thread(target=receive_into, args=(receiver, put, closing), daemon=True)
    thread.start()
    # The modules wait up to 2 s for a first notification, then send anyway; here the test
    # waits until the subscription is in place, so that the echo cannot be missed.
    wait_subscribed(topic)
    target.send_os_command(command, False)
    got = [take(lines, 10)]
    closing.set()
    receiver.close()
    sess.logoff()
    return {"name": target.name, "output": got}


def scenario_ibm_zhmc() -> dict[str, Any]:
    out: dict[str, Any] = {}
    # zhmc_session create: logon, verified with Get Console; delete: logoff by session id.
    created = session()
    created.logon(verify=True)
    out["session_verified"] = created.session_id is not None
    zhmcclient.Session(S["host"], session_id=created.session_id, verify_cert=S["ca_file"]).logoff()
    out["session_deleted"] = error_class(lambda: created.get("/api/console", renew_session=False))
    sess = session()
    client = zhmcclient.Client(sess)
    # zhmc_cpc_list (full_properties, include_unmanaged_cpcs)
    out["cpc_list"] = sorted((c.name, c.properties.get("machine-type")) for c in client.cpcs.list(full_properties=True))
    out["unmanaged"] = [c.name for c in client.consoles.console.list_unmanaged_cpcs()]
    # zhmc_partition_list: permitted (default), or per CPC with additional properties
    client.query_api_version()
    out["partition_list"] = [p.name for p in client.consoles.console.list_permitted_partitions(
        filter_args={"cpc-name": "CPC1"}, full_properties=False)]
    out["partition_list_additional"] = [p.properties.get("description") for p in client.cpcs.find(
        name="CPC1").partitions.list(additional_properties=["description"], full_properties=False)]
    # zhmc_lpar_list: permitted with additional properties
    out["lpar_list"] = [(p.name, p.properties.get("se-version"), "description" in p.properties)
                        for p in client.consoles.console.list_permitted_lpars(
                            filter_args={"cpc-name": "CPC2"}, additional_properties=["description"],
                            full_properties=False)]
    sess.logoff()
    out["partition_command"] = _command("partition", "CPC1", "PART1", "uptime")
    out["lpar_command"] = _command("lpar", "CPC2", "LPAR1", "D IPLINFO")
    return out


SCENARIOS = {name[len("scenario_"):]: func for name, func in globals().items() if name.startswith("scenario_")}

if __name__ == "__main__":
    S.update(json.load(sys.stdin))
    result = SCENARIOS[sys.argv[1]]()
    result["stomp_retries"] = STOMP_RETRIES
    print(json.dumps(result, default=str))
