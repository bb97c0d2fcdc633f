"""Generated estates and a configuration shared by two hmcsim instances (redundant HMCs)."""
import json
import os

import pytest

from hmcsim import ConfigError, HmcSim
from hmcsim.estate import generate, parse_size
from tests.support.fixtures_hmcsim import HMC_STOMP_PORT, HMC_WS_PORT, free_loopback_address, ws_logon, ws_url


def test_generated_estate_is_realistic_and_reproducible():
    cpcs = generate(10, 100)
    assert cpcs == generate(10, 100) and cpcs != generate(10, 100, seed=1)
    assert [c["name"] for c in cpcs][:2] == ["CPC01", "CPC02"] and [c["dpm"] for c in cpcs[:2]] == [True, False]
    children = [child for c in cpcs for child in c.get("partitions", []) + c.get("lpars", [])]
    assert len(children) == 1000 and len({c["name"] for c in children}) == 1000
    assert all(len(c["name"]) <= 8 for c in children)
    statuses = {c["status"] for c in children}
    assert {"active", "stopped", "operating", "not-activated"} <= statuses
    assert {c["os_type"] for c in children} == {"Linux", "z/VM", "SSC", "z/OS", "CF"}
    assert not any(c["os_messages"] for c in children if c["os_type"] in ("SSC", "CF"))
    assert parse_size("10x100") == {"cpcs": 10, "per_cpc": 100}
    with pytest.raises(ValueError, match="10x100"):
        parse_size("ten")


def test_estate_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="estate.per_cpc"):
        HmcSim(str(tmp_path), config={"estate": {"cpcs": 2, "per_cpc": -1}})
    with pytest.raises(ConfigError, match="either 'cpcs' or 'estate'"):
        HmcSim(str(tmp_path), config={"estate": {"cpcs": 2, "per_cpc": 1}, "cpcs": []})
    with pytest.raises(ConfigError, match="estate.dpm"):
        HmcSim(str(tmp_path), config={"estate": {"cpcs": 2, "per_cpc": 1, "dpm": "some"}})


def test_two_instances_share_a_configuration_on_standard_ports(tmp_path):
    """Two redundant HMCs: same users, passwords, inventory and URIs, one CA, each on its own
    loopback address with the HMC's standard ports."""
    shared = str(tmp_path / "twins.json")
    config = {"users": [{"userid": "ops"}], "estate": {"cpcs": 2, "per_cpc": 3}}
    first = HmcSim(str(tmp_path / "a"), config=config, host=free_loopback_address(), ws_port=HMC_WS_PORT,
                   stomp_port=HMC_STOMP_PORT, shared_config=shared, hmc_name="HMC1")
    second = HmcSim(str(tmp_path / "b"), host=free_loopback_address(), ws_port=HMC_WS_PORT,
                    stomp_port=HMC_STOMP_PORT, shared_config=shared, hmc_name="HMC2")
    with first, second:
        assert first.host != second.host
        assert (first.userid, first.password) == (second.userid, second.password) == ("ops", first.password)
        assert first.info["cpcs"] == second.info["cpcs"]
        assert (first.info["hmc_name"], second.info["hmc_name"]) == ("HMC1", "HMC2")
        assert os.stat(shared).st_mode & 0o777 == 0o600
        assert first.password in open(shared).read()
        for sim in (first, second):
            session, _ = ws_logon(sim)       # verified against each one's ca.pem ...
            part = session.get(ws_url(sim, first.uri("CPC01", "LNX01002")), timeout=10).json()
            assert part["name"] == "LNX01002"
        # ... and one CA file verifies both.
        session, _ = ws_logon(second, session=None)
        session.verify = first.ca_file
        assert session.get(ws_url(second, "/api/cpcs"), timeout=10).status_code == 200
    third = HmcSim(str(tmp_path / "c"), config={"hmc_name": "OTHER"}, shared_config=shared)
    assert third.config["users"][0]["userid"] == "ops"      # the shared file wins
    with open(shared, "w") as handle:
        json.dump({"format": 99}, handle)
    with pytest.raises(ConfigError, match="not an hmcsim shared configuration"):
        HmcSim(str(tmp_path / "d"), shared_config=shared)
