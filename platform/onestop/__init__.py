"""onestop: a low-code BPMN platform for public administrative service centres."""

import warnings

__version__ = "0.1.0"

# pyHanko (services/signing.py, services/signature_check.py) imports cryptography's DSA key type, which
# cryptography 51 deprecated: a warning at that import, about the name only (onestop makes ECDSA keys,
# never DSA ones), that every web process would print to its log at its first signature.
warnings.filterwarnings("ignore", message="DSA is deprecated", module="pyhanko")
