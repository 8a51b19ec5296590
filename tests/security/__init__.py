"""The security corpus: every hostile payload found so far, so none can come back."""
