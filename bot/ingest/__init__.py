"""Files of a knowledge folder -> documents -> quotable passages."""
