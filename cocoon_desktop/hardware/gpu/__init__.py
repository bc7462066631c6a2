"""NVIDIA GPUs through NVML: the query helper, readers, the monitor (and its Null form), Xid
events."""
