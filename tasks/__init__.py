"""Pipeline stages: one module per stage, each plain functions over files in and files out.

Every stage module has a ``main(argv)`` entry point; ``dvc.yaml`` runs it as
``python -m tasks.<stage>``; ``dvc repro`` runs the stages, and so does the Prefect flow,
one ``dvc repro --single-item`` task per stage (see ``flows.dvc_stages``).
"""
