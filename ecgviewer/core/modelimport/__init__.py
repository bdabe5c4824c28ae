"""Import a Hugging Face Gemma 3 checkpoint as a verified GGUF pair (docs/import.md)."""
