"""Small helpers every part may use; they import nothing of quotebot but errors."""
