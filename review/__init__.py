"""The hotline learns from its traffic: messages the model was unsure about (or that a
villager said did not help) are kept redacted, labelled by a supervisor under
/police/review, and exported as Rasa training data for the next ``hotline train``.

Imports storage, nlu and reporting's login and audit helpers; never bot/.
"""
