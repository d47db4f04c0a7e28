"""Media layer: find and run ffmpeg, probe files, grab frames, conform and synthesise clips.

Every function here runs real ffmpeg/ffprobe processes (never a shell) and
raises :class:`shotfill.errors.MediaError` subclasses that name the file.
"""
