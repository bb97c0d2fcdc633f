"""Unit tests of the source runtime's own helpers, of its control handler (in-process against
hmcsim) and of the plugin file's documentation.

The orchestration itself (run_source against hmcsim and through ansible-rulebook) is
tested in tests/integration/test_source_*.py.
"""
import asyncio
import logging
import os
import runpy
import shutil
import tempfile
import threading
import time

import pytest
import yaml

from ansible_collections.zhmc.eda.plugins.module_utils import source_runtime
from ansible_collections.zhmc.eda.plugins.module_utils.aio import run_blocking
from ansible_collections.zhmc.eda.plugins.module_utils.pacing import Backoff, RateLimitedLog
from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlClient
from ansible_collections.zhmc.eda.plugins.module_utils.source_options import parse_source_args

PLUGIN_RELATIVE = os.path.join("extensions", "eda", "plugins", "event_source", "notifications.py")


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_backoff_grows_by_increase_and_is_capped():
    backoff = Backoff(initial=0.5, increase=1.0, maximum=3.0, jitter=0.0)
    delays = [backoff.next_delay() for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_jitter_stays_within_its_fraction():
    values = iter([0.0, 1.0, 0.5])
    backoff = Backoff(initial=1.0, increase=0.0, maximum=10.0, jitter=0.2,
                      rand=lambda: next(values))
    assert [backoff.next_delay() for _ in range(3)] == pytest.approx([1.0, 1.2, 1.1])


def test_rate_limited_log_one_line_per_window_with_count(caplog):
    clock = FakeClock()
    logger = logging.getLogger("zhmc.eda.source.test")
    ratelog = RateLimitedLog(logger, window=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="zhmc.eda.source.test"):
        assert ratelog.log(logging.WARNING, "a", "broker down: %s", "x") is True
        for _ in range(5):
            clock.now += 1
            assert ratelog.log(logging.WARNING, "a", "broker down: %s", "x") is False
        # another cause is not suppressed by the first one
        assert ratelog.log(logging.WARNING, "b", "other problem") is True
        clock.now += 60
        assert ratelog.log(logging.WARNING, "a", "broker down: %s", "x") is True
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "broker down: x"
    assert messages[1] == "other problem"
    assert messages[2].startswith("broker down: x (repeated 5 more times in the last")
    assert len(messages) == 3


def test_run_blocking_returns_result_and_raises_errors():
    async def scenario():
        assert await run_blocking(lambda a, b=0: a + b, 1, b=2, timeout=5) == 3
        with pytest.raises(KeyError):
            await run_blocking(lambda: {}["missing"], timeout=5)
        started = time.monotonic()
        release = threading.Event()
        with pytest.raises(asyncio.TimeoutError):
            await run_blocking(release.wait, 10, timeout=0.2)
        release.set()
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert elapsed < 2.0


def test_run_blocking_thread_does_not_block_loop_exit():
    """A hung call must not keep asyncio.run() from returning (daemon thread, no executor)."""
    hang = threading.Event()

    async def scenario():
        with pytest.raises(asyncio.TimeoutError):
            await run_blocking(hang.wait, 30, timeout=0.1)

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 2.0
    hang.set()


# ------------------------------------------------------------------ the control handler

FAST = {"heartbeat_send_cycle": 1.0, "heartbeat_receive_cycle": 1.0,
        "heartbeat_receive_check": 0.5, "reconnect_sleep_max": 1.0, "connect_timeout": 5}


def _with_running_source(sim, scenario):
    """Run the source with a control socket against `sim`; `scenario(ask)` runs while it is up,
    `ask(op, **params)` sends one control request over the real socket."""
    # a short directory: a Unix socket path is limited to 107 bytes
    directory = tempfile.mkdtemp(prefix="zhmc-ctl-", dir="/tmp")  # noqa: S108
    path = os.path.join(directory, "ctl.sock")
    options = parse_source_args({
        "hmc_host": sim.host,
        "hmc_auth": {"userid": sim.userid, "password": sim.password, "ca_certs": sim.ca_file},
        "ws_port": sim.ws_port, "stomp_port": sim.stomp_port, "topic_types": ["object"],
        "control_socket": path, "stomp_retry_timeout_config": dict(FAST)})

    async def run():
        started = asyncio.Event()
        source = asyncio.ensure_future(
            source_runtime.run_source(asyncio.Queue(), options, on_started=started.set))
        try:
            await asyncio.wait_for(started.wait(), 60)

            async def ask(op, **params):
                return await asyncio.to_thread(ControlClient(path).request, op, **params)

            await scenario(ask)
        finally:
            source.cancel()
            await asyncio.gather(source, return_exceptions=True)

    try:
        asyncio.run(run())
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_control_open_channel_reports_unsupported_opened_existing(hmcsim):
    """open_os_message_channel answers with `status` and `topic_name`: an OS without message
    support (PART3, LPAR3) is ok and unchanged; with subscribe=false, changed says whether a
    channel was opened."""
    sim = hmcsim
    answers = {}

    async def scenario(ask):
        answers["PART3"] = await ask("open_os_message_channel", cpc="CPC1", partition="PART3")
        answers["LPAR3"] = await ask("open_os_message_channel", cpc="CPC2", lpar="LPAR3",
                                     subscribe=False)
        answers["PART1 unsubscribed"] = await ask("open_os_message_channel", cpc="CPC1",
                                                  partition="PART1", subscribe=False)
        answers["PART1 unsubscribed again"] = await ask("open_os_message_channel", cpc="CPC1",
                                                        partition="PART1", subscribe=False)
        answers["PART1"] = await ask("open_os_message_channel", cpc="CPC1", partition="PART1")
        answers["PART1 again"] = await ask("open_os_message_channel", cpc="CPC1", partition="PART1")
        answers["LPAR1 check"] = await ask("open_os_message_channel", cpc="CPC2", lpar="LPAR1",
                                           check_mode=True)
        answers["LPAR1"] = await ask("open_os_message_channel", cpc="CPC2", lpar="LPAR1")

    _with_running_source(sim, scenario)

    def channel_uris(answer):
        return {s["object_uri"] for s in answer["subscriptions"] if s["object_uri"]}

    for name, cpc in (("PART3", "CPC1"), ("LPAR3", "CPC2")):
        answer = answers[name]
        assert answer["ok"] is True and answer["changed"] is False, answer
        assert answer["status"] == "unsupported" and answer["topic_name"] is None, answer
        assert answer["topics"] == [] and answer["object_uri"] == sim.uri(cpc, name)
        assert sim.uri(cpc, name) not in channel_uris(answer)

    part1 = sim.uri("CPC1", "PART1")
    first = answers["PART1 unsubscribed"]
    assert first["changed"] is True and first["status"] == "opened", first
    topic = first["topic_name"]
    assert topic and first["topics"] == [topic] and part1 not in channel_uris(first)
    again = answers["PART1 unsubscribed again"]
    assert again["changed"] is False and again["status"] == "existing", again
    assert again["topic_name"] == topic and part1 not in channel_uris(again)

    # subscribing to a channel the session has open already changes the subscriptions
    subscribed = answers["PART1"]
    assert subscribed["changed"] is True and subscribed["status"] == "existing", subscribed
    assert subscribed["topic_name"] == topic and part1 in channel_uris(subscribed)
    assert answers["PART1 again"]["changed"] is False
    assert answers["PART1 again"]["status"] == "existing"

    check = answers["LPAR1 check"]
    assert check["changed"] is True and check["status"] == "opened" and check["topic_name"] is None
    assert sim.uri("CPC2", "LPAR1") not in channel_uris(check)
    lpar1 = answers["LPAR1"]
    assert lpar1["changed"] is True and lpar1["status"] == "opened" and lpar1["topic_name"]
    assert sim.uri("CPC2", "LPAR1") in channel_uris(lpar1)


# ------------------------------------------------------------------ the plugin file


def _plugin_path(collection_root):
    return os.path.join(collection_root, PLUGIN_RELATIVE)


def _plugin_doc(collection_root):
    namespace = runpy.run_path(_plugin_path(collection_root))
    return namespace, yaml.safe_load(namespace["DOCUMENTATION"]), namespace["EXAMPLES"]


def test_plugin_loads_like_ansible_rulebook_does(collection_root):
    """runpy.run_path (no package) gives a coroutine main, as ansible-rulebook requires."""
    namespace, doc, examples = _plugin_doc(collection_root)
    assert asyncio.iscoroutinefunction(namespace["main"])
    assert doc["short_description"]
    assert yaml.safe_load(examples)[0]["sources"][0]["zhmc.eda.notifications"]


def test_documentation_lists_exactly_the_validated_options(collection_root):
    from ansible_collections.zhmc.eda.plugins.module_utils.source_options import SOURCE_OPTIONS

    _namespace, doc, _examples = _plugin_doc(collection_root)
    documented = set(doc["options"])
    validated = set(SOURCE_OPTIONS)
    assert documented == validated, (
        "DOCUMENTATION options differ from SOURCE_OPTIONS: only documented %s, only validated %s"
        % (sorted(documented - validated), sorted(validated - documented)))


def _compare_specs(documented, validated, where, problems):
    """Collect every difference in type, default, required, elements, choices, suboptions."""
    if set(documented) != set(validated):
        problems.append("%s: documented %s, validated %s"
                        % (where or "options", sorted(documented), sorted(validated)))
    for name in sorted(set(documented) & set(validated)):
        doc, val = documented[name], validated[name]
        here = "%s.%s" % (where, name) if where else name
        for key, default in (("type", "str"), ("required", False), ("elements", None)):
            val_value = val.get(key) if val.get(key) is not None else default
            if doc.get(key, default) != val_value:
                problems.append("%s: %s documented %r, validated %r"
                                % (here, key, doc.get(key, default), val_value))
        doc_default, val_default = doc.get("default"), val.get("default")
        if isinstance(val_default, (int, float)) and not isinstance(val_default, bool):
            same = (isinstance(doc_default, (int, float)) and not isinstance(doc_default, bool)
                    and float(doc_default) == float(val_default))
        else:
            same = doc_default == val_default
        if not same:
            problems.append("%s: default documented %r, validated %r"
                            % (here, doc_default, val_default))
        if sorted(doc.get("choices") or []) != sorted(val.get("choices") or []):
            problems.append("%s: choices documented %r, validated %r"
                            % (here, doc.get("choices"), val.get("choices")))
        if doc.get("suboptions") or val.get("suboptions"):
            _compare_specs(doc.get("suboptions") or {}, val.get("suboptions") or {}, here,
                           problems)


def test_documentation_types_defaults_choices_and_suboptions_match(collection_root):
    from ansible_collections.zhmc.eda.plugins.module_utils.source_options import SOURCE_OPTIONS

    _namespace, doc, _examples = _plugin_doc(collection_root)
    problems = []
    _compare_specs(doc["options"], SOURCE_OPTIONS, "", problems)
    assert not problems, "\n".join(problems)


def test_examples_validate(collection_root):
    """The EXAMPLES' source arguments pass parse_source_args (templates filled in)."""
    from ansible_collections.zhmc.eda.plugins.module_utils.source_options import parse_source_args

    _namespace, _doc, examples = _plugin_doc(collection_root)
    args = yaml.safe_load(examples)[0]["sources"][0]["zhmc.eda.notifications"]
    args["hmc_host"] = "hmc.example.com"
    args["hmc_auth"] = {"userid": "user", "password": "secret"}
    options = parse_source_args(args)
    assert options.topic_types == ("object", "job")
    assert options.status_events is True


def test_bad_option_is_a_value_error_naming_it(collection_root):
    namespace = runpy.run_path(_plugin_path(collection_root))
    with pytest.raises(ValueError) as info:
        asyncio.run(namespace["main"](None, {
            "hmc_host": "127.0.0.1", "hmc_auth": {"userid": "u", "password": "p"},
            "topics": ["t"], "stomp_port": "not-a-port"}))
    assert "stomp_port" in str(info.value)
    assert "zhmc.eda.notifications" in str(info.value)



def test_feedback_mode_is_refused_with_a_clear_message(collection_root):
    namespace = runpy.run_path(_plugin_path(collection_root))
    args = {"hmc_host": "127.0.0.1", "hmc_auth": {"userid": "u", "password": "p"},
            "topics": ["t"], "feedback": True, "eda_feedback_queue": asyncio.Queue}
    with pytest.raises(ValueError, match="'feedback: true' is not supported"):
        asyncio.run(namespace["main"](None, args))
