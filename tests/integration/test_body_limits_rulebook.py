"""End to end: bodies over the size and nesting limits (docs/events.md "Limits") through
ansible-rulebook on the installed collection, against a real ActiveMQ broker (topics-only).

A body nested 500 levels deep made ansible-rulebook stop processing events (issue 16), and
from about 330 levels its print_event and run_playbook actions fail with RecursionError.
Here the rules print every event: the too deep and the too large bodies arrive as events
with parse_error and their raw text, a body exactly at the nesting limit arrives parsed and
is printed, and a notification published after them is still processed.
"""
import json

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.events import MAX_BODY_CHARS, MAX_JSON_DEPTH, RAW_BODY_MAX_CHARS
from tests.support.rulebook import RulebookRun, write_rulebook

pytestmark = [pytest.mark.activemq, pytest.mark.jdk, pytest.mark.slow]

CONNECTED_LINE = r"zhmc\.eda\.notifications connected to"
PASSWORD_ENV = "ZHMC_TEST_BROKER_PASSWORD"
TOPIC = "zeda.e2e.limits"
ID_HEADER = "zeda-test-id"


def nested_objects(depth):
    return '{"a":' * depth + "1" + "}" * depth


BODIES = {
    "deep-500": "[" * 500 + "]" * 500,
    "deep-at-limit": nested_objects(MAX_JSON_DEPTH),
    "large": json.dumps({"change-reports": [{"old-status": "x" * MAX_BODY_CHARS}]}),
    "after": '{"change-reports": [{"old-status": "operating", "new-status": "stopped"}]}',
}


def by_id(events):
    return {e["hmc"]["headers"][ID_HEADER]: e["hmc"] for e in events
            if ID_HEADER in ((e.get("hmc") or {}).get("headers") or {})}


def body_depth(value):
    depth = 0
    while isinstance(value, dict):
        value = value["a"]
        depth += 1
    return depth


def test_bodies_over_the_limits_become_parse_errors_and_the_rulebook_goes_on(
        activemq_running, collections_path, tmp_state_dir):
    workdir = tmp_state_dir
    broker = activemq_running
    args = {
        "hmc_host": broker.host,
        "hmc_auth": {"userid": broker.userid, "password": "{{ %s }}" % PASSWORD_ENV,
                     "ca_certs": broker.ca_file},
        "stomp_port": broker.stomp_ssl_port,
        "topics": [TOPIC],
    }
    rules = [{"name": "print", "condition": "event.hmc is defined", "action": {"print_event": {}}}]
    path = write_rulebook(workdir, [{"name": "limits e2e", "hosts": "all",
                                     "sources": [{"name": "amq", "zhmc.eda.notifications": args}],
                                     "rules": rules}])
    run = RulebookRun(path, workdir, collections_path, variables={},
                      env_vars={PASSWORD_ENV: broker.password})
    with run:
        run.wait_for(CONNECTED_LINE, timeout=60)
        broker.publish_messages(TOPIC, [({"notification-type": "status-change", ID_HEADER: test_id}, body)
                                        for test_id, body in BODIES.items()])
        events = run.wait_for_events(lambda evs: "after" in by_id(evs), timeout=60)
        code, _seconds = run.terminate(timeout=15)
        assert code == 0

    got = by_id(events)
    assert sorted(got) == sorted(BODIES), "not every notification was printed: %s" % sorted(got)
    deep = got["deep-500"]
    assert deep["parse_error"] == "body is nested more than %d levels deep; not parsed" % MAX_JSON_DEPTH
    assert deep["body"] is None and deep["raw_body"] == BODIES["deep-500"]
    assert "parse_error" not in got["deep-at-limit"]
    assert body_depth(got["deep-at-limit"]["body"]) == MAX_JSON_DEPTH
    large = got["large"]
    assert large["parse_error"] == "body is larger than %d characters; not parsed" % MAX_BODY_CHARS
    assert large["raw_body_truncated"] is True and len(large["raw_body"]) == RAW_BODY_MAX_CHARS
    assert got["after"]["new_status"] == "stopped"
    assert "recursion" not in run.output.lower(), run.tail()
