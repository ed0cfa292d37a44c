"""What users tell the bot back: votes on answers, followed questions."""
