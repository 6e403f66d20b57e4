"""Understanding what a villager wrote: the Rasa NLU model (trained from data/), the
keyword fallback used when no model can be loaded, and training and evaluation.

Imports nothing of ours.
"""

from nlu.parser import load_parser
from nlu.types import Entity, Parse, Parser

__all__ = ["Entity", "Parse", "Parser", "load_parser"]
