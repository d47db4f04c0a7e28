"""ShotFill: fill GEN: placeholders in an edit with generated footage.

Data flows one way::

    timeline in -> placeholders -> generation requests -> provider jobs
                -> media -> conform -> timeline out
"""

__version__ = "0.1.0"
