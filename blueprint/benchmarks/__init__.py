"""Every benchmark of blueprint, one module per ``blueprint bench MODE`` (``layers``, ``training``, ``backends``,
``latency``, ``loader``), and their shared pieces: the timed ops (``ops``), the alternated rounds and their
medians (``timing``), accel's compile times, peak memory, the allocator setting."""
