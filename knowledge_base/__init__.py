"""Knowledge base: seed store, embedding model, vector index and retrieval service."""
