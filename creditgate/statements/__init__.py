"""Period close: freeze a period, rate its usage, book the true-up, write the statement."""
