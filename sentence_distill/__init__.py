"""The library under the pipeline's stages (``tasks/<stage>.py``), organised by concept.

Read top to bottom it is the pipeline: ``config`` (params.yaml's schema and the checks of what it names),
``data`` (corpora, STSb, parallel pairs), ``embedding_cache`` and ``models`` (encoding and loading),
``students`` (building and training them), ``evaluation``, ``report``. ``paths``, ``fileio``, ``assets``
and ``cli`` are the ground every layer stands on. Nothing here imports ``tasks`` or ``flows``.

Package ``__init__`` files hold no code: a stage's DVC deps are the modules it imports, and these add nothing.
"""
