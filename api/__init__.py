"""FastAPI gateway: the public edge of the card-service assistant."""
