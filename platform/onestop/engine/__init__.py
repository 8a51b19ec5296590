"""The engine boundary: the only package that imports SpiffWorkflow. No Flask, no peewee, no I/O.

`Engine` parses uploaded models into cached specs and moves workflows from one persisted state
to the next; callers hand it bytes and state text and get plain results back.
"""

from .problems import ModelError, Problem
from .runtime import Engine, EngineError, NotWaiting, Step, Stored, TaskNotReady

__all__ = ["Engine", "EngineError", "ModelError", "NotWaiting", "Problem", "Step", "Stored", "TaskNotReady"]
