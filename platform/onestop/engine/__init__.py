"""The engine boundary: the only package that imports SpiffWorkflow. No Flask, no peewee, no I/O.

`Engine` parses uploaded models into cached specs and moves workflows from one persisted state
to the next; callers hand it bytes and state text and get plain results back.
"""

from .authoring import ConditionCheck, TimerCheck, check_condition, check_timer_value, declared_names
from .budgets import Budgets
from .datastores import lookup_tables
from .datastores import referenced as referenced_tables
from .parsing import ParsedModel, SourceFile, classify, content_hash
from .problems import ModelError, Problem
from .runtime import Engine, EngineError, NotWaiting, Step, Stored, TaskNotReady
from .sandbox import Sandbox
from .service_tasks import ServiceCall
from .unittests import CaseResult, TestCase, TestFile, is_test_file, process_of, read_test_file, run_cases

# The engine's public face: the layers above import these names from `onestop.engine`, never its
# modules (tests/test_architecture.py holds them to it).
__all__ = ["Budgets", "CaseResult", "ConditionCheck", "Engine", "EngineError", "ModelError", "NotWaiting",
           "ParsedModel", "Problem", "Sandbox", "ServiceCall", "SourceFile", "Step", "Stored", "TaskNotReady", "TestCase", "TestFile",
           "TimerCheck", "check_condition", "check_timer_value", "classify", "content_hash", "declared_names", "is_test_file",
           "lookup_tables", "process_of", "read_test_file", "referenced_tables", "run_cases"]
