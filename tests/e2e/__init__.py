"""The end-to-end tier: the pipeline under `dvc repro` and the Prefect flow, schedules, the UI in a browser,
training (killed, resumed, on two processes), parallel data and DVC's remotes, caches and experiments."""
