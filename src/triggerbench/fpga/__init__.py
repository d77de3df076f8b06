"""FPGA firmware flows: hls4ml projects and reports, the open RTL flow, analytic estimates."""
