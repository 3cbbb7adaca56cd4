"""Pipeline stages: one module per stage, each plain functions over files in and files out.

Every stage module has a ``main(argv)`` entry point; ``dvc.yaml`` runs it as
``python -m tasks.<stage>`` and the Prefect flow runs the very same entry point
in-process (see ``tasks.stages``).
"""
