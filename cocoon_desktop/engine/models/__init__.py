"""Model files: GGUF metadata, hashing, the library, GPU offload and capacity plans."""
