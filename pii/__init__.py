"""PII masking for logs and stored transcripts (card numbers, ID numbers, phone numbers)."""

from pii.masking import PiiMaskingFilter, mask

__all__ = ["PiiMaskingFilter", "mask"]
