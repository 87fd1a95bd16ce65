-- The demo: what recsys does, end to end, on synthetic data.  make demo runs it.
CREATE EXTENSION IF NOT EXISTS recsys;
