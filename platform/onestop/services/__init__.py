"""Domain verbs. Each public function takes the acting user explicitly, owns its transaction and
writes the audit event; web handlers, the CLI and the worker call these and nothing below them.
"""
