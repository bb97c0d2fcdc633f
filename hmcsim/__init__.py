"""hmcsim: a simulated IBM Z HMC (WS API subset + STOMP over TLS) with fault injection.

Usage from tests: ``with HmcSim(state_dir) as sim: ...``; from a shell: ``python -m hmcsim``.
See docs/hmcsim.md.
"""
from hmcsim.config import ConfigError
from hmcsim.sim import HmcSim

__all__ = ["HmcSim", "ConfigError"]
