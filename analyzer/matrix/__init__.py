"""``tfconflict matrix``: the check of one request against every distinct release of a runtime kind."""
