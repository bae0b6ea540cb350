"""What ``blueprint verify`` runs and how: the entries (``equations``: ``reference.equations`` plus the backends'
agreement) and the checker that draws their cases and summarizes them (``engine``).

From Python: ``list(run(select(EQUATIONS, ["eq9*"]), seed=0, cases=3))`` are the summaries that
``blueprint verify --equation 'eq9*' --seed 0 --cases 3`` prints.
"""

from blueprint.verification.engine import Summary, check, fresh_seed, run, select, table, write_json
from blueprint.verification.equations import EQUATIONS

__all__ = ["EQUATIONS", "Summary", "check", "fresh_seed", "run", "select", "table", "write_json"]
