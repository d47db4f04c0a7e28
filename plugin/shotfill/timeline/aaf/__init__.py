"""AAF out: what OTIO's AAF writer needs of a filled timeline (see :mod:`.prepare`)."""
