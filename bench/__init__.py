"""Benchmarks for quotebot: quality against baselines, latency, build/update, start-up, memory."""
