"""Task-oriented dialogue env family (PyDial/ConvLab-style slot filling).

Layers import one way: ``domain`` (ontology + database, package data) <- ``user``
(agenda-based simulated user) <- ``noise`` (semantic error channel, N-best lists) <-
``tracker`` (rule-based belief state) <- ``env`` (:class:`~envs.dialogue.env.DialogueEnv`);
``expert`` holds the handcrafted (PyDial HDC-style) policy. Regenerate the domain files
with ``python -m envs.dialogue.generate_data``.
"""
