"""What a valid agency extract is: canonical fields, identifier checks and one schema per agency."""
