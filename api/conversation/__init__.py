"""The conversation gateway: one typed message in, bot or human desk, one reply out."""
