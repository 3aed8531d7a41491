"""Evidence that the outputs were used: identity claims in probe transcripts of a rival
model (`claims`), and canaries planned, served and found again in them (`canaries`)."""
