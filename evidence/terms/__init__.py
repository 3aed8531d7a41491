"""The Terms: importing versioned documents (`services`) and splitting them into clauses
(`clauses`, with the category lexicon in `clause_lexicon.json`)."""
