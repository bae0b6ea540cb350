"""Pieces of ``blueprint bench`` (see ``blueprint.bench``): the timed ops, compile times, peak memory."""
