"""The embedded sandbox: a Vercel-like platform, the simulated app and its traffic, on loopback.

``with Sandbox(SandboxSettings(...)) as info:`` starts it; ``info.env`` holds every variable a
separate ``reversal`` process needs to talk to it exactly as it would to Vercel.
"""

from reversal.sandbox.runtime import Sandbox
from reversal.sandbox.settings import SandboxInfo, SandboxSettings, parse_knobs

__all__ = ["Sandbox", "SandboxInfo", "SandboxSettings", "parse_knobs"]
