"""Every benchmark of blueprint, one module per ``blueprint bench MODE`` (``layers``, ``training``), and their
shared pieces: the timed ops, compile times, peak memory, the allocator setting."""
