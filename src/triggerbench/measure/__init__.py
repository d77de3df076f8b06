"""Measurement: scenarios (tight loop, MLPerf LoadGen, trigger stream), statistics, accuracy."""
