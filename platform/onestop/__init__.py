"""onestop: a low-code BPMN platform for public administrative service centres."""

__version__ = "0.1.0"
