"""`bcastctl monitor`: the mesh checks and the RTT probes on an interval, as Prometheus metrics."""
