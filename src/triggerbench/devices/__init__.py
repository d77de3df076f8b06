"""What the accelerators on this host are (NVIDIA GPUs through NVML), for runners and meters."""
