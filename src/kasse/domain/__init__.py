"""Pure business rules: no web framework, no ORM, no validation library."""
