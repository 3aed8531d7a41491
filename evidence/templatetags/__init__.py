"""Template filters of the record side."""
