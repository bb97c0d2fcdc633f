"""What hmcsim publishes keeps the HMC's rules (the fixtures check every simulator they start;
this test drives one through everything it can publish, and checks the checker itself)."""
import json
import time

from tests.support.fixtures_hmcsim import PublicationInvariants, RawStomp, ws_logon, ws_url


def test_checker_flags_what_an_hmc_never_sends():
    checker = PublicationInvariants()
    checker("t", {"notification-type": "property-change", "property-names": " status "},
            json.dumps({"change-reports": [{"property-name": "status", "old-value": "a", "new-value": "b"}]}))
    checker("t", {"notification-type": "status-change", "session-sequence-nr": 3}, "{}")
    os_headers = {"notification-type": "os-message", "object-uri": "/api/partitions/x"}
    checker("t", os_headers, json.dumps({"os-messages": [{"sequence-number": 5}, {"sequence-number": 6}]}))
    checker("t", os_headers, json.dumps({"os-messages": [{"sequence-number": 6}]}))
    checker("t", os_headers, json.dumps({"os-messages": [{"sequence-number": 2, "is-refresh": True}]}))  # a replay
    assert len(checker.violations) == 3, checker.violations
    assert "(sc) properties ['status']" in checker.violations[0]
    assert "not a string" in checker.violations[1] and "6 after 6" in checker.violations[2]


def test_everything_published_keeps_the_rules(fresh_hmcsim):
    sim = fresh_hmcsim
    session, logon = ws_logon(sim)
    raw = RawStomp(sim)
    raw.connect(logon["api-session"], logon["session-credential"])
    try:
        sim.emit_os_messages("CPC1", "PART1", ["before\n", "the channel\n"])
        topic = session.post(ws_url(sim, sim.uri("CPC1", "PART1") + "/operations/open-os-message-channel"),
                             timeout=10).json()["topic-name"]
        for sub_id, name in enumerate([topic, logon["notification-topic"], logon["job-notification-topic"],
                                       sim.info["audit_topic"]]):
            raw.send("SUBSCRIBE", {"id": str(sub_id), "destination": "/topic/" + name, "receipt": str(sub_id)})
        frames = []
        while sum(f.command == "RECEIPT" for f in frames) < 4:
            frames.append(raw.next_frame())
        sim.emit_os_messages("CPC1", "PART1", ["live %d\n" % i for i in range(5)])
        sim.set_status("CPC1", "PART2", "degraded", additional_status="x")
        sim.set_property("CPC1", "PART2", "description", "changed")
        session.post(ws_url(sim, sim.uri("CPC1", "PART3") + "/operations/start"), timeout=10)
        session.post(ws_url(sim, sim.uri("CPC2", "LPAR1") + "/operations/deactivate"), timeout=10)   # fails
        sim.add_lpar("CPC2", "LPAR7", status="operating")
        sim.delete_lpar("CPC2", "LPAR7")
        ws_logon(sim)
        deadline = time.monotonic() + 5
        while sim.invariants.count < 14 and time.monotonic() < deadline:
            time.sleep(0.05)
        sim.restart()
        kinds = [f.headers["notification-type"] for f in frames + raw.wait_closed() if f.command == "MESSAGE"]
    finally:
        raw.close()
    assert {"os-message", "status-change", "property-change", "inventory-change", "job-completion",
            "log-entry", "console-shutting-down"} <= set(kinds), kinds
    assert sim.invariants.count >= len(kinds) and sim.invariants.violations == []
