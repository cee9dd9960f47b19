"""Use cases: load, call the domain, commit through a unit of work."""
