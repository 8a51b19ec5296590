"""Two units of work at once: is the second held back while the first is paused inside its own?"""

import threading


def held_back(first: threading.Thread, second: threading.Thread, paused: threading.Event,
              release: threading.Event, patience: float = 20) -> bool:
    """Start `first`, wait until it says it is `paused` (inside its unit, waiting for `release`),
    then start `second`: True if `second` has not finished `patience` seconds later. Both threads
    are released and joined before this returns, whatever happens."""
    first.start()
    try:
        assert paused.wait(60), "the first unit never reached its pause"
        second.start()
        second.join(patience)
        return second.is_alive()
    finally:
        release.set()
        first.join(60)
        if second.ident is not None:
            second.join(60)
