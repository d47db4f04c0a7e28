"""A request that asks for nothing new hashes exactly as ShotFill 0.1's did, so its caches and journals serve it.

The hashes below were computed by main as of a656fcd (before handles, segments and sound existed) for the
same requests; every field added since must stay out of the hash at its default.
"""

from __future__ import annotations

from shotfill.model import GenerationRequest
from shotfill.plan.requests import request_hash

PLAIN = GenerationRequest(placeholder_id="V1_01000010", provider="openai", model="sora-2", prompt="a fox in snow",
                          seed=7, width=320, height=180, rate="24000/1001", frames=48, timecode="01:00:00:10")


def test_a_plain_request_hashes_as_before():
    assert request_hash(PLAIN) == "7d8aaad6cf3f883e4a81f48fc1a409cb1caa8dc9925648296c16f0cd0b51e1de"
    assert request_hash(PLAIN.model_copy(update={"take": 2})) == (
        "aab7c3641c958e5478ba2c19e11b94dd46af3b8e06f1d613f45e470aa751f2a6")


def test_each_new_ask_changes_the_hash():
    base = request_hash(PLAIN)
    changed = [PLAIN.model_copy(update=u) for u in ({"handles": 4}, {"audio": True}, {"segment": 1, "segments": 2},
                                                     {"segment": 2, "segments": 2, "chained_from": "ab"})]
    hashes = [request_hash(r) for r in changed]
    assert base not in hashes and len(set(hashes)) == len(hashes)
