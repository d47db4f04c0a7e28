"""DaVinci Resolve integration: the engine side of the launcher protocol.

The launchers (``scripts/ShotFill.py`` for Resolve's Python, ``scripts/ShotFill.lua``
for its Lua) run inside Resolve with nothing but the standard library and
Resolve's API.  They gather the current timeline into a snapshot (JSON, see
:mod:`shotfill.resolve.protocol`), run this engine in a separate process with
ShotFill's own interpreter::

    python -m shotfill resolve scan --in snapshot.json --out scan.json
    python -m shotfill resolve run  --in snapshot.json --out results.json

read its progress (JSON lines on stdout), and place what it made.  The engine
turns the snapshot into an OTIO timeline (:mod:`shotfill.resolve.snapshot`), so
the same scan and plan code decides what a placeholder is and what is asked
for, as on the command line.
"""
