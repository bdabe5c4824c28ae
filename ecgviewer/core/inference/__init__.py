"""The model runtime: preflight of a GGUF pair, the inference worker process and its client."""
