"""OpenTimelineIO plugins that ship with ShotFill.

Registered through the ``opentimelineio.plugins`` entry point; OTIO finds
``plugin_manifest.json`` beside this file.  This package does not import
``shotfill``, so it can ship on its own.
"""
