"""Search: encoder, adapter, vector index, snapshot, retrieval service and its reloader."""
